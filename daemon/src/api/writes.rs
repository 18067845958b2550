//! The control API's writes: job create / update / pause / resume / cancel / top up, and the local
//! operator's registration in the keeper set. Each request is checked here first (body, fields, the
//! job's owner, the spec against the job manager's rules), so a bad one costs no gas; then it goes
//! out through the node's one transaction sender (recorded before broadcast, fee-bumped while it
//! waits) and is answered once its receipt is in, within [`WRITE_WAIT`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use alloy::eips::BlockNumberOrTag;
use alloy::primitives::{keccak256, Address, Bytes, U256};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use alloy::sol_types::{SolCall, SolInterface};
use axum::body::Body;
use axum::extract::{Path, State};
use keeper_shared::api::job_spec::{spec_to_abi, validate_funding, SpecContext};
use keeper_shared::api::{
    parse_body, parse_job_id, ApiError, CreateJobRequest, CreateJobResponse, DepositRequest, EmptyRequest, ErrorCode,
    JobAction, JobWriteResponse, OperatorStep, OperatorStepOutcome, OperatorWriteResponse, RegisterOperatorRequest,
    TopUpRequest, TxOutcome, UpdateJobRequest, FULL_MAGNITUDE,
};
use keeper_shared::contracts::{BlsKeyRegistry, JobManager, KeeperServiceManager, StakeToken, TaskManager};
use keeper_shared::eigenlayer::allocation_manager::AllocationManager;
use keeper_shared::eigenlayer::delegation_manager::DelegationManager;
use keeper_shared::eigenlayer::strategy_manager::StrategyManager;
use keeper_shared::eigenlayer::{AllocationManagerSinceV15, StrategyManagerSinceV15};
use keeper_shared::job::created_job;
use keeper_shared::network::CoreView;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::routes::{ok, ApiState, Failure, Reply};
use crate::chain::{SenderError, TxRequest, TxSender};
use crate::eigenlayer::onboarding::{
    allocate_call, deposit_call, deregister_call, keeper_set, register_as_operator_call, register_call,
};
use crate::store::TxKind;

/// How long a write waits for its transaction's receipt (all of them, for operator registration)
/// before answering `tx_pending` with the hash. The transaction stays tracked by the sender.
pub const WRITE_WAIT: Duration = Duration::from_secs(60);
/// A write's whole request limit: the wait plus reading the chain before and after.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(75);
/// How long the reads a write needs (owner, time, receipt) may take.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads the body (within the cap; a chunked body without a length is counted too) and parses it.
async fn body<T: DeserializeOwned + Serialize>(state: &ApiState, body: Body) -> Result<T, Failure> {
    let max = state.max_body_bytes();
    let bytes = axum::body::to_bytes(body, max).await.map_err(|e| {
        Failure(ApiError::new(
            ErrorCode::BodyTooLarge,
            format!("request body: above the limit of {max} bytes, or unreadable: {e}"),
        ))
    })?;
    Ok(parse_body(&bytes)?)
}

fn sender(state: &ApiState) -> Result<&TxSender, Failure> {
    state.context().sender.as_deref().ok_or_else(|| {
        Failure(ApiError::field(
            ErrorCode::NoOperatorKey,
            "operator",
            "this daemon has no operator key to send transactions with (configure [operator] ecdsa_keystore)",
        ))
    })
}

fn chain_failure(what: &str, error: impl std::fmt::Display) -> Failure {
    Failure(ApiError::new(ErrorCode::TxFailed, format!("{what}: {error}")))
}

/// A read a write depends on, bounded.
async fn read<T, E: std::fmt::Display>(
    what: &str,
    call: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, Failure> {
    match tokio::time::timeout(READ_TIMEOUT, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(chain_failure(what, e)),
        Err(_) => Err(chain_failure(what, format!("no answer within {READ_TIMEOUT:?}"))),
    }
}

/// A fresh idempotency key per request: the sender returns an earlier transaction for a payload it
/// has seen, and pausing a job twice (with a resume between) must send twice.
fn unique_payload(input: &[u8]) -> Vec<u8> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let mut seed = b"keeperd-api".to_vec();
    seed.extend_from_slice(&nanos.to_be_bytes());
    seed.extend_from_slice(&COUNTER.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    seed.extend_from_slice(&std::process::id().to_be_bytes());
    seed.extend_from_slice(input);
    keccak256(seed).to_vec()
}

/// Sends one call through the node's sender and waits for its receipt (until `deadline`).
async fn send(
    state: &ApiState,
    kind: TxKind,
    to: Address,
    input: Vec<u8>,
    value: U256,
    deadline: tokio::time::Instant,
) -> Result<TxOutcome, Failure> {
    let sender = sender(state)?;
    let payload_ref = unique_payload(&input);
    let request =
        TxRequest { kind, payload_ref: payload_ref.clone(), to, input: input.clone().into(), value, gas_limit: None };
    let tracked = sender.send(request).await.map_err(sender_failure)?;
    let waited = tokio::time::timeout_at(deadline, sender.wait(&payload_ref, state.shutdown())).await;
    match waited {
        Ok(Ok(mined)) => Ok(TxOutcome {
            tx_hash: mined.tx_hash,
            block_number: mined.block_number,
            block_hash: mined.block_hash,
            gas_used: mined.gas_used,
            effective_gas_price_wei: mined.effective_gas_price,
        }),
        Ok(Err(SenderError::Reverted { tx_hash, block_number, .. })) => {
            // The receipt carries no reason: replay the call on the state before its block.
            let call = TransactionRequest::default().from(sender.address()).to(to).input(input.into()).value(value);
            let block = BlockNumberOrTag::Number(block_number.saturating_sub(1));
            let replay =
                state.context().pool.run("eth_call", |p| async move { p.call(call).block(block.into()).await });
            let data = tokio::time::timeout(READ_TIMEOUT, replay).await.ok().and_then(|r| r.err());
            let data = data.as_ref().and_then(|e| e.revert_data()).cloned().unwrap_or_default();
            let mut error = revert_error(&data, &format!("reverted on chain in block {block_number}"));
            error.tx_hash = Some(tx_hash);
            Err(Failure(error))
        }
        Ok(Err(other)) => Err(sender_failure(other)),
        Err(_) => {
            let mut error = ApiError::new(
                ErrorCode::TxPending,
                format!(
                    "transaction {} sent but not mined within {WRITE_WAIT:?}; the daemon keeps following it",
                    tracked.tx_hash
                ),
            );
            error.tx_hash = Some(tracked.tx_hash);
            Err(Failure(error))
        }
    }
}

fn sender_failure(error: SenderError) -> Failure {
    match error {
        SenderError::WouldRevert { source, .. } => {
            let data = source.revert_data().cloned().unwrap_or_default();
            Failure(revert_error(&data, "refused in simulation (nothing was sent)"))
        }
        SenderError::Shutdown { .. } => Failure(ApiError::new(ErrorCode::Unavailable, "the daemon is shutting down")),
        other => chain_failure("sending the transaction", other),
    }
}

/// A revert as an API error: `revert` is the custom error's name, the message its arguments.
fn revert_error(data: &Bytes, when: &str) -> ApiError {
    let (name, detail) = decode_revert(data);
    let mut error = ApiError::new(ErrorCode::Reverted, format!("transaction {when}: {detail}"));
    error.revert = name;
    error
}

/// The custom error's name and a readable form, from the contracts a write or a challenge calls
/// (ours and the EigenLayer core's), or Solidity's `Error(string)`.
pub(crate) fn decode_revert(data: &[u8]) -> (Option<String>, String) {
    let Some(selector) = data.get(..4).and_then(|s| <[u8; 4]>::try_from(s).ok()) else {
        return (None, "no revert data".to_owned());
    };
    macro_rules! try_interface {
        ($contract:literal, $errors:ty) => {
            if let Some(name) = <$errors>::name_by_selector(selector) {
                let detail = match <$errors as SolInterface>::abi_decode(data) {
                    Ok(decoded) => format!("{}.{name}: {decoded:?}", $contract),
                    Err(_) => format!("{}.{name} (undecodable arguments)", $contract),
                };
                return (Some(name.to_owned()), detail);
            }
        };
    }
    try_interface!("JobManager", JobManager::JobManagerErrors);
    try_interface!("TaskManager", TaskManager::TaskManagerErrors);
    try_interface!("BlsKeyRegistry", BlsKeyRegistry::BlsKeyRegistryErrors);
    try_interface!("KeeperServiceManager", KeeperServiceManager::KeeperServiceManagerErrors);
    // EigenLayer's crate ships bindings without `name_by_selector`: the variant's name leads its
    // `Debug` form.
    macro_rules! try_decode {
        ($contract:literal, $errors:ty) => {
            if let Ok(decoded) = <$errors as SolInterface>::abi_decode(data) {
                let detail = format!("{decoded:?}");
                let name: String = detail.chars().take_while(char::is_ascii_alphanumeric).collect();
                return (Some(name), format!("{}.{detail}", $contract));
            }
        };
    }
    try_decode!("AllocationManager", AllocationManager::AllocationManagerErrors);
    try_decode!("DelegationManager", DelegationManager::DelegationManagerErrors);
    // A deposit's calls: EigenLayer's StrategyManager, and the token (OpenZeppelin 5's ERC20 errors,
    // which the stake token's ABI carries).
    try_decode!("StrategyManager", StrategyManager::StrategyManagerErrors);
    try_interface!("ERC20", StakeToken::StakeTokenErrors);
    // What newer cores (the public testnets') add to the v1.3 ABIs above.
    try_interface!("AllocationManager", AllocationManagerSinceV15::AllocationManagerSinceV15Errors);
    try_interface!("StrategyManager", StrategyManagerSinceV15::StrategyManagerSinceV15Errors);
    if let Ok(revert) = <alloy::sol_types::Revert as alloy::sol_types::SolError>::abi_decode(data) {
        return (Some("Error".to_owned()), format!("Error({:?})", revert.reason));
    }
    (None, format!("unknown revert data 0x{}", hex::encode(data)))
}

fn job_manager(state: &ApiState) -> Address {
    state.context().config.deployment.avs.job_manager
}

/// The chain's time now (the latest block's), for the expiry rule.
async fn chain_time(state: &ApiState) -> Result<u64, Failure> {
    let pool = &state.context().pool;
    let block = read(
        "reading the latest block",
        pool.run("eth_getBlockByNumber", |p| async move { p.get_block_by_number(BlockNumberOrTag::Latest).await }),
    )
    .await?;
    block.map(|b| b.header.timestamp).ok_or_else(|| chain_failure("reading the latest block", "none"))
}

/// The job's owner on chain; a job that does not exist is `job_not_found`, one owned by someone
/// else `not_job_owner` (unless anyone may do it: top-ups).
async fn check_owner(state: &ApiState, id: U256, owner_only: bool) -> Result<(), Failure> {
    let manager = JobManager::new(job_manager(state), state.context().pool.provider());
    let owner = read("reading the job's owner", async { manager.jobOwner(id).call().await }).await?;
    if owner.is_zero() {
        return Err(Failure(ApiError::field(ErrorCode::JobNotFound, "id", format!("job {id} does not exist"))));
    }
    let me = sender(state)?.address();
    if owner_only && owner != me {
        return Err(Failure(ApiError::field(
            ErrorCode::NotJobOwner,
            "id",
            format!("job {id} is owned by {owner}, not by this daemon's operator {me}"),
        )));
    }
    Ok(())
}

fn deadline() -> tokio::time::Instant {
    tokio::time::Instant::now() + WRITE_WAIT
}

/// `POST /v1/jobs`.
pub async fn create_job(State(state): State<ApiState>, raw: Body) -> Reply {
    sender(&state)?;
    let request: CreateJobRequest = body(&state, raw).await?;
    validate_funding("funding_wei", request.funding_wei, true)?;
    let context = SpecContext { now_secs: Some(chain_time(&state).await?), job_manager: Some(job_manager(&state)) };
    let spec = spec_to_abi("spec", &request.spec, &context)?;
    let input = JobManager::createJobCall { spec }.abi_encode();
    let tx = send(&state, TxKind::JobAdmin, job_manager(&state), input, request.funding_wei, deadline()).await?;
    let hash = tx.tx_hash;
    let receipt = read(
        "reading the receipt",
        state.context().pool.run("eth_getTransactionReceipt", |p| async move { p.get_transaction_receipt(hash).await }),
    )
    .await?
    .ok_or_else(|| chain_failure("reading the receipt", "the node has none for a mined transaction"))?;
    let created = created_job(receipt.inner.logs(), job_manager(&state))
        .ok_or_else(|| chain_failure("reading the receipt", "no JobCreated log"))?;
    ok(&CreateJobResponse { job_id: created.jobId, forwarder: created.forwarder, tx })
}

/// `PUT /v1/jobs/{id}`.
pub async fn update_job(State(state): State<ApiState>, Path(id): Path<String>, raw: Body) -> Reply {
    let id = parse_job_id("id", &id)?;
    sender(&state)?;
    let request: UpdateJobRequest = body(&state, raw).await?;
    let context = SpecContext { now_secs: Some(chain_time(&state).await?), job_manager: Some(job_manager(&state)) };
    let spec = spec_to_abi("spec", &request.spec, &context)?;
    // The trigger is fixed at creation: say so by name rather than by a revert, when the job is indexed.
    let cached = state.store(move |store| store.read(|tx| tx.job(id))).await.ok().flatten();
    if let Some(view) = cached.and_then(|record| super::convert::job_view(&record, None).ok()) {
        if view.spec.trigger != request.spec.trigger {
            return Err(Failure(ApiError::field(
                ErrorCode::InvalidValue,
                "spec.trigger",
                format!("job {id}'s trigger is fixed at creation (cancel and create a new job to change it)"),
            )));
        }
    }
    check_owner(&state, id, true).await?;
    let input = JobManager::updateJobCall { jobId: id, spec }.abi_encode();
    let tx = send(&state, TxKind::JobAdmin, job_manager(&state), input, U256::ZERO, deadline()).await?;
    ok(&JobWriteResponse { job_id: id, tx })
}

async fn job_action(state: ApiState, id: String, action: JobAction, raw: Body) -> Reply {
    let id = parse_job_id("id", &id)?;
    sender(&state)?;
    let (input, value) = match action {
        JobAction::TopUp => {
            let request: TopUpRequest = body(&state, raw).await?;
            validate_funding("amount_wei", request.amount_wei, false)?;
            (JobManager::topUpCall { jobId: id }.abi_encode(), request.amount_wei)
        }
        other => {
            let _: EmptyRequest = body(&state, raw).await?;
            let input = match other {
                JobAction::Pause => JobManager::pauseJobCall { jobId: id }.abi_encode(),
                JobAction::Resume => JobManager::resumeJobCall { jobId: id }.abi_encode(),
                _ => JobManager::cancelJobCall { jobId: id }.abi_encode(),
            };
            (input, U256::ZERO)
        }
    };
    check_owner(&state, id, action != JobAction::TopUp).await?;
    let tx = send(&state, TxKind::JobAdmin, job_manager(&state), input, value, deadline()).await?;
    ok(&JobWriteResponse { job_id: id, tx })
}

pub async fn pause_job(State(state): State<ApiState>, Path(id): Path<String>, raw: Body) -> Reply {
    job_action(state, id, JobAction::Pause, raw).await
}

pub async fn resume_job(State(state): State<ApiState>, Path(id): Path<String>, raw: Body) -> Reply {
    job_action(state, id, JobAction::Resume, raw).await
}

pub async fn cancel_job(State(state): State<ApiState>, Path(id): Path<String>, raw: Body) -> Reply {
    job_action(state, id, JobAction::Cancel, raw).await
}

pub async fn top_up_job(State(state): State<ApiState>, Path(id): Path<String>, raw: Body) -> Reply {
    job_action(state, id, JobAction::TopUp, raw).await
}

/// Whether every strategy of the keeper set has `magnitude` allocated (or pending) for `operator`.
async fn allocated(state: &ApiState, operator: Address, magnitude: u64) -> Result<bool, Failure> {
    let deployment = &state.context().config.deployment;
    let allocations = AllocationManager::new(deployment.eigenlayer.allocation_manager, state.context().pool.provider());
    for strategy in &deployment.avs.strategies {
        let allocation = read("reading the allocation", async {
            allocations.getAllocation(operator, keeper_set(deployment), *strategy).call().await
        })
        .await?;
        let effective = i128::from(allocation.currentMagnitude) + allocation.pendingDiff;
        if effective != i128::from(magnitude) {
            return Ok(false);
        }
    }
    Ok(true)
}

async fn is_member(state: &ApiState, operator: Address) -> Result<bool, Failure> {
    let deployment = &state.context().config.deployment;
    let allocations = AllocationManager::new(deployment.eigenlayer.allocation_manager, state.context().pool.provider());
    read("reading the operator set membership", async {
        allocations.isMemberOfOperatorSet(operator, keeper_set(deployment)).call().await
    })
    .await
}

fn skipped(step: OperatorStep, why: &str) -> OperatorStepOutcome {
    OperatorStepOutcome { step, tx: None, skipped: Some(why.to_owned()) }
}

/// One step of operator (de)registration sent as a transaction to an EigenLayer contract.
async fn operator_step(
    state: &ApiState,
    step: OperatorStep,
    to: Address,
    input: Vec<u8>,
    until: tokio::time::Instant,
) -> Result<OperatorStepOutcome, Failure> {
    let tx = send(state, TxKind::OperatorRegistration, to, input, U256::ZERO, until).await?;
    Ok(OperatorStepOutcome { step, tx: Some(tx), skipped: None })
}

/// Refuses to register an operator with no stake in the keeper set's strategies, neither deposited by
/// itself nor delegated to it: it would join with weight 0 and sign for nothing.
async fn require_stake(state: &ApiState, operator: Address) -> Result<(), Failure> {
    let deployment = &state.context().config.deployment;
    let provider = state.context().pool.provider();
    let strategies = deployment.avs.strategies.clone();
    let delegation = DelegationManager::new(deployment.eigenlayer.delegation_manager, &provider);
    let delegated = read("reading the operator's delegated shares", async {
        delegation.getOperatorShares(operator, strategies.clone()).call().await
    })
    .await?;
    if delegated.iter().any(|shares| !shares.is_zero()) {
        return Ok(());
    }
    let deposits = StrategyManager::new(deployment.eigenlayer.strategy_manager, &provider);
    for strategy in &strategies {
        let own = read("reading the operator's deposit shares", async {
            deposits.stakerDepositShares(operator, *strategy).call().await
        })
        .await?;
        if !own.is_zero() {
            return Ok(());
        }
    }
    Err(Failure(ApiError::field(
        ErrorCode::InvalidValue,
        "stake",
        format!(
            "operator {operator} has no stake in the keeper set's strategies ({}): deposit first (keeperctl operator \
             deposit), nothing was sent",
            strategies.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
        ),
    )))
}

/// `POST /v1/operator/register`.
pub async fn register_operator(State(state): State<ApiState>, raw: Body) -> Reply {
    let operator = sender(&state)?.address();
    let request: RegisterOperatorRequest = body(&state, raw).await?;
    let magnitude = request.magnitude.unwrap_or(FULL_MAGNITUDE);
    if magnitude == 0 || magnitude > FULL_MAGNITUDE {
        return Err(Failure(ApiError::field(
            ErrorCode::InvalidValue,
            "magnitude",
            format!("{magnitude} is not in 1..={FULL_MAGNITUDE} (1e18 = all of the stake)"),
        )));
    }
    let key = state.context().operator.as_ref().and_then(|o| o.bls.clone()).ok_or_else(|| {
        Failure(ApiError::field(
            ErrorCode::NoOperatorKey,
            "operator.bls_keystore",
            "registering for the keeper set needs the operator's BLS key (configure [operator] bls_keystore)",
        ))
    })?;
    require_stake(&state, operator).await?;
    let deployment = state.context().config.deployment.clone();
    let until = deadline();
    let mut steps = Vec::new();

    let delegation = DelegationManager::new(deployment.eigenlayer.delegation_manager, state.context().pool.provider());
    let is_operator =
        read("reading the operator's EigenLayer registration", async { delegation.isOperator(operator).call().await })
            .await?;
    if is_operator {
        steps.push(skipped(OperatorStep::RegisterAsOperator, "already an EigenLayer operator"));
    } else {
        let input = register_as_operator_call(request.allocation_delay_blocks, &request.metadata_uri).abi_encode();
        steps.push(
            operator_step(
                &state,
                OperatorStep::RegisterAsOperator,
                deployment.eigenlayer.delegation_manager,
                input,
                until,
            )
            .await?,
        );
    }

    // An operator cannot allocate before its allocation delay is in effect.
    let allocations = AllocationManager::new(deployment.eigenlayer.allocation_manager, state.context().pool.provider());
    let delay =
        read("reading the allocation delay", async { allocations.getAllocationDelay(operator).call().await }).await?;
    if !delay._0 {
        let configuration = read("reading ALLOCATION_CONFIGURATION_DELAY", async {
            allocations.ALLOCATION_CONFIGURATION_DELAY().call().await
        })
        .await?;
        // EigenLayer applies the delay `configuration + 1` blocks after `registerAsOperator`: exactly
        // then if it was sent now, at the latest then from the head if it was sent earlier.
        let registered_at = match steps.first().and_then(|s: &OperatorStepOutcome| s.tx.as_ref()) {
            Some(tx) => tx.block_number,
            None => {
                let head = state.context().pool.run("eth_blockNumber", |p| async move { p.get_block_number().await });
                read("reading the head", head).await?
            }
        };
        let retry_at = registered_at + u64::from(configuration) + 1;
        let why = format!(
            "the operator's allocation delay is not in effect yet (EigenLayer applies it ALLOCATION_CONFIGURATION_DELAY \
             = {configuration} blocks after registering): call again at block {retry_at}"
        );
        steps.push(skipped(OperatorStep::Allocate, &why));
        steps.push(skipped(OperatorStep::RegisterForKeeperSet, &why));
        return ok(&OperatorWriteResponse { operator, complete: false, steps, retry_at_block: Some(retry_at) });
    }

    if allocated(&state, operator, magnitude).await? {
        steps.push(skipped(OperatorStep::Allocate, "the magnitude is already allocated"));
    } else {
        let input = allocate_call(&deployment, operator, magnitude).abi_encode();
        steps.push(
            operator_step(&state, OperatorStep::Allocate, deployment.eigenlayer.allocation_manager, input, until)
                .await?,
        );
    }

    if is_member(&state, operator).await? {
        steps.push(skipped(OperatorStep::RegisterForKeeperSet, "already in the keeper set"));
    } else {
        let input = register_call(&deployment, operator, &key).abi_encode();
        steps.push(
            operator_step(
                &state,
                OperatorStep::RegisterForKeeperSet,
                deployment.eigenlayer.allocation_manager,
                input,
                until,
            )
            .await?,
        );
    }
    ok(&OperatorWriteResponse { operator, complete: true, steps, retry_at_block: None })
}

/// `POST /v1/operator/deregister`: leave the keeper set, then deallocate (the stake stays
/// slashable for the core's deallocation delay).
pub async fn deregister_operator(State(state): State<ApiState>, raw: Body) -> Reply {
    let operator = sender(&state)?.address();
    let _: EmptyRequest = body(&state, raw).await?;
    let deployment = state.context().config.deployment.clone();
    let until = deadline();
    let mut steps = Vec::new();
    if is_member(&state, operator).await? {
        let input = deregister_call(&deployment, operator).abi_encode();
        steps.push(
            operator_step(
                &state,
                OperatorStep::DeregisterFromKeeperSet,
                deployment.eigenlayer.allocation_manager,
                input,
                until,
            )
            .await?,
        );
    } else {
        steps.push(skipped(OperatorStep::DeregisterFromKeeperSet, "not in the keeper set"));
    }
    if allocated(&state, operator, 0).await? {
        steps.push(skipped(OperatorStep::Deallocate, "nothing is allocated"));
    } else {
        let input = allocate_call(&deployment, operator, 0).abi_encode();
        steps.push(
            operator_step(&state, OperatorStep::Deallocate, deployment.eigenlayer.allocation_manager, input, until)
                .await?,
        );
    }
    ok(&OperatorWriteResponse { operator, complete: true, steps, retry_at_block: None })
}

/// `amount` base units as a decimal number of tokens, without trailing zeros (`40`, `0.5`).
fn tokens(amount: U256, decimals: u8) -> String {
    match alloy::primitives::utils::format_units(amount, decimals) {
        Ok(text) if text.contains('.') => text.trim_end_matches('0').trim_end_matches('.').to_owned(),
        Ok(text) => text,
        Err(_) => format!("{amount} base units"),
    }
}

/// `POST /v1/operator/deposit`: approve (unless the allowance suffices), deposit into one of the
/// keeper set's strategies, and refresh the operator's weight if it is in the set already.
pub async fn deposit_operator(State(state): State<ApiState>, raw: Body) -> Reply {
    let operator = sender(&state)?.address();
    let request: DepositRequest = body(&state, raw).await?;
    let deployment = state.context().config.deployment.clone();
    let set = &deployment.avs.strategies;
    let listed = || set.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
    let strategy = match (request.strategy, set.as_slice()) {
        (Some(strategy), _) if set.contains(&strategy) => strategy,
        (Some(strategy), _) => {
            return Err(Failure(ApiError::field(
                ErrorCode::InvalidValue,
                "strategy",
                format!("{strategy} is not a strategy of the keeper set ({})", listed()),
            )))
        }
        (None, [only]) => *only,
        (None, _) => {
            return Err(Failure(ApiError::field(
                ErrorCode::InvalidValue,
                "strategy",
                format!("the keeper set has several strategies: name one ({})", listed()),
            )))
        }
    };
    let provider = state.context().pool.provider();
    let token = read("reading the strategy's token", async {
        CoreView::new(strategy, &provider).underlyingToken().call().await
    })
    .await?;
    let erc20 = StakeToken::new(token, &provider);
    let decimals = read("reading the token's decimals", async { erc20.decimals().call().await }).await?;
    let amount = alloy::primitives::utils::parse_units(request.amount.trim(), decimals)
        .ok()
        .map(alloy::primitives::utils::ParseUnits::get_absolute)
        .filter(|amount| !amount.is_zero())
        .ok_or_else(|| {
            Failure(ApiError::field(
                ErrorCode::InvalidValue,
                "amount",
                format!("`{}` is not a positive amount of tokens ({decimals} decimals)", request.amount),
            ))
        })?;
    let balance =
        read("reading the operator's token balance", async { erc20.balanceOf(operator).call().await }).await?;
    if balance < amount {
        return Err(Failure(ApiError::field(
            ErrorCode::InvalidValue,
            "amount",
            format!(
                "the operator {operator} holds {} of token {token}, less than {}",
                tokens(balance, decimals),
                request.amount
            ),
        )));
    }
    let until = deadline();
    let manager = deployment.eigenlayer.strategy_manager;
    let mut steps = Vec::new();
    let allowance = read("reading the allowance", async { erc20.allowance(operator, manager).call().await }).await?;
    if allowance >= amount {
        steps.push(skipped(OperatorStep::ApproveStake, "the StrategyManager's allowance suffices"));
    } else {
        let input = StakeToken::approveCall { spender: manager, value: amount }.abi_encode();
        steps.push(operator_step(&state, OperatorStep::ApproveStake, token, input, until).await?);
    }
    let input = deposit_call(strategy, token, amount).abi_encode();
    steps.push(operator_step(&state, OperatorStep::Deposit, manager, input, until).await?);
    let registry = BlsKeyRegistry::new(deployment.avs.key_registry, &provider);
    let registered = read("reading the key registry", async { registry.isRegistered(operator).call().await }).await?;
    if registered {
        let input = BlsKeyRegistry::updateWeightsCall { operators: vec![operator] }.abi_encode();
        steps.push(operator_step(&state, OperatorStep::UpdateWeight, deployment.avs.key_registry, input, until).await?);
    } else {
        steps.push(skipped(OperatorStep::UpdateWeight, "not in the keeper set: registration reads the weight"));
    }
    ok(&OperatorWriteResponse { operator, complete: true, steps, retry_at_block: None })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use alloy::sol_types::SolError;

    use super::*;

    #[test]
    fn reverts_are_named_by_their_custom_error() {
        let data = JobManager::InvalidJobStatus { jobId: U256::from(2u64), status: 2 }.abi_encode();
        let (name, detail) = decode_revert(&data);
        assert_eq!(name.as_deref(), Some("InvalidJobStatus"));
        assert!(detail.starts_with("JobManager.InvalidJobStatus"), "{detail}");
        let (name, _) = decode_revert(&alloy::sol_types::Revert::from("nope").abi_encode());
        assert_eq!(name.as_deref(), Some("Error"));
        assert_eq!(decode_revert(&[]).0, None);
        assert_eq!(decode_revert(&[1, 2, 3, 4]).0, None);
    }

    #[test]
    fn token_amounts_read_as_decimals() {
        let ether = U256::from(10u64).pow(U256::from(18u64));
        assert_eq!(tokens(U256::from(40u64) * ether, 18), "40");
        assert_eq!(tokens(ether / U256::from(2u64), 18), "0.5");
        assert_eq!(tokens(U256::from(1_500_000u64), 6), "1.5");
    }

    #[test]
    fn a_deposits_reverts_are_named() {
        let data = StakeToken::ERC20InsufficientAllowance {
            spender: Address::repeat_byte(1),
            allowance: U256::ZERO,
            needed: U256::from(5u64),
        }
        .abi_encode();
        let (name, detail) = decode_revert(&data);
        assert_eq!(name.as_deref(), Some("ERC20InsufficientAllowance"));
        assert!(detail.starts_with("ERC20.ERC20InsufficientAllowance"), "{detail}");
        let data = StrategyManager::StrategyNotWhitelisted {}.abi_encode();
        let (name, detail) = decode_revert(&data);
        assert_eq!(name.as_deref(), Some("StrategyNotWhitelisted"), "{detail}");
    }

    /// Errors of the testnets' newer cores (v1.5+) are named too.
    #[test]
    fn newer_core_reverts_are_named() {
        let data = AllocationManagerSinceV15::SlasherNotSet {}.abi_encode();
        let (name, detail) = decode_revert(&data);
        assert_eq!(name.as_deref(), Some("SlasherNotSet"));
        assert!(detail.starts_with("AllocationManager.SlasherNotSet"), "{detail}");
        let data = StrategyManagerSinceV15::InvalidDepositScalingFactor {}.abi_encode();
        let (name, detail) = decode_revert(&data);
        assert_eq!(name.as_deref(), Some("InvalidDepositScalingFactor"));
        assert!(detail.starts_with("StrategyManager.InvalidDepositScalingFactor"), "{detail}");
    }

    /// A challenge's refusal is named whether the task manager or the core (passed on) refused.
    #[test]
    fn challenge_reverts_are_named() {
        let data = TaskManager::SameResponse { responseHash: alloy::primitives::B256::repeat_byte(7) }.abi_encode();
        let (name, detail) = decode_revert(&data);
        assert_eq!(name.as_deref(), Some("SameResponse"));
        assert!(detail.starts_with("TaskManager.SameResponse"), "{detail}");
    }

    #[test]
    fn every_request_gets_its_own_payload() {
        assert_ne!(unique_payload(b"pause"), unique_payload(b"pause"));
    }
}
