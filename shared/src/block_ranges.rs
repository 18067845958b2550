//! Block ranges for log reads over long histories: public RPC providers refuse an `eth_getLogs` over
//! more than about 10,000 blocks (or over an open range), so a history is read range by range.

/// Blocks per `eth_getLogs` request that public providers commonly accept.
pub const LOG_RANGE: u64 = 10_000;

/// `[from, to]` cut into ranges of at most `size` blocks, oldest first (none when `from > to`).
pub fn oldest_first(from: u64, to: u64, size: u64) -> impl Iterator<Item = (u64, u64)> {
    let size = size.max(1);
    let mut next = (from <= to).then_some(from);
    std::iter::from_fn(move || {
        let start = next?;
        let end = to.min(start.saturating_add(size - 1));
        next = end.checked_add(1).filter(|n| *n <= to);
        Some((start, end))
    })
}

/// `[from, to]` cut into ranges of at most `size` blocks, newest first (for a search that stops at
/// the most recent match).
pub fn newest_first(from: u64, to: u64, size: u64) -> impl Iterator<Item = (u64, u64)> {
    let size = size.max(1);
    let mut next = (from <= to).then_some(to);
    std::iter::from_fn(move || {
        let end = next?;
        let start = end.saturating_sub(size - 1).max(from);
        next = start.checked_sub(1).filter(|n| *n >= from);
        Some((start, end))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_the_blocks_without_gaps_or_overlap_in_either_order() {
        let old = |from, to, size| oldest_first(from, to, size).collect::<Vec<_>>();
        let new = |from, to, size| newest_first(from, to, size).collect::<Vec<_>>();
        assert_eq!(old(0, 25_000, 10_000), vec![(0, 9_999), (10_000, 19_999), (20_000, 25_000)]);
        assert_eq!(new(0, 25_000, 10_000), vec![(15_001, 25_000), (5_001, 15_000), (0, 5_000)]);
        assert_eq!(old(7, 7, 10_000), vec![(7, 7)]);
        assert_eq!(new(100, 100, 10_000), vec![(100, 100)]);
        assert_eq!(old(8, 7, 10), vec![]);
        assert_eq!(new(5, 4, 10), vec![], "a head below the first block has no history");
        assert_eq!(old(1, 20, 10), vec![(1, 10), (11, 20)]);
        assert_eq!(new(7, 26, 10), vec![(17, 26), (7, 16)]);
        assert_eq!(new(8, 26, 10), vec![(17, 26), (8, 16)]);
        assert_eq!(old(u64::MAX - 3, u64::MAX, 2), vec![(u64::MAX - 3, u64::MAX - 2), (u64::MAX - 1, u64::MAX)]);
        assert_eq!(new(0, u64::MAX, u64::MAX).len(), 2, "no overflow at the ends");
    }
}
