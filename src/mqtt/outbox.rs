//! The outbox: messages waiting for the broker, and the ones handed to it that it has not
//! acknowledged yet.
//!
//! rumqttc's own queue is not trusted with anything: its `publish` blocks while the broker is
//! down, and a reconnect without a session drops what it had in flight. So every message stays
//! here until its PubAck (QoS 1) or until it was written (QoS 0), and a lost connection puts
//! whatever was not acknowledged back at the front, to be sent again on the next one. The
//! outbox is bounded: when it is full the oldest waiting message is dropped and counted.

use bytes::Bytes;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

/// One payload for one topic.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// Order of creation: re-sent messages keep their place.
    pub seq: u64,
    pub topic: Arc<str>,
    pub payload: Bytes,
}

#[derive(Debug)]
pub struct Outbox {
    capacity: usize,
    /// Messages handed over at once, at most: what rumqttc holds stays smaller than its queue,
    /// so handing one over never blocks.
    window: usize,
    waiting: VecDeque<Message>,
    /// Handed to the client, packet id not known yet (in the order handed over: the event loop
    /// writes them in that order).
    submitted: VecDeque<Message>,
    /// Written with a packet id, waiting for its PubAck.
    in_flight: HashMap<u16, Message>,
    published: u64,
    dropped: u64,
}

impl Outbox {
    pub fn new(capacity: usize, window: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            window: window.max(1),
            waiting: VecDeque::new(),
            submitted: VecDeque::new(),
            in_flight: HashMap::new(),
            published: 0,
            dropped: 0,
        }
    }

    /// Adds a message; when the outbox is full the oldest waiting one makes room. Says whether
    /// the feeder must be woken: only when nothing was waiting, since otherwise it is already
    /// handing messages over or waiting for the window (an acknowledgement wakes it then).
    pub fn push(&mut self, message: Message) -> bool {
        let was_empty = self.waiting.is_empty();
        self.waiting.push_back(message);
        self.trim();
        was_empty
    }

    /// The next message to hand to the client, unless the window is full.
    pub fn next_to_send(&mut self) -> Option<Message> {
        if self.submitted.len() + self.in_flight.len() >= self.window {
            return None;
        }
        let message = self.waiting.pop_front()?;
        self.submitted.push_back(message.clone());
        Some(message)
    }

    /// The client refused the message just taken: it waits again, first in line.
    pub fn not_sent(&mut self) {
        if let Some(message) = self.submitted.pop_back() {
            self.waiting.push_front(message);
        }
    }

    /// The event loop wrote the oldest submitted message with this packet id (0: QoS 0, which
    /// is done once written).
    pub fn written(&mut self, pkid: u16) {
        let Some(message) = self.submitted.pop_front() else {
            return;
        };
        if pkid == 0 {
            self.published += 1;
        } else if let Some(replaced) = self.in_flight.insert(pkid, message) {
            // A packet id reused while its message was in flight: the broker's ack for it will
            // not come again, so the older one waits to be sent again.
            self.waiting.push_front(replaced);
        }
    }

    /// The broker acknowledged this packet id. Says whether the feeder must be woken: when
    /// messages wait and the window just emptied to half, so it hands them over in batches
    /// rather than one per acknowledgement.
    pub fn acknowledged(&mut self, pkid: u16) -> bool {
        if self.in_flight.remove(&pkid).is_none() {
            return false;
        }
        self.published += 1;
        !self.waiting.is_empty() && self.submitted.len() + self.in_flight.len() == self.window / 2
    }

    /// The connection is gone: everything not acknowledged waits again, in its first order,
    /// ahead of what was never sent.
    pub fn connection_lost(&mut self) {
        let mut back: BTreeMap<u64, Message> = BTreeMap::new();
        for message in self
            .submitted
            .drain(..)
            .chain(self.in_flight.drain().map(|(_, m)| m))
        {
            back.insert(message.seq, message);
        }
        for (_, message) in back.into_iter().rev() {
            self.waiting.push_front(message);
        }
        self.trim();
    }

    /// Messages handed over and not yet published.
    pub fn in_window(&self) -> usize {
        self.submitted.len() + self.in_flight.len()
    }

    /// Messages not (yet) published: waiting, handed over, or unacknowledged.
    pub fn unpublished(&self) -> u64 {
        (self.waiting.len() + self.submitted.len() + self.in_flight.len()) as u64
    }

    pub fn published(&self) -> u64 {
        self.published
    }

    /// Messages dropped because the outbox was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    fn trim(&mut self) {
        while self.waiting.len() > self.capacity {
            self.waiting.pop_front();
            self.dropped += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(seq: u64) -> Message {
        Message {
            seq,
            topic: Arc::from("t"),
            payload: Bytes::from(seq.to_string()),
        }
    }

    fn drain(outbox: &mut Outbox) -> Vec<u64> {
        std::iter::from_fn(|| outbox.next_to_send().map(|m| m.seq)).collect()
    }

    #[test]
    fn a_full_outbox_drops_the_oldest_and_counts_them() {
        let mut outbox = Outbox::new(3, 10);
        assert!(
            outbox.push(message(0)),
            "the first message wakes the feeder"
        );
        for seq in 1..5 {
            assert!(!outbox.push(message(seq)), "later ones find it awake");
        }
        assert_eq!(outbox.dropped(), 2);
        assert_eq!(drain(&mut outbox), vec![2, 3, 4]);
    }

    #[test]
    fn the_window_bounds_what_is_handed_over_until_acknowledged() {
        let mut outbox = Outbox::new(100, 2);
        for seq in 0..4 {
            outbox.push(message(seq));
        }
        assert_eq!(drain(&mut outbox), vec![0, 1]);
        outbox.written(7);
        outbox.written(8);
        assert_eq!(drain(&mut outbox), Vec::<u64>::new());
        assert!(
            outbox.acknowledged(7),
            "half the window is free: wake the feeder"
        );
        assert_eq!(drain(&mut outbox), vec![2]);
        assert_eq!(outbox.published(), 1);
        assert_eq!(outbox.unpublished(), 3);
    }

    #[test]
    fn a_lost_connection_puts_every_unacknowledged_message_back_in_order() {
        let mut outbox = Outbox::new(100, 10);
        for seq in 0..6 {
            outbox.push(message(seq));
        }
        for _ in 0..4 {
            outbox.next_to_send();
        }
        outbox.written(1);
        outbox.written(2);
        outbox.written(3);
        assert!(!outbox.acknowledged(2), "the window is far from full");
        outbox.connection_lost();
        assert_eq!(outbox.published(), 1);
        assert_eq!(drain(&mut outbox), vec![0, 2, 3, 4, 5]);
    }

    #[test]
    fn qos_0_is_published_once_written() {
        let mut outbox = Outbox::new(10, 10);
        outbox.push(message(0));
        outbox.next_to_send();
        outbox.written(0);
        assert_eq!((outbox.published(), outbox.unpublished()), (1, 0));
    }
}
