//! The job commands' daemon backend: keeperd's control API. The daemon sends the transactions with
//! its operator's key and checks the chain-time rules itself; keeperctl checks the rest first.

use alloy::primitives::U256;
use keeper_shared::api::job_spec::SpecContext;
use keeper_shared::api::{
    self, CreateJobRequest, CreateJobResponse, EmptyRequest, JobList, JobView, JobWriteResponse, JobsQuery,
    TopUpRequest, UpdateJobRequest,
};
use keeper_shared::job::JobSpec;

use super::{JobBackend, JobWrite};
use crate::commands::Context;
use crate::exit::CliResult;
use crate::jobspec::Defaults;

/// keeperd at the context's socket.
pub struct Daemon<'a> {
    context: &'a Context,
}

impl<'a> Daemon<'a> {
    pub fn new(context: &'a Context) -> Self {
        Self { context }
    }
}

impl JobBackend for Daemon<'_> {
    async fn spec_context(&self) -> CliResult<(Defaults, SpecContext)> {
        Ok((Defaults::local(), SpecContext::default()))
    }

    async fn create(&self, spec: &JobSpec, funding_wei: U256) -> CliResult<CreateJobResponse> {
        let request = CreateJobRequest { spec: spec.clone(), funding_wei };
        Ok(self.context.write_client()?.post(api::JOBS_PATH, &request).await?)
    }

    async fn update(&self, id: U256, spec: &JobSpec) -> CliResult<JobWriteResponse> {
        let request = UpdateJobRequest { spec: spec.clone() };
        Ok(self.context.write_client()?.put(&api::job_path(id), &request).await?)
    }

    async fn act(&self, id: U256, write: JobWrite) -> CliResult<JobWriteResponse> {
        let path = api::job_action_path(id, write.action());
        let client = self.context.write_client()?;
        Ok(match write {
            JobWrite::TopUp { amount } => client.post(&path, &TopUpRequest { amount_wei: amount }).await?,
            JobWrite::Pause | JobWrite::Resume | JobWrite::Cancel => client.post(&path, &EmptyRequest {}).await?,
        })
    }

    async fn job(&self, id: U256) -> CliResult<JobView> {
        Ok(self.context.client()?.job(id).await?)
    }

    async fn jobs(&self, query: &JobsQuery) -> CliResult<JobList> {
        Ok(self.context.client()?.jobs(query).await?)
    }
}
