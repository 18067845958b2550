//! The AVS's safety windows against the core's delays. A batch is signed with weights confirmed at
//! most `maxWeightAge` blocks before its reference block, submitted at most `maxReferenceAge` blocks
//! after it, and challengeable for `challengeWindow` blocks after that: all of it must fit the
//! blocks a weight stays slashable (the key registry's `slashableHorizon()`, the shorter of the
//! core's DEALLOCATION_DELAY and MIN_WITHDRAWAL_DELAY_BLOCKS), or a keeper could sign, withdraw and
//! be out of reach before its batch can be challenged. The task manager enforces the sum on chain;
//! the deploy checks it first, so a core with too short delays is refused before anything is sent.

use keeper_shared::network::CoreReport;

use super::DeployError;

// TaskManager.sol's bounds and defaults (its public constants of the same names). The deploy test
// checks a deployed task manager against `SafetyWindows::derived`, so a change there fails here.
const DEFAULT_CHALLENGE_WINDOW: u32 = 7_200;
const DEFAULT_MAX_REFERENCE_AGE: u16 = 64;
const MAX_REFERENCE_AGE: u16 = 256;
const MAX_CHALLENGE_WINDOW: u32 = 100_800;
const MAX_WEIGHT_AGE: u32 = 100_800;

/// Challenge window, reference age and weight age, in blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SafetyWindows {
    pub challenge_window: u32,
    pub max_reference_age: u16,
    pub max_weight_age: u32,
}

impl SafetyWindows {
    /// What the task manager's constructor chooses for `horizon`: the window is the default or half
    /// the horizon, the reference age the default or an eighth of it (each at least 1), the weight
    /// age the rest (0 when nothing is left: the constructor then reverts).
    pub fn derived(horizon: u32) -> Self {
        let challenge_window = DEFAULT_CHALLENGE_WINDOW.min(horizon / 2).max(1);
        let max_reference_age = u32::from(DEFAULT_MAX_REFERENCE_AGE).min(horizon / 8).max(1);
        Self::fitting(horizon, challenge_window, max_reference_age as u16)
    }

    /// The weight age that fills the rest of `horizon`.
    pub(super) fn fitting(horizon: u32, challenge_window: u32, max_reference_age: u16) -> Self {
        let used = u64::from(challenge_window) + u64::from(max_reference_age);
        let rest = u64::from(horizon).saturating_sub(used).min(u64::from(MAX_WEIGHT_AGE));
        Self { challenge_window, max_reference_age, max_weight_age: rest as u32 }
    }

    /// The windows a deploy asks for (`None`: the task manager's own choice), checked against the
    /// core's delays.
    pub fn plan(
        core: &CoreReport,
        challenge_window: Option<u32>,
        max_reference_age: Option<u16>,
    ) -> Result<Self, DeployError> {
        let horizon = core.slashable_horizon;
        let derived = Self::derived(horizon);
        let window = challenge_window.unwrap_or(derived.challenge_window);
        let age = max_reference_age.unwrap_or(derived.max_reference_age);
        if !(1..=MAX_CHALLENGE_WINDOW).contains(&window) {
            return Err(DeployError::OutOfRange {
                field: "--challenge-window",
                value: window.into(),
                min: 1,
                max: MAX_CHALLENGE_WINDOW.into(),
            });
        }
        if !(1..=MAX_REFERENCE_AGE).contains(&age) {
            return Err(DeployError::OutOfRange {
                field: "--max-reference-age",
                value: age.into(),
                min: 1,
                max: MAX_REFERENCE_AGE.into(),
            });
        }
        let windows = Self::fitting(horizon, window, age);
        if windows.max_weight_age == 0 {
            return Err(DeployError::ExceedsHorizon {
                challenge_window: window.into(),
                max_reference_age: age.into(),
                horizon,
                deallocation_delay: core.deallocation_delay,
                min_withdrawal_delay: core.min_withdrawal_delay_blocks,
            });
        }
        Ok(windows)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn core(deallocation_delay: u32, min_withdrawal_delay_blocks: u32) -> CoreReport {
        CoreReport {
            network: "test".into(),
            chain_id: 1,
            version: "v1".into(),
            deallocation_delay,
            allocation_configuration_delay: 1,
            min_withdrawal_delay_blocks,
            slashable_horizon: deallocation_delay.min(min_withdrawal_delay_blocks),
            strategies: Vec::new(),
        }
    }

    #[test]
    fn the_task_managers_choice_fills_the_horizon() {
        // The devnet's 200 blocks: what its task manager reports (daemon/tests/deploy.rs checks it on chain).
        let devnet = SafetyWindows::derived(200);
        assert_eq!(devnet, SafetyWindows { challenge_window: 100, max_reference_age: 25, max_weight_age: 75 });
        let long = SafetyWindows::derived(1_000_000);
        assert_eq!((long.challenge_window, long.max_reference_age, long.max_weight_age), (7_200, 64, 100_800));
        assert_eq!(SafetyWindows::derived(2).max_weight_age, 0);
    }

    #[test]
    fn windows_that_do_not_fit_are_refused_naming_both_numbers() {
        let planned = SafetyWindows::plan(&core(50, 60), Some(30), Some(10)).unwrap();
        assert_eq!(planned, SafetyWindows { challenge_window: 30, max_reference_age: 10, max_weight_age: 10 });
        let error = SafetyWindows::plan(&core(50, 60), Some(45), Some(5)).unwrap_err().to_string();
        assert!(error.contains("challenge window 45") && error.contains("horizon of 50"), "{error}");
        assert!(error.contains("DEALLOCATION_DELAY 50"), "{error}");
        // A core whose delays leave no room even for the task manager's own choice.
        assert!(matches!(SafetyWindows::plan(&core(2, 2), None, None), Err(DeployError::ExceedsHorizon { .. })));
        let error = SafetyWindows::plan(&core(500, 500), Some(0), None).unwrap_err().to_string();
        assert!(error.contains("--challenge-window 0"), "{error}");
    }
}
