//! Encryption of endpoint secrets at rest (events and read models alike).
//!
//! The event log is kept forever, so a webhook secret never enters it in clear:
//! the `Endpoint` aggregate encrypts it with the injected [`Cipher`] and events
//! carry an [`EncryptedSecret`]. The dispatcher decrypts it right before signing.

use std::fmt;
use std::sync::Arc;

use aes_gcm::aead::Aead;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::services::RandomSource;

/// Prefix of the only ciphertext format so far; a new master-key scheme gets `v2:`.
pub const CIPHERTEXT_PREFIX: &str = "v1:";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// A secret encrypted by a [`Cipher`]: `v1:<base64(nonce || ciphertext || tag)>`.
/// This is what `webhook_endpoints.secret` holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EncryptedSecret(String);

impl EncryptedSecret {
    /// Wraps a stored ciphertext (e.g. read back from a column); not checked until
    /// decrypted.
    pub fn from_stored(ciphertext: String) -> Self {
        Self(ciphertext)
    }

    /// The ciphertext text, for storage.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EncryptedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Encryption or decryption failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CipherError {
    /// The master key is not 32 bytes long.
    #[error("the master key must be 32 bytes, got {len}")]
    BadKeyLength {
        /// Length of the rejected key.
        len: usize,
    },
    /// The master key is not valid base64.
    #[error("the master key is not valid base64")]
    BadKeyEncoding,
    /// The ciphertext does not start with a known format prefix.
    #[error("unknown ciphertext format")]
    UnknownFormat,
    /// The ciphertext is not base64 or is too short.
    #[error("malformed ciphertext")]
    Malformed,
    /// Authentication failed: the ciphertext was altered or another key made it.
    #[error("ciphertext failed authentication (tampered, or another key)")]
    Tampered,
    /// The plaintext is not UTF-8.
    #[error("decrypted secret is not UTF-8")]
    NotUtf8,
    /// The AEAD refused to encrypt (only for absurdly long inputs).
    #[error("encryption failed")]
    Encrypt,
}

/// Symmetric encryption of short secrets.
pub trait Cipher: Send + Sync + fmt::Debug {
    /// Encrypts `plaintext` with a fresh nonce.
    fn encrypt(&self, plaintext: &str) -> Result<EncryptedSecret, CipherError>;
    /// Decrypts and authenticates a value made by [`Cipher::encrypt`].
    fn decrypt(&self, ciphertext: &EncryptedSecret) -> Result<SecretString, CipherError>;
}

/// AES-256-GCM with a 32-byte master key and a random 96-bit nonce per message.
pub struct AesGcmCipher {
    aead: Aes256Gcm,
    random: Arc<dyn RandomSource>,
}

impl fmt::Debug for AesGcmCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AesGcmCipher")
            .field("key", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl AesGcmCipher {
    /// A cipher for `master_key`, which must be exactly 32 bytes.
    pub fn new(master_key: &[u8], random: Arc<dyn RandomSource>) -> Result<Self, CipherError> {
        let aead =
            Aes256Gcm::new_from_slice(master_key).map_err(|_| CipherError::BadKeyLength {
                len: master_key.len(),
            })?;
        Ok(Self { aead, random })
    }

    /// A cipher for a key given as standard base64 (as in configuration).
    pub fn from_base64(
        master_key: &str,
        random: Arc<dyn RandomSource>,
    ) -> Result<Self, CipherError> {
        let key = STANDARD
            .decode(master_key.trim())
            .map_err(|_| CipherError::BadKeyEncoding)?;
        Self::new(&key, random)
    }

    /// A new random master key as standard base64, for configuration files.
    pub fn generate_key_base64(random: &dyn RandomSource) -> String {
        let mut key = [0u8; 32];
        random.fill(&mut key);
        STANDARD.encode(key)
    }

    /// Decodes a master key given as standard base64 to its 32 bytes.
    pub fn decode_key(master_key: &str) -> Result<[u8; 32], CipherError> {
        let key = STANDARD
            .decode(master_key.trim())
            .map_err(|_| CipherError::BadKeyEncoding)?;
        let len = key.len();
        key.try_into()
            .map_err(|_| CipherError::BadKeyLength { len })
    }

    /// A cipher for a fixed-size key (infallible).
    pub fn with_key(master_key: [u8; 32], random: Arc<dyn RandomSource>) -> Self {
        Self {
            aead: Aes256Gcm::new(&master_key.into()),
            random,
        }
    }
}

impl Cipher for AesGcmCipher {
    fn encrypt(&self, plaintext: &str) -> Result<EncryptedSecret, CipherError> {
        let mut nonce = [0u8; NONCE_LEN];
        self.random.fill(&mut nonce);
        let sealed = self
            .aead
            .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
            .map_err(|_| CipherError::Encrypt)?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(EncryptedSecret(format!(
            "{CIPHERTEXT_PREFIX}{}",
            STANDARD.encode(out)
        )))
    }

    fn decrypt(&self, ciphertext: &EncryptedSecret) -> Result<SecretString, CipherError> {
        let encoded = ciphertext
            .0
            .strip_prefix(CIPHERTEXT_PREFIX)
            .ok_or(CipherError::UnknownFormat)?;
        let bytes = STANDARD
            .decode(encoded)
            .map_err(|_| CipherError::Malformed)?;
        if bytes.len() < NONCE_LEN + TAG_LEN {
            return Err(CipherError::Malformed);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let plain = self
            .aead
            .decrypt(Nonce::from_slice(nonce), sealed)
            .map_err(|_| CipherError::Tampered)?;
        let text = String::from_utf8(plain).map_err(|_| CipherError::NotUtf8)?;
        Ok(SecretString::from(text))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::SeededRandom;
    use secrecy::ExposeSecret;

    fn cipher(key: u8) -> AesGcmCipher {
        AesGcmCipher::with_key([key; 32], Arc::new(SeededRandom::new(1)))
    }

    #[test]
    fn round_trip() {
        let c = cipher(1);
        let sealed = c.encrypt("whsec_abc").expect("encrypt");
        assert!(sealed.as_str().starts_with("v1:"));
        assert!(!sealed.as_str().contains("abc"));
        assert_eq!(
            c.decrypt(&sealed).expect("decrypt").expose_secret(),
            "whsec_abc"
        );
    }

    #[test]
    fn each_encryption_uses_a_fresh_nonce() {
        let c = cipher(1);
        assert_ne!(c.encrypt("same").expect("a"), c.encrypt("same").expect("b"));
    }

    #[test]
    fn tampering_is_detected() {
        let c = cipher(1);
        let sealed = c.encrypt("whsec_abc").expect("encrypt");
        let mut bytes = STANDARD
            .decode(sealed.as_str().trim_start_matches("v1:"))
            .expect("b64");
        for i in 0..bytes.len() {
            bytes[i] ^= 0x01;
            let altered = EncryptedSecret::from_stored(format!("v1:{}", STANDARD.encode(&bytes)));
            assert_eq!(
                c.decrypt(&altered).err(),
                Some(CipherError::Tampered),
                "byte {i}"
            );
            bytes[i] ^= 0x01;
        }
    }

    #[test]
    fn another_key_cannot_decrypt() {
        let sealed = cipher(1).encrypt("x").expect("encrypt");
        assert_eq!(
            cipher(2).decrypt(&sealed).err(),
            Some(CipherError::Tampered)
        );
    }

    #[test]
    fn malformed_ciphertexts_are_rejected() {
        let c = cipher(1);
        let case = |s: &str| c.decrypt(&EncryptedSecret::from_stored(s.to_owned())).err();
        assert_eq!(case("whsec_plain"), Some(CipherError::UnknownFormat));
        assert_eq!(case("v1:!!!"), Some(CipherError::Malformed));
        assert_eq!(case("v1:AAAA"), Some(CipherError::Malformed));
    }

    #[test]
    fn keys_are_checked() {
        let random: Arc<dyn RandomSource> = Arc::new(SeededRandom::new(1));
        assert!(matches!(
            AesGcmCipher::new(&[0; 16], random.clone()),
            Err(CipherError::BadKeyLength { len: 16 })
        ));
        assert!(matches!(
            AesGcmCipher::from_base64("not base64!", random.clone()),
            Err(CipherError::BadKeyEncoding)
        ));
        let key = STANDARD.encode([3u8; 32]);
        let c = AesGcmCipher::from_base64(&key, random).expect("valid");
        let sealed = c.encrypt("s").expect("encrypt");
        assert_eq!(
            cipher(3)
                .decrypt(&sealed)
                .expect("same key")
                .expose_secret(),
            "s"
        );
    }
}
