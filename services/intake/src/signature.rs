//! Signed signup webhooks: HMAC-SHA256 over a timestamp and the raw body.
//!
//! The header is `X-Leadwheel-Signature: t=<unix seconds>,v1=<hex>`, where
//! the MAC is over `"<t>.<body>"`, as Stripe and Slack sign theirs. The
//! timestamp bounds replays to the tolerance window (and a replay inside it
//! is a duplicate by email anyway). Several `v1=` entries may be sent, so a
//! sender can sign with the old and the new secret while rotating.

use hmac::{Hmac, Mac};
use leadwheel_plumbing::config::Secret;
use sha2::Sha256;

use crate::error::IntakeError;

/// The signature header.
pub const SIGNATURE_HEADER: &str = "x-leadwheel-signature";

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &Secret, timestamp_s: i64, body: &[u8]) -> HmacSha256 {
    let mut mac =
        HmacSha256::new_from_slice(secret.expose().as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp_s.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The header value signing `body` at `timestamp_s` (for senders and tests).
pub fn sign(secret: &Secret, timestamp_s: i64, body: &[u8]) -> String {
    let digest = mac(secret, timestamp_s, body).finalize().into_bytes();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("t={timestamp_s},v1={hex}")
}

/// Checks `header` signs `body` with one of `secrets` within `tolerance_s`
/// of `now_s`. Several secrets are active while one is being rotated out.
pub fn verify(
    secrets: &[Secret],
    header: Option<&str>,
    body: &[u8],
    now_s: i64,
    tolerance_s: i64,
) -> Result<(), IntakeError> {
    let refuse = |code: &'static str, message: &str| IntakeError::Unauthenticated {
        code,
        message: message.to_string(),
    };
    let header = header.ok_or_else(|| {
        refuse(
            "missing_signature",
            "send X-Leadwheel-Signature: t=<unix seconds>,v1=<hex hmac-sha256 of \"t.body\">",
        )
    })?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => signatures.extend(from_hex(value)),
            _ => {}
        }
    }
    let Some(timestamp) = timestamp else {
        return Err(refuse(
            "bad_signature",
            "the signature has no valid t= timestamp",
        ));
    };
    // Bounded work per request: a header of a thousand v1= entries costs a
    // thousand MACs per secret.
    if signatures.len() > 8 {
        return Err(refuse("bad_signature", "more than 8 v1= signatures"));
    }
    if (now_s - timestamp).abs() > tolerance_s {
        return Err(refuse(
            "stale_signature",
            "the signature timestamp is outside the accepted window",
        ));
    }
    // verify_slice compares in constant time.
    let valid = secrets.iter().any(|secret| {
        signatures
            .iter()
            .any(|signature| mac(secret, timestamp, body).verify_slice(signature).is_ok())
    });
    if valid {
        Ok(())
    } else {
        Err(refuse("bad_signature", "no v1 signature matches the body"))
    }
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() & 1 == 1 || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> Secret {
        Secret::new("whsec-0123456789abcdef")
    }

    #[test]
    fn a_signed_body_verifies_and_a_changed_one_does_not() {
        let header = sign(&secret(), 1_700_000_000, b"{}");
        assert!(verify(&[secret()], Some(&header), b"{}", 1_700_000_010, 300).is_ok());
        let err = verify(&[secret()], Some(&header), b"{ }", 1_700_000_010, 300).unwrap_err();
        assert_eq!(err.code(), "bad_signature");
        let other = Secret::new("another-secret-entirely");
        assert!(verify(&[other], Some(&header), b"{}", 1_700_000_010, 300).is_err());
    }

    #[test]
    fn stale_missing_and_garbage_are_refused() {
        let header = sign(&secret(), 1_700_000_000, b"{}");
        let stale = verify(&[secret()], Some(&header), b"{}", 1_700_000_301, 300).unwrap_err();
        assert_eq!(stale.code(), "stale_signature");
        // The window's edges, both ways: 300 s off is in, 301 s off is out.
        assert!(verify(&[secret()], Some(&header), b"{}", 1_700_000_300, 300).is_ok());
        assert!(verify(&[secret()], Some(&header), b"{}", 1_699_999_700, 300).is_ok());
        let ahead = verify(&[secret()], Some(&header), b"{}", 1_699_999_699, 300).unwrap_err();
        assert_eq!(ahead.code(), "stale_signature");
        assert_eq!(
            verify(&[secret()], None, b"{}", 0, 300).unwrap_err().code(),
            "missing_signature"
        );
        for garbage in ["", "t=x,v1=00", "v1=zz", "t=1700000000,v1=ab\u{e9}"] {
            assert!(verify(&[secret()], Some(garbage), b"{}", 1_700_000_000, 300).is_err());
        }
    }

    #[test]
    fn any_active_secret_verifies() {
        let old = Secret::new("whsec-old-0123456789");
        let header = sign(&old, 1_700_000_000, b"{}");
        assert!(
            verify(
                &[secret(), old.clone()],
                Some(&header),
                b"{}",
                1_700_000_000,
                300
            )
            .is_ok()
        );
        assert!(verify(&[secret()], Some(&header), b"{}", 1_700_000_000, 300).is_err());
    }

    #[test]
    fn any_of_several_signatures_may_match() {
        let good = sign(&secret(), 1_700_000_000, b"{}");
        let v1 = good.split_once(",v1=").unwrap().1;
        let header = format!("t=1700000000,v1={},v1={v1}", "00".repeat(32));
        assert!(verify(&[secret()], Some(&header), b"{}", 1_700_000_000, 300).is_ok());
    }
}
