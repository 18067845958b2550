//! The job commands' chain backend (`--rpc-url`): no daemon, transactions signed here (a Web3
//! keystore, or a private key as Foundry's `cast` takes it) and reads of the job manager, at the
//! addresses of the deployment file. The chain is at hand, so the spec's chain-time rules are
//! checked too; jobs are read into the API's types with the job domain's rules (status, next due).

use std::collections::BTreeMap;
use std::str::FromStr;

use alloy::eips::BlockNumberOrTag;
use alloy::network::EthereumWallet;
use alloy::primitives::{Address, B256, U256};
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::types::{Filter, TransactionReceipt};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolEvent;
use keeper_shared::api::job_spec::{spec_to_abi, SpecContext};
use keeper_shared::api::{
    ApiError, CreateJobResponse, ErrorCode, JobList, JobView, JobWriteResponse, JobsQuery, TxOutcome, DEFAULT_LIMIT,
    MAX_LIMIT,
};
use keeper_shared::block_ranges::newest_first;
use keeper_shared::contracts::JobManager;
use keeper_shared::deployment::Deployment;
use keeper_shared::job::schedule::OnChainStatus;
use keeper_shared::job::{created_job, decode_job_log, next_due, JobEvent, JobSpec, JobStatus, ReferenceBlock};
use keeper_shared::keystore::prompt::{read_password, Purpose};
use tokio::sync::OnceCell;

use super::{JobBackend, JobWrite};
use crate::cli::{ChainArgs, JobCommand};
use crate::exit::{CliError, CliResult, Exit};
use crate::jobspec::{Defaults, PREFIX};

/// The chain at `--rpc-url`; connected on first use, so that checks of the command's own arguments
/// come first and fail fast.
pub struct Chain {
    rpc_url: String,
    args: ChainArgs,
    /// The command sends transactions: its session signs (and needs a key).
    writes: bool,
    session: OnceCell<Session>,
}

impl Chain {
    /// `Some` when the command names an RPC endpoint (`--rpc-url`): it then goes to the chain.
    pub fn from_command(command: &JobCommand) -> Option<Self> {
        let (args, writes) = match command {
            JobCommand::Create(a) => (&a.chain, true),
            JobCommand::Update(a) => (&a.chain, true),
            JobCommand::Pause(a) | JobCommand::Resume(a) | JobCommand::Cancel(a) => (&a.chain, true),
            JobCommand::TopUp(a) => (&a.chain, true),
            JobCommand::Show(a) => (&a.chain, false),
            JobCommand::List(a) => (&a.chain, false),
        };
        let rpc_url = args.rpc_url.clone()?;
        Some(Self { rpc_url, args: args.clone(), writes, session: OnceCell::new() })
    }

    async fn session(&self) -> CliResult<&Session> {
        self.session.get_or_try_init(|| self.open()).await
    }

    /// A connection (signing with the command's key if it writes), its chain checked against the
    /// deployment's.
    async fn open(&self) -> CliResult<Session> {
        let url: reqwest::Url =
            self.rpc_url.parse().map_err(|e| CliError::usage(format!("--rpc-url {}: {e}", self.rpc_url)))?;
        let provider = if self.writes {
            let wallet = EthereumWallet::from(self.signer()?);
            ProviderBuilder::new().wallet(wallet).connect_http(url).erased()
        } else {
            ProviderBuilder::new().connect_http(url).erased()
        };
        Session::open(provider, self.deployment()?, &self.rpc_url, self.args.log_range).await
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
}

impl JobBackend for Chain {
    async fn spec_context(&self) -> CliResult<(Defaults, SpecContext)> {
        let session = self.session().await?;
        let head = session.head().await?;
        Ok((
            Defaults { now_secs: head.timestamp, block: Some(head.number) },
            SpecContext { now_secs: Some(head.timestamp), job_manager: Some(session.deployment.avs.job_manager) },
        ))
    }

    async fn create(&self, spec: &JobSpec, funding: U256) -> CliResult<CreateJobResponse> {
        let abi = spec_to_abi(PREFIX, spec, &SpecContext::default()).map_err(CliError::invalid)?;
        let session = self.session().await?;
        let manager = session.manager();
        let receipt = send(session, manager.createJob(abi).value(funding).send().await, "createJob").await?;
        let created = created_job(receipt.inner.logs(), session.deployment.avs.job_manager)
            .ok_or_else(|| eyre::eyre!("createJob succeeded but its receipt has no JobCreated log"))?;
        Ok(CreateJobResponse { job_id: created.jobId, forwarder: created.forwarder, tx: tx_outcome(&receipt) })
    }

    async fn update(&self, id: U256, spec: &JobSpec) -> CliResult<JobWriteResponse> {
        let abi = spec_to_abi(PREFIX, spec, &SpecContext::default()).map_err(CliError::invalid)?;
        let session = self.session().await?;
        let receipt = send(session, session.manager().updateJob(id, abi).send().await, "updateJob").await?;
        Ok(JobWriteResponse { job_id: id, tx: tx_outcome(&receipt) })
    }

    async fn act(&self, id: U256, write: JobWrite) -> CliResult<JobWriteResponse> {
        let session = self.session().await?;
        let manager = session.manager();
        let receipt = match write {
            JobWrite::Pause => send(session, manager.pauseJob(id).send().await, "pauseJob").await?,
            JobWrite::Resume => send(session, manager.resumeJob(id).send().await, "resumeJob").await?,
            JobWrite::Cancel => send(session, manager.cancelJob(id).send().await, "cancelJob").await?,
            JobWrite::TopUp { amount } => send(session, manager.topUp(id).value(amount).send().await, "topUp").await?,
        };
        Ok(JobWriteResponse { job_id: id, tx: tx_outcome(&receipt) })
    }

    async fn job(&self, id: U256) -> CliResult<JobView> {
        let session = self.session().await?;
        let head = session.head().await?;
        session.jobs([id], &head).await?.pop().ok_or_else(|| {
            CliError::rejected(
                ApiError::field(ErrorCode::JobNotFound, "id", format!("no job {id} in the job manager")),
                "job show",
            )
        })
    }

    /// Job ids are dense from 1 to `nextJobId - 1`: a page reads them in order after `after`, up to
    /// `limit` that match the status filter.
    async fn jobs(&self, query: &JobsQuery) -> CliResult<JobList> {
        let session = self.session().await?;
        let head = session.head().await?;
        let limit = query.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
        let next_id: U256 =
            session.manager().nextJobId().call().await.map_err(|e| contract_error(session, e, "nextJobId"))?;
        let limit = limit as usize;
        let mut jobs: Vec<JobView> = Vec::new();
        let mut id = query.after.map_or(U256::from(1u64), |after| after + U256::from(1u64));
        // In chunks of the jobs still wanted, each chunk's specs read in one scan of the logs.
        while id < next_id && jobs.len() < limit {
            let end = (id + U256::from(limit - jobs.len())).min(next_id);
            let chunk = std::iter::successors(Some(id), |i| Some(*i + U256::from(1u64))).take_while(|i| *i < end);
            let views = session.jobs(chunk, &head).await?;
            jobs.extend(views.into_iter().filter(|job| query.status.is_none_or(|status| status == job.status)));
            id = end;
        }
        let next = (jobs.len() == limit && id < next_id).then(|| jobs.last().map(|job| job.id)).flatten();
        Ok(JobList { jobs, next })
    }
}

/// A provider on the deployment's chain.
struct Session {
    provider: DynProvider,
    deployment: Deployment,
    rpc_url: String,
    /// Blocks per `eth_getLogs` request (`--log-range`).
    log_range: u64,
}

impl Session {
    async fn open(provider: DynProvider, deployment: Deployment, rpc_url: &str, log_range: u64) -> CliResult<Self> {
        let chain_id =
            provider.get_chain_id().await.map_err(|e| CliError::unreachable(format!("RPC endpoint {rpc_url}: {e}")))?;
        if chain_id != deployment.chain_id {
            return Err(CliError::usage(format!(
                "--rpc-url is chain {chain_id}, but the deployment file describes chain {}",
                deployment.chain_id
            )));
        }
        Ok(Self { provider, deployment, rpc_url: rpc_url.to_owned(), log_range })
    }

    fn manager(&self) -> JobManager::JobManagerInstance<&DynProvider> {
        JobManager::new(self.deployment.avs.job_manager, &self.provider)
    }

    fn rpc_error(&self, e: impl std::fmt::Display) -> CliError {
        CliError::unreachable(format!("RPC endpoint {}: {e}", self.rpc_url))
    }

    /// The latest block: the spec's chain-time rules and defaults, and what jobs are judged at.
    async fn head(&self) -> CliResult<ReferenceBlock> {
        let block = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Latest)
            .await
            .map_err(|e| self.rpc_error(e))?
            .ok_or_else(|| self.rpc_error("no latest block"))?;
        Ok(ReferenceBlock::of(&block.header))
    }

    /// A job's on-chain record, without its spec (`None`: no such job).
    async fn record(&self, id: U256) -> CliResult<Option<JobRecord>> {
        let manager = self.manager();
        let err = |e, what| contract_error(self, e, what);
        let state = manager.jobState(id).call().await.map_err(|e| err(e, "jobState"))?;
        let status = match OnChainStatus::from_u8(state.status) {
            None | Some(OnChainStatus::None) => return Ok(None),
            Some(status) => status,
        };
        let owner = manager.jobOwner(id).call().await.map_err(|e| err(e, "jobOwner"))?;
        let forwarder = manager.forwarderOf(id).call().await.map_err(|e| err(e, "forwarderOf"))?;
        let spec_hash = manager.specHashOf(id).call().await.map_err(|e| err(e, "specHashOf"))?;
        Ok(Some(JobRecord {
            id,
            status,
            owner,
            forwarder,
            spec_hash,
            balance_wei: U256::from(state.balance),
            watermark: state.nextSequence,
        }))
    }

    /// Jobs as the daemon would show them, from the job manager's state and their newest spec
    /// events, read in one scan of the logs for all of them (`None`: no such job, or ended).
    async fn jobs(&self, ids: impl IntoIterator<Item = U256>, head: &ReferenceBlock) -> CliResult<Vec<JobView>> {
        let mut records = Vec::new();
        for id in ids {
            if let Some(record) = self.record(id).await? {
                records.push(record);
            }
        }
        let mut specs = self.current_specs(records.iter().map(|r| (r.id, r.spec_hash)).collect(), head.number).await?;
        let mut views = Vec::with_capacity(records.len());
        for record in records {
            let Some(spec) = specs.remove(&record.id) else { continue };
            let Some(status) = record.status.job_status(spec.expiry, head.timestamp) else { continue };
            let next_due =
                (status == JobStatus::Active).then(|| next_due(&spec, record.watermark, Some(head))).flatten();
            views.push(JobView {
                id: record.id,
                status,
                owner: record.owner,
                forwarder: record.forwarder,
                balance_wei: record.balance_wei,
                watermark: record.watermark,
                updated_at_block: head.number,
                next_due,
                spec,
                // The chain keeps no task records: failures are a daemon's (keeperctl --socket).
                tasks_failed: 0,
                warning: None,
            });
        }
        Ok(views)
    }

    /// The jobs' current specs: for each, the newest `JobCreated`/`JobUpdated` whose hash is the
    /// stored one (each event's spec is checked against the hash it carries). One scan for all of
    /// them, newest first, in ranges of `--log-range` blocks as public RPC providers accept them,
    /// from `head` back to the deployment block, asking only for the jobs not found yet and stopping
    /// when none is left (a page of old jobs is one pass over the history, not one per job); a long
    /// scan says how far it got on stderr.
    async fn current_specs(&self, wanted: BTreeMap<U256, B256>, head: u64) -> CliResult<BTreeMap<U256, JobSpec>> {
        let mut wanted = wanted;
        let mut found = BTreeMap::new();
        let floor = self.deployment.deploy_block;
        let mut progress = ScanProgress::new(wanted.len(), floor, head);
        for (from, to) in newest_first(floor, head, self.log_range) {
            if wanted.is_empty() {
                break;
            }
            progress.at(from);
            let ids: Vec<B256> = wanted.keys().map(|id| B256::from(*id)).collect();
            let filter = Filter::new()
                .address(self.deployment.avs.job_manager)
                .event_signature(vec![JobManager::JobCreated::SIGNATURE_HASH, JobManager::JobUpdated::SIGNATURE_HASH])
                .topic1(ids)
                .from_block(from)
                .to_block(to);
            let logs = self
                .provider
                .get_logs(&filter)
                .await
                .map_err(|e| self.rpc_error(format!("eth_getLogs of blocks {from}..={to}: {e}")))?;
            for log in logs.iter().rev() {
                let event = decode_job_log(log).map_err(|e| eyre::eyre!("job manager log: {e}"))?;
                if let Some(
                    JobEvent::Created { job_id, spec_hash, spec, .. } | JobEvent::Updated { job_id, spec_hash, spec },
                ) = event
                {
                    if wanted.get(&job_id) == Some(&spec_hash) {
                        wanted.remove(&job_id);
                        found.insert(job_id, spec);
                    }
                }
            }
        }
        match wanted.first_key_value() {
            Some((id, spec_hash)) => {
                Err(eyre::eyre!("job {id}: no JobCreated/JobUpdated log with its current spec hash {spec_hash}").into())
            }
            None => Ok(found),
        }
    }
}

/// A job's state in the job manager, as read before its spec.
struct JobRecord {
    id: U256,
    status: OnChainStatus,
    owner: Address,
    forwarder: Address,
    spec_hash: B256,
    balance_wei: U256,
    watermark: u64,
}

/// Progress of a long log scan on stderr: silent for a few seconds, then a line every few seconds.
struct ScanProgress {
    jobs: usize,
    floor: u64,
    head: u64,
    started: std::time::Instant,
    last: Option<std::time::Instant>,
}

impl ScanProgress {
    const QUIET: std::time::Duration = std::time::Duration::from_secs(2);
    const EVERY: std::time::Duration = std::time::Duration::from_secs(3);

    fn new(jobs: usize, floor: u64, head: u64) -> Self {
        Self { jobs, floor, head, started: std::time::Instant::now(), last: None }
    }

    /// The scan reached down to block `from`.
    fn at(&mut self, from: u64) {
        let now = std::time::Instant::now();
        let due = match self.last {
            None => now.duration_since(self.started) >= Self::QUIET,
            Some(last) => now.duration_since(last) >= Self::EVERY,
        };
        if due {
            self.last = Some(now);
            let span = (self.head - self.floor).max(1);
            let percent = (self.head - from) * 100 / span;
            let what = if self.jobs == 1 { "1 job's spec".to_owned() } else { format!("{} jobs' specs", self.jobs) };
            eprintln!(
                "reading {what} from the job manager's logs, at block {from} ({percent}% of blocks {}..={})",
                self.floor, self.head
            );
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
        E::InvalidJobStatus(e) => {
            let status = OnChainStatus::from_u8(e.status).and_then(|status| status.job_status(None, 0));
            format!("InvalidJobStatus: job {} is {}", e.jobId, status.map_or("unknown", |status| status.as_str()))
        }
        E::TriggerImmutable(e) => {
            format!("TriggerImmutable: job {}'s trigger cannot change (cancel and create)", e.jobId)
        }
        E::ZeroDeposit(_) => "ZeroDeposit: the amount must be > 0".to_owned(),
        E::BalanceOverflow(e) => format!("BalanceOverflow: job {}'s escrow would exceed 2^96-1", e.jobId),
        E::InvalidSpec(e) => format!("InvalidSpec: field #{} fault #{}", e.field, e.fault),
        other => format!("{other:?}"),
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
