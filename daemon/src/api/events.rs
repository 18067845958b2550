//! The control API's event feed: the scheduler's new heads and the task manager's outcomes, numbered,
//! kept in a bounded ring for `GET /v1/events/recent` and fanned out to `GET /v1/events` streams.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use keeper_shared::api::{Event, EventRecord};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::convert;
use crate::scheduler::ScheduleView;

/// Events remembered for `/v1/events/recent` and for stream clients that reconnect.
pub const RECENT_CAPACITY: usize = 1024;
/// Events buffered per stream client before a slow one starts missing them.
const STREAM_BUFFER: usize = 1024;

/// The numbered event feed. Cheap to clone.
#[derive(Debug, Clone)]
pub struct EventHub {
    inner: Arc<Mutex<Ring>>,
    sender: broadcast::Sender<EventRecord>,
}

#[derive(Debug)]
struct Ring {
    next_id: u64,
    recent: VecDeque<EventRecord>,
}

impl Default for EventHub {
    fn default() -> Self {
        Self::new()
    }
}

impl EventHub {
    pub fn new() -> Self {
        let (sender, _) = broadcast::channel(STREAM_BUFFER);
        Self {
            inner: Arc::new(Mutex::new(Ring { next_id: 1, recent: VecDeque::with_capacity(RECENT_CAPACITY) })),
            sender,
        }
    }

    /// Numbers `event`, remembers it and sends it to every stream.
    pub fn publish(&self, event: Event) -> EventRecord {
        let mut ring = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let record = EventRecord { id: ring.next_id, at_ms: now_ms(), event };
        ring.next_id += 1;
        if ring.recent.len() == RECENT_CAPACITY {
            ring.recent.pop_front();
        }
        ring.recent.push_back(record.clone());
        // Under the lock, so a subscriber's snapshot and its live events neither overlap nor miss one.
        let _ = self.sender.send(record.clone());
        record
    }

    /// The newest `limit` events, oldest first.
    pub fn recent(&self, limit: usize) -> Vec<EventRecord> {
        let ring = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        ring.recent.iter().skip(ring.recent.len().saturating_sub(limit)).cloned().collect()
    }

    /// Live events from now on, plus the remembered ones after `after` (a reconnecting client's
    /// `Last-Event-ID`).
    pub fn subscribe(&self, after: Option<u64>) -> (Vec<EventRecord>, broadcast::Receiver<EventRecord>) {
        let ring = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let replay = match after {
            Some(after) => ring.recent.iter().filter(|r| r.id > after).cloned().collect(),
            None => Vec::new(),
        };
        (replay, self.sender.subscribe())
    }

    /// Feeds the hub from the scheduler until `shutdown` (or the scheduler stops).
    pub async fn run(self, schedule: ScheduleView, shutdown: CancellationToken) {
        let mut outcomes = schedule.outcomes();
        let mut heads = schedule.head_receiver();
        heads.mark_unchanged();
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                outcome = outcomes.recv() => match outcome {
                    Ok(outcome) => { self.publish(convert::outcome_event(&outcome)); }
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "control API: the event feed fell behind the task outcomes");
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                changed = heads.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    let head = *heads.borrow_and_update();
                    if let Some(head) = head {
                        self.publish(Event::NewHead { block: convert::block_view(&head) });
                    }
                }
            }
        }
    }
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use alloy::primitives::B256;
    use keeper_shared::api::BlockView;

    use super::*;

    fn head(number: u64) -> Event {
        Event::NewHead { block: BlockView { number, hash: B256::ZERO, timestamp_secs: number } }
    }

    #[test]
    fn events_are_numbered_remembered_and_replayed_after_an_id() {
        let hub = EventHub::new();
        for n in 0..(RECENT_CAPACITY as u64 + 5) {
            hub.publish(head(n));
        }
        let recent = hub.recent(3);
        assert_eq!(recent.iter().map(|r| r.id).collect::<Vec<_>>(), vec![1027, 1028, 1029]);
        assert_eq!(hub.recent(usize::MAX).len(), RECENT_CAPACITY, "bounded");
        assert_eq!(hub.recent(usize::MAX)[0].id, 6, "the oldest were forgotten");

        let (replay, mut live) = hub.subscribe(Some(1027));
        assert_eq!(replay.iter().map(|r| r.id).collect::<Vec<_>>(), vec![1028, 1029]);
        let next = hub.publish(head(99));
        assert_eq!(live.try_recv().unwrap(), next);
        assert_eq!(next.id, 1030);
        assert!(hub.subscribe(None).0.is_empty());
    }
}
