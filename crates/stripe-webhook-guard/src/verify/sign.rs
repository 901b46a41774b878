use super::header::encode_lower_hex;
use super::Secret;
use hmac::Mac;

/// Builds a `Stripe-Signature` header value for `payload`, as Stripe would send it: the
/// equivalent of stripe-node's `generateTestHeaderString`. Use it in your own tests.
///
/// ```
/// let header = stripe_webhook_guard::sign(b"{}", "whsec_test_secret", 1_700_000_000);
/// assert_eq!(
///     header,
///     "t=1700000000,v1=ceb8863f7208fa249a6cd8f951e993c7563412aca65866f6272283debe143ab3"
/// );
/// ```
pub fn sign(payload: &[u8], secret: impl AsRef<[u8]>, timestamp: i64) -> String {
    sign_with_secrets(payload, &[Secret::new(secret)], timestamp)
}

/// Like [`sign`], with one `v1` per secret (what Stripe sends while a secret is being rotated).
pub fn sign_with_secrets(payload: &[u8], secrets: &[Secret], timestamp: i64) -> String {
    let t = timestamp.to_string();
    let mut header = format!("t={t}");
    for secret in secrets {
        let mut mac = secret.mac();
        mac.update(t.as_bytes());
        mac.update(b".");
        mac.update(payload);
        let tag: [u8; 32] = mac.finalize().into_bytes().into();
        header.push_str(",v1=");
        header.push_str(&encode_lower_hex(&tag));
    }
    header
}
