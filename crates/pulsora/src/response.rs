//! Reading Pulsora's answer: a bounded body and the human message inside it.

use reqwest::{Response, StatusCode};

/// Error bodies are read up to this many bytes; the message is at the start.
const BODY_LIMIT: usize = 8 * 1024;
/// A non-JSON body is quoted up to this many characters.
const EXCERPT_CHARS: usize = 200;

/// Reads at most [`BODY_LIMIT`] bytes; a read error ends the body early (the status is what
/// counts, the text is only for the message).
pub(crate) async fn read_limited(response: &mut Response) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < BODY_LIMIT {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = BODY_LIMIT - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) | Err(_) => break,
        }
    }
    body
}

/// Pulsora's message: `{"message": …}` (validation) or `{"error": …}` (auth, rate limit), else
/// the start of the body, else the status's reason phrase.
pub(crate) fn message(status: StatusCode, body: &[u8]) -> String {
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(body) {
        for key in ["message", "error"] {
            if let Some(serde_json::Value::String(text)) = map.get(key) {
                if !text.trim().is_empty() {
                    return text.clone();
                }
            }
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if !text.is_empty() {
        return text.chars().take(EXCERPT_CHARS).collect();
    }
    status.canonical_reason().unwrap_or("no message").to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_documented_shapes_then_text_then_reason() {
        let s = StatusCode::UNAUTHORIZED;
        assert_eq!(
            message(s, br#"{"error":"Invalid API token"}"#),
            "Invalid API token"
        );
        assert_eq!(
            message(
                StatusCode::UNPROCESSABLE_ENTITY,
                br#"{"message":"The data.visitor_fingerprint field is required.","errors":{}}"#
            ),
            "The data.visitor_fingerprint field is required."
        );
        assert_eq!(message(s, b"  plain failure \n"), "plain failure");
        assert_eq!(message(s, &[b'x'; 500]).len(), 200);
        assert_eq!(message(s, b""), "Unauthorized");
        assert_eq!(message(s, br#"{"error":""}"#), r#"{"error":""}"#);
    }
}
