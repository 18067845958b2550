//! A long chain history for measurements: a devnet's real blocks spread over many more by empty
//! blocks inserted into anvil's state dump.
//!
//! anvil mines ever more slowly as its chain grows (about 30 blocks/s past 19,000 blocks, and
//! superlinear with or without `--prune-history`), so a chain of a million blocks cannot be mined
//! here in a session. anvil loads one quickly, though: `--load-state` with a million blocks takes
//! under a minute. [`spread`] rewrites a dump so that the blocks from `from` on are renumbered with
//! `gap` empty blocks before each, every header's parent hash and time consistent (one second a
//! block, the last at `end_time`), and every transaction pointing at its block's new number and
//! hash. The contracts' state is the dump's own: the blocks before `from` (deployment, onboarding)
//! keep their numbers, so the block numbers the contracts recorded there stay true; the blocks
//! spread should hold only transactions whose effects record no block number (job creations).

use std::io::Write;

use alloy::consensus::constants::EMPTY_ROOT_HASH;
use alloy::consensus::Header;
use alloy::primitives::{Bloom, B256};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Why a dump could not be spread.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("the state dump is not anvil's JSON: {0}")]
    Parse(#[from] serde_json::Error),
    #[error("the state dump has no block {0}")]
    MissingBlock(u64),
    #[error("transaction {0} names block {1}, which is not in the dump")]
    UnknownBlock(String, B256),
    #[error("anvil's dump is not hex of gzip: {0}")]
    Encoding(String),
    #[error("writing the spread state: {0}")]
    Write(#[from] std::io::Error),
}

/// One block of anvil's dump: the header this module rewrites, the rest carried as it is.
#[derive(Deserialize, Serialize)]
struct DumpBlock {
    header: Header,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

/// One mined transaction of anvil's dump: where it was mined, and the rest as it is.
#[derive(Deserialize, Serialize)]
struct DumpTransaction {
    block_hash: B256,
    block_number: u64,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

#[derive(Deserialize)]
struct Dump {
    block: Map<String, Value>,
    accounts: Value,
    blocks: Vec<DumpBlock>,
    #[serde(default)]
    transactions: Vec<DumpTransaction>,
}

/// What [`spread`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spread {
    /// The new head's number.
    pub head: u64,
    /// Blocks written in all, the empty ones included.
    pub blocks: u64,
}

/// The JSON of anvil's `anvil_dumpState` answer (hex of gzip).
pub fn decode_dump(answer: &str) -> Result<Vec<u8>, HistoryError> {
    let gz = hex::decode(answer.trim_start_matches("0x")).map_err(|e| HistoryError::Encoding(e.to_string()))?;
    let mut json = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gz.as_slice()), &mut json)?;
    Ok(json)
}

/// Where block `number` of the dump lands: unchanged below `from`, else after `gap` empty blocks
/// for each spread block up to it.
pub fn renumber(number: u64, from: u64, gap: u64) -> u64 {
    if number < from {
        number
    } else {
        number + (number - from + 1) * gap
    }
}

/// Rewrites anvil's state dump `dump` (the JSON of `anvil_dumpState` or `--dump-state`) into `out`
/// with `gap` empty blocks before each block from `from` on, the last block at `end_time`.
/// Historical states are dropped: the loaded chain serves the dump's latest state, and states of
/// the blocks mined after it.
pub fn spread(dump: &[u8], from: u64, gap: u64, end_time: u64, out: &mut impl Write) -> Result<Spread, HistoryError> {
    let Dump { mut block, accounts, mut blocks, mut transactions } = serde_json::from_slice(dump)?;
    blocks.sort_by_key(|b| b.header.number);
    let last = blocks.last().map(|b| b.header.number).ok_or(HistoryError::MissingBlock(0))?;
    for (i, b) in blocks.iter().enumerate() {
        if b.header.number != i as u64 {
            return Err(HistoryError::MissingBlock(i as u64));
        }
    }
    let head = renumber(last, from, gap);
    let time_of = |number: u64| end_time.saturating_sub(head - number);

    write!(out, "{{\"accounts\":")?;
    serde_json::to_writer(&mut *out, &accounts)?;
    write!(out, ",\"blocks\":[")?;
    let mut parent = B256::ZERO;
    let mut new_hashes = std::collections::HashMap::new();
    let mut written = 0u64;
    let mut write_block = |block: &mut DumpBlock, number: u64, parent: &mut B256| -> Result<(), HistoryError> {
        block.header.number = number;
        block.header.timestamp = time_of(number);
        if number > 0 {
            block.header.parent_hash = *parent;
        }
        *parent = block.header.hash_slow();
        if written > 0 {
            out.write_all(b",")?;
        }
        serde_json::to_writer(&mut *out, block)?;
        written += 1;
        Ok(())
    };
    for mut b in blocks {
        let old = b.header.number;
        if old >= from {
            // The empty blocks before it: its predecessor's header with nothing in it.
            let mut empty = DumpBlock { header: b.header.clone(), rest: Map::new() };
            empty.header.gas_used = 0;
            empty.header.transactions_root = EMPTY_ROOT_HASH;
            empty.header.receipts_root = EMPTY_ROOT_HASH;
            empty.header.logs_bloom = Bloom::ZERO;
            empty.rest.insert("transactions".into(), Value::Array(Vec::new()));
            empty.rest.insert("ommers".into(), Value::Array(Vec::new()));
            if let Some(withdrawals) = b.rest.get("withdrawals") {
                empty.rest.insert("withdrawals".into(), withdrawals.clone());
            }
            let first = renumber(old, from, gap) - gap;
            for number in first..first + gap {
                write_block(&mut empty, number, &mut parent)?;
            }
        }
        let number = renumber(old, from, gap);
        let old_hash = b.header.hash_slow();
        write_block(&mut b, number, &mut parent)?;
        new_hashes.insert(old_hash, (number, parent));
    }
    write!(out, "],\"transactions\":[")?;
    for (i, tx) in transactions.iter_mut().enumerate() {
        let &(number, hash) = new_hashes.get(&tx.block_hash).ok_or_else(|| {
            let id = tx.rest.get("info").and_then(|info| info.get("transaction_hash")).map(Value::to_string);
            HistoryError::UnknownBlock(id.unwrap_or_default(), tx.block_hash)
        })?;
        tx.block_number = number;
        tx.block_hash = hash;
        if i > 0 {
            out.write_all(b",")?;
        }
        serde_json::to_writer(&mut *out, tx)?;
    }
    block.insert("number".into(), Value::String(format!("{head:#x}")));
    block.insert("timestamp".into(), Value::String(format!("{end_time:#x}")));
    write!(out, "],\"block\":")?;
    serde_json::to_writer(&mut *out, &block)?;
    write!(out, ",\"best_block_number\":\"{head:#x}\",\"historical_states\":null}}")?;
    out.flush()?;
    Ok(Spread { head, blocks: written })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_below_from_keep_their_numbers_and_each_later_one_moves_by_its_gaps() {
        assert_eq!(renumber(4, 5, 10), 4);
        assert_eq!(renumber(5, 5, 10), 15);
        assert_eq!(renumber(6, 5, 10), 26);
        assert_eq!(renumber(6, 5, 0), 6);
    }
}
