//! Properties of signing and verification over generated inputs:
//!
//! - `sign` → `verify_at` round-trips for any body bytes and any valid timestamp, and with
//!   several secrets;
//! - changing any single byte of the body, of the timestamp text or of the signature makes
//!   verification fail;
//! - the header parser never panics, and on every input agrees with a straightforward model of
//!   the documented rules (written here independently of `verify/header.rs`), both on arbitrary
//!   bytes and on headers built from the alphabet `t v 0 1 = , a-f digits space` and from
//!   structured element lists that reach the deep paths (valid `t`, 64-hex `v1`, duplicates).
//!
//! The fuzz target `crates/stripe-webhook-guard/fuzz/fuzz_targets/verify_header.rs` explores the same
//! parser coverage-guided for much longer.

use proptest::prelude::*;
use stripe_webhook_guard::{sign, Secret, SignatureHeader, Verifier, VerifyError};

const SECRET: &str = "whsec_proptest_secret";

/// Timestamps the header grammar accepts (`^[1-9][0-9]{0,18}$` that fits an i64).
fn timestamp() -> impl Strategy<Value = i64> {
    prop_oneof![
        1i64..=9_999_999_999, // realistic seconds, short texts
        1i64..=i64::MAX,
        Just(1i64),
        Just(i64::MAX),
    ]
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..2048)
}

/// Splits a `t=…,v1=…` header built by `sign` into (timestamp text range, v1 range).
fn parts(header: &str) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
    let comma = header.find(',').expect("sign() writes t then v1");
    let v1 = header.find(",v1=").expect("sign() writes a v1") + 4;
    (2..comma, v1..v1 + 64)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn sign_then_verify_round_trips(body in body(), t in timestamp(), skew in -300i64..=300) {
        let header = sign(&body, SECRET, t);
        let now = t.saturating_add(skew);
        prop_assert_eq!(Verifier::new(SECRET).verify_at(header.as_bytes(), &body, now), Ok(t));
    }

    #[test]
    fn every_secret_of_a_rotation_verifies(body in body(), t in timestamp(), which in 0usize..3) {
        let names = ["whsec_a", "whsec_b", "whsec_c"];
        let secrets: Vec<Secret> = names.iter().map(Secret::new).collect();
        let header = stripe_webhook_guard::sign_with_secrets(&body, &secrets, t);
        prop_assert_eq!(SignatureHeader::parse(header.as_bytes()).map(|h| h.v1_count()), Ok(3));
        let verifier = Verifier::new(names[which]);
        prop_assert_eq!(verifier.verify_at(header.as_bytes(), &body, t), Ok(t));
        prop_assert_eq!(
            Verifier::new("whsec_other").verify_at(header.as_bytes(), &body, t),
            Err(VerifyError::SignatureMismatch)
        );
    }

    #[test]
    fn any_changed_body_byte_fails(
        body in prop::collection::vec(any::<u8>(), 1..2048),
        t in timestamp(),
        index in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let header = sign(&body, SECRET, t);
        let mut tampered = body.clone();
        let i = index.index(tampered.len());
        tampered[i] ^= flip;
        prop_assert_eq!(
            Verifier::new(SECRET).verify_at(header.as_bytes(), &tampered, t),
            Err(VerifyError::SignatureMismatch)
        );
    }

    #[test]
    fn appended_or_truncated_body_fails(body in body(), t in timestamp(), extra in 1usize..4) {
        let header = sign(&body, SECRET, t);
        let verifier = Verifier::new(SECRET);
        let mut longer = body.clone();
        longer.resize(body.len() + extra, b'\n');
        prop_assert_eq!(verifier.verify_at(header.as_bytes(), &longer, t), Err(VerifyError::SignatureMismatch));
        if !body.is_empty() {
            let shorter = &body[..body.len() - 1];
            prop_assert_eq!(verifier.verify_at(header.as_bytes(), shorter, t), Err(VerifyError::SignatureMismatch));
        }
    }

    #[test]
    fn any_changed_timestamp_byte_fails(
        body in body(),
        t in timestamp(),
        index in any::<prop::sample::Index>(),
        replacement in any::<u8>(),
    ) {
        let header = sign(&body, SECRET, t);
        let (t_range, _) = parts(&header);
        let mut tampered = header.clone().into_bytes();
        let i = t_range.start + index.index(t_range.len());
        prop_assume!(tampered[i] != replacement);
        tampered[i] = replacement;
        // Whatever the new byte does (another digit, a leading zero, a comma, a control byte),
        // with the tolerance off the only way left to pass would be a forged signature.
        let verifier = Verifier::new(SECRET).with_tolerance(stripe_webhook_guard::Tolerance::disabled());
        prop_assert!(verifier.verify_at(&tampered, &body, t).is_err());
    }

    #[test]
    fn any_changed_signature_byte_fails(
        body in body(),
        t in timestamp(),
        index in 0usize..64,
        replacement in any::<u8>(),
    ) {
        let header = sign(&body, SECRET, t);
        let (_, v1_range) = parts(&header);
        let mut tampered = header.clone().into_bytes();
        let i = v1_range.start + index;
        prop_assume!(tampered[i] != replacement);
        tampered[i] = replacement;
        let got = Verifier::new(SECRET).verify_at(&tampered, &body, t);
        let expected = if replacement.is_ascii_digit() || (b'a'..=b'f').contains(&replacement) {
            VerifyError::SignatureMismatch.code()
        } else if !(0x20..=0x7e).contains(&replacement) {
            "malformed_signature_header"
        } else {
            // A `,`, `=`, upper-case or other printable byte leaves no well-formed v1.
            "no_v1_signature"
        };
        prop_assert_eq!(got.map_err(|e| e.code()), Err(expected));
    }
}

// ---- the parser never panics and follows the documented rules ----------------------------------

/// What the documented rules say a header parses to: `(timestamp, number of v1 kept)` or the
/// error code. Deliberately naive (strings, `split`), so it shares no code with the crate.
fn model(header: &[u8]) -> Result<(i64, usize), &'static str> {
    if header.iter().any(|b| !(0x20..=0x7e).contains(b)) {
        return Err("malformed_signature_header");
    }
    let text = std::str::from_utf8(header).map_err(|_| "malformed_signature_header")?;
    let mut t: Option<i64> = None;
    let mut v1 = 0usize;
    for element in text.split(',') {
        let Some((key, value)) = element.split_once('=') else {
            continue;
        };
        match key {
            "t" => {
                if t.is_some() {
                    return Err("malformed_signature_header");
                }
                let grammar = !value.is_empty()
                    && value.len() <= 19
                    && !value.starts_with('0')
                    && value.bytes().all(|b| b.is_ascii_digit());
                t = Some(
                    grammar
                        .then(|| value.parse::<i64>().ok())
                        .flatten()
                        .ok_or("malformed_signature_header")?,
                );
            }
            "v1" if value.len() == 64
                && value
                    .bytes()
                    .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) =>
            {
                v1 += 1;
            }
            _ => {}
        }
    }
    let t = t.ok_or("malformed_signature_header")?;
    if v1 == 0 {
        return Err("no_v1_signature");
    }
    // The parser keeps at most 8 candidates (a hostile header cannot make us compare thousands).
    Ok((t, v1.min(8)))
}

fn check_parser(header: &[u8]) -> Result<(), TestCaseError> {
    let parsed = SignatureHeader::parse(header)
        .map(|h| (h.timestamp(), h.v1_count()))
        .map_err(|e| e.code());
    prop_assert_eq!(
        &parsed,
        &model(header),
        "header {:?}",
        String::from_utf8_lossy(header)
    );

    // The verifier never panics either, and refuses exactly what the parser refuses.
    let verified = Verifier::new(SECRET).verify_at(header, b"{}", 1_700_000_000);
    match (&parsed, verified) {
        (_, Ok(_)) => {
            return Err(TestCaseError::fail(
                "a header not signed with SECRET verified",
            ));
        }
        (Err(code), Err(e)) if header.is_empty() => {
            prop_assert_eq!(*code, "malformed_signature_header");
            prop_assert_eq!(e, VerifyError::MissingSignature);
        }
        (Err(code), Err(e)) => prop_assert_eq!(*code, e.code()),
        (Ok(_), Err(e)) => prop_assert_eq!(e, VerifyError::SignatureMismatch),
    }
    Ok(())
}

/// Values a `t` element gets: mostly valid, sometimes each way of being invalid.
fn t_value() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[1-9][0-9]{0,18}",
        1 => "[0-9]{19,21}",
        1 => "[0 +-]?[0-9]{1,12}[a ]?",
        1 => "[tv01=,a-f0-9 ]{0,20}",
    ]
}

/// Any element but `t=…`, drawn so that well-formed `v1` are common.
fn other_element() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        6 => Just("v1"),
        1 => Just("v0"),
        1 => Just(" t"),
        1 => Just("v1 "),
        1 => Just("V1"),
        1 => Just(""),
        1 => Just("tv"),
    ];
    let value = prop_oneof![
        6 => "[0-9a-f]{64}",
        1 => "[0-9a-fA-F]{63,65}",
        1 => "[tv01=,a-f0-9 ]{0,70}",
    ];
    prop_oneof![
        8 => (key, value).prop_map(|(k, v)| format!("{k}={v}")),
        1 => "[tv01 a-f0-9]{0,4}", // no `=`: ignored
    ]
}

/// A header as a list of elements: usually one `t` somewhere, sometimes none or two, and up to
/// eight other elements (more than eight `v1` exercises the cap).
fn structured_header() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(other_element(), 0..10),
        prop::option::weighted(0.9, t_value()),
        prop::option::weighted(0.1, t_value()),
        any::<prop::sample::Index>(),
        any::<prop::sample::Index>(),
    )
        .prop_map(|(mut elements, t, second_t, at, second_at)| {
            for (value, index) in [(t, at), (second_t, second_at)] {
                if let Some(value) = value {
                    let i = index.index(elements.len() + 1);
                    elements.insert(i, format!("t={value}"));
                }
            }
            elements.join(",")
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn parser_matches_model_on_arbitrary_bytes(header in prop::collection::vec(any::<u8>(), 0..300)) {
        check_parser(&header)?;
    }

    #[test]
    fn parser_matches_model_on_the_header_alphabet(header in "[tv01=,a-f0-9 ]{0,300}") {
        check_parser(header.as_bytes())?;
    }

    #[test]
    fn parser_matches_model_on_structured_headers(
        header in structured_header(),
        noise in prop::option::weighted(0.1, (any::<prop::sample::Index>(), any::<u8>())),
    ) {
        let mut header = header.into_bytes();
        if let (Some((at, byte)), false) = (noise, header.is_empty()) {
            let i = at.index(header.len());
            header[i] = byte;
        }
        check_parser(&header)?;
    }
}

#[test]
fn model_sanity() {
    let hex = "ab".repeat(32);
    assert_eq!(model(format!("t=1,v1={hex}").as_bytes()), Ok((1, 1)));
    assert_eq!(
        model(format!("t=1,v1={hex},v1={hex}").as_bytes()),
        Ok((1, 2))
    );
    let many = vec![format!("v1={hex}"); 20].join(",");
    assert_eq!(model(format!("t=5,{many}").as_bytes()), Ok((5, 8)));
    assert_eq!(
        SignatureHeader::parse(format!("t=5,{many}").as_bytes()).map(|h| h.v1_count()),
        Ok(8)
    );
    assert_eq!(model(b"t=01,v1=x"), Err("malformed_signature_header"));
    assert_eq!(model(b"t=1,v1=x"), Err("no_v1_signature"));
}
