//! Log reads over long histories, in block ranges public RPC providers accept (most refuse an
//! `eth_getLogs` over more than about 10,000 blocks, or over an open range).

use alloy::providers::Provider;
use alloy::rpc::types::{Filter, Log};

use keeper_shared::block_ranges::oldest_first;
pub use keeper_shared::block_ranges::LOG_RANGE;

use super::{RpcError, RpcPool};

/// A range's read failed.
#[derive(Debug, thiserror::Error)]
#[error("eth_getLogs of blocks {from}..={to}: {source}")]
pub struct LogsError {
    pub from: u64,
    pub to: u64,
    #[source]
    pub source: RpcError,
}

/// The logs `filter` matches in blocks `[from, to]`, read range by range ([`LOG_RANGE`]), in chain
/// order, without logs the node marks removed.
pub async fn logs_in_ranges(pool: &RpcPool, filter: &Filter, from: u64, to: u64) -> Result<Vec<Log>, LogsError> {
    let mut logs = Vec::new();
    for (start, end) in oldest_first(from, to, LOG_RANGE) {
        let range = filter.clone().from_block(start).to_block(end);
        let chunk = pool
            .run("eth_getLogs", |provider| async move { provider.get_logs(&range).await })
            .await
            .map_err(|source| LogsError { from: start, to: end, source })?;
        logs.extend(chunk.into_iter().filter(|log| !log.removed));
    }
    Ok(logs)
}
