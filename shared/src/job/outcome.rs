//! What the task manager did with a signed task, as its `TaskPerformed`, `TaskNotExecuted` and
//! `TaskSkipped` events say: keeperd's scheduler reads it from the logs, the control API's
//! `task_outcome` event carries it unchanged, keeperctl and the console print it.

use alloy::primitives::U256;
use serde::{Deserialize, Serialize};

/// What the task manager did with a task of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OutcomeKind {
    /// The forwarder called the target (`success`: the call did not revert); the job paid `fee_wei`.
    Performed {
        success: bool,
        #[serde(with = "crate::decimal::u256")]
        gas_used: U256,
        #[serde(with = "crate::decimal::u256")]
        fee_wei: U256,
    },
    /// The keepers checked and found nothing to do; the sequence is consumed.
    NotExecuted,
    /// Skipped by the task manager; `reason` is its `SkipReason` code ([`super::SkipReason::from_u8`]).
    Skipped { reason: u8 },
}
