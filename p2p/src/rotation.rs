//! Who proposes and who submits for a reference block: a deterministic order of the operators,
//! drawn from the block hash and the operator set (with stakes) at that block, and a schedule of
//! takeovers. Pure: every honest operator computes the same answer from the chain alone.
//!
//! **Stake-weighted, without replacement.** Position 0 is drawn with probability proportional
//! to stake, position 1 likewise among the rest, and so on. Stake rather than round-robin,
//! because splitting one stake over many operator identities then buys no extra turns (it would
//! under round-robin), and because the operators with the most at stake lead most often. The
//! draw uses integers only (no floating point), so all platforms agree bit for bit.
//!
//! **Schedule.** Slot `k` covers blocks `[R + k*D, R + (k+1)*D)` for reference block `R` and a
//! takeover deadline of `D` blocks; its holder is `order[k mod n]`. The holder of the current
//! slot proposes the batch of `R` if no valid proposal for `R` has been seen, and submits it if
//! quorum has been seen and the batch is not on chain. Slot 0 is the leader; later slots are
//! takeovers.

use alloy::primitives::{keccak256, Address, B256, U256};
use thiserror::Error;

/// Domain tag of the rotation seed, so no other hash of the block collides with it.
pub const ROTATION_TAG: &[u8] = b"KeeperNetwork/rotation/v1";

/// An operator and its stake weight at the reference block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OperatorStake {
    pub operator: Address,
    pub stake: U256,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RotationError {
    #[error("rotation: no operator has stake at the reference block")]
    NoStake,
    #[error("rotation: operator {0} is listed twice")]
    DuplicateOperator(Address),
    #[error("rotation: the total stake overflows 256 bits")]
    StakeOverflow,
    #[error("rotation: the takeover deadline must be at least one block")]
    ZeroDeadline,
    #[error("rotation: block {block} is before the reference block {reference}")]
    BeforeReference { block: u64, reference: u64 },
}

/// The seed of reference block `number` with hash `hash`.
pub fn rotation_seed(number: u64, hash: B256) -> B256 {
    let mut preimage = Vec::with_capacity(ROTATION_TAG.len() + 8 + 32);
    preimage.extend_from_slice(ROTATION_TAG);
    preimage.extend_from_slice(&number.to_be_bytes());
    preimage.extend_from_slice(hash.as_slice());
    keccak256(preimage)
}

/// The order of the operators for a reference block. Operators without stake are left out; the
/// input order does not matter.
pub fn rotation_order(number: u64, hash: B256, operators: &[OperatorStake]) -> Result<Vec<Address>, RotationError> {
    let mut pool: Vec<OperatorStake> = operators.iter().copied().filter(|o| !o.stake.is_zero()).collect();
    pool.sort_by_key(|o| o.operator);
    if let Some(pair) = pool.windows(2).find(|w| w[0].operator == w[1].operator) {
        return Err(RotationError::DuplicateOperator(pair[0].operator));
    }
    let mut total =
        pool.iter().try_fold(U256::ZERO, |sum, o| sum.checked_add(o.stake)).ok_or(RotationError::StakeOverflow)?;
    if pool.is_empty() {
        return Err(RotationError::NoStake);
    }
    let seed = rotation_seed(number, hash);
    let mut order = Vec::with_capacity(pool.len());
    for round in 0u32.. {
        if pool.is_empty() {
            break;
        }
        let mut draw_preimage = seed.to_vec();
        draw_preimage.extend_from_slice(&round.to_be_bytes());
        // 256 random bits reduced modulo the total: the bias is below total / 2^256.
        let mut point = U256::from_be_bytes(keccak256(draw_preimage).0) % total;
        let mut chosen = pool.len() - 1;
        for (i, candidate) in pool.iter().enumerate() {
            if point < candidate.stake {
                chosen = i;
                break;
            }
            point -= candidate.stake;
        }
        let picked = pool.remove(chosen);
        total -= picked.stake;
        order.push(picked.operator);
    }
    Ok(order)
}

/// The duty schedule of one reference block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    reference_block: u64,
    order: Vec<Address>,
    takeover_blocks: u64,
}

/// What the holder of a slot is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duty {
    /// 0 for the leader, then one per elapsed deadline.
    pub slot: u64,
    pub operator: Address,
}

impl Duty {
    pub fn is_takeover(&self) -> bool {
        self.slot > 0
    }
}

impl Schedule {
    /// The schedule of reference block `number` (hash `hash`) over `operators`, with a takeover
    /// every `takeover_blocks` blocks.
    pub fn new(
        number: u64,
        hash: B256,
        operators: &[OperatorStake],
        takeover_blocks: u64,
    ) -> Result<Self, RotationError> {
        if takeover_blocks == 0 {
            return Err(RotationError::ZeroDeadline);
        }
        Ok(Self { reference_block: number, order: rotation_order(number, hash, operators)?, takeover_blocks })
    }

    pub fn order(&self) -> &[Address] {
        &self.order
    }

    pub fn reference_block(&self) -> u64 {
        self.reference_block
    }

    /// Who is in charge at `block` (a head at or after the reference block).
    pub fn duty_at(&self, block: u64) -> Result<Duty, RotationError> {
        let elapsed = block
            .checked_sub(self.reference_block)
            .ok_or(RotationError::BeforeReference { block, reference: self.reference_block })?;
        let slot = elapsed / self.takeover_blocks;
        // `order` is never empty (rotation_order refuses an empty set).
        let operator = self.order[(slot % self.order.len() as u64) as usize];
        Ok(Duty { slot, operator })
    }

    /// The first block at which `operator` is in charge, if it is in the order.
    pub fn first_turn(&self, operator: Address) -> Option<u64> {
        let position = self.order.iter().position(|o| *o == operator)? as u64;
        Some(self.reference_block + position * self.takeover_blocks)
    }
}

#[cfg(test)]
mod tests;
