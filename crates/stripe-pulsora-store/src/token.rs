//! Claim tokens: who holds a lease, so that only the holder may release or commit it.

use std::fmt;

/// Identifies one claim (a replay lease, a transaction being sent, a subject lock). A store
/// records it with the lease and releases the lease only for the same token, so a holder whose
/// lease expired cannot release the lease a later holder (possibly on another instance) has.
///
/// 128 random bits from a cryptographically secure generator (`rand`'s thread-local ChaCha,
/// seeded from the operating system): unique across processes and restarts without
/// coordination, and unguessable, so nobody who can write keys next to ours can forge a
/// release. Not a secret either: it never authorises anything outside the store.
///
/// ```
/// use stripe_pulsora_store::ClaimToken;
///
/// let (a, b) = (ClaimToken::new(), ClaimToken::new());
/// assert_ne!(a, b);
/// assert_eq!(ClaimToken::from_u128(a.as_u128()), a);
/// assert_eq!(a.to_string().len(), 32);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClaimToken(u128);

impl ClaimToken {
    /// A fresh random token.
    pub fn new() -> Self {
        Self(rand::random())
    }

    /// A token from its numeric form (what [`as_u128`](Self::as_u128) returned), for stores
    /// that read tokens back.
    pub const fn from_u128(value: u128) -> Self {
        Self(value)
    }

    /// The numeric form.
    pub const fn as_u128(self) -> u128 {
        self.0
    }

    /// 16 bytes, big-endian: the form SQL stores keep in a binary column.
    pub const fn to_bytes(self) -> [u8; 16] {
        self.0.to_be_bytes()
    }
}

impl Default for ClaimToken {
    fn default() -> Self {
        Self::new()
    }
}

/// 32 lower-case hex digits: the form Redis keeps.
impl fmt::Display for ClaimToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl fmt::Debug for ClaimToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClaimToken({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn tokens_are_unique_and_random_in_every_bit_half() {
        let tokens: HashSet<_> = (0..10_000).map(|_| ClaimToken::new()).collect();
        assert_eq!(tokens.len(), 10_000);
        // Not a counter under a fixed prefix: both halves vary.
        let high: HashSet<_> = tokens.iter().map(|t| t.as_u128() >> 64).collect();
        let low: HashSet<_> = tokens.iter().map(|t| t.as_u128() as u64).collect();
        assert_eq!((high.len(), low.len()), (10_000, 10_000));
    }

    #[test]
    fn display_is_32_hex_digits_and_round_trips() {
        let token = ClaimToken::from_u128(0xabc);
        assert_eq!(token.to_string(), format!("{:032x}", 0xabc));
        assert_eq!(u128::from_be_bytes(token.to_bytes()), 0xabc);
    }
}
