//! Log reads over long histories, in block ranges public RPC providers accept (most refuse an
//! `eth_getLogs` over more than about 10,000 blocks, or over an open range).

use alloy::providers::Provider;
use alloy::rpc::types::{Filter, Log};

use super::{RpcError, RpcPool};

/// Blocks per `eth_getLogs` request.
pub const LOG_RANGE: u64 = 10_000;

/// A range's read failed.
#[derive(Debug, thiserror::Error)]
#[error("eth_getLogs of blocks {from}..={to}: {source}")]
pub struct LogsError {
    pub from: u64,
    pub to: u64,
    #[source]
    pub source: RpcError,
}

/// `[from, to]` cut into ranges of at most `size` blocks, oldest first (none when `from > to`).
pub fn ranges(from: u64, to: u64, size: u64) -> impl Iterator<Item = (u64, u64)> {
    let size = size.max(1);
    let mut next = (from <= to).then_some(from);
    std::iter::from_fn(move || {
        let start = next?;
        let end = to.min(start.saturating_add(size - 1));
        next = end.checked_add(1).filter(|n| *n <= to);
        Some((start, end))
    })
}

/// The logs `filter` matches in blocks `[from, to]`, read range by range ([`LOG_RANGE`]), in chain
/// order, without logs the node marks removed.
pub async fn logs_in_ranges(pool: &RpcPool, filter: &Filter, from: u64, to: u64) -> Result<Vec<Log>, LogsError> {
    let mut logs = Vec::new();
    for (start, end) in ranges(from, to, LOG_RANGE) {
        let range = filter.clone().from_block(start).to_block(end);
        let chunk = pool
            .run("eth_getLogs", |provider| async move { provider.get_logs(&range).await })
            .await
            .map_err(|source| LogsError { from: start, to: end, source })?;
        logs.extend(chunk.into_iter().filter(|log| !log.removed));
    }
    Ok(logs)
}

#[cfg(test)]
mod tests {
    use super::ranges;

    #[test]
    fn ranges_cover_the_blocks_oldest_first_without_gaps_or_overlap() {
        let all = |from, to, size| ranges(from, to, size).collect::<Vec<_>>();
        assert_eq!(all(0, 25_000, 10_000), vec![(0, 9_999), (10_000, 19_999), (20_000, 25_000)]);
        assert_eq!(all(7, 7, 10_000), vec![(7, 7)]);
        assert_eq!(all(8, 7, 10), vec![]);
        assert_eq!(all(1, 20, 10), vec![(1, 10), (11, 20)]);
        assert_eq!(all(u64::MAX - 3, u64::MAX, 2), vec![(u64::MAX - 3, u64::MAX - 2), (u64::MAX - 1, u64::MAX)]);
    }
}
