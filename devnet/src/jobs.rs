//! Jobs on a devnet, as the walk-through, its script jobs and the integration tests create them:
//! `createJob` from the owner's wallet, then the job's forwarder allowed on its target (every sample
//! target has the same `setForwarder` allow-list), and the chain time their triggers start from.

use alloy::eips::BlockNumberOrTag;
use alloy::primitives::{Address, B256, U256};
use alloy::providers::Provider;
use eyre::eyre;
use keeper_shared::contracts::{JobManager, SampleCounter};
use keeper_shared::job::{decode_job_log, JobEvent, JobSpec};

use keeperd::eigenlayer::onboarding::confirm;

/// One ether, in wei: what the walk-through funds each sample job with.
pub const ONE_ETHER: u128 = 1_000_000_000_000_000_000;

/// A job `createJob` created, as its `JobCreated` log tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedJob {
    pub id: U256,
    /// The job's own sender of its calls.
    pub forwarder: Address,
    /// The spec the log carries (checked against the hash it carries too).
    pub spec: JobSpec,
    pub spec_hash: B256,
}

/// Creates a job from `spec` funded with `deposit` wei from the provider's wallet.
pub async fn create_job<P: Provider>(
    provider: &P,
    job_manager: Address,
    spec: &JobSpec,
    deposit: U256,
) -> eyre::Result<CreatedJob> {
    let manager = JobManager::new(job_manager, provider);
    let receipt =
        confirm("creating a job", manager.createJob(spec.to_job_manager()?).value(deposit).send().await).await?;
    for log in receipt.inner.logs().iter().filter(|log| log.address() == job_manager) {
        if let Some(JobEvent::Created { job_id, forwarder, spec_hash, spec, .. }) = decode_job_log(log)? {
            return Ok(CreatedJob { id: job_id, forwarder, spec, spec_hash });
        }
    }
    Err(eyre!("createJob emitted no JobCreated"))
}

/// Allows `forwarder` to call `target`, a sample contract (they share `SampleCounter`'s allow-list).
pub async fn allow_forwarder<P: Provider>(provider: &P, target: Address, forwarder: Address) -> eyre::Result<()> {
    let sample = SampleCounter::new(target, provider);
    confirm("allowing the job's forwarder", sample.setForwarder(forwarder, true).send().await).await?;
    Ok(())
}

/// [`create_job`], then its forwarder allowed on the spec's target.
pub async fn create_allowed_job<P: Provider>(
    provider: &P,
    job_manager: Address,
    spec: &JobSpec,
    deposit: U256,
) -> eyre::Result<CreatedJob> {
    let job = create_job(provider, job_manager, spec, deposit).await?;
    allow_forwarder(provider, spec.action.target(), job.forwarder).await?;
    Ok(job)
}

/// The latest block's number and time (jobs start from the chain's time, not the wall clock's).
pub async fn head<P: Provider>(provider: &P) -> eyre::Result<(u64, u64)> {
    let block = provider
        .get_block_by_number(BlockNumberOrTag::Latest)
        .await?
        .ok_or_else(|| eyre!("the node has no latest block"))?;
    Ok((block.header.number, block.header.timestamp))
}
