//! The control API's event feed: the scheduler's new heads, the task manager's outcomes, task state
//! changes (followed in the store's task history), job changes (the job cache, compared at each
//! head) and health changes (RPC endpoints, database), numbered, kept in a bounded ring for
//! `GET /v1/events/recent` and fanned out to `GET /v1/events` streams.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use std::collections::BTreeMap;
use std::time::Duration;

use alloy::primitives::U256;
use keeper_shared::api::{Event, EventRecord, JobChange};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::convert;
use crate::chain::EndpointState;
use crate::context::NodeContext;
use crate::store::{JobRecord, JobStatus, SharedStore, StoreError};

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
        Self::starting_at(first_id(now_ms()))
    }

    fn starting_at(first_id: u64) -> Self {
        let (sender, _) = broadcast::channel(STREAM_BUFFER);
        Self {
            inner: Arc::new(Mutex::new(Ring { next_id: first_id, recent: VecDeque::with_capacity(RECENT_CAPACITY) })),
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

    /// Feeds the hub from the scheduler and the store until `shutdown` (or the scheduler stops).
    /// It reads the store through `reader`, the API's own connection.
    pub async fn run(self, context: NodeContext, reader: SharedStore, shutdown: CancellationToken) {
        let schedule = context.schedule.clone();
        let mut outcomes = schedule.outcomes();
        let mut heads = schedule.head_receiver();
        heads.mark_unchanged();
        // Only what changes from now on: a client wanting the past reads the tasks and jobs.
        let mut watch = Watch::start(&reader).await;
        let mut health_ticks = tokio::time::interval(HEALTH_INTERVAL);
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
                    watch.tasks_and_jobs(&reader, &self).await;
                }
                _ = health_ticks.tick() => watch.health(&context, &self).await,
            }
        }
    }
}

/// The first event id of a daemon run: its start time in milliseconds times 1000. Ids go up by one
/// per event within a run, and a restarted daemon starts above every id the previous run issued (it
/// would have to publish 1000 events per millisecond of its life to catch up), so a client that
/// drops ids it has seen never drops a new run's events, and its `Last-Event-ID` from before the
/// restart replays everything the new run remembers. Below 2^53 until the year 2255, so the ids stay
/// exact in JavaScript too.
fn first_id(now_ms: i64) -> u64 {
    u64::try_from(now_ms).unwrap_or(0).saturating_mul(1000).max(1)
}

/// How often the health of the RPC endpoints and the database is compared.
const HEALTH_INTERVAL: Duration = Duration::from_secs(1);
/// Task history entries read per step (more wait for the next head).
const TRANSITIONS_PER_STEP: u32 = 1000;

/// What the feed last saw of the store and the endpoints, to publish only changes.
#[derive(Debug, Default)]
struct Watch {
    last_transition: i64,
    jobs: BTreeMap<U256, JobRecord>,
    /// Subsystem -> healthy.
    health: BTreeMap<String, bool>,
}

impl Watch {
    async fn start(reader: &SharedStore) -> Self {
        let snapshot = reader
            .with(|store| store.read(|tx| Ok::<_, StoreError>((tx.last_task_transition_id()?, all_jobs(tx)?))))
            .await;
        let mut watch = Self::default();
        match snapshot {
            Ok((last, jobs)) => {
                watch.last_transition = last;
                watch.jobs = jobs.into_iter().map(|j| (j.job_id, j)).collect();
            }
            Err(error) => tracing::warn!(%error, "control API: reading the store for the event feed failed"),
        }
        watch
    }

    async fn tasks_and_jobs(&mut self, reader: &SharedStore, hub: &EventHub) {
        let after = self.last_transition;
        let read = reader
            .with(move |store| {
                store.read(|tx| {
                    Ok::<_, StoreError>((tx.task_transitions_after(after, TRANSITIONS_PER_STEP)?, all_jobs(tx)?))
                })
            })
            .await;
        let (transitions, jobs) = match read {
            Ok(read) => read,
            Err(error) => {
                tracing::warn!(%error, "control API: reading the store for the event feed failed");
                return;
            }
        };
        for (id, task, transition) in transitions {
            self.last_transition = id;
            hub.publish(Event::TaskState {
                job_id: task.job_id,
                sequence: task.sequence,
                from: transition.from,
                to: transition.to,
                detail: transition.detail,
            });
        }
        for job in jobs {
            let change = match self.jobs.get(&job.job_id) {
                None => Some(JobChange::Created),
                Some(old) => job_change(old, &job),
            };
            if let Some(change) = change {
                hub.publish(Event::Job {
                    job_id: job.job_id,
                    change,
                    status: job.status,
                    balance_wei: job.balance,
                    block: job.updated_at_block,
                });
            }
            self.jobs.insert(job.job_id, job);
        }
    }

    async fn health(&mut self, context: &NodeContext, hub: &EventHub) {
        let mut now: Vec<(String, bool, Option<String>)> = context
            .pool
            .health()
            .iter()
            .map(|endpoint| {
                let view = convert::endpoint_health(endpoint);
                (format!("rpc {}", view.endpoint), endpoint.state == EndpointState::Healthy, view.last_error)
            })
            .collect();
        let database = context.store.with(|store| store.read(|tx| tx.last_task_transition_id())).await;
        now.push(("database".to_owned(), database.is_ok(), database.err().map(|e| e.to_string())));
        for (subsystem, healthy, detail) in now {
            let before = self.health.insert(subsystem.clone(), healthy);
            if before.is_some_and(|before| before != healthy) {
                hub.publish(Event::Health { subsystem, healthy, detail: if healthy { None } else { detail } });
            }
        }
    }
}

/// Every cached job (a few thousand at most on a keeper network; read once per head).
fn all_jobs(tx: &crate::store::ReadTx<'_>) -> Result<Vec<JobRecord>, StoreError> {
    let mut jobs = Vec::new();
    let mut after = None;
    loop {
        let page = tx.jobs(None, after, 1000)?;
        let full = page.len() == 1000;
        after = page.last().map(|j| j.job_id);
        jobs.extend(page);
        if !full {
            return Ok(jobs);
        }
    }
}

/// What changed between two cached states of a job, if it is worth an event: a task performed
/// (escrow charged, watermark moved) is not (its outcome is an event already).
fn job_change(old: &JobRecord, new: &JobRecord) -> Option<JobChange> {
    if old.status != new.status {
        return Some(match new.status {
            JobStatus::Paused => JobChange::Paused,
            JobStatus::Active if old.status == JobStatus::Paused => JobChange::Resumed,
            JobStatus::Cancelled => JobChange::Cancelled,
            _ => JobChange::Changed,
        });
    }
    if old.spec != new.spec {
        return Some(JobChange::Updated);
    }
    (new.balance > old.balance).then_some(JobChange::ToppedUp)
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
    fn a_restarted_hub_numbers_above_every_id_of_the_run_before() {
        let before = EventHub::new();
        let mut last = 0;
        for n in 0..5000 {
            last = before.publish(head(n)).id;
        }
        std::thread::sleep(Duration::from_millis(10));
        let after = EventHub::new();
        assert!(after.publish(head(0)).id > last);
        assert_eq!(first_id(1_767_000_000_000), 1_767_000_000_000_000);
        assert!(first_id(9_000_000_000_000) < 1 << 53, "exact in JavaScript until 2255");
    }

    #[test]
    fn events_are_numbered_remembered_and_replayed_after_an_id() {
        let hub = EventHub::starting_at(1);
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
