//! Whether two 32-byte strings are the affine coordinates of a point on NIST P-256 (SEC 1
//! §3.2.2.1 steps 2-3: both coordinates in [0, p-1], and y² = x³ - 3x + b mod p), without a
//! big-number library. Runs once per key when a JWKS is parsed, so it is written for size and
//! obviousness, not speed: multiplication is shift-and-add modulo p. Not constant-time: the
//! inputs are public keys.

/// 256-bit numbers as four 64-bit limbs, least significant first.
type U256 = [u64; 4];

/// The field prime p = 2^256 - 2^224 + 2^192 + 2^96 - 1.
const P: U256 = [0xffff_ffff_ffff_ffff, 0x0000_0000_ffff_ffff, 0, 0xffff_ffff_0000_0001];
/// The curve coefficient b.
const B: U256 = [
    0x3bce_3c3e_27d2_604b,
    0x651d_06b0_cc53_b0f6,
    0xb3eb_bd55_7698_86bc,
    0x5ac6_35d8_aa3a_93e7,
];
/// The group order n.
const N: U256 = [
    0xf3b9_cac2_fc63_2551,
    0xbce6_faad_a717_9e84,
    0xffff_ffff_ffff_ffff,
    0xffff_ffff_0000_0000,
];

fn from_be(bytes: &[u8; 32]) -> U256 {
    let mut out = [0u64; 4];
    for (i, chunk) in bytes.chunks_exact(8).enumerate() {
        let mut limb = [0u8; 8];
        limb.copy_from_slice(chunk);
        if let Some(slot) = out.get_mut(3 - i) {
            *slot = u64::from_be_bytes(limb);
        }
    }
    out
}

fn less_than(a: &U256, b: &U256) -> bool {
    // Compare from the most significant limb down.
    a.iter().rev().cmp(b.iter().rev()) == std::cmp::Ordering::Less
}

/// a + b with the carry out.
fn add(a: &U256, b: &U256) -> (U256, bool) {
    let mut out = [0u64; 4];
    let mut carry = false;
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        let (s1, c1) = x.overflowing_add(y);
        let (s2, c2) = s1.overflowing_add(u64::from(carry));
        *o = s2;
        carry = c1 || c2;
    }
    (out, carry)
}

/// a - b with the borrow out.
fn sub(a: &U256, b: &U256) -> (U256, bool) {
    let mut out = [0u64; 4];
    let mut borrow = false;
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        let (d1, b1) = x.overflowing_sub(y);
        let (d2, b2) = d1.overflowing_sub(u64::from(borrow));
        *o = d2;
        borrow = b1 || b2;
    }
    (out, borrow)
}

/// (a + b) mod p for a, b < p.
fn add_mod(a: &U256, b: &U256) -> U256 {
    let (sum, carry) = add(a, b);
    if carry || !less_than(&sum, &P) {
        sub(&sum, &P).0
    } else {
        sum
    }
}

/// (a - b) mod p for a, b < p.
fn sub_mod(a: &U256, b: &U256) -> U256 {
    let (diff, borrow) = sub(a, b);
    if borrow {
        add(&diff, &P).0
    } else {
        diff
    }
}

/// (a * b) mod p for a, b < p: double-and-add over the bits of b, most significant first.
fn mul_mod(a: &U256, b: &U256) -> U256 {
    let mut acc = [0u64; 4];
    for &limb in b.iter().rev() {
        for bit in (0..64).rev() {
            acc = add_mod(&acc, &acc);
            if (limb >> bit) & 1 == 1 {
                acc = add_mod(&acc, a);
            }
        }
    }
    acc
}

/// Whether (x, y) is a point on P-256 with canonical coordinates.
pub(super) fn is_on_curve(x: &[u8; 32], y: &[u8; 32]) -> bool {
    let (x, y) = (from_be(x), from_be(y));
    if !less_than(&x, &P) || !less_than(&y, &P) {
        return false;
    }
    let y2 = mul_mod(&y, &y);
    let x3 = mul_mod(&mul_mod(&x, &x), &x);
    let three_x = add_mod(&add_mod(&x, &x), &x);
    let rhs = add_mod(&sub_mod(&x3, &three_x), &B);
    y2 == rhs
}

/// Whether `d` is a valid P-256 private scalar: 1 <= d < n.
pub(super) fn is_scalar(d: &[u8; 32]) -> bool {
    let d = from_be(d);
    d != [0; 4] && less_than(&d, &N)
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::elliptic_curve::sec1::ToEncodedPoint as _;

    fn coords(key: &p256::PublicKey) -> ([u8; 32], [u8; 32]) {
        let point = key.to_encoded_point(false);
        let (x, y) = (point.x().unwrap(), point.y().unwrap());
        (x.as_slice().try_into().unwrap(), y.as_slice().try_into().unwrap())
    }

    #[test]
    fn points_from_the_p256_crate_are_on_the_curve_and_changes_are_not() {
        for _ in 0..50 {
            let secret = p256::SecretKey::random(&mut rand::thread_rng());
            let (x, mut y) = coords(&secret.public_key());
            assert!(is_on_curve(&x, &y));
            y[31] ^= 1;
            assert!(!is_on_curve(&x, &y));
            assert!(is_scalar(&secret.to_bytes().into()));
        }
    }

    #[test]
    fn generator_and_edge_values() {
        let gx = hex32("6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296");
        let gy = hex32("4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5");
        assert!(is_on_curve(&gx, &gy));
        // -G = (gx, p - gy) is on the curve; (gx, gy + p) is the same residue but not canonical
        // (it does not fit in 32 bytes here, so use a coordinate >= p instead).
        let p = hex32("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff");
        let (neg_gy, _) = sub(&from_be(&p), &from_be(&gy));
        assert!(is_on_curve(&gx, &to_be(&neg_gy)));
        assert!(!is_on_curve(&p, &gy));
        assert!(!is_on_curve(&[0xff; 32], &[0xff; 32]));
        assert!(!is_on_curve(&[0; 32], &[0; 32]));
        assert!(!is_on_curve(&[1; 32], &[1; 32]));
        assert!(!is_scalar(&[0; 32]));
        assert!(!is_scalar(&[0xff; 32]));
        let n = hex32("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
        assert!(!is_scalar(&n));
        let (n_minus_1, _) = sub(&from_be(&n), &[1, 0, 0, 0]);
        assert!(is_scalar(&to_be(&n_minus_1)));
    }

    fn hex32(s: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }

    fn to_be(v: &U256) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, limb) in v.iter().rev().enumerate() {
            out[8 * i..8 * i + 8].copy_from_slice(&limb.to_be_bytes());
        }
        out
    }
}
