//! The console of `hookplan sandbox start`: one block per request, printed off the request's
//! path so that a slow terminal (or a flood of requests) never slows the answers.
//!
//! The observer, on the request's path, only checks for room in a bounded queue: when there
//! is room it queues a copy of the record's line, otherwise it counts the request as not shown
//! — two atomic operations, no copy, no lock, no waiting. A thread of its own reads the lines
//! back into records (the request's path never builds one), formats the blocks and
//! writes them through a buffer, flushed whenever the queue runs empty (so at human rates each
//! block appears at once). It shows at most [`Settings::per_second`] blocks a second: past
//! that it waits, the queue fills, and requests are counted instead of copied, which keeps the
//! console's share of the machine small however fast requests arrive. Every gap is announced
//! where it happened (`… 12 requests not shown …`), and [`RequestPrinter::finish`] prints the
//! total. The recordings hold every request either way.

use super::{Observer, RecordedRequest, console};
use std::io::{BufWriter, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Where to look for what the console did not show.
pub const SEE_ALL: &str = "hookplan sandbox list-requests";

#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Requests that may wait to be shown.
    pub capacity: usize,
    /// Blocks shown per second at most; 0 for no limit.
    pub per_second: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            capacity: 2048,
            per_second: 2000,
        }
    }
}

/// What the console showed and did not show.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub shown: u64,
    pub not_shown: u64,
}

struct Queued {
    /// The record's line, as written to the session file.
    line: Vec<u8>,
    /// Requests not shown since the one queued before this.
    not_shown_before: u64,
}

#[derive(Default)]
struct Counters {
    /// Records queued and not yet taken by the printer.
    queued: AtomicUsize,
    /// Requests not shown since the last one queued.
    gap: AtomicU64,
    /// Requests not shown in all.
    not_shown: AtomicU64,
}

/// Prints request blocks on a thread of its own; see the module's documentation.
pub struct RequestPrinter {
    sender: SyncSender<Queued>,
    counters: Arc<Counters>,
    capacity: usize,
    thread: JoinHandle<u64>,
}

impl RequestPrinter {
    pub fn spawn<W: Write + Send + 'static>(out: W, settings: Settings) -> Self {
        let capacity = settings.capacity.max(1);
        let (sender, receiver) = std::sync::mpsc::sync_channel(capacity);
        let counters = Arc::new(Counters::default());
        let shared = counters.clone();
        let thread = std::thread::Builder::new()
            .name("sandbox-console".into())
            .spawn(move || print_blocks(receiver, &shared, out, settings.per_second))
            .expect("the console thread starts");
        Self {
            sender,
            counters,
            capacity,
            thread,
        }
    }

    /// The sandbox's observer: queues the record if there is room, counts it otherwise.
    pub fn observer(&self) -> Observer {
        let sender = self.sender.clone();
        let counters = self.counters.clone();
        let capacity = self.capacity;
        Arc::new(move |line: &[u8]| {
            let counters = &*counters;
            let not_shown = || {
                counters.gap.fetch_add(1, Ordering::Relaxed);
                counters.not_shown.fetch_add(1, Ordering::Relaxed);
            };
            // A plain load first: when the printer is behind, that is all a request costs.
            if counters.queued.load(Ordering::Relaxed) >= capacity {
                return not_shown();
            }
            if counters.queued.fetch_add(1, Ordering::Relaxed) >= capacity {
                counters.queued.fetch_sub(1, Ordering::Relaxed);
                return not_shown();
            }
            let queued = Queued {
                line: line.to_vec(),
                not_shown_before: counters.gap.swap(0, Ordering::Relaxed),
            };
            if let Err(TrySendError::Full(queued) | TrySendError::Disconnected(queued)) =
                sender.try_send(queued)
            {
                counters.queued.fetch_sub(1, Ordering::Relaxed);
                counters
                    .gap
                    .fetch_add(queued.not_shown_before, Ordering::Relaxed);
                not_shown();
            }
        })
    }

    /// Waits until every queued block is shown (the sandbox, and with it every observer, must
    /// be gone), prints how many requests were not shown if any, and says what was shown.
    pub fn finish(self) -> Summary {
        drop(self.sender);
        let shown = self.thread.join().unwrap_or(0);
        Summary {
            shown,
            not_shown: self.counters.not_shown.load(Ordering::Relaxed),
        }
    }
}

fn print_blocks<W: Write>(
    receiver: Receiver<Queued>,
    counters: &Counters,
    out: W,
    per_second: u32,
) -> u64 {
    let mut out = BufWriter::with_capacity(64 * 1024, out);
    let mut pace = Pace::new(per_second);
    let mut shown = 0u64;
    // Write errors (a closed terminal) are ignored: the sandbox keeps serving and recording.
    while let Ok(Queued {
        line,
        not_shown_before,
    }) = receiver.recv()
    {
        counters.queued.fetch_sub(1, Ordering::Relaxed);
        // The sandbox wrote the line from a record's fields, so it reads back (json_line's
        // tests hold the two together); one that did not would be counted as not shown.
        let Ok(record) = serde_json::from_slice::<RecordedRequest>(&line) else {
            counters
                .gap
                .fetch_add(not_shown_before + 1, Ordering::Relaxed);
            counters.not_shown.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        if pace.spent() {
            let _ = out.flush();
            pace.wait();
        }
        if not_shown_before > 0 {
            let _ = write!(
                out,
                "… {} not shown (the console fell behind; see them with `{SEE_ALL}`)\n\n",
                requests(not_shown_before)
            );
        }
        let _ = out.write_all(console::request_block(&record).as_bytes());
        let _ = out.write_all(b"\n");
        shown += 1;
        if counters.queued.load(Ordering::Relaxed) == 0 {
            let _ = out.flush();
        }
    }
    let not_shown = counters.not_shown.load(Ordering::Relaxed);
    if not_shown > 0 {
        let since = counters.gap.swap(0, Ordering::Relaxed);
        let last = if since > 0 && since < not_shown {
            format!(", {since} of them after the last block shown")
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "Not shown on the console: {}{last}; see them with `{SEE_ALL}`",
            requests(not_shown)
        );
    }
    let _ = out.flush();
    shown
}

fn requests(n: u64) -> String {
    if n == 1 {
        "1 request".into()
    } else {
        format!("{n} requests")
    }
}

/// At most `per_second` blocks in each second.
struct Pace {
    per_second: u32,
    window: Instant,
    used: u32,
}

impl Pace {
    fn new(per_second: u32) -> Self {
        Self {
            per_second,
            window: Instant::now(),
            used: 0,
        }
    }

    /// Whether this second's blocks are used up (then [`Pace::wait`] before the next).
    fn spent(&mut self) -> bool {
        if self.per_second == 0 {
            return false;
        }
        if self.window.elapsed() >= Duration::from_secs(1) {
            self.window = Instant::now();
            self.used = 0;
        }
        self.used += 1;
        self.used > self.per_second
    }

    fn wait(&mut self) {
        let left = Duration::from_secs(1).saturating_sub(self.window.elapsed());
        std::thread::sleep(left);
        self.window = Instant::now();
        self.used = 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::recording::tests::sample;
    use std::io;
    use std::sync::{Condvar, Mutex};

    /// Output the test can read while the printer runs.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Shared {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// A writer that blocks until opened, and says when something waits on it.
    #[derive(Clone, Default)]
    struct Gate {
        out: Shared,
        state: Arc<(Mutex<(bool, bool)>, Condvar)>,
    }

    impl Gate {
        fn wait_until_blocked(&self) {
            let (state, changed) = &*self.state;
            let mut state = state.lock().unwrap();
            while !state.0 {
                state = changed.wait(state).unwrap();
            }
        }

        fn open(&self) {
            let (state, changed) = &*self.state;
            state.lock().unwrap().1 = true;
            changed.notify_all();
        }
    }

    impl Write for Gate {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let (state, changed) = &*self.state;
            let mut state = state.lock().unwrap();
            state.0 = true;
            changed.notify_all();
            while !state.1 {
                state = changed.wait(state).unwrap();
            }
            drop(state);
            self.out.write(buf)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// The line the sandbox writes for the sample record.
    fn line(seq: u64, session: &str) -> Vec<u8> {
        let mut line = Vec::new();
        crate::sandbox::json_line::write(&mut line, &sample(seq, session));
        line
    }

    fn blocks(text: &str) -> usize {
        text.matches("\nResponse: ").count()
    }

    #[test]
    fn a_burst_is_shown_whole() {
        let out = Shared::default();
        let printer = RequestPrinter::spawn(out.clone(), Settings::default());
        let observer = printer.observer();
        for seq in 1..=200 {
            observer(&line(seq, "s"));
        }
        drop(observer);
        let summary = printer.finish();
        assert_eq!(
            summary,
            Summary {
                shown: 200,
                not_shown: 0
            }
        );
        let text = out.text();
        assert_eq!(blocks(&text), 200);
        assert!(!text.contains("not shown"), "{text}");
        for seq in [1, 100, 200] {
            assert!(
                text.contains(&format!(
                    "Request ID: POST_{}\n",
                    1_707_389_523_456u64 + seq
                )),
                "{seq}"
            );
        }
    }

    #[test]
    fn a_printer_that_falls_behind_counts_what_it_did_not_show() {
        let gate = Gate::default();
        let printer = RequestPrinter::spawn(
            gate.clone(),
            Settings {
                capacity: 4,
                per_second: 0,
            },
        );
        let observer = printer.observer();
        // The first block is taken and its write blocks…
        observer(&line(1, "s"));
        gate.wait_until_blocked();
        // …four wait in the queue, and six find no room.
        for seq in 2..=11 {
            observer(&line(seq, "s"));
        }
        gate.open();
        let deadline = Instant::now() + Duration::from_secs(30);
        while blocks(&gate.out.text()) < 5 {
            assert!(Instant::now() < deadline, "{}", gate.out.text());
            std::thread::sleep(Duration::from_millis(5));
        }
        // Once it caught up, the next one is shown, after the count of those it skipped.
        while printer.counters.queued.load(Ordering::Relaxed) > 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
        observer(&line(12, "s"));
        drop(observer);
        let summary = printer.finish();
        assert_eq!(
            summary,
            Summary {
                shown: 6,
                not_shown: 6
            }
        );
        let text = gate.out.text();
        assert_eq!(blocks(&text), 6, "{text}");
        for seq in 1..=5 {
            assert!(text.contains(&format!("POST_{}\n", 1_707_389_523_456u64 + seq)));
        }
        for seq in 6..=11 {
            assert!(!text.contains(&format!("POST_{}\n", 1_707_389_523_456u64 + seq)));
        }
        let gap = text
            .find("… 6 requests not shown (the console fell behind; see them with `hookplan sandbox list-requests`)\n\n")
            .unwrap_or_else(|| panic!("{text}"));
        assert!(gap < text.find("POST_1707389523468").unwrap());
        assert!(gap > text.find("POST_1707389523461").unwrap());
        assert!(
            text.ends_with(
                "Not shown on the console: 6 requests; see them with `hookplan sandbox list-requests`\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn the_final_count_names_those_after_the_last_block() {
        let gate = Gate::default();
        let printer = RequestPrinter::spawn(
            gate.clone(),
            Settings {
                capacity: 1,
                per_second: 0,
            },
        );
        let observer = printer.observer();
        observer(&line(1, "s"));
        gate.wait_until_blocked();
        for seq in 2..=5 {
            observer(&line(seq, "s"));
        }
        gate.open();
        drop(observer);
        assert_eq!(
            printer.finish(),
            Summary {
                shown: 2,
                not_shown: 3
            }
        );
        assert!(gate.out.text().ends_with(
            "Not shown on the console: 3 requests; see them with `hookplan sandbox list-requests`\n"
        ), "{}", gate.out.text());
    }
}
