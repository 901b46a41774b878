use http::StatusCode;

/// Why a delivery failed signature verification.
///
/// Each variant has a stable [`code`](Self::code) (the `error` field of the JSON rejection) and a
/// message close to stripe-node's wording, so logs stay greppable. No message ever contains a
/// secret or the expected signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The request has no `Stripe-Signature` header (or it is empty).
    #[error("No stripe-signature header value was provided.")]
    MissingSignature,
    /// The header could not be parsed: no `t`, a duplicated `t`, a `t` that is not a plain
    /// positive integer, bytes outside printable ASCII, or the header sent more than once.
    #[error("Unable to extract timestamp and signatures from header: {0}")]
    MalformedHeader(&'static str),
    /// The header has a timestamp but no well-formed `v1` signature.
    #[error("No signatures found with expected scheme v1")]
    NoV1Signature,
    /// No `v1` signature matches the payload under any configured secret.
    #[error(
        "No signatures found matching the expected signature for payload. Are you passing the \
         raw request body you received from Stripe, and the endpoint's `whsec_` secret?"
    )]
    SignatureMismatch,
    /// The signature is valid but its timestamp is older than the tolerance allows.
    #[error("Timestamp outside the tolerance zone: signed {age_secs} s ago, tolerance {tolerance_secs} s")]
    TimestampTooOld {
        /// How old the signature is, in seconds.
        age_secs: i64,
        /// The configured past tolerance, in seconds.
        tolerance_secs: u64,
    },
    /// The signature is valid but its timestamp is further in the future than the allowed skew.
    #[error("Timestamp outside the tolerance zone: signed {ahead_secs} s in the future, allowed skew {skew_secs} s")]
    TimestampInFuture {
        /// How far ahead of our clock the timestamp is, in seconds.
        ahead_secs: i64,
        /// The configured future skew, in seconds.
        skew_secs: u64,
    },
}

impl VerifyError {
    /// The stable machine-readable code, as used in the JSON rejection body.
    ///
    /// ```
    /// assert_eq!(stripe_webhook_guard::VerifyError::SignatureMismatch.code(), "signature_mismatch");
    /// ```
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingSignature => "missing_signature",
            Self::MalformedHeader(_) => "malformed_signature_header",
            Self::NoV1Signature => "no_v1_signature",
            Self::SignatureMismatch => "signature_mismatch",
            Self::TimestampTooOld { .. } => "timestamp_too_old",
            Self::TimestampInFuture { .. } => "timestamp_in_future",
        }
    }

    /// The HTTP status a webhook endpoint answers with: always `400 Bad Request`, as in
    /// Stripe's own samples.
    pub fn status(&self) -> StatusCode {
        StatusCode::BAD_REQUEST
    }
}
