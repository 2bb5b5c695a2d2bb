//! Time as the core sees it: a number the caller passes in. Nothing in the
//! core reads a clock, so every timeout can be tested with an injected one.

/// Monotonic time passed in by the caller (nanoseconds since an arbitrary
/// origin). Nothing in the datapath reads a clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub u64);

impl Timestamp {
    pub const fn from_secs(s: u64) -> Self {
        Timestamp(s.saturating_mul(1_000_000_000))
    }
    pub const fn from_millis(ms: u64) -> Self {
        Timestamp(ms.saturating_mul(1_000_000))
    }
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    pub const fn as_secs(self) -> u64 {
        self.0 / 1_000_000_000
    }
    pub const fn saturating_add_secs(self, s: u64) -> Self {
        Timestamp(self.0.saturating_add(s.saturating_mul(1_000_000_000)))
    }
}
