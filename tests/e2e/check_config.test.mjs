// The configuration check (src/bin/check_config, `npm run check-config`) as an operator runs it:
// the native binary on a wrangler.toml and .dev.vars in a directory, with `--online` against the
// fault OP (tests/e2e/lib/fault_op.mjs) on 127.0.0.1. Each broken provider is one tenant with one
// fault, and the test asserts the finding's level and subject (the line the operator reads), the
// exit status, and that no secret's value is ever printed. The offline rules are unit-tested in
// src/bin/check_config/tests.rs; the recipe pages are checked in scripts/test.sh.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT, cookieKey } from './lib/worker.mjs';
import { startFaultOp, reply, CLIENT_SECRET, CLIENT_ID } from './lib/fault_op.mjs';

const BIN = path.join(ROOT, 'target/debug/check_config');
const COOKIE_KEY = cookieKey();
const without = (obj, ...keys) => Object.fromEntries(Object.entries(obj).filter(([k]) => !keys.includes(k)));

let op;
let dir;
before(async () => {
  const build = spawnSync('cargo', ['build', '--quiet', '--bin', 'check_config'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(build.status, 0, build.stderr);
  op = await startFaultOp();
  dir = mkdtempSync(path.join(tmpdir(), 'check-config-'));
});
after(async () => {
  await op?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs the binary without blocking this process (the fault OP answers from its event loop). */
function runBin(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, args, { env: { PATH: process.env.PATH } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill(), 30_000);
    child.on('error', reject);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

/** Runs the check on a wrangler.toml holding `provider` (TOML lines) as providers.main. */
async function check(provider, { args = ['--online'], devVars = `COOKIE_KEYS=${COOKIE_KEY}\nCLIENT_SECRET='${CLIENT_SECRET}'\n` } = {}) {
  const toml = `name = "edge-oidc"\n[vars.EDGE_OIDC_CONFIG]\npublic_origin = "https://app.example.com"\n\n[vars.EDGE_OIDC_CONFIG.providers.main]\nclient_id = "${CLIENT_ID}"\n${provider}\n`;
  writeFileSync(path.join(dir, 'wrangler.toml'), toml);
  writeFileSync(path.join(dir, '.dev.vars'), devVars);
  const run = await runBin([...args, path.join(dir, 'wrangler.toml')]);
  const out = run.stdout + run.stderr;
  for (const secret of [CLIENT_SECRET, COOKIE_KEY]) assert.ok(!out.includes(secret), `a secret is in the output:\n${out}`);
  return { status: run.status, out };
}

/** The output's lines at `level` about `subject` (`  level  subject  text`). */
function lines(out, level, subject) {
  return out.split('\n').filter((l) => {
    const [lv, sub] = l.trim().split(/\s+/);
    return lv === level && sub === subject;
  });
}

function assertFinding(out, level, subject, pattern) {
  const found = lines(out, level, subject);
  assert.ok(found.some((l) => pattern.test(l)), `no "${level} ${subject}" matching ${pattern} in:\n${out}`);
}

describe('--online against a local provider', () => {
  test('a provider that matches the configuration: ready, exit 0', async () => {
    const t = op.tenant('good');
    const { status, out } = await check(`issuer = "${t.issuer}"\ntoken_endpoint_auth_method = "client_secret_basic"`);
    assert.equal(status, 0, out);
    assertFinding(out, 'ok', 'issuer', new RegExp(t.issuer));
    assertFinding(out, 'ok', 'response_types_supported', /includes code/);
    assertFinding(out, 'ok', 'code_challenge_methods_supported', /S256/);
    assertFinding(out, 'ok', 'token_endpoint_auth_method', /client_secret_basic \(listed/);
    assertFinding(out, 'ok', 'jwks_uri', /2 key\(s\), 2 usable/);
    assertFinding(out, 'ok', 'end_session_endpoint', /end_session/);
    assert.match(out, /0 errors, 0 warnings: ready\n$/);
    assert.equal(t.hits.discovery, 1);
    assert.equal(t.hits.jwks, 1);
  });

  test('Entra\'s multi-tenant form: the discovery_url names the {tenantid} template', async () => {
    const t = op.tenant('msft', {}, { prefix: 'organizations/v2.0' });
    t.docIssuer = `${t.root}/{tenantid}/v2.0`;
    const { status, out } = await check([
      `issuer = "${t.root}/{tenantid}/v2.0"`,
      `discovery_url = "${t.endpoints}/.well-known/openid-configuration"`,
      'allowed_tenants = ["aaaabbbb-0000-cccc-1111-dddd2222eeee"]',
    ].join('\n'));
    assert.equal(status, 0, out);
    assertFinding(out, 'ok', 'issuer', /\{tenantid\}\/v2\.0/);
    assertFinding(out, 'ok', 'providers.main.allowed_tenants', /aaaabbbb-0000/);
  });

  // Each broken provider: its fault, the finding (level, subject, text) and the exit status.
  const BROKEN = [
    {
      what: 'the discovery document names another issuer',
      fault: { discovery: (doc) => ({ ...doc, issuer: 'https://elsewhere.example' }) },
      finding: ['error', 'discovery', /issuer/],
    },
    {
      what: 'no discovery document (404)',
      fault: { discovery: () => reply(404, 'not found') },
      finding: ['error', 'discovery', /HTTP 404/],
    },
    {
      what: 'no `code` in response_types_supported',
      fault: { discovery: (doc) => ({ ...doc, response_types_supported: ['id_token', 'token id_token'] }) },
      finding: ['error', 'response_types_supported', /lacks `code`/],
    },
    {
      what: 'PKCE without S256',
      fault: { discovery: (doc) => ({ ...doc, code_challenge_methods_supported: ['plain'] }) },
      finding: ['error', 'discovery', /S256/],
    },
    {
      what: 'PKCE methods not listed',
      fault: { discovery: (doc) => without(doc, 'code_challenge_methods_supported') },
      finding: ['warn', 'code_challenge_methods_supported', /not listed/],
      status: 0,
    },
    {
      what: 'the configured client authentication is not listed',
      fault: { discovery: (doc) => ({ ...doc, token_endpoint_auth_methods_supported: ['private_key_jwt'] }) },
      finding: ['warn', 'token_endpoint_auth_method', /client_secret_basic is configured but not listed/],
      status: 0,
    },
    {
      what: 'automatic client authentication with none of ours listed',
      fault: { discovery: (doc) => ({ ...doc, token_endpoint_auth_methods_supported: ['private_key_jwt'] }) },
      provider: 'token_endpoint_auth_method = "auto"',
      finding: ['error', 'token_endpoint_auth_method', /private_key_jwt|no method|none of/i],
    },
    {
      what: 'a key set with no key for an allowed algorithm',
      fault: { jwks: () => [] },
      finding: ['error', 'jwks_uri', /none of its 0 key\(s\)/],
    },
    {
      what: 'a key set that is not JSON',
      fault: { jwks: () => reply(200, '<html>', { 'content-type': 'text/html' }) },
      finding: ['error', 'jwks_uri', /jwks/],
    },
    {
      what: 'no end_session_endpoint (logout stays local)',
      fault: { discovery: (doc) => without(doc, 'end_session_endpoint') },
      finding: ['info', 'end_session_endpoint', /may still be signed in at main/],
      status: 0,
    },
  ];
  BROKEN.forEach((c, i) => {
    test(`${c.what}: "${c.finding[0]} ${c.finding[1]}", exit ${c.status ?? 1}`, async () => {
      const t = op.tenant(`broken-${i}`, c.fault);
      const method = c.provider ?? 'token_endpoint_auth_method = "client_secret_basic"';
      const { status, out } = await check(`issuer = "${t.issuer}"\n${method}`);
      assertFinding(out, ...c.finding);
      assert.equal(status, c.status ?? 1, out);
    });
  });

  test('a provider that does not answer: error, exit 1', async () => {
    const { status, out } = await check('issuer = "http://127.0.0.1:9/nothing"\ntoken_endpoint_auth_method = "client_secret_basic"');
    assertFinding(out, 'error', 'discovery', /could not be fetched/);
    assert.equal(status, 1);
  });
});

describe('exit statuses and secrets', () => {
  test('missing secrets are errors named by the secret (exit 1); unreadable input is exit 2', async () => {
    const t = op.tenant('secrets');
    const { status, out } = await check(`issuer = "${t.issuer}"\ntoken_endpoint_auth_method = "client_secret_post"`, { args: [], devVars: '# nothing\n' });
    assert.equal(status, 1, out);
    assertFinding(out, 'error', 'COOKIE_KEYS', /COOKIE_KEYS|key/);
    assertFinding(out, 'error', 'CLIENT_SECRET_MAIN', /lone provider may use .CLIENT_SECRET. instead/);
    assert.equal(t.hits.discovery, 0, 'offline: nothing fetched');
    // `auto` without a secret is a public client: said, not an error.
    const auto = await check(`issuer = "${t.issuer}"`, { args: [], devVars: `COOKIE_KEYS=${COOKIE_KEY}\n` });
    assert.equal(auto.status, 0, auto.out);
    assertFinding(auto.out, 'warn', 'providers.main', /method auto becomes `none`/);

    const missing = spawnSync(BIN, [path.join(dir, 'nope.toml')], { encoding: 'utf8' });
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /cannot read/);
    const usage = spawnSync(BIN, ['--bogus'], { encoding: 'utf8' });
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /usage: check_config/);
  });
});
