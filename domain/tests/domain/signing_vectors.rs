//! The Standard Webhooks vectors shared with the other implementations.

use chrono::{TimeZone, Utc};
use domain::secrets::WebhookSecret;
use domain::signing::{sign, signature_header, verify, SignatureError, DEFAULT_TOLERANCE};
use serde::Deserialize;

#[derive(Deserialize)]
struct Vectors {
    vectors: Vec<Vector>,
}

#[derive(Deserialize)]
struct Vector {
    secret: String,
    id: String,
    timestamp: i64,
    body: String,
    signature: String,
}

fn vectors() -> Vec<Vector> {
    let text = include_str!("../vectors/standard-webhooks.json");
    let parsed: Vectors = serde_json::from_str(text).expect("vectors parse");
    assert!(!parsed.vectors.is_empty());
    parsed.vectors
}

#[test]
fn sign_reproduces_every_vector_byte_for_byte() {
    for v in vectors() {
        let secret = WebhookSecret::parse(&v.secret).expect("vector secret");
        assert_eq!(
            sign(&secret, &v.id, v.timestamp, v.body.as_bytes()),
            v.signature
        );
        assert_eq!(
            signature_header(&[secret], &v.id, v.timestamp, v.body.as_bytes()),
            v.signature
        );
    }
}

#[test]
fn verify_accepts_every_vector() {
    for v in vectors() {
        let secret = WebhookSecret::parse(&v.secret).expect("vector secret");
        let now = Utc
            .timestamp_opt(v.timestamp + 10, 0)
            .single()
            .expect("valid");
        let ts = v.timestamp.to_string();
        assert_eq!(
            verify(
                &secret,
                Some(&v.id),
                Some(&ts),
                Some(&v.signature),
                v.body.as_bytes(),
                now,
                DEFAULT_TOLERANCE
            ),
            Ok(())
        );
    }
}

/// Every string obtained by changing one byte of `s` to another printable byte.
fn one_byte_changes(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..s.len() {
        let mut bytes = s.as_bytes().to_vec();
        bytes[i] = if bytes[i] == b'x' { b'y' } else { b'x' };
        if let Ok(changed) = String::from_utf8(bytes) {
            out.push(changed);
        }
    }
    out
}

#[test]
fn verify_rejects_every_vector_once_one_byte_changes() {
    for v in vectors() {
        let secret = WebhookSecret::parse(&v.secret).expect("vector secret");
        let now = Utc.timestamp_opt(v.timestamp, 0).single().expect("valid");
        let ts = v.timestamp.to_string();
        let check = |id: &str, ts: &str, body: &str| {
            verify(
                &secret,
                Some(id),
                Some(ts),
                Some(&v.signature),
                body.as_bytes(),
                now,
                DEFAULT_TOLERANCE,
            )
        };
        for id in one_byte_changes(&v.id) {
            assert_eq!(
                check(&id, &ts, &v.body),
                Err(SignatureError::SignatureMismatch),
                "id {id}"
            );
        }
        for body in one_byte_changes(&v.body) {
            assert_eq!(
                check(&v.id, &ts, &body),
                Err(SignatureError::SignatureMismatch),
                "body {body}"
            );
        }
        // A changed timestamp digit within tolerance is a mismatch; outside it, it is
        // refused before the signature is even checked. Either way: rejected.
        for i in 0..ts.len() {
            for digit in b'0'..=b'9' {
                let mut bytes = ts.as_bytes().to_vec();
                if bytes[i] == digit {
                    continue;
                }
                bytes[i] = digit;
                let changed = String::from_utf8(bytes).expect("ascii");
                let result = check(&v.id, &changed, &v.body);
                assert!(
                    matches!(
                        result,
                        Err(SignatureError::SignatureMismatch
                            | SignatureError::TimestampOutOfTolerance)
                    ),
                    "timestamp {changed}: {result:?}"
                );
            }
        }
        // With a tolerance wide enough, a changed timestamp is a signature mismatch.
        let late = (v.timestamp + 1).to_string();
        assert_eq!(
            check(&v.id, &late, &v.body),
            Err(SignatureError::SignatureMismatch)
        );
    }
}
