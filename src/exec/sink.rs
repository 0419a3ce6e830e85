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
use std::sync::mpsc::{SyncSender, TrySendError};
use tokio::sync::mpsc::UnboundedReceiver;

/// A consumer of the run's events.
pub trait Sink: Any + Send {
    /// How reports and the console name it (`console`, `journal`, …).
    fn name(&self) -> &'static str;

    fn handle(&mut self, event: &RunEvent);

    /// After the last event.
    fn finish(&mut self) {}
}

/// A lossless stage: sees each event as it is sent and returns the events it derives from it.
pub trait Stage: Send + 'static {
    fn observe(&mut self, event: &RunEvent) -> Vec<EventKind>;
}

/// How many events a lossy sink may fall behind before its events are dropped.
pub const LOSSY_QUEUE: usize = 4096;

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
        while let Some(event) = events.recv().await {
            for sink in &mut lossless {
                sink.handle(&event);
            }
            if !lossy.is_empty() {
                let event = Arc::new(event);
                for sink in &lossy {
                    sink.offer(&event);
                }
            }
        }
        for sink in &mut lossless {
            sink.finish();
        }
        let mut dropped = BTreeMap::new();
        let mut sinks = lossless;
        for sink in lossy {
            let (name, count, back) = sink.close();
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
    sender: SyncSender<Arc<RunEvent>>,
    dropped: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<Box<dyn Sink>>,
}

impl Lossy {
    fn spawn(mut sink: Box<dyn Sink>) -> Self {
        let name = sink.name();
        let (sender, receiver) = std::sync::mpsc::sync_channel::<Arc<RunEvent>>(LOSSY_QUEUE);
        let thread = std::thread::spawn(move || {
            for event in receiver {
                sink.handle(&event);
            }
            sink.finish();
            sink
        });
        Self {
            name,
            sender,
            dropped: Arc::new(AtomicU64::new(0)),
            thread,
        }
    }

    fn offer(&self, event: &Arc<RunEvent>) {
        match self.sender.try_send(event.clone()) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn close(self) -> (&'static str, u64, Option<Box<dyn Sink>>) {
        drop(self.sender);
        let back = self.thread.join().ok();
        (self.name, self.dropped.load(Ordering::Relaxed), back)
    }
}
