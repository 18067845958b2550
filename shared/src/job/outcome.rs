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

impl OutcomeKind {
    /// The task's state once this outcome is on chain, the same in keeperd's store and keeperctl's
    /// console: a perform whose target reverted is `failed`, a consumed "nothing to do" is
    /// `nothing_to_do`, a skip is `skipped` (its reason in the history).
    pub fn task_state(&self) -> super::TaskState {
        use super::TaskState;
        match self {
            Self::Performed { success: true, .. } => TaskState::Performed,
            Self::Performed { success: false, .. } => TaskState::Failed,
            Self::NotExecuted => TaskState::NothingToDo,
            Self::Skipped { .. } => TaskState::Skipped,
        }
    }
}

#[cfg(test)]
mod tests {
    use alloy::primitives::U256;

    use super::*;
    use crate::job::TaskState;

    #[test]
    fn a_reverted_perform_is_failed_and_nothing_to_do_is_its_own_state() {
        let performed = |success| OutcomeKind::Performed { success, gas_used: U256::from(1), fee_wei: U256::from(2) };
        assert_eq!(performed(true).task_state(), TaskState::Performed);
        assert_eq!(performed(false).task_state(), TaskState::Failed);
        assert_eq!(OutcomeKind::NotExecuted.task_state(), TaskState::NothingToDo);
        assert_eq!(OutcomeKind::Skipped { reason: 4 }.task_state(), TaskState::Skipped);
    }
}
