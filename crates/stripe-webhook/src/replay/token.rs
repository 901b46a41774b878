//! Claim tokens: who holds a lease, so that only the holder may release it.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// Identifies one claim on one event. A store records it with the lease and releases the lease
/// only for the same token, so a delivery whose lease expired cannot release the lease a later
/// delivery (possibly on another instance) now holds.
///
/// Tokens are unique per process (a counter) and across processes and restarts (a random
/// 64-bit prefix drawn once per process). They are not secrets.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClaimToken(u128);

impl ClaimToken {
    /// A token no other claim has.
    pub fn new() -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let count = COUNTER.fetch_add(1, Ordering::Relaxed);
        Self((u128::from(process_prefix()) << 64) | u128::from(count))
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

    /// 16 bytes, big-endian: a compact form for binary columns.
    pub const fn to_bytes(self) -> [u8; 16] {
        self.0.to_be_bytes()
    }
}

impl Default for ClaimToken {
    fn default() -> Self {
        Self::new()
    }
}

/// 32 lower-case hex digits: the form the Redis store writes.
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

/// Random once per process. `RandomState` is seeded from the OS's randomness, which is all we
/// need for uniqueness without a `rand` dependency; the clock and pid are mixed in for good
/// measure.
fn process_prefix() -> u64 {
    static PREFIX: OnceLock<u64> = OnceLock::new();
    *PREFIX.get_or_init(|| {
        let mut hasher = RandomState::new().build_hasher();
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        hasher.write_u128(nanos);
        hasher.write_u32(std::process::id());
        hasher.finish()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn tokens_are_unique_and_share_the_process_prefix() {
        let tokens: HashSet<_> = (0..10_000).map(|_| ClaimToken::new()).collect();
        assert_eq!(tokens.len(), 10_000);
        let prefixes: HashSet<_> = tokens.iter().map(|t| t.as_u128() >> 64).collect();
        assert_eq!(prefixes.len(), 1);
    }

    #[test]
    fn display_is_32_hex_digits_and_round_trips() {
        let token = ClaimToken::from_u128(0xabc);
        assert_eq!(token.to_string(), format!("{:032x}", 0xabc));
        assert_eq!(ClaimToken::from_u128(token.as_u128()), token);
        assert_eq!(u128::from_be_bytes(token.to_bytes()), 0xabc);
    }
}
