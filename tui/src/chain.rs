//! `keeperctl job ... --rpc-url`: the job commands without a daemon, as transactions signed here
//! (a Web3 keystore, or a private key as Foundry's `cast` takes it) and reads of the job manager,
//! at the addresses of the deployment file. The spec goes through the same validation as in
//! daemon mode (plus the chain-time rules, since the chain is at hand), and the answers are the
//! API's types, printed the same way.

use std::str::FromStr;

use alloy::eips::BlockNumberOrTag;
use alloy::network::EthereumWallet;
use alloy::primitives::{B256, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::{Filter, TransactionReceipt};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolEvent;
use keeper_shared::api::job_spec::{spec_to_abi, SpecContext};
use keeper_shared::api::{
    ActionView, ApiError, CreateJobResponse, ErrorCode, JobList, JobSpecView, JobStatus, JobView, JobWriteResponse,
    NextDue, TriggerView, TxOutcome,
};
use keeper_shared::contracts::JobManager;
use keeper_shared::deployment::Deployment;
use keeper_shared::keystore::prompt::{read_password, Purpose};

use crate::cli::{ChainArgs, JobCommand};
use crate::commands::{amount, job_id, print_created, print_job, print_job_write, Context};
use crate::exit::{CliError, CliResult, Exit};
use crate::jobspec::{self, Defaults, PREFIX};
use crate::output::{self, print_json, Table};

/// Direct mode's settings, from the command's [`ChainArgs`].
#[derive(Debug, Clone)]
pub struct Direct {
    rpc_url: String,
    args: ChainArgs,
}

impl Direct {
    /// `Some` when the command names an RPC endpoint (`--rpc-url`): it then goes to the chain.
    pub fn from_command(command: &JobCommand) -> CliResult<Option<Self>> {
        let args = match command {
            JobCommand::Create(a) => &a.chain,
            JobCommand::Update(a) => &a.chain,
            JobCommand::Pause(a) | JobCommand::Resume(a) | JobCommand::Cancel(a) => &a.chain,
            JobCommand::TopUp(a) => &a.chain,
            JobCommand::Show(a) => &a.chain,
            JobCommand::List(a) => &a.chain,
        };
        Ok(args.rpc_url.clone().map(|rpc_url| Self { rpc_url, args: args.clone() }))
    }

    fn deployment(&self) -> CliResult<Deployment> {
        let path = self.args.deployment.as_ref().ok_or_else(|| {
            CliError::usage("--rpc-url needs --deployment FILE (or KEEPER_DEPLOYMENT): the contract addresses")
        })?;
        Deployment::read(path).map_err(|e| eyre::Report::new(e).into())
    }

    fn signer(&self) -> CliResult<PrivateKeySigner> {
        if let Some(key) = &self.args.private_key {
            let key = key.trim();
            return PrivateKeySigner::from_str(key.strip_prefix("0x").unwrap_or(key))
                .map_err(|_| CliError::usage("--private-key / ETH_PRIVATE_KEY: not a hex secp256k1 private key"));
        }
        let Some(path) = &self.args.keystore else {
            return Err(CliError::usage(
                "a write needs a key: --keystore FILE (or ETH_KEYSTORE), or --private-key / ETH_PRIVATE_KEY",
            ));
        };
        let password =
            read_password(self.args.password_file.as_deref(), Purpose::Existing).map_err(eyre::Report::new)?;
        keeper_shared::keystore::ecdsa::load(path, &password)
            .map_err(|e| eyre::Report::new(e).wrap_err(format!("opening --keystore {}", path.display())).into())
    }

    fn url(&self) -> CliResult<reqwest::Url> {
        self.rpc_url.parse().map_err(|e| CliError::usage(format!("--rpc-url {}: {e}", self.rpc_url)))
    }

    /// A read-only connection, its chain checked against the deployment's.
    async fn reader(&self) -> CliResult<Session> {
        let provider = ProviderBuilder::new().connect_http(self.url()?).erased();
        Session::open(provider, self.deployment()?, &self.rpc_url).await
    }

    /// A connection that signs with the command's key.
    async fn writer(&self) -> CliResult<Session> {
        let signer = self.signer()?;
        let provider = ProviderBuilder::new().wallet(EthereumWallet::from(signer)).connect_http(self.url()?).erased();
        Session::open(provider, self.deployment()?, &self.rpc_url).await
    }
}

/// A provider on the deployment's chain.
struct Session {
    provider: DynProvider,
    deployment: Deployment,
    rpc_url: String,
}

impl Session {
    async fn open(provider: DynProvider, deployment: Deployment, rpc_url: &str) -> CliResult<Self> {
        let chain_id =
            provider.get_chain_id().await.map_err(|e| CliError::unreachable(format!("RPC endpoint {rpc_url}: {e}")))?;
        if chain_id != deployment.chain_id {
            return Err(CliError::usage(format!(
                "--rpc-url is chain {chain_id}, but the deployment file describes chain {}",
                deployment.chain_id
            )));
        }
        Ok(Self { provider, deployment, rpc_url: rpc_url.to_owned() })
    }

    fn manager(&self) -> JobManager::JobManagerInstance<&DynProvider> {
        JobManager::new(self.deployment.avs.job_manager, &self.provider)
    }

    fn rpc_error(&self, e: impl std::fmt::Display) -> CliError {
        CliError::unreachable(format!("RPC endpoint {}: {e}", self.rpc_url))
    }

    /// The latest block's number and time (the spec's chain-time rules and defaults).
    async fn head(&self) -> CliResult<(u64, u64)> {
        let block = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .map_err(|e| self.rpc_error(e))?
            .ok_or_else(|| self.rpc_error("no latest block"))?;
        Ok((block.header.number, block.header.timestamp))
    }

    async fn spec_context(&self) -> CliResult<(Defaults, SpecContext)> {
        let (block, now) = self.head().await?;
        Ok((
            Defaults { now_secs: now, block: Some(block) },
            SpecContext { now_secs: Some(now), job_manager: Some(self.deployment.avs.job_manager) },
        ))
    }
}

/// Runs a job command against the chain.
pub async fn run(context: &Context, direct: Direct, command: JobCommand) -> CliResult {
    match command {
        JobCommand::Create(args) => {
            // Local checks that need no chain first: a typo should not wait for a connection.
            let funding = amount("--fund", &args.fund, true)?;
            let session = direct.writer().await?;
            let (defaults, spec_context) = session.spec_context().await?;
            let spec = jobspec::spec_from_args(&args.spec, defaults, &spec_context).map_err(CliError::invalid)?;
            let abi = spec_to_abi(PREFIX, &spec, &spec_context).map_err(CliError::invalid)?;
            let manager = session.manager();
            let receipt = send(&session, manager.createJob(abi).value(funding).send().await, "createJob").await?;
            let created = receipt
                .inner
                .logs()
                .iter()
                .filter(|log| log.address() == session.deployment.avs.job_manager)
                .find_map(|log| JobManager::JobCreated::decode_log_data(log.data()).ok())
                .ok_or_else(|| eyre::eyre!("createJob succeeded but its receipt has no JobCreated log"))?;
            print_created(
                context.json,
                &CreateJobResponse { job_id: created.jobId, forwarder: created.forwarder, tx: tx_outcome(&receipt) },
            )
        }
        JobCommand::Update(args) => {
            let id = job_id(&args.id)?;
            let session = direct.writer().await?;
            let (defaults, spec_context) = session.spec_context().await?;
            let spec = jobspec::spec_from_args(&args.spec, defaults, &spec_context).map_err(CliError::invalid)?;
            let abi = spec_to_abi(PREFIX, &spec, &spec_context).map_err(CliError::invalid)?;
            let receipt = send(&session, session.manager().updateJob(id, abi).send().await, "updateJob").await?;
            print_job_write(context.json, "updated", &JobWriteResponse { job_id: id, tx: tx_outcome(&receipt) })
        }
        JobCommand::Pause(args) => {
            let id = job_id(&args.id)?;
            let session = direct.writer().await?;
            let receipt = send(&session, session.manager().pauseJob(id).send().await, "pauseJob").await?;
            print_job_write(context.json, "paused", &JobWriteResponse { job_id: id, tx: tx_outcome(&receipt) })
        }
        JobCommand::Resume(args) => {
            let id = job_id(&args.id)?;
            let session = direct.writer().await?;
            let receipt = send(&session, session.manager().resumeJob(id).send().await, "resumeJob").await?;
            print_job_write(context.json, "resumed", &JobWriteResponse { job_id: id, tx: tx_outcome(&receipt) })
        }
        JobCommand::Cancel(args) => {
            let id = job_id(&args.id)?;
            let session = direct.writer().await?;
            let receipt = send(&session, session.manager().cancelJob(id).send().await, "cancelJob").await?;
            print_job_write(context.json, "cancelled", &JobWriteResponse { job_id: id, tx: tx_outcome(&receipt) })
        }
        JobCommand::TopUp(args) => {
            let id = job_id(&args.id)?;
            let value = amount("amount_wei", &args.amount, false)?;
            let session = direct.writer().await?;
            let receipt = send(&session, session.manager().topUp(id).value(value).send().await, "topUp").await?;
            print_job_write(context.json, "topped up", &JobWriteResponse { job_id: id, tx: tx_outcome(&receipt) })
        }
        JobCommand::Show(args) => {
            let id = job_id(&args.id)?;
            let session = direct.reader().await?;
            let head = session.head().await?;
            let job = read_job(&session, id, head).await?.ok_or_else(|| {
                CliError::rejected(
                    ApiError::field(ErrorCode::JobNotFound, "id", format!("no job {id} in the job manager")),
                    "job show",
                )
            })?;
            print_job(context.json, &job)
        }
        JobCommand::List(args) => {
            let session = direct.reader().await?;
            let head = session.head().await?;
            let after = args.after.as_deref().map(job_id).transpose()?;
            let limit = args.limit.unwrap_or(keeper_shared::api::DEFAULT_LIMIT).clamp(1, keeper_shared::api::MAX_LIMIT);
            let next_id: U256 =
                session.manager().nextJobId().call().await.map_err(|e| contract_error(&session, e, "nextJobId"))?;
            let status: Option<JobStatus> = args.status.map(Into::into);
            let mut jobs = Vec::new();
            let mut id = after.map(|a| a + U256::from(1u64)).unwrap_or(U256::from(1u64));
            let mut next = None;
            while id < next_id {
                if !args.all && jobs.len() as u32 == limit {
                    next = jobs.last().map(|j: &JobView| j.id);
                    break;
                }
                if let Some(job) = read_job(&session, id, head).await? {
                    if status.is_none_or(|s| s == job.status) {
                        jobs.push(job);
                    }
                }
                id += U256::from(1u64);
            }
            let list = JobList { jobs, next };
            if context.json {
                return print_json(&list);
            }
            let mut table = Table::new(&["ID", "STATUS", "ESCROW", "TRIGGER", "ACTION"]);
            for job in &list.jobs {
                table.row(vec![
                    job.id.to_string(),
                    job.status.to_string(),
                    output::ether(job.balance_wei),
                    output::trigger(&job.spec.trigger),
                    output::action(&job.spec.action),
                ]);
            }
            table.print();
            if let Some(next) = list.next {
                eprintln!("more: --after {next} (or --all)");
            }
            Ok(())
        }
    }
}

/// Waits for a sent transaction's receipt; a revert (in estimation or on chain) is a refusal
/// naming the contract's error.
async fn send(
    session: &Session,
    sent: Result<alloy::providers::PendingTransactionBuilder<alloy::network::Ethereum>, alloy::contract::Error>,
    what: &str,
) -> CliResult<TransactionReceipt> {
    let pending = sent.map_err(|e| contract_error(session, e, what))?;
    let receipt =
        pending.get_receipt().await.map_err(|e| session.rpc_error(format!("{what}: waiting for the receipt: {e}")))?;
    if !receipt.status() {
        let mut error = ApiError::new(ErrorCode::Reverted, format!("{what}: reverted on chain"));
        error.tx_hash = Some(receipt.transaction_hash);
        return Err(CliError::rejected(error, what));
    }
    Ok(receipt)
}

fn contract_error(session: &Session, error: alloy::contract::Error, what: &str) -> CliError {
    if let Some(decoded) = error.as_decoded_interface_error::<JobManager::JobManagerErrors>() {
        let text = format!("{decoded:?}");
        let name = text.split('(').next().unwrap_or("").to_owned();
        let mut api =
            ApiError::new(ErrorCode::Reverted, format!("{what}: the job manager refused: {}", revert_text(&decoded)));
        api.revert = Some(name);
        return CliError::rejected(api, what);
    }
    match &error {
        alloy::contract::Error::TransportError(alloy::transports::RpcError::ErrorResp(resp)) => {
            let api = ApiError::new(ErrorCode::Reverted, format!("{what}: {}", resp.message));
            CliError::rejected(api, what)
        }
        alloy::contract::Error::TransportError(_) => session.rpc_error(format!("{what}: {error}")),
        _ => CliError::new(Exit::Failure, eyre::eyre!("{what}: {error}")),
    }
}

/// The job manager's custom errors in words (`contracts/src/interfaces/IJobManager.sol`).
fn revert_text(error: &JobManager::JobManagerErrors) -> String {
    use JobManager::JobManagerErrors as E;
    match error {
        E::JobNotFound(e) => format!("JobNotFound: no job {}", e.jobId),
        E::NotJobOwner(e) => format!("NotJobOwner: {} does not own job {}", e.caller, e.jobId),
        E::InvalidJobStatus(e) => format!("InvalidJobStatus: job {} is {}", e.jobId, status_name(e.status)),
        E::TriggerImmutable(e) => {
            format!("TriggerImmutable: job {}'s trigger cannot change (cancel and create)", e.jobId)
        }
        E::ZeroDeposit(_) => "ZeroDeposit: the amount must be > 0".to_owned(),
        E::BalanceOverflow(e) => format!("BalanceOverflow: job {}'s escrow would exceed 2^96-1", e.jobId),
        E::InvalidSpec(e) => format!("InvalidSpec: field #{} fault #{}", e.field, e.fault),
        other => format!("{other:?}"),
    }
}

fn status_name(status: u8) -> &'static str {
    match status {
        1 => "active",
        2 => "paused",
        3 => "cancelled",
        _ => "unknown",
    }
}

fn tx_outcome(receipt: &TransactionReceipt) -> TxOutcome {
    TxOutcome {
        tx_hash: receipt.transaction_hash,
        block_number: receipt.block_number.unwrap_or_default(),
        block_hash: receipt.block_hash,
        gas_used: receipt.gas_used,
        effective_gas_price_wei: receipt.effective_gas_price,
    }
}

/// A job as the daemon would show it, from the job manager's state and its newest spec event.
async fn read_job(session: &Session, id: U256, (block, now): (u64, u64)) -> CliResult<Option<JobView>> {
    let manager = session.manager();
    let err = |e, what| contract_error(session, e, what);
    let state = manager.jobState(id).call().await.map_err(|e| err(e, "jobState"))?;
    let status = match state.status {
        1 => JobStatus::Active,
        2 => JobStatus::Paused,
        3 => JobStatus::Cancelled,
        _ => return Ok(None),
    };
    let owner = manager.jobOwner(id).call().await.map_err(|e| err(e, "jobOwner"))?;
    let forwarder = manager.forwarderOf(id).call().await.map_err(|e| err(e, "forwarderOf"))?;
    let spec_hash = manager.specHashOf(id).call().await.map_err(|e| err(e, "specHashOf"))?;
    let spec = current_spec(session, id, spec_hash).await?;
    let status = match spec.expiry_secs {
        Some(expiry) if status == JobStatus::Active && expiry <= now => JobStatus::Expired,
        _ => status,
    };
    let watermark: u64 = state.nextSequence;
    let next_due = (status == JobStatus::Active).then(|| next_due(&spec.trigger, watermark, block, now)).flatten();
    Ok(Some(JobView {
        id,
        status,
        owner,
        forwarder,
        balance_wei: U256::from(state.balance),
        watermark,
        updated_at_block: block,
        next_due,
        spec,
    }))
}

/// The job's current spec: the newest `JobCreated`/`JobUpdated` whose hash is the stored one.
async fn current_spec(session: &Session, id: U256, spec_hash: B256) -> CliResult<JobSpecView> {
    let filter = Filter::new()
        .address(session.deployment.avs.job_manager)
        .event_signature(vec![JobManager::JobCreated::SIGNATURE_HASH, JobManager::JobUpdated::SIGNATURE_HASH])
        .topic1(B256::from(id))
        .from_block(session.deployment.deploy_block);
    let logs = session.provider.get_logs(&filter).await.map_err(|e| session.rpc_error(e))?;
    for log in logs.iter().rev() {
        let spec = if let Ok(e) = JobManager::JobCreated::decode_log_data(log.data()) {
            (e.specHash == spec_hash).then_some(e.spec)
        } else if let Ok(e) = JobManager::JobUpdated::decode_log_data(log.data()) {
            (e.specHash == spec_hash).then_some(e.spec)
        } else {
            None
        };
        if let Some(spec) = spec {
            return spec_view(&spec);
        }
    }
    Err(eyre::eyre!("job {id}: no JobCreated/JobUpdated log with its current spec hash {spec_hash}").into())
}

/// The readable form of the contract's spec (the inverse of `spec_to_abi`).
fn spec_view(spec: &JobManager::JobSpec) -> CliResult<JobSpecView> {
    let t = &spec.trigger;
    let trigger = match t.kind {
        0 => TriggerView::Interval { start_secs: t.start, period_secs: t.period },
        1 => TriggerView::Block { start_block: t.start, period_blocks: t.period },
        2 => {
            let topic = |i: usize| (t.topicMask & (1 << i) != 0).then_some(t.topics[i]);
            TriggerView::Event {
                start_block: t.start,
                emitter: t.emitter,
                topic0: t.topics[0],
                topics: [topic(1), topic(2), topic(3)],
            }
        }
        kind => return Err(eyre::eyre!("spec: unknown trigger kind {kind}").into()),
    };
    let a = &spec.action;
    let action = match a.kind {
        0 => ActionView::Call { target: a.target, data: a.data.clone() },
        1 => ActionView::ChainlinkUpkeep { target: a.target, check_data: a.data.clone() },
        2 => ActionView::GelatoResolver { target: a.target, resolver: a.resolver, resolver_data: a.data.clone() },
        3 => ActionView::Script {
            target: a.target,
            args: a.data.clone(),
            code_url: a.codeUrl.clone(),
            code_hash: a.codeHash,
        },
        kind => return Err(eyre::eyre!("spec: unknown action kind {kind}").into()),
    };
    let expiry: u64 = spec.expiry.to();
    Ok(JobSpecView {
        trigger,
        action,
        gas_limit: spec.gasLimit,
        max_fee_wei: spec.maxFee.to(),
        expiry_secs: (expiry != 0).then_some(expiry),
    })
}

/// The task due now (the latest due sequence, if not yet performed) or the next one.
fn next_due(trigger: &TriggerView, watermark: u64, block: u64, now: u64) -> Option<NextDue> {
    let (start, period, at) = match *trigger {
        TriggerView::Interval { start_secs, period_secs } => (start_secs, period_secs, now),
        TriggerView::Block { start_block, period_blocks } => (start_block, period_blocks, block),
        TriggerView::Event { .. } => return None,
    };
    if period == 0 {
        return None;
    }
    let latest = (at >= start).then(|| (at - start) / period);
    let (sequence, due_now) = match latest {
        Some(n) if n >= watermark => (n, true),
        Some(n) => (watermark.max(n + 1), false),
        None => (watermark, false),
    };
    let when = start.saturating_add(sequence.saturating_mul(period));
    let (at_secs, at_block) =
        if matches!(trigger, TriggerView::Interval { .. }) { (Some(when), None) } else { (None, Some(when)) };
    Some(NextDue { sequence, due_now, at_secs, at_block })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_due_is_the_latest_unperformed_or_the_next() {
        let interval = TriggerView::Interval { start_secs: 100, period_secs: 10 };
        let due = next_due(&interval, 0, 0, 125).unwrap();
        assert_eq!((due.sequence, due.due_now, due.at_secs), (2, true, Some(120)));
        let due = next_due(&interval, 3, 0, 125).unwrap();
        assert_eq!((due.sequence, due.due_now, due.at_secs), (3, false, Some(130)));
        let due = next_due(&interval, 0, 0, 50).unwrap();
        assert_eq!((due.sequence, due.due_now), (0, false));
        let blocks = TriggerView::Block { start_block: 0, period_blocks: 5 };
        let due = next_due(&blocks, 0, 12, 0).unwrap();
        assert_eq!((due.sequence, due.due_now, due.at_block), (2, true, Some(10)));
    }
}
