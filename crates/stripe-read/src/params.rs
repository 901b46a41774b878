//! Query parameters, in Stripe's bracket notation.

/// Query parameters for a Stripe API call.
///
/// ```
/// use stripe_read::Params;
///
/// let params = Params::new()
///     .param("status", "all")
///     .expand("data.items.data.price")
///     .param("created[gte]", 1_700_000_000)
///     .each("types[]", ["charge.refunded", "invoice.paid"]);
/// assert_eq!(params.pairs().len(), 5);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// No parameters.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `name=value`.
    #[must_use]
    pub fn param(mut self, name: impl Into<String>, value: impl ToString) -> Self {
        self.0.push((name.into(), value.to_string()));
        self
    }

    /// Adds `name=value` for each value (`types[]=a&types[]=b`).
    #[must_use]
    pub fn each<V: ToString>(mut self, name: &str, values: impl IntoIterator<Item = V>) -> Self {
        for value in values {
            self.0.push((name.to_owned(), value.to_string()));
        }
        self
    }

    /// Adds `expand[]=path` (on lists, paths start with `data.`).
    #[must_use]
    pub fn expand(self, path: &str) -> Self {
        self.param("expand[]", path)
    }

    /// The pairs, in order.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// A copy with `name` set to `value`, replacing earlier values of `name`.
    pub(crate) fn with(&self, name: &str, value: &str) -> Self {
        let mut pairs: Vec<_> = self.0.iter().filter(|(n, _)| n != name).cloned().collect();
        pairs.push((name.to_owned(), value.to_owned()));
        Self(pairs)
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}
