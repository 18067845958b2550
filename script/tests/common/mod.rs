//! What the script tests share: a chain that answers from a table (for the sandbox's host calls), and
//! the modules the AssemblyScript SDK builds (`make setup`).

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)] // each test uses part of it

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use alloy::primitives::{Address, Bytes, B256, U256};
use keeper_script::{BlockContext, CallResult, ChainError, ChainReader, Limits, ScriptInput};

/// A chain at one block whose answers are set up front; any other read fails like an unreachable node.
#[derive(Debug, Default)]
pub struct TableChain {
    pub block: BlockContext,
    pub calls: HashMap<(Address, Bytes), CallResult>,
    pub balances: HashMap<Address, U256>,
    pub code_sizes: HashMap<Address, u64>,
    pub storage: HashMap<(Address, B256), B256>,
    pub reads: AtomicU32,
}

impl TableChain {
    pub fn at(block: BlockContext) -> Self {
        Self { block, ..Self::default() }
    }

    fn missing(&self, read: &'static str) -> ChainError {
        ChainError {
            read,
            block: self.block.number,
            hash: self.block.hash,
            source: "no such entry in the test chain".into(),
        }
    }
}

impl ChainReader for TableChain {
    fn block(&self) -> BlockContext {
        self.block
    }

    async fn call(&self, to: Address, data: Bytes, _gas: u64) -> Result<CallResult, ChainError> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.calls.get(&(to, data)).cloned().ok_or_else(|| self.missing("call"))
    }

    async fn balance(&self, address: Address) -> Result<U256, ChainError> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.balances.get(&address).copied().ok_or_else(|| self.missing("balance"))
    }

    async fn code_size(&self, address: Address) -> Result<u64, ChainError> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.code_sizes.get(&address).copied().ok_or_else(|| self.missing("code_size"))
    }

    async fn storage(&self, address: Address, slot: B256) -> Result<B256, ChainError> {
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.storage.get(&(address, slot)).copied().ok_or_else(|| self.missing("storage"))
    }
}

pub fn block() -> BlockContext {
    BlockContext { number: 1234, hash: B256::repeat_byte(0xab), timestamp: 1_700_000_000 }
}

pub fn input(args: &[u8]) -> ScriptInput {
    ScriptInput { job_id: U256::from(7), args: Bytes::copy_from_slice(args), block: block() }
}

/// Small limits so hostile guests end quickly.
pub fn tight_limits() -> Limits {
    Limits { fuel: 5_000_000, memory_bytes: 2 << 20, wall_clock_ms: 10_000, ..Limits::default() }
}

/// A text-format module as bytes.
pub fn wat(text: &str) -> Vec<u8> {
    wat::parse_str(text).expect("valid text format")
}

/// The directory `make setup` builds the SDK's example modules into.
pub fn sdk_build_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../sdk/assemblyscript/build")
}

/// An example module built by `make setup` (panics with the remedy when it is missing).
pub fn example_module(name: &str) -> Vec<u8> {
    let path = sdk_build_dir().join(format!("{name}.wasm"));
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run `make setup` to build the SDK examples", path.display()))
}
