//! `keeperctl job ...`: each command written once, over a [`JobBackend`]: keeperd's control API
//! ([`daemon::Daemon`], the default) or the chain itself ([`chain::Chain`], with `--rpc-url`). Both
//! answer in the API's types, so validation, paging and the printed output are the same either way.

mod chain;
mod daemon;
mod print;

use std::io::Write;

use alloy::primitives::U256;
use keeper_shared::api::job_spec::SpecContext;
use keeper_shared::api::{CreateJobResponse, JobAction, JobList, JobView, JobWriteResponse, JobsQuery};
use keeper_shared::job::JobSpec;

use crate::cli::JobCommand;
use crate::commands::{amount, job_id, Context};
use crate::exit::{CliError, CliResult};
use crate::jobspec::{self, Defaults};

/// What a job command asks of where jobs live.
pub(crate) trait JobBackend {
    /// What the spec flags and the local validation know of the world: the time and block for
    /// defaults, and (with a chain at hand) the rules that need the chain's time and addresses.
    async fn spec_context(&self) -> CliResult<(Defaults, SpecContext)>;
    /// Creates a job with `spec` (already validated), funded with `funding` wei.
    async fn create(&self, spec: &JobSpec, funding: U256) -> CliResult<CreateJobResponse>;
    /// Replaces job `id`'s spec (already validated).
    async fn update(&self, id: U256, spec: &JobSpec) -> CliResult<JobWriteResponse>;
    /// Pauses, resumes, cancels or tops up job `id`.
    async fn act(&self, id: U256, write: JobWrite) -> CliResult<JobWriteResponse>;
    /// One job; a job that does not exist is a refusal (`job_not_found`).
    async fn job(&self, id: U256) -> CliResult<JobView>;
    /// One page of jobs in id order (`next`: the `after` of the following page).
    async fn jobs(&self, query: &JobsQuery) -> CliResult<JobList>;
}

/// The job writes that take no spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JobWrite {
    Pause,
    Resume,
    Cancel,
    TopUp { amount: U256 },
}

impl JobWrite {
    fn action(self) -> JobAction {
        match self {
            Self::Pause => JobAction::Pause,
            Self::Resume => JobAction::Resume,
            Self::Cancel => JobAction::Cancel,
            Self::TopUp { .. } => JobAction::TopUp,
        }
    }

    /// What the write did, for the confirmation line (`job 3 paused: ...`).
    fn done(self) -> &'static str {
        match self {
            Self::Pause => "paused",
            Self::Resume => "resumed",
            Self::Cancel => "cancelled",
            Self::TopUp { .. } => "topped up",
        }
    }
}

/// Runs a job command against the chain when it names an RPC endpoint (`--rpc-url`), else
/// against the daemon.
pub async fn run(context: &Context, command: JobCommand) -> CliResult {
    match chain::Chain::from_command(&command) {
        Some(chain) => run_on(context, &chain, command).await,
        None => run_on(context, &daemon::Daemon::new(context), command).await,
    }
}

async fn run_on(context: &Context, backend: &impl JobBackend, command: JobCommand) -> CliResult {
    let json = context.json;
    match command {
        JobCommand::Create(args) => {
            // Checks that need nothing from the backend first: a typo should not wait for a connection.
            let funding = amount("--fund", &args.fund, true)?;
            let (defaults, spec_context) = backend.spec_context().await?;
            let spec = jobspec::spec_from_args(&args.spec, defaults, &spec_context).map_err(CliError::invalid)?;
            if let Some(path) = &args.spec.script {
                dry_run(json, &args, path, &spec).await?;
            }
            print::created(json, &backend.create(&spec, funding).await?)
        }
        JobCommand::Update(args) => {
            let id = job_id(&args.id)?;
            let (defaults, spec_context) = backend.spec_context().await?;
            let spec = jobspec::spec_from_args(&args.spec, defaults, &spec_context).map_err(CliError::invalid)?;
            print::job_write(json, "updated", &backend.update(id, &spec).await?)
        }
        JobCommand::Pause(args) => act(json, backend, job_id(&args.id)?, JobWrite::Pause).await,
        JobCommand::Resume(args) => act(json, backend, job_id(&args.id)?, JobWrite::Resume).await,
        JobCommand::Cancel(args) => act(json, backend, job_id(&args.id)?, JobWrite::Cancel).await,
        JobCommand::TopUp(args) => {
            let id = job_id(&args.id)?;
            let amount = amount("amount_wei", &args.amount, false)?;
            act(json, backend, id, JobWrite::TopUp { amount }).await
        }
        JobCommand::Show(args) => {
            let id = job_id(&args.id)?;
            print::job(json, &backend.job(id).await?)
        }
        JobCommand::List(args) => {
            let mut query = JobsQuery {
                status: args.status,
                after: args.after.as_deref().map(job_id).transpose()?,
                limit: args.limit,
            };
            let mut list = backend.jobs(&query).await?;
            while args.all && list.next.is_some() {
                query.after = list.next;
                let page = backend.jobs(&query).await?;
                list.jobs.extend(page.jobs);
                list.next = page.next;
            }
            print::jobs(json, &list, args.all)
        }
    }
}

/// Runs a script job's module once at the latest block before the job is registered, and prints the
/// result on stderr (stdout keeps the command's own output); a module that fails stops the command.
async fn dry_run(json: bool, args: &crate::cli::CreateArgs, path: &std::path::Path, spec: &JobSpec) -> CliResult {
    use keeper_shared::job::Action;
    let Action::Script { args: script_args, .. } = &spec.action else { return Ok(()) };
    if args.no_dry_run {
        return Ok(());
    }
    let Some(rpc_url) = args.dry_run_rpc.as_ref().or(args.chain.rpc_url.as_ref()) else {
        return Err(CliError::usage(
            "--script: the dry run needs a chain: --dry-run-rpc URL (or --rpc-url), or skip it with --no-dry-run",
        ));
    };
    let module = crate::script::LocalModule::load("--script", path, keeper_script::JobKind::of_trigger(&spec.trigger))?;
    let summary = module.run_at(rpc_url, None, U256::ZERO, script_args.clone()).await?;
    if !json {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "dry run of {} ({} bytes) at the latest block:", path.display(), module.size);
        let _ = summary.print(&mut err);
    }
    Ok(())
}

async fn act(json: bool, backend: &impl JobBackend, id: U256, write: JobWrite) -> CliResult {
    print::job_write(json, write.done(), &backend.act(id, write).await?)
}
