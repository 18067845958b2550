//! Whether a task pays its submitter at the current base fee. The task manager accepts a job whose
//! `maxFee` covers `minJobFee(gasLimit) = (gasLimit + SOLO_BATCH_GAS) * minGasPrice`: its gas and a
//! whole batch holding it alone, at the floor price (docs/protocol.md, "Fees"). Above the floor
//! price that no longer holds, and the chain never makes anyone include a task, so the aggregator
//! applies the same bound at the base fee of the head: a task whose `maxFee` falls short is left
//! out, recorded as `unprofitable` with the numbers, and proposed again as soon as the base fee
//! allows (each block re-checks, so nothing is lost while fees are high).

use alloy::primitives::U256;
use keeper_shared::job::JobSpec;

/// The gas a task's fee must cover besides its own gas limit: the task manager's `SOLO_BATCH_GAS`,
/// read from the deployed contract at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeeRule {
    pub solo_batch_gas: u64,
}

/// Why a task is not worth including: what it would need and what its job pays at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shortfall {
    pub gas_limit: u32,
    pub solo_batch_gas: u64,
    pub base_fee: u128,
    pub needed: U256,
    pub max_fee: u128,
}

impl std::fmt::Display for Shortfall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "unprofitable: needs {} wei ((gas limit {} + batch {}) x base fee {} wei), maxFee is {} wei",
            self.needed, self.gas_limit, self.solo_batch_gas, self.base_fee, self.max_fee
        )
    }
}

impl FeeRule {
    /// `Err` with the numbers when `spec`'s `maxFee` cannot pay for a task at `base_fee` wei per gas.
    pub fn check(&self, spec: &JobSpec, base_fee: u128) -> Result<(), Shortfall> {
        let gas = U256::from(spec.gas_limit) + U256::from(self.solo_batch_gas);
        let needed = gas.saturating_mul(U256::from(base_fee));
        if U256::from(spec.max_fee) >= needed {
            return Ok(());
        }
        Err(Shortfall {
            gas_limit: spec.gas_limit,
            solo_batch_gas: self.solo_batch_gas,
            base_fee,
            needed,
            max_fee: spec.max_fee,
        })
    }
}

#[cfg(test)]
mod tests {
    use alloy::primitives::Address;
    use keeper_shared::job::{Action, Trigger};

    use super::*;

    fn spec(gas_limit: u32, max_fee: u128) -> JobSpec {
        JobSpec {
            trigger: Trigger::Interval { start: 0, period: 60 },
            action: Action::Call { target: Address::repeat_byte(1), data: Default::default() },
            gas_limit,
            max_fee,
            expiry: None,
        }
    }

    const RULE: FeeRule = FeeRule { solo_batch_gas: 300_000 };

    #[test]
    fn a_max_fee_at_the_bound_pays_and_one_wei_less_does_not() {
        // (200k + 300k) gas at 2 gwei.
        let bound = 500_000u128 * 2_000_000_000;
        assert_eq!(RULE.check(&spec(200_000, bound), 2_000_000_000), Ok(()));
        let shortfall = RULE.check(&spec(200_000, bound - 1), 2_000_000_000).unwrap_err();
        assert_eq!(shortfall.needed, U256::from(bound));
        assert_eq!(shortfall.max_fee, bound - 1);
        let reason = shortfall.to_string();
        assert!(reason.contains("needs 1000000000000000 wei") && reason.contains("maxFee is 999999999999999 wei"));
        assert!(reason.contains("base fee 2000000000 wei"), "{reason}");
    }

    #[test]
    fn the_same_job_pays_again_once_the_base_fee_falls() {
        let job = spec(100_000, 400_000 * 1_000_000_000);
        assert!(RULE.check(&job, 10_000_000_000).is_err());
        assert_eq!(RULE.check(&job, 1_000_000_000), Ok(()));
        assert_eq!(RULE.check(&job, 0), Ok(()), "a zero base fee costs nothing");
    }
}
