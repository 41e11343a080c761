// Provider-side crypto for the micro-benchmarks: signing keys, a JWKS and signed ID tokens made
// with node:crypto, the way a provider makes them (RFC 7515 compact JWS, RFC 7518 algorithms).
import { createHash, createSign, generateKeyPairSync, randomBytes } from 'node:crypto';

const b64url = (buf) => Buffer.from(buf).toString('base64url');

/** An RS256 (RSA 2048) or ES256 (P-256) signing key with its public JWK. */
export function signingKey(alg) {
  const [type, opts] = alg === 'RS256' ? ['rsa', { modulusLength: 2048 }] : ['ec', { namedCurve: 'P-256' }];
  const { privateKey, publicKey } = generateKeyPairSync(type, opts);
  const kid = `bench-${alg.toLowerCase()}`;
  return { alg, kid, privateKey, jwk: { ...publicKey.export({ format: 'jwk' }), alg, use: 'sig', kid } };
}

/** Compact JWS of `claims` signed with `key`. */
export function signJwt(key, claims) {
  const header = b64url(JSON.stringify({ alg: key.alg, typ: 'JWT', kid: key.kid }));
  const input = `${header}.${b64url(JSON.stringify(claims))}`;
  const signer = createSign('SHA256').update(input);
  const signature = key.alg === 'RS256'
    ? signer.sign(key.privateKey)
    : signer.sign({ key: key.privateKey, dsaEncoding: 'ieee-p1363' }); // JWS ES256: r || s
  return `${input}.${b64url(signature)}`;
}

/** OpenID Connect Core §3.1.3.6 at_hash for SHA-256 algorithms. */
export function atHash(accessToken) {
  return b64url(createHash('sha256').update(accessToken).digest().subarray(0, 16));
}

/** An ID token like node oidc-provider's (claims in the ID token, at_hash, sid). */
export function idToken(key, { issuer, clientId, nonce, now, accessToken }) {
  return signJwt(key, {
    sub: 'alice',
    email: 'alice@example.com',
    email_verified: true,
    name: 'Alice Example',
    at_hash: atHash(accessToken),
    nonce,
    sid: b64url(randomBytes(16)),
    auth_time: now - 5,
    iat: now,
    exp: now + 3600,
    aud: clientId,
    iss: issuer,
  });
}

export function opaqueToken() {
  return b64url(randomBytes(32));
}
