//! Reading what matters from a response without trusting its size.

use std::time::{Duration, SystemTime};

/// Parses a `Retry-After` value into a delay from `now`: either a number of
/// seconds or an HTTP date (a date in the past means "now", zero). Anything
/// else is ignored (`None`), as RFC 9110 asks of an invalid field.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Too many digits to fit is still "a very long time".
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Reads the body chunk by chunk until `limit` bytes are held or the body
/// ends, then stops: the rest is never read. A failure mid-body keeps what
/// arrived. The excerpt is lossy UTF-8, and a character cut in half by the
/// bound is dropped rather than shown as a replacement character.
pub(super) async fn read_excerpt(response: &mut reqwest::Response, limit: usize) -> String {
    let mut held: Vec<u8> = Vec::with_capacity(limit.min(8 * 1024));
    let mut truncated = false;
    while held.len() < limit {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = limit - held.len();
                if chunk.len() > room {
                    truncated = true;
                }
                held.extend_from_slice(chunk.get(..room).unwrap_or(&chunk));
            }
            Ok(None) => break,
            Err(err) => {
                tracing::debug!(error = %err, "response body ended with an error");
                break;
            }
        }
    }
    // Reaching the bound exactly leaves the body's end unknown: treat as cut.
    if held.len() >= limit {
        truncated = true;
    }
    let bytes = if truncated {
        without_partial_char(&held)
    } else {
        &held
    };
    String::from_utf8_lossy(bytes).into_owned()
}

/// `bytes` without a trailing incomplete UTF-8 sequence.
fn without_partial_char(bytes: &[u8]) -> &[u8] {
    let len = bytes.len();
    for back in 1..=len.min(4) {
        let byte = bytes[len - back];
        if byte & 0xC0 == 0x80 {
            continue; // continuation byte: the character starts further back
        }
        let needed = match byte {
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xF7 => 4,
            _ => 1,
        };
        return if back < needed {
            &bytes[..len - back]
        } else {
            bytes
        };
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_accepts_seconds() {
        let now = SystemTime::now();
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(parse_retry_after("0", now), Some(Duration::ZERO));
    }

    #[test]
    fn retry_after_accepts_an_http_date() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:30:00 GMT", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn retry_after_ignores_garbage() {
        let now = SystemTime::now();
        for value in ["", "-5", "1.5", "soon", "7s"] {
            assert_eq!(parse_retry_after(value, now), None, "{value:?}");
        }
    }

    #[test]
    fn a_character_cut_by_the_bound_is_dropped() {
        let text = "aé€😀".as_bytes(); // 1 + 2 + 3 + 4 bytes
        assert_eq!(without_partial_char(&text[..2]), b"a");
        assert_eq!(without_partial_char(&text[..3]), "aé".as_bytes());
        assert_eq!(without_partial_char(&text[..5]), "aé".as_bytes());
        assert_eq!(without_partial_char(&text[..6]), "aé€".as_bytes());
        assert_eq!(without_partial_char(&text[..9]), "aé€".as_bytes());
        assert_eq!(without_partial_char(text), text);
        assert_eq!(without_partial_char(b""), b"");
    }
}
