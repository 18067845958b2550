//! What the roles share ([`NodeContext`]: configuration, chain access, store, the operator's keys,
//! the scheduler's view, metrics, script runner, the operators' network) and how the operator's
//! keys are unlocked ([`operator`]). Below the roles: every role and the control API take a
//! context; nothing here knows a role.

mod gauges;
pub mod operator;

use std::sync::Arc;

pub use operator::{unlock_operator, Operator};

use crate::chain::{RpcPool, TxSender};
use crate::config::Config;
use crate::metrics::Metrics;
use crate::p2p::P2pHub;
use crate::scheduler::ScheduleView;
use crate::store::SharedStore;

/// Everything the roles share.
#[derive(Debug, Clone)]
pub struct NodeContext {
    pub config: Arc<Config>,
    pub pool: RpcPool,
    pub store: SharedStore,
    pub operator: Option<Operator>,
    /// The operator's one transaction sender (one nonce sequence per key), if it has a key.
    pub sender: Option<Arc<TxSender>>,
    pub schedule: ScheduleView,
    /// Every metric of this daemon (served on `[metrics] listen`).
    pub metrics: Arc<Metrics>,
    /// Fetches, caches and runs script jobs' code (keeper, aggregator and challenger share its caches).
    pub scripts: Arc<keeper_script::ScriptRunner>,
    /// The operators' network, when `[p2p] transport` uses it.
    pub p2p: Option<Arc<P2pHub>>,
}
