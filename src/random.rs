//! Random choices keyed by what they decide, never drawn from one shared stream.
//!
//! Each draw hashes (seed, decision point, key parts), so concurrency and timing cannot change
//! what was drawn: the same seed and the same requests give the same faults in any arrival
//! order, and a retried request (a new occurrence) draws anew.

use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyedRandom {
    seed: u64,
}

impl KeyedRandom {
    pub const fn new(seed: u64) -> Self {
        Self { seed }
    }

    pub fn seed(self) -> u64 {
        self.seed
    }

    /// 64 random bits for this decision point and key.
    pub fn bits(self, point: &str, key: &[&[u8]]) -> u64 {
        let mut hasher = Sha256::new();
        hasher.update(self.seed.to_le_bytes());
        for part in std::iter::once(point.as_bytes()).chain(key.iter().copied()) {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
        let digest = hasher.finalize();
        u64::from_le_bytes(digest[..8].try_into().expect("sha256 gives 32 bytes"))
    }

    /// A uniform draw in [0, 1).
    pub fn unit(self, point: &str, key: &[&[u8]]) -> f64 {
        (self.bits(point, key) >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// True with probability `p`.
    pub fn chance(self, p: f64, point: &str, key: &[&[u8]]) -> bool {
        p > 0.0 && self.unit(point, key) < p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_key_same_draw_different_key_different_draw() {
        let r = KeyedRandom::new(42);
        assert_eq!(
            r.bits("fault", &[b"/a", b"1"]),
            r.bits("fault", &[b"/a", b"1"])
        );
        assert_ne!(
            r.bits("fault", &[b"/a", b"1"]),
            r.bits("fault", &[b"/a", b"2"])
        );
        assert_ne!(r.bits("fault", &[b"/a1"]), r.bits("fault", &[b"/a", b"1"]));
        assert_ne!(
            KeyedRandom::new(43).bits("fault", &[b"/a"]),
            r.bits("fault", &[b"/a"])
        );
    }

    #[test]
    fn unit_draws_are_spread_over_zero_to_one() {
        let r = KeyedRandom::new(7);
        let draws: Vec<f64> = (0..10_000u32)
            .map(|i| r.unit("t", &[&i.to_le_bytes()]))
            .collect();
        assert!(draws.iter().all(|d| (0.0..1.0).contains(d)));
        let hits = draws.iter().filter(|d| **d < 0.2).count();
        assert!((1700..2300).contains(&hits), "{hits} of 10000 below 0.2");
    }
}
