//! The connection to one broker: two tasks around a shared [`Outbox`], on a thread and a
//! single-threaded runtime of their own, so publishing competes with no step for a worker.
//!
//! The poll task drives rumqttc's event loop and tells the outbox which packet id each message
//! went out with and which were acknowledged. The feeder hands waiting messages to the client
//! with `try_publish`, never more than the outbox's window, so nothing ever waits on rumqttc's
//! queue. When the connection fails, the client and its event loop are dropped (with whatever
//! they held), every unacknowledged message waits again, and a new client connects after a
//! delay that doubles from [`FIRST_RETRY`] to [`LAST_RETRY`].

use super::outbox::{Message, Outbox};
use rumqttc::{AsyncClient, Event, MqttOptions, NetworkOptions, Outgoing, Packet, QoS};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Messages handed to the client and not yet acknowledged, at most.
pub const WINDOW: usize = 256;

/// While the end of a run waits for acknowledgements: how often, and with what, the broker
/// is nudged to send the ones it holds back.
const NUDGE_EVERY: Duration = Duration::from_millis(5);
const NUDGE_TOPIC: &str = "hookplan/drain";

/// How long the feeder lets messages gather after the first one arrives. Each message handed
/// over alone costs a wake-up of this thread and of the event loop; the messages of a busy run,
/// a fraction of a millisecond apart, share one. Subscribers see them at most this much later.
const LINGER: Duration = Duration::from_millis(5);

/// How long a connection attempt (TCP, TLS, CONNACK) may take, in seconds.
const CONNECT_TIMEOUT_SECS: u64 = 5;

/// The delay before the first reconnect, and the longest one.
pub const FIRST_RETRY: Duration = Duration::from_millis(100);
pub const LAST_RETRY: Duration = Duration::from_secs(5);

/// What the tasks and the sink share.
struct Shared {
    state: Mutex<State>,
    /// Wakes the feeder: a message was added, the connection came up, or the window opened.
    wake: Notify,
}

struct State {
    outbox: Outbox,
    /// The current connection's client, while it is up (a CONNACK was received).
    client: Option<AsyncClient>,
    ever_connected: bool,
    failed_connects: u64,
}

/// A running connection.
pub struct Connection {
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// What became of the messages of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub published: u64,
    /// Dropped because the outbox was full.
    pub dropped: u64,
    /// Still waiting or unacknowledged when the run ended.
    pub unpublished: u64,
}

impl Connection {
    /// Starts connecting at once, on a thread of its own.
    pub fn spawn(options: MqttOptions, qos: QoS, capacity: usize) -> Self {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                outbox: Outbox::new(capacity, WINDOW),
                client: None,
                ever_connected: false,
                failed_connects: 0,
            }),
            wake: Notify::new(),
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let worker = shared.clone();
        // Without a thread nothing is sent: the messages wait and are counted unpublished.
        let thread = std::thread::Builder::new()
            .name("hookplan-mqtt".into())
            .spawn(move || {
                let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                runtime.block_on(async move {
                    tokio::select! {
                        () = poll(options, worker.clone()) => {}
                        () = feed(worker, qos) => {}
                        _ = stopped => {}
                    }
                });
            })
            .ok();
        Self {
            shared,
            stop: Some(stop),
            thread,
        }
    }

    /// Queues a message; never waits for the broker.
    pub fn offer(&self, message: Message) {
        if lock(&self.shared).outbox.push(message) {
            self.shared.wake.notify_one();
        }
    }

    /// Waits (blocking this thread, never the runtime) until everything was published or
    /// `limit` has passed; gives up at once on a broker that was never reached.
    pub fn drain(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        let mut nudged: Option<Instant> = None;
        loop {
            {
                let state = lock(&self.shared);
                if state.outbox.unpublished() == 0
                    || (!state.ever_connected && state.failed_connects > 0)
                {
                    return;
                }
                // A broker with Nagle's algorithm on (mosquitto's default) holds its last
                // PubAcks until our side acknowledges them, and our side, sending nothing
                // more, delays that by up to 40 ms. Any packet of ours carries the
                // acknowledgement: an UNSUBSCRIBE from a topic never subscribed to is one
                // that changes nothing.
                if let Some(client) = &state.client
                    && nudged.is_none_or(|at| at.elapsed() >= NUDGE_EVERY)
                {
                    let _ = client.try_unsubscribe(NUDGE_TOPIC);
                    nudged = Some(Instant::now());
                }
            }
            if Instant::now() >= deadline {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Stops both tasks and counts what was and was not published.
    pub fn close(mut self) -> Counts {
        if let Some(client) = lock(&self.shared).client.take() {
            let _ = client.try_disconnect();
        }
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let state = lock(&self.shared);
        Counts {
            published: state.outbox.published(),
            dropped: state.outbox.dropped(),
            unpublished: state.outbox.unpublished(),
        }
    }
}

fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    // A task that panicked mid-update leaves counts that are still worth reporting.
    shared.state.lock().unwrap_or_else(|e| e.into_inner())
}

/// Connects, reads the event loop until the connection fails, and starts again after a delay.
async fn poll(options: MqttOptions, shared: Arc<Shared>) {
    let mut delay = FIRST_RETRY;
    loop {
        let (client, mut events) = AsyncClient::new(options.clone(), WINDOW + 8);
        // Nagle's algorithm stays on: rumqttc writes every message with a syscall of its own,
        // and Nagle turns a burst of them into a few segments, so the broker wakes once per
        // burst, not once per message (measured: a third less CPU on a run of 1,000 calls).
        // The window is wide enough that a PubAck held back by a delayed ACK never stops the
        // feeder; the drain at the end nudges the broker for the last ones.
        let mut network = NetworkOptions::new();
        network.set_connection_timeout(CONNECT_TIMEOUT_SECS);
        events.set_network_options(network);
        let mut client = Some(client);
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    // Whether or not the broker kept a session, everything unacknowledged
                    // is back in the outbox already: it is sent again from there.
                    let mut state = lock(&shared);
                    state.client = client.take();
                    state.ever_connected = true;
                    delay = FIRST_RETRY;
                    drop(state);
                    shared.wake.notify_one();
                }
                Ok(Event::Outgoing(Outgoing::Publish(pkid))) => {
                    let mut state = lock(&shared);
                    state.outbox.written(pkid);
                    // QoS 0 frees its place once written: the feeder goes on when the queue
                    // it filled is half written.
                    let wake = pkid == 0 && state.outbox.in_window() == WINDOW / 2;
                    drop(state);
                    if wake {
                        shared.wake.notify_one();
                    }
                }
                Ok(Event::Incoming(Packet::PubAck(ack))) => {
                    if lock(&shared).outbox.acknowledged(ack.pkid) {
                        shared.wake.notify_one();
                    }
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        {
            let mut state = lock(&shared);
            state.client = None;
            state.outbox.connection_lost();
            state.failed_connects += 1;
        }
        drop(events);
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(LAST_RETRY);
    }
}

/// Hands waiting messages to the connected client, as far as the window allows.
async fn feed(shared: Arc<Shared>, qos: QoS) {
    loop {
        shared.wake.notified().await;
        tokio::time::sleep(LINGER).await;
        let mut state = lock(&shared);
        let Some(client) = state.client.clone() else {
            continue;
        };
        while let Some(message) = state.outbox.next_to_send() {
            // Under the lock, so the order handed over is the order the outbox recorded; the
            // queue has room for the whole window, so this never fails for lack of space.
            let handed =
                client.try_publish(message.topic.as_ref(), qos, false, message.payload.to_vec());
            if handed.is_err() {
                state.outbox.not_sent();
                break;
            }
        }
    }
}
