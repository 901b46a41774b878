//! Arbitrary bytes, split into a `Stripe-Signature` value and a body, must never make the
//! parser or the verifier panic; and whatever they answer must be self-consistent.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use stripe_webhook_guard::{SignatureHeader, Verifier, VerifyError};

const SECRET: &str = "whsec_fuzz";
/// A fixed "now" keeps runs reproducible.
const NOW: i64 = 1_700_000_000;

/// Built once: keying the HMAC per input would only slow the fuzzer down.
fn verifier() -> &'static Verifier {
    static VERIFIER: OnceLock<Verifier> = OnceLock::new();
    VERIFIER.get_or_init(|| Verifier::new(SECRET))
}

fuzz_target!(|data: &[u8]| {
    // The first byte chooses where the header ends, so the fuzzer controls both parts.
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let at = usize::from(split).min(rest.len());
    let (header, body) = rest.split_at(at);

    let parsed = SignatureHeader::parse(header);
    if let Ok(h) = &parsed {
        assert!(h.timestamp() > 0);
        assert!((1..=8).contains(&h.v1_count()));
    }

    let verified = verifier().verify_at(header, body, NOW);
    match (&parsed, &verified) {
        // Only a header carrying the true signature may verify (the seed corpus has some; a
        // fuzzer does not forge HMAC-SHA256).
        (Ok(h), Ok(t)) => {
            assert_eq!(h.timestamp(), *t);
            let expected = stripe_webhook_guard::sign(body, SECRET, *t);
            let v1 = expected.split(",v1=").nth(1).unwrap_or_default();
            let carried = header
                .split(|b| *b == b',')
                .any(|element| element.strip_prefix(b"v1=") == Some(v1.as_bytes()));
            assert!(carried, "verified without the true signature");
        }
        (Err(_), Ok(_)) => panic!("verified a header that does not parse"),
        (Err(_), Err(VerifyError::MissingSignature)) => assert!(header.is_empty()),
        (Err(p), Err(v)) => assert_eq!(p, v),
        (Ok(_), Err(v)) => assert_eq!(*v, VerifyError::SignatureMismatch),
    }

    // The signed form of the same body always verifies.
    let signed = stripe_webhook_guard::sign(body, SECRET, NOW);
    assert_eq!(verifier().verify_at(signed.as_bytes(), body, NOW), Ok(NOW));
});
