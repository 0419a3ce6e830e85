//! Where the event stream goes: a fan-out to sinks behind one trait.
//!
//! Lossless sinks (the report builder, the events journal) see every event, in order, on the
//! fan-out itself: reports are a pure function of the stream, so nothing may be dropped there.
//! Lossy sinks (the console, later MQTT and alert channels) each get a bounded queue and a
//! thread of their own: when one falls behind, events for it are dropped and counted, and no
//! step ever waits for it. Lossless stages that derive events (the alert evaluator) are not
//! sinks: they sit in [`super::Events`] itself, ahead of the fan-out.

use super::event::{EventKind, RunEvent};
use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::TryRecvError;
use tokio::sync::mpsc::UnboundedReceiver;

/// A consumer of the run's events.
pub trait Sink: Any + Send {
    /// How reports and the console name it (`console`, `journal`, …).
    fn name(&self) -> &'static str;

    fn handle(&mut self, event: &RunEvent);

    /// When a lossy sink has caught up with every event sent so far (a console writes out
    /// what it gathered).
    fn idle(&mut self) {}

    /// After the last event.
    fn finish(&mut self) {}
}

/// A lossless stage: sees each event as it is sent and returns the events it derives from it.
pub trait Stage: Send + 'static {
    fn observe(&mut self, event: &RunEvent) -> Vec<EventKind>;
}

/// How many events a lossy sink may fall behind before its events are dropped.
pub const LOSSY_QUEUE: usize = 4096;

/// Events handed on at once, at most.
const BATCH: usize = 256;

/// The sinks of one run.
#[derive(Default)]
pub struct Sinks {
    lossless: Vec<Box<dyn Sink>>,
    lossy: Vec<Box<dyn Sink>>,
}

impl Sinks {
    pub fn lossless(mut self, sink: impl Sink) -> Self {
        self.lossless.push(Box::new(sink));
        self
    }

    pub fn lossy(mut self, sink: impl Sink) -> Self {
        self.lossy.push(Box::new(sink));
        self
    }

    /// Feeds every event of `events` to every sink until the stream ends, then finishes
    /// them and hands them back with what the lossy ones dropped.
    pub async fn run(self, mut events: UnboundedReceiver<RunEvent>) -> Finished {
        let mut lossless = self.lossless;
        let lossy: Vec<Lossy> = self.lossy.into_iter().map(Lossy::spawn).collect();
        // Events are taken as they queued up: a burst costs one wake-up of each lossy sink.
        let mut batch = Vec::with_capacity(BATCH);
        while events.recv_many(&mut batch, BATCH).await > 0 {
            for event in &batch {
                for sink in &mut lossless {
                    sink.handle(event);
                }
            }
            if lossy.is_empty() {
                batch.clear();
                continue;
            }
            let shared: Arc<[RunEvent]> = batch.drain(..).collect();
            for sink in &lossy {
                sink.offer(&shared);
            }
        }
        for sink in &mut lossless {
            sink.finish();
        }
        // A lossy sink may still be working through its queue: wait for it off the runtime.
        let closed = tokio::task::spawn_blocking(move || {
            lossy.into_iter().map(Lossy::close).collect::<Vec<_>>()
        })
        .await
        .unwrap_or_default();
        let mut dropped = BTreeMap::new();
        let mut sinks = lossless;
        for (name, count, back) in closed {
            if count > 0 {
                dropped.insert(name.to_string(), count);
            }
            sinks.extend(back);
        }
        Finished { sinks, dropped }
    }
}

/// The sinks after the run, and how many events each lossy one dropped (only those that did).
pub struct Finished {
    sinks: Vec<Box<dyn Sink>>,
    pub dropped: BTreeMap<String, u64>,
}

impl Finished {
    /// Takes back the sink of this type.
    pub fn take<T: Sink>(&mut self) -> Option<T> {
        let index = self
            .sinks
            .iter()
            .position(|s| (&**s as &dyn Any).is::<T>())?;
        let sink: Box<dyn Any> = self.sinks.remove(index);
        sink.downcast::<T>().ok().map(|b| *b)
    }
}

/// A lossy sink on a thread of its own behind a bounded queue.
struct Lossy {
    name: &'static str,
    sender: std::sync::mpsc::Sender<Arc<[RunEvent]>>,
    /// Events queued and not yet handled; never more than [`LOSSY_QUEUE`].
    pending: Arc<AtomicU64>,
    dropped: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<Box<dyn Sink>>,
}

impl Lossy {
    fn spawn(mut sink: Box<dyn Sink>) -> Self {
        let name = sink.name();
        let (sender, receiver) = std::sync::mpsc::channel::<Arc<[RunEvent]>>();
        let pending = Arc::new(AtomicU64::new(0));
        let handled = pending.clone();
        let thread = std::thread::spawn(move || {
            loop {
                let batch = match receiver.try_recv() {
                    Ok(batch) => batch,
                    Err(TryRecvError::Empty) => {
                        sink.idle();
                        match receiver.recv() {
                            Ok(batch) => batch,
                            Err(_) => break,
                        }
                    }
                    Err(TryRecvError::Disconnected) => break,
                };
                for event in batch.iter() {
                    sink.handle(event);
                }
                handled.fetch_sub(batch.len() as u64, Ordering::Relaxed);
            }
            sink.finish();
            sink
        });
        Self {
            name,
            sender,
            pending,
            dropped: Arc::new(AtomicU64::new(0)),
            thread,
        }
    }

    /// Queues a batch, or counts it dropped when the sink is too far behind.
    fn offer(&self, batch: &Arc<[RunEvent]>) {
        let n = batch.len() as u64;
        // Counted before it is sent, so the sink's thread never takes away more than was added.
        let queued = self.pending.fetch_add(n, Ordering::Relaxed);
        if queued + n > LOSSY_QUEUE as u64 || self.sender.send(batch.clone()).is_err() {
            self.pending.fetch_sub(n, Ordering::Relaxed);
            self.dropped.fetch_add(n, Ordering::Relaxed);
        }
    }

    fn close(self) -> (&'static str, u64, Option<Box<dyn Sink>>) {
        drop(self.sender);
        let back = self.thread.join().ok();
        (self.name, self.dropped.load(Ordering::Relaxed), back)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::exec::Events;
    use std::time::Duration;

    /// Counts what it sees (also where the test can watch).
    #[derive(Default)]
    struct Counter(usize, Vec<String>, Arc<AtomicU64>);

    impl Sink for Counter {
        fn name(&self) -> &'static str {
            "counter"
        }
        fn handle(&mut self, event: &RunEvent) {
            self.0 += 1;
            self.2.fetch_add(1, Ordering::Relaxed);
            if let EventKind::StepLog { message, .. } = &event.kind {
                self.1.push(message.clone());
            }
        }
    }

    /// Blocks on its first event until released: a console that cannot keep up.
    struct Stuck(std::sync::mpsc::Receiver<()>, usize);

    impl Sink for Stuck {
        fn name(&self) -> &'static str {
            "stuck"
        }
        fn handle(&mut self, _: &RunEvent) {
            // Returns once the test drops its end.
            let _ = self.0.recv();
            self.1 += 1;
        }
    }

    fn log(n: usize) -> EventKind {
        EventKind::StepLog {
            step: 0,
            message: format!("line {n}"),
        }
    }

    #[tokio::test]
    async fn a_lossy_sink_that_falls_behind_drops_and_counts_while_lossless_ones_see_everything() {
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        let events = Events::new(sender, Clock::default());
        let total = LOSSY_QUEUE * 3;
        let seen = Arc::new(AtomicU64::new(0));
        let sinks = Sinks::default()
            .lossless(Counter(0, Vec::new(), seen.clone()))
            .lossy(Stuck(gate, 0));
        let fan_out = tokio::spawn(sinks.run(receiver));
        for n in 0..total {
            events.emit_at(Duration::ZERO, log(n));
        }
        drop(events);
        // Every event reaches the lossless sink while the lossy one is still stuck on its
        // first: nothing waits for a sink that falls behind.
        let all_seen = async {
            while seen.load(Ordering::Relaxed) < total as u64 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(20), all_seen)
            .await
            .expect("the lossless sink saw every event while the lossy one was stuck");
        drop(release);
        let mut finished = fan_out.await.unwrap();
        let counter = finished.take::<Counter>().unwrap();
        assert_eq!(counter.0, total, "lossless: every event");
        let stuck = finished.take::<Stuck>().unwrap();
        let dropped = finished.dropped["stuck"];
        assert!(dropped > 0, "the stuck sink dropped events");
        assert_eq!(
            stuck.1 as u64 + dropped,
            total as u64,
            "each event shown or counted"
        );
    }

    /// Derives one event from each step log.
    struct Echo;

    impl Stage for Echo {
        fn observe(&mut self, event: &RunEvent) -> Vec<EventKind> {
            match &event.kind {
                EventKind::StepLog { message, .. } if message.starts_with("line") => {
                    vec![EventKind::StepLog {
                        step: 0,
                        message: format!("derived from {message}"),
                    }]
                }
                _ => Vec::new(),
            }
        }
    }

    #[tokio::test]
    async fn derived_events_follow_their_source_before_anything_sent_after_it() {
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        let events = Events::new(sender, Clock::default()).with_stages(vec![Box::new(Echo)]);
        let fan_out = tokio::spawn(Sinks::default().lossless(Counter::default()).run(receiver));
        let senders: Vec<_> = (0..4)
            .map(|t| {
                let events = events.clone();
                std::thread::spawn(move || {
                    for n in 0..100 {
                        events.emit_at(Duration::ZERO, log(t * 1000 + n));
                    }
                })
            })
            .collect();
        for s in senders {
            s.join().unwrap();
        }
        drop(events);
        let seen = fan_out.await.unwrap().take::<Counter>().unwrap().1;
        assert_eq!(seen.len(), 800);
        for pair in seen.chunks(2) {
            assert_eq!(pair[1], format!("derived from {}", pair[0]));
        }
    }
}
