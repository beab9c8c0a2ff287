//! Small, boring cryptography: random tokens, SHA-256 fingerprints of tokens,
//! constant-time comparison, argon2id password hashes, AES-256-GCM sealing of
//! secrets at rest and HMAC-SHA256 webhook signatures. Nothing here is
//! invented: it wires maintained crates together with safe parameters.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A URL-safe random token with `bytes` bytes of entropy (from the OS RNG).
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

/// Lower-case hex SHA-256: how session ids and API tokens are stored.
pub fn sha256_hex(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// argon2id with OWASP's recommended minimum: 19 MiB, 2 iterations, 1 lane.
fn argon2() -> Argon2<'static> {
    // The constants are valid parameters; `Params::DEFAULT` is the same set.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or(Params::DEFAULT);
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes on a blocking thread: argon2 takes tens of milliseconds of CPU.
pub async fn hash_password(password: String) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || {
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let salt = SaltString::encode_b64(&salt)
            .map_err(|err| anyhow::anyhow!("encoding the salt failed: {err}"))?;
        argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(|err| anyhow::anyhow!("hashing the password failed: {err}"))
    })
    .await?
}

/// Whether `password` matches the PHC string `hash` (false for a malformed hash).
pub async fn verify_password(password: String, hash: String) -> anyhow::Result<bool> {
    Ok(tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash).is_ok_and(|parsed| {
            argon2()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    })
    .await?)
}

/// A hash of a random password, verified when a username does not exist so
/// that a wrong username takes as long as a wrong password.
pub async fn dummy_verify(password: String) {
    const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0Q8Uq3Ucbzl0bE6FdGE5ulM2GiMEi1lmn1WqNk8b5Ts";
    let _ = verify_password(password, DUMMY.to_owned()).await;
}

/// The platform's key for secrets at rest (AES-256-GCM). Each sealed value
/// is `nonce (12 bytes) ‖ ciphertext+tag`, bound by its associated data to
/// where it belongs (tenant and field), so a ciphertext copied to another
/// row does not open.
#[derive(Clone)]
pub struct MasterKey(aes_gcm::Key<aes_gcm::Aes256Gcm>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey([REDACTED])")
    }
}

#[derive(Debug, thiserror::Error)]
#[error("a stored secret cannot be decrypted (wrong master key, or the data was altered)")]
pub struct UnsealError;

/// The associated data binding a sealed value to where it is stored:
/// `table/tenant/field`. Sealed for one place, it does not open in another
/// (another tenant's row, another field).
pub fn place(table: &str, tenant: impl std::fmt::Display, field: &str) -> Vec<u8> {
    format!("{table}/{tenant}/{field}").into_bytes()
}

const NONCE_LEN: usize = 12;

impl MasterKey {
    pub fn generate() -> Self {
        use aes_gcm::KeyInit;
        Self(aes_gcm::Aes256Gcm::generate_key(aes_gcm::aead::OsRng))
    }

    /// 32 bytes in standard base64 (`openssl rand -base64 32`).
    pub fn from_base64(encoded: &str) -> Result<Self, String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|err| format!("must be base64: {err}"))?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|bytes: Vec<u8>| {
            format!(
                "must be 32 bytes (base64 of `openssl rand -base64 32`), got {}",
                bytes.len()
            )
        })?;
        Ok(Self(bytes.into()))
    }

    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }

    /// `configured` (base64, `security.master_key`), or else the key in the
    /// file at `path`, created (0600) on first start.
    pub fn load_or_create(
        configured: Option<&secrecy::SecretString>,
        path: &std::path::Path,
    ) -> anyhow::Result<Self> {
        use anyhow::Context;
        use secrecy::ExposeSecret;
        if let Some(key) = configured {
            return Self::from_base64(key.expose_secret())
                .map_err(|err| anyhow::anyhow!("security.master_key {err}"));
        }
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_base64(&text)
                .map_err(|err| anyhow::anyhow!("{}: the master key {err}", path.display())),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate();
                if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir)
                        .with_context(|| format!("creating {}", dir.display()))?;
                }
                write_private(path, key.to_base64().as_bytes())
                    .with_context(|| format!("writing the new master key to {}", path.display()))?;
                tracing::info!(path = %path.display(), "generated the master key for secrets at rest: back it up with the database");
                Ok(key)
            }
            Err(err) => Err(err).with_context(|| format!("reading {}", path.display())),
        }
    }

    pub fn seal(&self, plaintext: &[u8], associated: &[u8]) -> anyhow::Result<Vec<u8>> {
        use aes_gcm::KeyInit;
        use aes_gcm::aead::{Aead, AeadCore, Payload};
        let cipher = aes_gcm::Aes256Gcm::new(&self.0);
        let nonce = aes_gcm::Aes256Gcm::generate_nonce(aes_gcm::aead::OsRng);
        let sealed = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: associated,
                },
            )
            .map_err(|_| anyhow::anyhow!("encrypting a secret failed"))?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    pub fn open(&self, sealed: &[u8], associated: &[u8]) -> Result<Vec<u8>, UnsealError> {
        use aes_gcm::KeyInit;
        use aes_gcm::aead::{Aead, Payload};
        let (nonce, ciphertext) = sealed.split_at_checked(NONCE_LEN).ok_or(UnsealError)?;
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| UnsealError)?;
        aes_gcm::Aes256Gcm::new(&self.0)
            .decrypt(
                &nonce.into(),
                Payload {
                    msg: ciphertext,
                    aad: associated,
                },
            )
            .map_err(|_| UnsealError)
    }
}

#[cfg(unix)]
fn write_private(path: &std::path::Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &std::path::Path, contents: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

/// Whether `header` (`sha256=<hex>`, as in Meta's `X-Hub-Signature-256`) is
/// the HMAC-SHA256 of `body` under `secret`; compared in constant time.
pub fn hub_signature_matches(secret: &[u8], body: &[u8], header: &str) -> bool {
    use hmac::Mac;
    let Some(hex) = header.trim().strip_prefix("sha256=") else {
        return false;
    };
    let Ok(expected) = hex::decode(hex) else {
        return false;
    };
    let Ok(mut mac) = hmac::Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// `sha256=<hex>` of `body` under `secret`: what Meta sends (and fakes sign with).
pub fn hub_signature(secret: &[u8], body: &[u8]) -> String {
    use hmac::Mac;
    let mut mac = match hmac::Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        // HMAC takes keys of any length.
        Err(_) => return String::new(),
    };
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    format!("sha256={}", hex::encode(digest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_their_key_and_place() {
        let key = MasterKey::generate();
        let sealed = key.seal(b"EAAG-token", b"tenant-1/access_token").unwrap();
        assert!(!sealed.windows(10).any(|w| w == b"EAAG-token"));
        assert_eq!(
            key.open(&sealed, b"tenant-1/access_token").unwrap(),
            b"EAAG-token"
        );
        assert!(key.open(&sealed, b"tenant-2/access_token").is_err());
        assert!(
            MasterKey::generate()
                .open(&sealed, b"tenant-1/access_token")
                .is_err()
        );
        let mut altered = sealed.clone();
        let last = altered.len() - 1;
        altered[last] ^= 1;
        assert!(key.open(&altered, b"tenant-1/access_token").is_err());
        assert!(key.open(b"short", b"").is_err());
        // Two seals of one value differ (fresh nonce).
        assert_ne!(
            sealed,
            key.seal(b"EAAG-token", b"tenant-1/access_token").unwrap()
        );
    }

    #[test]
    fn master_keys_round_trip_and_refuse_wrong_lengths() {
        let key = MasterKey::generate();
        let again = MasterKey::from_base64(&key.to_base64()).unwrap();
        assert_eq!(again.to_base64(), key.to_base64());
        assert!(
            MasterKey::from_base64("c2hvcnQ=")
                .unwrap_err()
                .contains("32 bytes")
        );
        assert!(MasterKey::from_base64("not base64!").is_err());
        assert_eq!(format!("{key:?}"), "MasterKey([REDACTED])");
    }

    #[test]
    fn the_master_key_file_is_created_once_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/master.key");
        let first = MasterKey::load_or_create(None, &path).unwrap();
        let second = MasterKey::load_or_create(None, &path).unwrap();
        assert_eq!(first.to_base64(), second.to_base64());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn hub_signatures_match_only_the_right_secret_and_body() {
        // Known answer: HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog").
        let body = b"The quick brown fox jumps over the lazy dog";
        let header = "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8";
        assert_eq!(hub_signature(b"key", body), header);
        assert!(hub_signature_matches(b"key", body, header));
        assert!(!hub_signature_matches(b"other", body, header));
        assert!(!hub_signature_matches(b"key", b"tampered", header));
        assert!(!hub_signature_matches(b"key", body, "sha1=abc"));
        assert!(!hub_signature_matches(b"key", body, "sha256=zz"));
        assert!(!hub_signature_matches(b"key", body, ""));
    }

    #[tokio::test]
    async fn a_password_verifies_against_its_own_hash_only() {
        let hash = hash_password("correct horse battery".into()).await.unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(
            verify_password("correct horse battery".into(), hash.clone())
                .await
                .unwrap()
        );
        assert!(!verify_password("wrong".into(), hash).await.unwrap());
        assert!(
            !verify_password("x".into(), "not a hash".into())
                .await
                .unwrap()
        );
    }

    #[test]
    fn tokens_are_random_and_fingerprints_stable() {
        assert_ne!(random_token(32), random_token(32));
        assert_eq!(random_token(32).len(), 43);
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(constant_time_eq(b"same", b"same"));
        assert!(!constant_time_eq(b"same", b"diff"));
    }
}
