//! The JSON bodies of the control API. Job ids, wei amounts and other numbers that may exceed 2^53
//! are decimal strings; hashes, addresses and byte strings are `0x`-prefixed hex; times are unix
//! seconds (`*_secs`) or milliseconds (`*_ms`). Unknown fields are ignored when reading, so an older
//! client keeps working against a newer daemon that adds some.

use alloy::primitives::{Address, B256, U256};
use serde::{Deserialize, Serialize};

use crate::job::{JobSpec, JobStatus, NextDue, OutcomeKind, TaskState};
use crate::named_enum;

// ---------------------------------------------------------------------------------------------
// GET /v1/status
// ---------------------------------------------------------------------------------------------

/// `GET /v1/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusResponse {
    /// keeperd's version.
    pub version: String,
    /// The roles this daemon runs.
    pub roles: Vec<String>,
    /// The operator's address, if the daemon has a key.
    pub operator: Option<Address>,
    pub chain_id: u64,
    /// Blocks behind the chain head the daemon acts at.
    pub confirmations: u64,
    /// The last block the scheduler processed (`null` before the first).
    pub head: Option<BlockView>,
    pub sync: SyncStatus,
    pub health: Health,
    /// The operators' network, when the daemon uses it (absent over HTTP alone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p2p: Option<P2pStatus>,
}

/// The daemon's node on the operators' network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct P2pStatus {
    /// `p2p` or `both`.
    pub transport: String,
    pub peer_id: String,
    /// Connected peers.
    pub peers: Vec<PeerView>,
}

/// A connected peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerView {
    pub peer_id: String,
    /// The operator whose signed record the peer presented (`null` until verified).
    pub operator: Option<Address>,
    /// Topics on which the peer is in our gossip mesh.
    pub mesh: Vec<String>,
}

/// A block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockView {
    pub number: u64,
    pub hash: B256,
    pub timestamp_secs: u64,
}

/// How far the scheduler is behind the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncStatus {
    pub state: SyncState,
    /// The chain's latest block, as the RPC endpoints report it (`null` if none answered).
    pub chain_block: Option<u64>,
    /// Blocks between the processed head and the confirmed chain head.
    pub blocks_behind: Option<u64>,
    /// The last block processed (while catching up on a long history this runs ahead of `head`,
    /// which only moves once tasks can be proposed again).
    #[serde(default)]
    pub processed_block: Option<u64>,
    /// Whole percent of the blocks from the deployment block to the confirmed head processed.
    #[serde(default)]
    pub percent: Option<u8>,
}

/// Whole percent of the blocks `first..=target` processed when `processed` is the last one (100 once
/// at or past `target`; rounded down, so 100 means done).
pub fn sync_percent(first: u64, processed: u64, target: u64) -> u8 {
    if processed >= target {
        return 100;
    }
    let total = u128::from(target.saturating_sub(first)) + 1;
    let done = u128::from(processed.saturating_add(1).saturating_sub(first));
    u8::try_from(done * 100 / total).unwrap_or(100).min(99)
}

named_enum! {
    /// Whether the daemon acts on current blocks.
    pub enum SyncState {
        /// No block processed yet.
        Starting => "starting",
        /// Catching up: more than a few blocks behind the confirmed head.
        Syncing => "syncing",
        /// At (or within a few blocks of) the confirmed head.
        Synced => "synced",
        /// The chain's head could not be read.
        Unknown => "unknown",
    }
}

/// Health of each subsystem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    pub rpc: Vec<RpcEndpointHealth>,
    pub scheduler: SchedulerHealth,
    pub database: DatabaseHealth,
}

named_enum! {
    /// An RPC endpoint's state in the daemon's failover pool (keeperd's `chain::RpcPool` keeps it).
    /// Ordered best first: the pool picks the least state, then the lowest index.
    #[derive(PartialOrd, Ord)]
    pub enum EndpointState {
        /// Last call succeeded.
        Healthy => "healthy",
        /// Failed recently, fewer than `down_after` times in a row; still used if nothing is healthy.
        Degraded => "degraded",
        /// Failed `down_after` times in a row; used only when every endpoint is down, until a probe
        /// succeeds.
        Down => "down",
    }
}

/// One RPC endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RpcEndpointHealth {
    /// The endpoint's URL without credentials or path secrets (scheme, host and port).
    pub endpoint: String,
    pub state: EndpointState,
    pub consecutive_failures: u32,
    pub last_error: Option<String>,
    pub last_latency_ms: Option<u64>,
    pub requests_total: u64,
    pub failures_total: u64,
}

/// The scheduler's liveness: how old the last processed block is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchedulerHealth {
    pub running: bool,
    /// Seconds between the processed head's timestamp and now (`null` before the first block).
    pub head_age_secs: Option<u64>,
}

/// Whether the database answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatabaseHealth {
    pub ok: bool,
    pub error: Option<String>,
    /// Tasks in each state (states with none left out).
    pub task_counts: Vec<TaskCount>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskCount {
    pub state: TaskState,
    pub count: u64,
}

// ---------------------------------------------------------------------------------------------
// GET /v1/jobs, /v1/jobs/{id}
// ---------------------------------------------------------------------------------------------

/// `GET /v1/jobs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobList {
    pub jobs: Vec<JobView>,
    /// Pass as `after` for the next page (`null`: this was the last).
    #[serde(with = "crate::decimal::opt_u256")]
    pub next: Option<U256>,
}

/// `GET /v1/jobs/{id}`, and each job of a list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobView {
    #[serde(with = "crate::decimal::u256")]
    pub id: U256,
    pub status: JobStatus,
    pub owner: Address,
    /// The only sender of the job's target calls.
    pub forwarder: Address,
    /// Escrow left.
    #[serde(with = "crate::decimal::u256")]
    pub balance_wei: U256,
    /// Every sequence below it is performed or skipped for good.
    pub watermark: u64,
    /// The block whose state this reflects.
    pub updated_at_block: u64,
    /// The next task, as of the processed head (`null` for event jobs and jobs that are not active).
    pub next_due: Option<NextDue>,
    pub spec: JobSpec,
    /// Tasks of the job whose target reverted (on chain, or in the simulation before sending), in this
    /// daemon's records.
    #[serde(default)]
    pub tasks_failed: u64,
    /// Something the job's owner should fix, e.g. a target that keeps reverting (`null`: nothing).
    #[serde(default)]
    pub warning: Option<String>,
}

impl JobView {
    /// An active job whose escrow cannot pay for a task at any gas price (e.g. 1 wei): the task manager
    /// would skip its tasks, so none is "due now" and clients say "unfunded".
    pub fn is_unfunded(&self) -> bool {
        self.status == JobStatus::Active
            && !crate::job::is_funded(&self.spec, self.balance_wei, crate::job::FLOOR_GAS_PRICE, 0)
    }
}

// ---------------------------------------------------------------------------------------------
// GET /v1/tasks, /v1/tasks/{job}/{sequence}
// ---------------------------------------------------------------------------------------------

/// `GET /v1/tasks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskList {
    pub tasks: Vec<TaskView>,
    /// Pass as `after` for the next page (`null`: this was the last). Format `<job id>:<sequence>`.
    pub next: Option<String>,
}

/// One task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskView {
    #[serde(with = "crate::decimal::u256")]
    pub job_id: U256,
    pub sequence: u64,
    pub state: TaskState,
    pub due_at_ms: Option<i64>,
    pub due_block: Option<u64>,
    /// Known once the task is executed.
    pub response_hash: Option<B256>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// `GET /v1/tasks/{job}/{sequence}`: the task and every state it went through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskDetail {
    pub task: TaskView,
    /// Oldest first.
    pub history: Vec<TaskTransitionView>,
}

impl TaskDetail {
    /// Why a task ended in its state (missed and which sequence took over, skipped and the chain's
    /// reason, dropped with its log, unprofitable and by how much, ...): the detail of the transition
    /// into its current state. `None` while it is pending, and once performed.
    pub fn reason(&self) -> Option<&str> {
        if self.task.state.is_pending() || self.task.state == TaskState::Performed {
            return None;
        }
        self.history.iter().rev().find(|step| step.to == self.task.state)?.detail.as_deref()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskTransitionView {
    /// `null` for the entry that created the task.
    pub from: Option<TaskState>,
    pub to: TaskState,
    pub at_ms: i64,
    pub detail: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Events: GET /v1/events (server-sent events), GET /v1/events/recent
// ---------------------------------------------------------------------------------------------

/// One event, numbered: ids increase by one per event within a daemon run (a gap seen by a
/// stream client means it missed events; `GET /v1/events/recent` may still have them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    pub id: u64,
    pub at_ms: i64,
    pub event: Event,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// The scheduler processed a new block.
    NewHead { block: BlockView },
    /// A task was created or moved to another state in this daemon's pipeline (`from` is `null`
    /// when it was created).
    TaskState {
        #[serde(with = "crate::decimal::u256")]
        job_id: U256,
        sequence: u64,
        from: Option<TaskState>,
        to: TaskState,
        detail: Option<String>,
    },
    /// A job was created, or its spec, status or escrow changed, as the scheduler indexed it.
    Job {
        #[serde(with = "crate::decimal::u256")]
        job_id: U256,
        change: JobChange,
        status: JobStatus,
        #[serde(with = "crate::decimal::u256")]
        balance_wei: U256,
        block: u64,
    },
    /// A subsystem's health changed (an RPC endpoint's state, the database, the scheduler).
    Health { subsystem: String, healthy: bool, detail: Option<String> },
    /// The task manager performed, skipped or did not execute a task of a batch.
    TaskOutcome {
        #[serde(with = "crate::decimal::u256")]
        job_id: U256,
        sequence: u64,
        /// The batch's digest.
        batch: B256,
        outcome: OutcomeKind,
    },
    /// An event type this build does not know (sent by a newer server).
    #[serde(other)]
    Unknown,
}

named_enum! {
    /// What happened to a job (`Event::Job`).
    pub enum JobChange {
        Created => "created",
        Updated => "updated",
        Paused => "paused",
        Resumed => "resumed",
        Cancelled => "cancelled",
        ToppedUp => "topped_up",
        /// Its escrow or watermark moved (tasks performed), or it expired.
        Changed => "changed",
    }
}

impl Event {
    /// The SSE `event:` name of this event.
    pub fn name(&self) -> &'static str {
        match self {
            Self::NewHead { .. } => "new_head",
            Self::TaskState { .. } => "task_state",
            Self::Job { .. } => "job",
            Self::Health { .. } => "health",
            Self::TaskOutcome { .. } => "task_outcome",
            Self::Unknown => "unknown",
        }
    }
}

/// `GET /v1/events/recent`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecentEvents {
    /// Oldest first.
    pub events: Vec<EventRecord>,
}

#[cfg(test)]
mod tests {
    use super::sync_percent;

    #[test]
    fn sync_percent_counts_the_blocks_processed_and_says_100_only_when_done() {
        assert_eq!(sync_percent(100, 99, 1_000_099), 0, "nothing processed");
        assert_eq!(sync_percent(0, 499_999, 999_999), 50);
        assert_eq!(sync_percent(0, 999_998, 999_999), 99, "one block left is not done");
        assert_eq!(sync_percent(0, 999_999, 999_999), 100);
        assert_eq!(sync_percent(10, 12, 5), 100, "past a target that moved back");
        assert_eq!(sync_percent(5, 5, 5), 100);
    }
}
