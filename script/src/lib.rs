//! Script jobs: a job names WebAssembly code by URL and keccak256 hash; keepers fetch it, check the hash,
//! and run it in a deterministic, metered sandbox whose only view of the world is the chain at the task's
//! reference block. The script answers "nothing to do" (with a reason) or the call data for the job's target.
//!
//! - [`fetch`]: `https://`, `http://` and `ipfs://` (through a gateway) with a size limit, a total timeout,
//!   bounded redirects; the bytes are checked against the job's `codeHash` before anything else sees them.
//! - [`cache`]: a bounded, content-addressed cache on disk, written atomically; a corrupt entry is detected
//!   (its hash is checked on every read), dropped and fetched again.
//! - [`sandbox`]: wasmi with fuel, memory, recursion and value-stack limits, a wall-clock limit, no WASI,
//!   NaN canonicalisation; the host interface (`keeper_v1` imports) of `docs/script-jobs.md`.
//! - [`chain`]: the reads a script may make, behind [`chain::ChainReader`], with an implementation over an alloy
//!   provider that pins every read to the reference block by hash (EIP-1898).
//! - [`config`]: limits per job kind with hard caps, fetch and cache settings (serde, validated by field).
//! - [`ScriptRunner`]: all of it together, what keeperd and keeperctl call.
//!
//! Nothing here depends on keeperd: keeperctl runs scripts locally with the same limits.

pub mod cache;
pub mod chain;
pub mod config;
pub mod fetch;
mod runner;
pub mod sandbox;

pub use cache::{CacheError, ModuleCache};
pub use chain::{AlloyChain, BlockContext, CallResult, ChainError, ChainReader};
pub use config::{ConfigError, JobKind, Limits, ScriptConfig};
pub use fetch::{FetchError, Fetcher};
pub use runner::{ScriptError, ScriptRunner};
pub use sandbox::{CompiledScript, RunError, RunReport, Sandbox, ScriptInput, ScriptOutcome, ABI_MODULE};
