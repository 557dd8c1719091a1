//! Webhook signing secrets and API key material.
//!
//! Neither a clear webhook secret nor a clear API key ever enters an event:
//! endpoint secrets are stored encrypted ([`crate::cipher`]), API keys as their
//! SHA-256 hash plus a short display prefix.

use std::fmt;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::cipher::{Cipher, CipherError, EncryptedSecret};
use crate::services::RandomSource;
use crate::values::ValueError;

/// Prefix of every webhook secret (Standard Webhooks).
pub const WEBHOOK_SECRET_PREFIX: &str = "whsec_";
/// Random bytes in a generated webhook secret.
pub const GENERATED_SECRET_BYTES: usize = 32;

/// A webhook signing secret, `whsec_<base64 of 24..=64 bytes>`. Its `Debug` is
/// redacted and it has no `Serialize`: store it only through a [`Cipher`].
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret {
    text: String,
    key: Vec<u8>,
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

impl WebhookSecret {
    /// Parses `whsec_` + standard base64 of 24 to 64 bytes.
    pub fn parse(value: &str) -> Result<Self, ValueError> {
        let bad = || ValueError::Secret { field: "secret" };
        let encoded = value.strip_prefix(WEBHOOK_SECRET_PREFIX).ok_or_else(bad)?;
        let key = STANDARD.decode(encoded).map_err(|_| bad())?;
        if !(24..=64).contains(&key.len()) {
            return Err(bad());
        }
        Ok(Self {
            text: value.to_owned(),
            key,
        })
    }

    /// A fresh secret: `whsec_` + base64 of 32 random bytes.
    pub fn generate(random: &dyn RandomSource) -> Self {
        let mut key = vec![0u8; GENERATED_SECRET_BYTES];
        random.fill(&mut key);
        Self {
            text: format!("{WEBHOOK_SECRET_PREFIX}{}", STANDARD.encode(&key)),
            key,
        }
    }

    /// The HMAC key (the decoded base64 part).
    pub fn key_bytes(&self) -> &[u8] {
        &self.key
    }

    /// The full `whsec_...` text, to show the user once.
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// Encrypts the secret for storage.
    pub fn encrypt(&self, cipher: &dyn Cipher) -> Result<EncryptedSecret, CipherError> {
        cipher.encrypt(&self.text)
    }

    /// Decrypts a stored secret.
    pub fn decrypt(
        cipher: &dyn Cipher,
        stored: &EncryptedSecret,
    ) -> Result<Self, SecretDecryptError> {
        let clear = cipher.decrypt(stored)?;
        Ok(Self::parse(clear.expose_secret())?)
    }
}

/// A stored secret could not be turned back into a [`WebhookSecret`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SecretDecryptError {
    /// Decryption failed.
    #[error(transparent)]
    Cipher(#[from] CipherError),
    /// It decrypted to something that is not a webhook secret.
    #[error(transparent)]
    Invalid(#[from] ValueError),
}

/// Prefix of every API key.
pub const API_KEY_PREFIX: &str = "ilk_";
/// Characters of the display prefix (`ilk_` plus 8 characters of the key).
pub const API_KEY_DISPLAY_PREFIX_LEN: usize = 12;

/// Hex SHA-256 of an API key (64 lowercase hex digits): the `api_keys.key_hash` column.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ApiKeyHash(String);

impl ApiKeyHash {
    /// Validates a stored hash.
    pub fn parse(value: &str) -> Result<Self, ValueError> {
        let ok = value.len() == 64
            && value
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if ok {
            Ok(Self(value.to_owned()))
        } else {
            Err(ValueError::Hash { field: "key_hash" })
        }
    }

    /// The hash of a clear key, as presented by a client. Look keys up by this.
    pub fn of_key(clear_key: &str) -> Self {
        Self(hex::encode(Sha256::digest(clear_key.as_bytes())))
    }

    /// The hex text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ApiKeyHash {
    type Error = ValueError;

    fn try_from(value: String) -> Result<Self, ValueError> {
        Self::parse(&value)
    }
}

impl From<ApiKeyHash> for String {
    fn from(value: ApiKeyHash) -> String {
        value.0
    }
}

/// A freshly generated API key: show `key` once, store only `hash` and `prefix`.
#[derive(Debug)]
pub struct GeneratedApiKey {
    /// The clear key, `ilk_<base64url of 32 random bytes>`.
    pub key: SecretString,
    /// Its SHA-256 hash.
    pub hash: ApiKeyHash,
    /// Its first 12 characters, for display (`ilk_AbCdEfGh`).
    pub prefix: String,
}

/// Generates an API key from 32 random bytes.
pub fn generate_api_key(random: &dyn RandomSource) -> GeneratedApiKey {
    let mut bytes = [0u8; 32];
    random.fill(&mut bytes);
    let key = format!("{API_KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    let hash = ApiKeyHash::of_key(&key);
    let prefix = key.chars().take(API_KEY_DISPLAY_PREFIX_LEN).collect();
    GeneratedApiKey {
        key: SecretString::from(key),
        hash,
        prefix,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::SeededRandom;

    #[test]
    fn webhook_secret_parsing() {
        let s = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("valid");
        assert_eq!(s.key_bytes().len(), 24);
        assert_eq!(format!("{s:?}"), "WebhookSecret(<redacted>)");
        for bad in [
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_!!!",
            "whsec_AAAA",
            &format!("whsec_{}", STANDARD.encode([0u8; 65])),
        ] {
            assert!(
                matches!(
                    WebhookSecret::parse(bad),
                    Err(ValueError::Secret { field: "secret" })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn generated_secrets_have_32_random_bytes() {
        let random = SeededRandom::new(3);
        let a = WebhookSecret::generate(&random);
        let b = WebhookSecret::generate(&random);
        assert_ne!(a, b);
        assert_eq!(a.key_bytes().len(), 32);
        assert!(a.expose().starts_with("whsec_"));
        assert_eq!(WebhookSecret::parse(a.expose()).expect("valid"), a);
    }

    #[test]
    fn secrets_survive_encryption() {
        let services = crate::Services::deterministic(chrono::Utc::now());
        let secret = WebhookSecret::generate(&*services.random);
        let stored = secret.encrypt(&*services.cipher).expect("encrypt");
        assert!(!stored.as_str().contains(secret.expose()));
        assert_eq!(
            WebhookSecret::decrypt(&*services.cipher, &stored).expect("decrypt"),
            secret
        );
        let not_a_secret = services.cipher.encrypt("hello").expect("encrypt");
        assert!(matches!(
            WebhookSecret::decrypt(&*services.cipher, &not_a_secret),
            Err(SecretDecryptError::Invalid(_))
        ));
    }

    #[test]
    fn api_keys_store_only_hash_and_prefix() {
        let generated = generate_api_key(&SeededRandom::new(1));
        let clear = generated.key.expose_secret();
        assert!(clear.starts_with("ilk_"));
        assert_eq!(clear.len(), 4 + 43);
        assert_eq!(generated.prefix, clear[..12]);
        assert_eq!(generated.hash, ApiKeyHash::of_key(clear));
        assert_eq!(
            ApiKeyHash::parse(generated.hash.as_str()),
            Ok(generated.hash.clone())
        );
        assert!(ApiKeyHash::parse("ABC").is_err());
        assert!(ApiKeyHash::parse(&"A".repeat(64)).is_err());
    }
}
