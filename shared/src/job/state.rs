//! A job's status and a task's state: one definition each. The daemon's store keeps their names as
//! TEXT (its CHECK constraints list them), the control API as JSON strings, and keeperctl takes them
//! as flag values (`--status`, `--state`).

use crate::named_enum;

named_enum! {
    /// A job's lifecycle as the job manager reports it.
    pub enum JobStatus {
        Active => "active",
        Paused => "paused",
        Cancelled => "cancelled",
        Expired => "expired",
    }
}

named_enum! {
    /// Where a task is in a daemon's pipeline.
    pub enum TaskState {
        /// Derived from its job's trigger; waiting to be executed.
        Due => "due",
        /// Executed at its reference block; the response hash is known.
        Executed => "executed",
        /// This keeper signed a batch containing it.
        Signed => "signed",
        /// (Aggregator) put in a batch proposal.
        Proposed => "proposed",
        /// (Aggregator) its batch was sent to the task manager.
        Submitted => "submitted",
        /// Performed on chain.
        Performed => "performed",
        /// Its target reverted, on chain or in the simulation before sending (the reason is in its history),
        /// or it was given up (execution error, reverted submission past retries).
        Failed => "failed",
        /// Left out of a batch (disputed leaf, expired); it may be proposed again.
        Dropped => "dropped",
        /// (Aggregator) left out because its job's `maxFee` cannot pay for it at the current base fee
        /// (the history's detail says by how much); proposed once the base fee allows it again.
        Unprofitable => "unprofitable",
        /// (Condition jobs) checked at a reference block: nothing to do. Kept off chain, never proposed:
        /// a later sequence supersedes it.
        NothingToDo => "nothing_to_do",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn names_are_the_json_strings_and_parse_back() {
        for state in TaskState::ALL {
            assert_eq!(serde_json::to_string(state).unwrap(), format!("\"{state}\""));
            assert_eq!(TaskState::parse(state.as_str()), Some(*state));
        }
        for status in JobStatus::ALL {
            assert_eq!(serde_json::to_string(status).unwrap(), format!("\"{status}\""));
            assert_eq!(JobStatus::parse(status.as_str()), Some(*status));
        }
        assert_eq!(TaskState::parse("pending"), None);
        assert_eq!(JobStatus::parse("Active"), None);
        // JSON reads only the names, and a wrong one is refused naming what would have been right.
        assert_eq!(serde_json::from_str::<JobStatus>("\"paused\"").unwrap(), JobStatus::Paused);
        let error = serde_json::from_str::<JobStatus>("\"Paused\"").unwrap_err().to_string();
        assert!(error.contains("unknown variant `Paused`") && error.contains("`paused`"), "{error}");
        assert!(serde_json::from_str::<TaskState>("3").is_err());
    }
}
