//! Arrival times as records write them, RFC 3339 in UTC with milliseconds
//! (`2024-02-08T10:52:03.456Z`), made for every request without chrono's formatter: the date
//! and time of day change once a second, so each thread keeps the text of the last second it
//! saw and only writes the milliseconds after it.

use std::cell::RefCell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Longer than any time chrono writes with a four-digit year (24 bytes); others fall back.
const CAPACITY: usize = 32;

/// One arrival time's text, on the stack.
pub(crate) struct Timestamp {
    text: [u8; CAPACITY],
    len: usize,
}

thread_local! {
    /// The last second formatted on this thread, as unix seconds and `2024-02-08T10:52:03`.
    static SECOND: RefCell<Option<(u64, Timestamp)>> = const { RefCell::new(None) };
}

impl Timestamp {
    pub fn of(at: SystemTime) -> Self {
        let Ok(since) = at.duration_since(UNIX_EPOCH) else {
            return Self::from_text(&chrono_text(at));
        };
        let seconds = since.as_secs();
        let mut stamp = SECOND.with(|cached| {
            let mut cached = cached.borrow_mut();
            match &*cached {
                Some((second, prefix)) if *second == seconds => prefix.copy(),
                _ => {
                    let whole = UNIX_EPOCH + Duration::from_secs(seconds);
                    let text = chrono_text(whole);
                    // `…:03.000Z`: keep what comes before the milliseconds.
                    let prefix = Self::from_text(text.strip_suffix(".000Z").unwrap_or(&text));
                    let stamp = prefix.copy();
                    *cached = Some((seconds, prefix));
                    stamp
                }
            }
        });
        if stamp.len + 5 > CAPACITY {
            return Self::from_text(&chrono_text(at));
        }
        let millis = since.subsec_millis();
        let tail = [
            b'.',
            b'0' + (millis / 100) as u8,
            b'0' + (millis / 10 % 10) as u8,
            b'0' + (millis % 10) as u8,
            b'Z',
        ];
        stamp.text[stamp.len..stamp.len + 5].copy_from_slice(&tail);
        stamp.len += 5;
        stamp
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.text[..self.len]).expect("made from text")
    }

    fn from_text(text: &str) -> Self {
        let mut stamp = Timestamp {
            text: [0; CAPACITY],
            len: text.len().min(CAPACITY),
        };
        // Cut at a byte boundary only ever in ASCII: chrono writes nothing else.
        stamp.text[..stamp.len].copy_from_slice(&text.as_bytes()[..stamp.len]);
        stamp
    }

    fn copy(&self) -> Self {
        Timestamp {
            text: self.text,
            len: self.len,
        }
    }
}

fn chrono_text(at: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(at).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_is_chronos() {
        let base = UNIX_EPOCH + Duration::from_millis(1_707_389_523_456);
        // Within a second, across seconds, days and years, and back again.
        for offset_ms in [
            0u64,
            1,
            99,
            543,
            544,
            1_000,
            59_999,
            86_400_000,
            365 * 86_400_000,
            7,
        ] {
            let at = base + Duration::from_millis(offset_ms);
            assert_eq!(Timestamp::of(at).as_str(), chrono_text(at), "{offset_ms}");
        }
        for at in [
            UNIX_EPOCH,
            UNIX_EPOCH - Duration::from_millis(1_500),
            UNIX_EPOCH + Duration::from_secs(253_402_300_799) + Duration::from_millis(999),
        ] {
            assert_eq!(Timestamp::of(at).as_str(), chrono_text(at));
        }
        assert_eq!(
            Timestamp::of(base).as_str(),
            "2024-02-08T10:52:03.456Z",
            "the spec's form"
        );
    }
}
