//! Standard Webhooks signatures (outbound signing, inbound verification).
//!
//! The signed content is `"{webhook-id}.{webhook-timestamp}.{body}"`, the signature
//! `v1,<base64 HMAC-SHA256>` keyed by the secret's decoded bytes. During a secret
//! rotation the `webhook-signature` header carries one signature per active
//! secret, separated by spaces; a receiver accepts the message if any matches.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use thiserror::Error;

use crate::secrets::WebhookSecret;

/// Header carrying the message id (stable across retries).
pub const HEADER_ID: &str = "webhook-id";
/// Header carrying the Unix timestamp (seconds) of this attempt.
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
/// Header carrying the space-separated signatures.
pub const HEADER_SIGNATURE: &str = "webhook-signature";
/// Default allowed clock skew between signer and verifier.
pub const DEFAULT_TOLERANCE: std::time::Duration = std::time::Duration::from_secs(5 * 60);

type HmacSha256 = Hmac<Sha256>;

/// Verification of an inbound webhook failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SignatureError {
    /// A required header is absent (the name is one of the `HEADER_*` constants).
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    /// `webhook-timestamp` is not an integer number of seconds.
    #[error("webhook-timestamp is not a Unix timestamp")]
    BadTimestamp,
    /// The timestamp is too far from now (replayed or badly skewed).
    #[error("webhook-timestamp is outside the tolerance window")]
    TimestampOutOfTolerance,
    /// No `v1` signature matches any secret.
    #[error("no signature matches")]
    SignatureMismatch,
}

fn mac(secret: &WebhookSecret, msg_id: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(secret.key_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The signature of one message under one secret: `v1,<base64>`.
pub fn sign(secret: &WebhookSecret, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    let tag = mac(secret, msg_id, timestamp, body).finalize().into_bytes();
    format!("v1,{}", STANDARD.encode(tag))
}

/// The `webhook-signature` header value: one signature per secret, space-separated
/// (current secret first, then the previous one during a rotation's grace period).
pub fn signature_header(
    secrets: &[WebhookSecret],
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    secrets
        .iter()
        .map(|s| sign(s, msg_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Verifies an inbound webhook against one secret. Header values are passed as
/// received (`None` when absent). Comparison is constant-time.
pub fn verify(
    secret: &WebhookSecret,
    msg_id: Option<&str>,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
    tolerance: std::time::Duration,
) -> Result<(), SignatureError> {
    verify_any(
        std::slice::from_ref(secret),
        msg_id,
        timestamp,
        signature,
        body,
        now,
        tolerance,
    )
}

/// Like [`verify`], accepting a match under any of `secrets` (rotation).
pub fn verify_any(
    secrets: &[WebhookSecret],
    msg_id: Option<&str>,
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: DateTime<Utc>,
    tolerance: std::time::Duration,
) -> Result<(), SignatureError> {
    let msg_id = msg_id.ok_or(SignatureError::MissingHeader(HEADER_ID))?;
    let timestamp = timestamp.ok_or(SignatureError::MissingHeader(HEADER_TIMESTAMP))?;
    let signature = signature.ok_or(SignatureError::MissingHeader(HEADER_SIGNATURE))?;
    if timestamp.is_empty() || !timestamp.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SignatureError::BadTimestamp);
    }
    let ts: i64 = timestamp
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    let skew = now.timestamp().abs_diff(ts);
    if skew > tolerance.as_secs() {
        return Err(SignatureError::TimestampOutOfTolerance);
    }
    let candidates: Vec<Vec<u8>> = signature
        .split(' ')
        .filter_map(|entry| entry.strip_prefix("v1,"))
        .filter_map(|b64| STANDARD.decode(b64).ok())
        .collect();
    let matched = secrets.iter().any(|secret| {
        let expected = mac(secret, msg_id, ts, body);
        candidates
            .iter()
            .any(|candidate| expected.clone().verify_slice(candidate).is_ok())
    });
    if matched {
        Ok(())
    } else {
        Err(SignatureError::SignatureMismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn secret() -> WebhookSecret {
        WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("valid")
    }

    fn at(ts: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(ts, 0).single().expect("valid")
    }

    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;

    #[test]
    fn each_missing_header_is_named() {
        let sig = sign(&secret(), ID, TS, BODY);
        let check = |id, ts, sig| verify(&secret(), id, ts, sig, BODY, at(TS), DEFAULT_TOLERANCE);
        assert_eq!(
            check(None, Some("1614265330"), Some(&sig)),
            Err(SignatureError::MissingHeader(HEADER_ID))
        );
        assert_eq!(
            check(Some(ID), None, Some(&sig)),
            Err(SignatureError::MissingHeader(HEADER_TIMESTAMP))
        );
        assert_eq!(
            check(Some(ID), Some("1614265330"), None),
            Err(SignatureError::MissingHeader(HEADER_SIGNATURE))
        );
    }

    #[test]
    fn timestamps_are_checked() {
        let sig = sign(&secret(), ID, TS, BODY);
        let check = |ts: &str, now| {
            verify(
                &secret(),
                Some(ID),
                Some(ts),
                Some(&sig),
                BODY,
                now,
                DEFAULT_TOLERANCE,
            )
        };
        for bad in ["", "abc", "-5", "1.5", "99999999999999999999"] {
            assert_eq!(
                check(bad, at(TS)),
                Err(SignatureError::BadTimestamp),
                "{bad}"
            );
        }
        assert_eq!(
            check("1614265330", at(TS + 301)),
            Err(SignatureError::TimestampOutOfTolerance)
        );
        assert_eq!(
            check("1614265330", at(TS - 301)),
            Err(SignatureError::TimestampOutOfTolerance)
        );
        assert_eq!(check("1614265330", at(TS + 300)), Ok(()));
    }

    #[test]
    fn rotation_header_verifies_under_either_secret() {
        let old = secret();
        let new = WebhookSecret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").expect("valid");
        let header = signature_header(&[new.clone(), old.clone()], ID, TS, BODY);
        assert_eq!(header.split(' ').count(), 2);
        for s in [&old, &new] {
            assert_eq!(
                verify(
                    s,
                    Some(ID),
                    Some("1614265330"),
                    Some(&header),
                    BODY,
                    at(TS),
                    DEFAULT_TOLERANCE
                ),
                Ok(())
            );
        }
        let third = WebhookSecret::generate(&crate::services::SeededRandom::new(5));
        assert_eq!(
            verify(
                &third,
                Some(ID),
                Some("1614265330"),
                Some(&header),
                BODY,
                at(TS),
                DEFAULT_TOLERANCE
            ),
            Err(SignatureError::SignatureMismatch)
        );
        assert_eq!(
            verify_any(
                &[third, old],
                Some(ID),
                Some("1614265330"),
                Some(&header),
                BODY,
                at(TS),
                DEFAULT_TOLERANCE
            ),
            Ok(())
        );
    }

    #[test]
    fn garbage_signatures_do_not_match() {
        for sig in [
            "",
            "v1,",
            "v1,!!!",
            "v2,abc",
            "v1g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        ] {
            assert_eq!(
                verify(
                    &secret(),
                    Some(ID),
                    Some("1614265330"),
                    Some(sig),
                    BODY,
                    at(TS),
                    DEFAULT_TOLERANCE
                ),
                Err(SignatureError::SignatureMismatch),
                "{sig}"
            );
        }
    }
}
