//! The load benchmark's arithmetic, apart from the chain so that it can be tested: which interval
//! tasks fall due in the measured window, whether each was performed exactly once, percentiles, and
//! the first block at which a task was due.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;

use serde::Serialize;

/// One task of a benchmark job (job ids are small on a fresh devnet, so a u64 holds them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Task {
    pub job: u64,
    pub sequence: u64,
}

/// The sequences of an interval job (task `n` due at `start + n * period`) whose due time is in
/// `from..to` (unix seconds). Empty for a zero period.
pub fn due_sequences(start: u64, period: u64, from: u64, to: u64) -> Range<u64> {
    if period == 0 || to <= from || to <= start {
        return 0..0;
    }
    // The first n with start + n*period >= from, and the first with start + n*period >= to.
    let first = from.saturating_sub(start).div_ceil(period);
    let end = (to - start).div_ceil(period);
    first..end.max(first)
}

/// Start times for `jobs` jobs of the same `period`, spread evenly over one period from `base`, so
/// that as many tasks fall due each second (1,000 jobs at 60 s: 16 or 17 a second).
pub fn spread_starts(base: u64, period: u64, jobs: u64) -> Vec<u64> {
    (0..jobs).map(|i| base + (u128::from(i) * u128::from(period) / u128::from(jobs.max(1))) as u64).collect()
}

/// The nearest-rank `percent`th percentile of ascending `sorted` values (`None` when empty): the
/// smallest value with at least `percent`% of the values at or below it.
pub fn percentile(sorted: &[u64], percent: u32) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len() as u128;
    let rank = (u128::from(percent.min(100)) * n).div_ceil(100).max(1);
    sorted.get(usize::try_from(rank - 1).ok()?).copied()
}

/// Count, extremes, mean and percentiles of a sample.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub count: usize,
    pub min: u64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub max: u64,
    pub mean: f64,
}

impl Summary {
    /// `None` for an empty sample.
    pub fn of(values: &[u64]) -> Option<Self> {
        let mut sorted = values.to_vec();
        sorted.sort_unstable();
        let sum: u128 = sorted.iter().map(|&v| u128::from(v)).sum();
        Some(Self {
            count: sorted.len(),
            min: *sorted.first()?,
            p50: percentile(&sorted, 50)?,
            p90: percentile(&sorted, 90)?,
            p99: percentile(&sorted, 99)?,
            max: *sorted.last()?,
            mean: sum as f64 / sorted.len() as f64,
        })
    }
}

/// The first block (number) whose timestamp is at or after `time`, from `(number, timestamp)` pairs
/// in chain order: the first reference block at which an interval task due at `time` is due.
pub fn first_block_at(blocks: &[(u64, u64)], time: u64) -> Option<u64> {
    let index = blocks.partition_point(|&(_, timestamp)| timestamp < time);
    blocks.get(index).map(|&(number, _)| number)
}

/// Due tasks against performed ones.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Tasks due in the window.
    pub due: usize,
    /// Due tasks performed exactly once.
    pub performed_once: usize,
    /// Due tasks never performed.
    pub missed: Vec<Task>,
    /// Due tasks performed more than once, with how many times.
    pub duplicated: Vec<(Task, usize)>,
    /// Performed tasks that were not due in the window (due before or after it).
    pub outside_window: usize,
}

impl Tally {
    /// Whether every due task was performed exactly once.
    pub fn exactly_once(&self) -> bool {
        self.missed.is_empty() && self.duplicated.is_empty()
    }
}

/// Compares the tasks due with every performance seen (one entry per `TaskPerformed`).
pub fn tally(due: &BTreeSet<Task>, performed: &[Task]) -> Tally {
    let mut counts: BTreeMap<Task, usize> = BTreeMap::new();
    for task in performed {
        *counts.entry(*task).or_default() += 1;
    }
    let mut out = Tally { due: due.len(), ..Tally::default() };
    for task in due {
        match counts.get(task).copied().unwrap_or(0) {
            0 => out.missed.push(*task),
            1 => out.performed_once += 1,
            n => out.duplicated.push((*task, n)),
        }
    }
    out.outside_window = counts.iter().filter(|(task, _)| !due.contains(task)).map(|(_, n)| n).sum();
    out
}

#[cfg(test)]
mod tests;
