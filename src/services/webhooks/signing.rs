//! Standard Webhooks signatures (<https://www.standardwebhooks.com/>):
//! secrets are `whsec_` + base64 of random bytes; a message is signed as
//! `v1,` + base64(HMAC-SHA256(secret bytes, "{id}.{timestamp}.{body}")),
//! several signatures separated by spaces (during a secret's rotation both
//! sign). Written on hmac + sha2 (already here) rather than the
//! `standardwebhooks` crate, whose last release (1.0.1, March 2024) brings
//! an older base64, `http`, `time` and `hmac-sha256` for these ten lines;
//! the tests check our signatures with that crate's verifier.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::Mac;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};

pub const SECRET_PREFIX: &str = "whsec_";
/// Random bytes in a new secret (the spec allows 24 to 64).
pub const SECRET_BYTES: usize = 32;

/// A new signing secret, `whsec_…`.
pub fn new_secret() -> SecretString {
    let mut bytes = [0u8; SECRET_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    SecretString::from(format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes)))
}

/// The key bytes of a `whsec_…` secret.
pub fn key_bytes(secret: &SecretString) -> Option<Vec<u8>> {
    let encoded = secret.expose_secret().strip_prefix(SECRET_PREFIX)?;
    STANDARD.decode(encoded).ok()
}

/// `v1,<base64>` for one key.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = match hmac::Hmac::<sha2::Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        // HMAC takes keys of any length.
        Err(_) => return String::new(),
    };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The `webhook-signature` header: one signature per key, space-separated.
pub fn signature_header(keys: &[Vec<u8>], id: &str, timestamp: i64, body: &[u8]) -> String {
    keys.iter()
        .map(|key| sign(key, id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether `header` (a `webhook-signature` value) holds a `v1` signature
/// of this message by `key`, compared in constant time: what a receiver
/// does (the benchmark's receiver checks every delivery with it).
pub fn verify(key: &[u8], id: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
    let expected = sign(key, id, timestamp, body);
    header
        .split(' ')
        .any(|given| crate::crypto::constant_time_eq(given.as_bytes(), expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_secrets_have_the_standard_shape_and_differ() {
        let a = new_secret();
        let b = new_secret();
        assert!(a.expose_secret().starts_with("whsec_"));
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert_eq!(key_bytes(&a).unwrap().len(), SECRET_BYTES);
        assert!(key_bytes(&SecretString::from("nope".to_owned())).is_none());
    }

    #[test]
    fn signatures_match_the_specifications_example() {
        // The example of the Standard Webhooks reference libraries.
        let secret = SecretString::from("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned());
        let key = key_bytes(&secret).unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        let both = signature_header(
            &[key.clone(), key],
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            body,
        );
        assert_eq!(both.split(' ').count(), 2);
    }

    #[test]
    fn verify_accepts_any_listed_signature_and_nothing_altered() {
        let key = key_bytes(&new_secret()).unwrap();
        let other = key_bytes(&new_secret()).unwrap();
        let header = signature_header(&[other.clone(), key.clone()], "msg_1", 1, b"{}");
        assert!(verify(&key, "msg_1", 1, b"{}", &header));
        assert!(verify(&other, "msg_1", 1, b"{}", &header));
        assert!(!verify(&key, "msg_1", 2, b"{}", &header));
        assert!(!verify(&key, "msg_2", 1, b"{}", &header));
        assert!(!verify(&key, "msg_1", 1, b"{ }", &header));
        assert!(!verify(&key, "msg_1", 1, b"{}", ""));
    }
}
