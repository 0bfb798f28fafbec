//! ES256's two operations (ECDSA over P-256 with SHA-256, RFC 7518 §3.4) on ring, the library
//! that is also rustls's crypto provider here (`http::tls::provider`): its P-256 is assembly
//! on x86-64 and aarch64, four times faster than the portable `p256` crate (the benchmark in the
//! docs). `p256` remains for the two things ring does not do, once per client: deriving the
//! public point from the private scalar (ring's key pair wants both) and reading a compressed
//! public key (ring reads uncompressed points only).

use std::fmt;
use std::mem::{ManuallyDrop, MaybeUninit};

use p256::elliptic_curve::sec1::ToSec1Point;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING};

/// Length of an uncompressed SEC1 point: `04 || x || y`.
const POINT_LEN: usize = 65;
/// Length of an ES256 signature: `r || s`, 32 bytes each (RFC 7518 §3.4).
pub const SIGNATURE_LEN: usize = 64;

/// A key that does not parse or is not on P-256; the caller words the error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyRejected;

/// The system's random source failed while signing (ECDSA needs a fresh nonce per signature).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RandomFailed;

/// An ES256 signature, `r || s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signature([u8; SIGNATURE_LEN]);

impl Signature {
    pub fn to_bytes(self) -> [u8; SIGNATURE_LEN] {
        self.0
    }
}

/// A P-256 public key, kept as its uncompressed SEC1 point, checked to lie on the curve.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifyingKey {
    point: [u8; POINT_LEN],
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VerifyingKey(P-256)")
    }
}

impl VerifyingKey {
    /// A SEC1 point, compressed (33 bytes) or uncompressed (65 bytes); the identity and points
    /// off the curve are refused.
    pub fn from_sec1_bytes(bytes: &[u8]) -> Result<VerifyingKey, KeyRejected> {
        let key = p256::PublicKey::from_sec1_bytes(bytes).map_err(|_| KeyRejected)?;
        let point = key.to_sec1_point(false);
        let point = point.as_bytes().try_into().map_err(|_| KeyRejected)?;
        Ok(VerifyingKey { point })
    }

    /// The uncompressed SEC1 point, 65 bytes.
    pub fn to_sec1_bytes(&self) -> [u8; POINT_LEN] {
        self.point
    }

    /// Whether `signature` (`r || s`, 64 bytes) signs `message` under this key. A signature of
    /// another length, or with `r` or `s` out of range, does not.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        ring::signature::UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &self.point)
            .verify(message, signature)
            .is_ok()
    }
}

/// A P-256 private key for signing. ring's key pair lives on the heap and its bytes (the private
/// scalar in Montgomery form and the nonce key derived from it) are zeroed when this is dropped:
/// ring itself does not wipe them.
pub struct SigningKey {
    pair: WipedOnDrop,
    verifying_key: VerifyingKey,
    rng: SystemRandom,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(P-256, [redacted])")
    }
}

// The marker the client's own test checks: the key pair is wiped by `WipedOnDrop`, the rest is
// public (the verifying key) or holds no key material (the random source).
impl zeroize::ZeroizeOnDrop for SigningKey {}

impl SigningKey {
    /// The private scalar as 32 big-endian bytes; zero and values not below the group order are
    /// refused. Costs one scalar multiplication (the public point), so do it once per key.
    pub fn from_slice(scalar: &[u8]) -> Result<SigningKey, KeyRejected> {
        if scalar.len() != 32 {
            return Err(KeyRejected);
        }
        // p256's secret key wipes itself on drop.
        let secret = p256::SecretKey::from_slice(scalar).map_err(|_| KeyRejected)?;
        let verifying_key =
            VerifyingKey::from_sec1_bytes(secret.public_key().to_sec1_point(false).as_bytes())?;
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_private_key_and_public_key(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            scalar,
            &verifying_key.point,
            &rng,
        )
        .map_err(|_| KeyRejected)?;
        Ok(SigningKey {
            pair: WipedOnDrop::new(pair),
            verifying_key,
            rng,
        })
    }

    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.verifying_key
    }

    /// Signs `message` (hashed with SHA-256) with a fresh random nonce.
    pub fn try_sign(&self, message: &[u8]) -> Result<Signature, RandomFailed> {
        let signature = self
            .pair
            .get()
            .sign(&self.rng, message)
            .map_err(|_| RandomFailed)?;
        signature
            .as_ref()
            .try_into()
            .map(Signature)
            .map_err(|_| RandomFailed)
    }

    /// [`SigningKey::try_sign`] for tests, where a failed random source may panic.
    #[cfg(test)]
    pub fn sign(&self, message: &[u8]) -> Signature {
        self.try_sign(message).expect("the system random source")
    }
}

/// ring's key pair in a heap allocation of its own whose bytes are zeroed before it is freed.
/// The pair holds only inline data (scalars, digests, a point, a `&'static`), so zeroing its
/// bytes wipes all of it; the zeroed bytes are never read as a key pair again.
struct WipedOnDrop(ManuallyDrop<Box<EcdsaKeyPair>>);

impl WipedOnDrop {
    fn new(pair: EcdsaKeyPair) -> Self {
        WipedOnDrop(ManuallyDrop::new(Box::new(pair)))
    }

    fn get(&self) -> &EcdsaKeyPair {
        &self.0
    }
}

/// Drops the pair in place and zeroes its bytes, leaving the allocation for the caller to free.
fn wipe(pair: Box<EcdsaKeyPair>) -> Box<MaybeUninit<EcdsaKeyPair>> {
    let raw = Box::into_raw(pair);
    // SAFETY: `raw` comes from a live Box, so it is valid and exclusively ours. The pair is
    // dropped once, then only its bytes are written, as `MaybeUninit` (for which zeroes are
    // valid and which has no drop glue); the allocation goes back into a Box of the same layout.
    unsafe {
        std::ptr::drop_in_place(raw);
        let raw = raw.cast::<MaybeUninit<EcdsaKeyPair>>();
        zeroize::zeroize_flat_type(raw);
        Box::from_raw(raw)
    }
}

impl Drop for WipedOnDrop {
    fn drop(&mut self) {
        // SAFETY: taken once, here, and `self` is not used after.
        let pair = unsafe { ManuallyDrop::take(&mut self.0) };
        drop(wipe(pair));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRV: &str = "bf5efd7bdde29dc28443614bfee78c3d6ee39c71e55a0437eee02bf7e3647721";
    /// Civic's production public key (a point on P-256, not PRV's).
    const PUB: &str = "049a45998638cfb3c4b211d72030d9ae8329a242db63bfb0076a54e7647370a8ac5708b57af6065805d5a6be72332620932dbb35e8d318fce18e7c980a0eb26aa1";

    fn hex(s: &str) -> Vec<u8> {
        crate::core::crypto::hex::decode(s).expect("hex").to_vec()
    }

    #[test]
    fn signatures_verify_under_the_derived_key_and_only_for_their_message() {
        let key = SigningKey::from_slice(&hex(PRV)).expect("key");
        let signature = key.sign(b"header.claims").to_bytes();
        assert!(key.verifying_key().verify(b"header.claims", &signature));
        assert!(!key.verifying_key().verify(b"header.claimz", &signature));
        assert!(!key
            .verifying_key()
            .verify(b"header.claims", &signature[..63]));
        let mut flipped = signature;
        flipped[10] ^= 1;
        assert!(!key.verifying_key().verify(b"header.claims", &flipped));
        // r = 0 and s = n are out of range, not merely wrong.
        assert!(!key.verifying_key().verify(b"header.claims", &[0; 64]));
        // ECDSA nonces are random: two signatures of one message differ, both verify.
        let again = key.sign(b"header.claims").to_bytes();
        assert_ne!(signature, again);
        assert!(key.verifying_key().verify(b"header.claims", &again));
    }

    #[test]
    fn p256_signatures_verify_and_ours_verify_under_p256() {
        use p256::ecdsa::signature::{Signer, Verifier};
        let theirs = p256::ecdsa::SigningKey::from_slice(&hex(PRV)).expect("key");
        let ours = SigningKey::from_slice(&hex(PRV)).expect("key");
        let signature: p256::ecdsa::Signature = theirs.sign(b"m");
        assert!(ours.verifying_key().verify(b"m", &signature.to_bytes()));
        let signature = ours.sign(b"m").to_bytes();
        let signature = p256::ecdsa::Signature::from_slice(&signature).expect("r || s");
        assert!(theirs.verifying_key().verify(b"m", &signature).is_ok());
    }

    #[test]
    fn public_keys_read_compressed_and_uncompressed_points_only() {
        let uncompressed = hex(PUB);
        let key = VerifyingKey::from_sec1_bytes(&uncompressed).expect("uncompressed");
        assert_eq!(key.to_sec1_bytes().to_vec(), uncompressed);
        let mut compressed = vec![2 + (uncompressed[64] & 1)];
        compressed.extend_from_slice(&uncompressed[1..33]);
        assert_eq!(VerifyingKey::from_sec1_bytes(&compressed), Ok(key.clone()));
        let mut off_curve = uncompressed.clone();
        off_curve[64] ^= 1;
        for bad in [&[][..], &[0], &uncompressed[..64], &off_curve] {
            assert_eq!(VerifyingKey::from_sec1_bytes(bad), Err(KeyRejected));
        }
    }

    #[test]
    fn private_keys_must_be_32_bytes_below_the_group_order() {
        let order = hex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
        for bad in [vec![0; 32], order, vec![0xff; 32], vec![1; 31], vec![1; 33]] {
            assert!(SigningKey::from_slice(&bad).is_err());
        }
        assert!(SigningKey::from_slice(&[1; 32]).is_ok());
        let debug = format!("{:?}", SigningKey::from_slice(&hex(PRV)).expect("key"));
        assert!(
            !debug.contains("bf5e") && !debug.contains("BF5E"),
            "{debug}"
        );
    }

    #[test]
    fn the_key_pair_is_zeroed_before_its_memory_is_freed() {
        let rng = SystemRandom::new();
        let point = SigningKey::from_slice(&hex(PRV))
            .expect("key")
            .verifying_key
            .point;
        let pair = EcdsaKeyPair::from_private_key_and_public_key(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &hex(PRV),
            &point,
            &rng,
        )
        .expect("pair");
        let wiped = wipe(Box::new(pair));
        // SAFETY: `wipe` wrote every byte of the allocation, so all of it is initialised u8s.
        let bytes = unsafe {
            std::slice::from_raw_parts(
                wiped.as_ptr().cast::<u8>(),
                std::mem::size_of::<EcdsaKeyPair>(),
            )
        };
        // The scalar, the nonce key and the point: well over 64 bytes, all zero now.
        assert!(bytes.len() > 2 * 32 + POINT_LEN);
        assert!(bytes.iter().all(|&b| b == 0));
    }
}
