//! The index's undo journal: for each recent block, the value every job and pending event list had
//! before the block changed it, so a reorg rolls the index back by its depth instead of re-reading
//! the history from the deployment block.

use std::collections::{BTreeMap, BTreeSet};

use alloy::primitives::U256;

use super::Job;

/// What one block changed, as the values before it (`None`: absent before).
#[derive(Debug, Clone, Default)]
pub(super) struct BlockUndo {
    pub(super) jobs: BTreeMap<U256, Option<Job>>,
    pub(super) event_tasks: BTreeMap<U256, Option<BTreeSet<u64>>>,
}

/// Undo records by block, oldest first.
#[derive(Debug, Clone)]
pub(super) struct UndoJournal {
    pub(super) blocks: BTreeMap<u64, BlockUndo>,
    /// The oldest block the index can roll back to: the undo records of the blocks after it are
    /// all kept. `u64::MAX` when the index was loaded from the store (its history is not known).
    pub(super) floor: u64,
}

/// The journal of an index built from nothing: every change is recorded, so any block is reachable.
impl Default for UndoJournal {
    fn default() -> Self {
        Self { blocks: BTreeMap::new(), floor: 0 }
    }
}

impl UndoJournal {
    /// A journal of an index whose past changes are unknown (loaded from the store) until
    /// [`UndoJournal::starting_at`] says from which block it records.
    pub(super) fn unknown_past() -> Self {
        Self { blocks: BTreeMap::new(), floor: u64::MAX }
    }

    /// Records from after `block` on (the block the index is at).
    pub(super) fn starting_at(block: u64) -> Self {
        Self { blocks: BTreeMap::new(), floor: block }
    }

    /// The block's undo record, created empty.
    pub(super) fn block(&mut self, number: u64) -> &mut BlockUndo {
        self.blocks.entry(number).or_default()
    }

    /// Whether the index can be rolled back to the end of block `ancestor`.
    pub(super) fn reaches(&self, ancestor: u64) -> bool {
        ancestor >= self.floor
    }

    /// Drops the records of blocks before `block`: rolling back below `block - 1` is then impossible.
    pub(super) fn forget_before(&mut self, block: u64) {
        let Some(reachable) = block.checked_sub(1) else { return };
        self.blocks = self.blocks.split_off(&block);
        self.floor = self.floor.max(reachable);
    }

    /// Removes and returns the records of the blocks after `ancestor`, newest first.
    pub(super) fn take_after(&mut self, ancestor: u64) -> Vec<BlockUndo> {
        let Some(first) = ancestor.checked_add(1) else { return Vec::new() };
        let after = self.blocks.split_off(&first);
        after.into_values().rev().collect()
    }
}
