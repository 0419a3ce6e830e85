//! Request ids as the spec writes them: `POST_1707389523456`, the method and the arrival time in
//! unix milliseconds.
//!
//! Two requests in the same millisecond would share an id, so the number is bumped past the
//! last one handed out in this process: ids stay unique and increasing, at the cost of running
//! ahead of the clock while more than 1000 requests a second arrive.

use std::sync::atomic::{AtomicU64, Ordering};

static LAST_MILLIS: AtomicU64 = AtomicU64::new(0);

/// Makes later ids larger than `millis`: a new session continues past the ids of the last
/// one, which may have run ahead of the clock.
pub fn continue_after(millis: u64) {
    LAST_MILLIS.fetch_max(millis, Ordering::Relaxed);
}

/// The number in an id (`POST_1707389523456` → 1707389523456).
pub fn millis_of(id: &str) -> Option<u64> {
    id.rsplit_once('_')?.1.parse().ok()
}

/// The id of a request arriving at `unix_millis`.
pub fn next(method: &str, unix_millis: u64) -> String {
    let millis = take_after(&LAST_MILLIS, unix_millis);
    // By hand: this runs for every request, and `format!` cost more than the rest of it.
    let mut digits = itoa::Buffer::new();
    let digits = digits.format(millis);
    let mut id = String::with_capacity(method.len() + 1 + digits.len());
    id.push_str(method);
    id.push('_');
    id.push_str(digits);
    id
}

/// The larger of `now` and one past the last value taken.
fn take_after(last: &AtomicU64, now: u64) -> u64 {
    let mut current = last.load(Ordering::Relaxed);
    loop {
        let candidate = now.max(current + 1);
        match last.compare_exchange_weak(current, candidate, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return candidate,
            Err(seen) => current = seen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::sync::Arc;

    #[test]
    fn ids_in_the_same_millisecond_are_bumped_apart() {
        let last = AtomicU64::new(0);
        assert_eq!(take_after(&last, 1_000), 1_000);
        assert_eq!(take_after(&last, 1_000), 1_001);
        assert_eq!(take_after(&last, 1_000), 1_002);
        // The clock catching up is used as it is.
        assert_eq!(take_after(&last, 5_000), 5_000);
        let id = next("POST", 1_707_389_523_456);
        assert!(id.starts_with("POST_"), "{id}");
        assert!(
            millis_of(&id).is_some_and(|m| m >= 1_707_389_523_456),
            "{id}"
        );
        assert_eq!(id, format!("POST_{}", millis_of(&id).unwrap()));
        assert_eq!(millis_of("POST_1707389523456"), Some(1_707_389_523_456));
        assert_eq!(millis_of("M-SEARCH_12"), Some(12));
        assert_eq!(millis_of("nonsense"), None);
    }

    #[test]
    fn concurrent_takers_never_share_a_value() {
        let last = Arc::new(AtomicU64::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let last = last.clone();
                std::thread::spawn(move || {
                    (0..1000).map(|_| take_after(&last, 7)).collect::<Vec<_>>()
                })
            })
            .collect();
        let all: Vec<u64> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        assert_eq!(all.iter().collect::<HashSet<_>>().len(), 4000);
    }
}
