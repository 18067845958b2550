//! Script modules on the job author's machine: `keeperctl script run` and the checks `job create
//! --script` makes before registering a job. The module is checked against the `keeper_v1` host interface
//! and run in keeper-script's sandbox with the limits keepers use by default for the job's trigger kind, at
//! one block of the chain (every read pinned to it by hash), exactly as a keeper runs it.

use std::path::Path;
use std::time::Duration;

use alloy::eips::BlockNumberOrTag;
use alloy::primitives::{keccak256, Bytes, B256, U256};
use alloy::providers::{Provider, ProviderBuilder};
use keeper_script::{
    AlloyChain, BlockContext, CompiledScript, JobKind, RunError, Sandbox, ScriptConfig, ScriptInput, ScriptOutcome,
};
use serde::Serialize;

use crate::exit::{CliError, CliResult, Exit};

/// A module read from disk and checked against the host interface.
#[derive(Debug)]
pub struct LocalModule {
    pub code_hash: B256,
    pub size: usize,
    sandbox: Sandbox,
    compiled: CompiledScript,
}

impl LocalModule {
    /// Reads `path` and checks it (imports the host provides, a `memory` and a `run` export) in the sandbox
    /// of `kind` with the default limits.
    pub fn load(flag: &str, path: &Path, kind: JobKind) -> CliResult<Self> {
        let code = std::fs::read(path).map_err(|e| CliError::usage(format!("{flag}: {}: {e}", path.display())))?;
        let sandbox = Sandbox::new(*ScriptConfig::default().limits.of(kind));
        let compiled =
            sandbox.compile(&code).map_err(|e| CliError::usage(format!("{flag}: {}: {e}", path.display())))?;
        Ok(Self { code_hash: keccak256(&code), size: code.len(), sandbox, compiled })
    }

    /// Runs the module once at `block` (the latest when `None`) of the chain at `rpc_url`.
    pub async fn run_at(&self, rpc_url: &str, block: Option<u64>, job_id: U256, args: Bytes) -> CliResult<RunSummary> {
        let url = rpc_url.parse().map_err(|e| CliError::usage(format!("--rpc-url: {rpc_url:?}: {e}")))?;
        let provider = ProviderBuilder::new().connect_http(url);
        let tag = block.map_or(BlockNumberOrTag::Latest, BlockNumberOrTag::Number);
        let header = provider
            .get_block_by_number(tag)
            .await
            .map_err(|e| CliError::unreachable(format!("{rpc_url}: reading block {tag}: {e}")))?
            .ok_or_else(|| CliError::usage(format!("--block: the chain has no block {tag}")))?
            .header;
        let context = BlockContext { number: header.number, hash: header.hash, timestamp: header.timestamp };
        let chain = AlloyChain::new(&provider, context);
        let input = ScriptInput { job_id, args, block: context };
        let report = self.sandbox.run(&self.compiled, &input, &chain).await.map_err(|error| match error {
            RunError::Chain(e) => CliError::unreachable(format!("{rpc_url}: {e}")),
            other => CliError::new(Exit::Failure, eyre::eyre!("the script failed: {other}")),
        })?;
        let (perform, call_data, skip_reason) = match report.outcome {
            ScriptOutcome::Perform { call_data } => (true, Some(call_data), None),
            ScriptOutcome::Skip { reason } => (false, None, Some(reason)),
        };
        Ok(RunSummary {
            block: header.number,
            block_hash: header.hash,
            code_hash: self.code_hash,
            perform,
            call_data,
            skip_reason,
            fuel_used: report.fuel_used,
            fuel_limit: self.sandbox.limits().fuel,
            chain_reads: report.chain_reads,
            elapsed_ms: duration_ms(report.elapsed),
            logs: report.logs,
        })
    }
}

fn duration_ms(elapsed: Duration) -> f64 {
    elapsed.as_secs_f64() * 1000.0
}

/// What a run decided and what it cost (`--json` prints it as is).
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub block: u64,
    pub block_hash: B256,
    pub code_hash: B256,
    /// `true`: send `call_data` to the job's target; `false`: nothing to do, because `skip_reason`.
    pub perform: bool,
    pub call_data: Option<Bytes>,
    pub skip_reason: Option<String>,
    pub fuel_used: u64,
    pub fuel_limit: u64,
    pub chain_reads: u32,
    pub elapsed_ms: f64,
    /// The script's `log` lines.
    pub logs: Vec<String>,
}

impl RunSummary {
    /// The human form: the result line first, then the costs and the script's logs.
    pub fn print(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        match (&self.call_data, &self.skip_reason) {
            (Some(call_data), _) => {
                writeln!(out, "result: perform, call data {call_data} ({} bytes)", call_data.len())?
            }
            (None, reason) => writeln!(out, "result: nothing to do: {}", reason.as_deref().unwrap_or(""))?,
        }
        writeln!(out, "block: {} ({})", self.block, self.block_hash)?;
        writeln!(out, "code hash: {}", self.code_hash)?;
        writeln!(out, "fuel: {} of {}", self.fuel_used, self.fuel_limit)?;
        writeln!(out, "chain reads: {}", self.chain_reads)?;
        writeln!(out, "time: {:.2} ms", self.elapsed_ms)?;
        for line in &self.logs {
            writeln!(out, "log: {line}")?;
        }
        Ok(())
    }
}

/// `--args` of a script: its arguments as hex bytes (what the job's `args` hold).
pub fn parse_args(text: Option<&str>) -> CliResult<Bytes> {
    match text {
        None => Ok(Bytes::new()),
        Some(text) => {
            text.trim().parse::<Bytes>().map_err(|_| CliError::usage(format!("--args: {text:?} is not 0x hex bytes")))
        }
    }
}

/// `keeperctl script run`.
pub async fn run(args: &crate::cli::ScriptRunArgs, json: bool) -> CliResult {
    let module = LocalModule::load("MODULE", &args.module, args.kind.into())?;
    let job_id = U256::from(args.job_id);
    let summary = module.run_at(&args.rpc_url, args.block, job_id, parse_args(args.args.as_deref())?).await?;
    if json {
        crate::output::print_json(&summary)?;
    } else {
        summary.print(&mut std::io::stdout().lock()).map_err(|e| eyre::eyre!("writing the result: {e}"))?;
    }
    Ok(())
}
