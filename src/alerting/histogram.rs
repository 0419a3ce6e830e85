//! Delivery latencies as a histogram: fixed memory, p95 within 1 %.
//!
//! Buckets are log-linear over microseconds: exact below 64 µs, then 64 buckets per power of
//! two, so a bucket is at most 1/64 of its lower bound wide and its midpoint is within 1/128
//! (0.8 %) of any value in it. 2048 buckets reach 2^37 µs (38 hours); longer values count in
//! the last one. Counts are also kept per group of 64 buckets, so a percentile is found in
//! about 32 + 64 steps instead of 2048.

const SUB_BITS: u32 = 6;
const SUB: usize = 1 << SUB_BITS;
/// Groups of [`SUB`] buckets: one exact group below 64 µs, then one per power of two.
const GROUPS: usize = 32;
pub const BUCKETS: usize = GROUPS * SUB;

#[derive(Clone)]
pub struct LatencyHistogram {
    counts: Box<[u32; BUCKETS]>,
    groups: [u32; GROUPS],
    total: u64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self {
            counts: Box::new([0; BUCKETS]),
            groups: [0; GROUPS],
            total: 0,
        }
    }
}

impl std::fmt::Debug for LatencyHistogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LatencyHistogram")
            .field("total", &self.total)
            .finish_non_exhaustive()
    }
}

/// The bucket of a latency in microseconds.
pub fn bucket(micros: u64) -> usize {
    if micros < SUB as u64 {
        return micros as usize;
    }
    let top = 63 - micros.leading_zeros(); // ≥ SUB_BITS
    let sub = ((micros >> (top - SUB_BITS)) as usize) - SUB;
    let index = (top - SUB_BITS + 1) as usize * SUB + sub;
    index.min(BUCKETS - 1)
}

/// The value a bucket stands for, in microseconds: its midpoint.
pub fn representative(index: usize) -> f64 {
    if index < SUB {
        return index as f64;
    }
    let shift = (index / SUB - 1) as u32;
    let low = ((SUB + index % SUB) as u64) << shift;
    low as f64 + ((1u64 << shift) as f64 - 1.0) / 2.0
}

impl LatencyHistogram {
    pub fn add(&mut self, index: usize) {
        self.counts[index] += 1;
        self.groups[index / SUB] += 1;
        self.total += 1;
    }

    /// Takes away everything `other` holds (a slice of the window that expired).
    pub fn subtract(&mut self, other: &LatencyHistogram) {
        if other.total == 0 {
            return;
        }
        for (group, &n) in other.groups.iter().enumerate() {
            if n == 0 {
                continue;
            }
            self.groups[group] -= n;
            let range = group * SUB..(group + 1) * SUB;
            for (mine, theirs) in self.counts[range.clone()]
                .iter_mut()
                .zip(&other.counts[range])
            {
                *mine -= theirs;
            }
        }
        self.total -= other.total;
    }

    pub fn clear(&mut self) {
        if self.total > 0 {
            self.counts.fill(0);
            self.groups = [0; GROUPS];
            self.total = 0;
        }
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    /// The `q`-quantile (0 < q ≤ 1) by nearest rank, in microseconds; `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0u64;
        for (group, &n) in self.groups.iter().enumerate() {
            if seen + u64::from(n) < rank {
                seen += u64::from(n);
                continue;
            }
            for index in group * SUB..(group + 1) * SUB {
                seen += u64::from(self.counts[index]);
                if seen >= rank {
                    return Some(representative(index));
                }
            }
        }
        Some(representative(BUCKETS - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_is_within_one_percent_of_its_bucket() {
        let mut values: Vec<u64> = (0..5000).collect();
        values.extend((1..2000).map(|i| i * 7919));
        values.extend([u32::MAX as u64, 1 << 36, (1 << 37) - 1]);
        for v in values {
            let r = representative(bucket(v));
            let error = (r - v as f64).abs() / (v as f64).max(1.0);
            assert!(
                error <= 0.01,
                "{v} µs shown as {r} ({:.3} %)",
                error * 100.0
            );
        }
        assert!(bucket(u64::MAX) == BUCKETS - 1);
    }

    #[test]
    fn buckets_grow_with_the_value() {
        let mut last = 0;
        for v in 0..1_000_000u64 {
            let b = bucket(v);
            assert!(b >= last, "{v}");
            last = b;
        }
    }

    #[test]
    fn p95_is_within_one_percent_of_the_exact_one() {
        // A skewed spread: most deliveries fast, a tail of slow ones.
        let mut state = 7u64;
        let mut values = Vec::new();
        let mut histogram = LatencyHistogram::default();
        for _ in 0..100_000 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let u = (state >> 11) as f64 / (1u64 << 53) as f64;
            let micros = (1000.0 * (-u.ln()) * 40.0) as u64 + 200;
            values.push(micros);
            histogram.add(bucket(micros));
        }
        values.sort_unstable();
        let exact = values[(0.95 * values.len() as f64).ceil() as usize - 1] as f64;
        let estimate = histogram.quantile(0.95).unwrap();
        assert!(
            (estimate - exact).abs() / exact <= 0.01,
            "p95 {estimate} against {exact}"
        );
    }

    #[test]
    fn subtracting_what_was_added_leaves_nothing() {
        let mut all = LatencyHistogram::default();
        let mut part = LatencyHistogram::default();
        for v in [5, 500, 50_000, 5_000_000] {
            all.add(bucket(v));
            part.add(bucket(v));
        }
        all.add(bucket(77));
        all.subtract(&part);
        assert_eq!(all.total(), 1);
        assert_eq!(all.quantile(0.95), Some(77.0));
        part.clear();
        assert_eq!(part.quantile(0.5), None);
    }
}
