//! Variables that look like ours but are not: a typo such as `STRIPE_PULSORA_TOLERENCE` would
//! otherwise be ignored in silence and the default used. Warned about at start-up, with the
//! closest known name.

/// Variables read outside [`Settings`](crate::Settings): the log filter, and this
/// repository's own test suite.
const OTHER_VARIABLES: &[&str] = &[
    "RUST_LOG",
    "STRIPE_PULSORA_TEST_REDIS_URL",
    "STRIPE_PULSORA_TEST_REDIS_SERVER",
    "STRIPE_PULSORA_TEST_POSTGRES_URL",
    "STRIPE_PULSORA_TEST_POSTGRES_BIN",
    "STRIPE_PULSORA_TEST_POSTGRES_DATA",
];

/// Every variable the bridge (binary and examples) reads: those of [`Settings`](crate::Settings)
/// (one definition: add a setting there) and a few others.
///
/// ```
/// let known = stripe_pulsora_cli::known_variables();
/// assert!(known.iter().any(|v| v == "STRIPE_PULSORA_TOLERANCE"));
/// ```
pub fn known_variables() -> Vec<String> {
    let mut known: Vec<String> = crate::settings::variables_and_flags()
        .into_iter()
        .map(|(variable, _)| variable)
        .collect();
    known.extend(OTHER_VARIABLES.iter().map(|v| (*v).to_owned()));
    known
}

/// One warning per variable that is not known but looks like one of ours: every
/// `STRIPE_PULSORA_*` name, and `STRIPE_*` / `PULSORA_*` / `BIND*` names within a few typos of
/// a known one (so `STRIPE_PUBLISHABLE_KEY` and friends stay quiet). Values are never shown.
///
/// ```
/// use stripe_pulsora_cli::unknown_variables;
/// let warnings = unknown_variables(["STRIPE_PULSORA_TOLERENCE", "STRIPE_PUBLISHABLE_KEY", "HOME"]);
/// assert_eq!(warnings.len(), 1);
/// assert!(warnings[0].contains("did you mean STRIPE_PULSORA_TOLERANCE?"));
/// ```
pub fn unknown_variables<I, S>(names: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let known = known_variables();
    let mut warnings = Vec::new();
    for name in names {
        let name = name.as_ref();
        if known.iter().any(|k| k == name) {
            continue;
        }
        let upper = name.to_ascii_uppercase();
        let (closest, distance) = known
            .iter()
            .map(|known| (known.as_str(), edit_distance(&upper, known)))
            .min_by_key(|(_, d)| *d)
            .unwrap_or(("", usize::MAX));
        let ours = upper.starts_with("STRIPE_PULSORA_");
        let near = distance <= 3
            && (upper.starts_with("STRIPE")
                || upper.starts_with("PULSORA")
                || upper.starts_with("BIND"));
        if ours || near {
            let hint = if distance <= 5 {
                format!("; did you mean {closest}?")
            } else {
                String::new()
            };
            warnings.push(format!("unknown variable {name} is ignored{hint}"));
        }
    }
    warnings
}

/// Logs [`unknown_variables`] of the process environment at `warn`.
pub fn warn_unknown_variables() {
    for warning in unknown_variables(std::env::vars_os().filter_map(|(k, _)| k.into_string().ok()))
    {
        tracing::warn!("{warning}");
    }
}

/// Levenshtein distance over bytes (names are ASCII).
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, &x) in a.iter().enumerate() {
        current[0] = i + 1;
        for (j, &y) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(x != y);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_are_named_with_the_closest_known_variable() {
        let warnings = unknown_variables([
            "STRIPE_PULSORA_TOLERENCE",
            "STRIPE_WEBHOOK_SECRETS",
            "PULSORA_ENDPIONT",
            "STRIPE_PULSORA_SOMETHING_ELSE_ENTIRELY",
            "STRIPE_PUBLISHABLE_KEY",
            "STRIPE_WEBHOOK_SECRET",
            "PATH",
        ]);
        assert_eq!(warnings.len(), 4, "{warnings:?}");
        assert!(warnings[0].ends_with("did you mean STRIPE_PULSORA_TOLERANCE?"));
        assert!(warnings[1].ends_with("did you mean STRIPE_WEBHOOK_SECRET?"));
        assert!(warnings[2].ends_with("did you mean PULSORA_ENDPOINT?"));
        assert_eq!(
            warnings[3],
            "unknown variable STRIPE_PULSORA_SOMETHING_ELSE_ENTIRELY is ignored"
        );
    }
}
