//! The job manager's rules (`crate::job::validate`) as the control API reports them: an
//! [`ApiError`] (`invalid_value`) whose field is the JSON path in the request (`spec.gas_limit`),
//! so keeperd, keeperctl and the console refuse a spec with the same error body.

use alloy::primitives::U256;

use super::error::{ApiError, ErrorCode};
use crate::contracts::JobManager;
use crate::job::{self, InvalidSpec, JobSpec};

pub use crate::job::SpecContext;

/// The API error for a rule broken by the spec at `prefix` in the request (e.g. `spec`).
pub fn invalid_spec(prefix: &str, error: &InvalidSpec) -> ApiError {
    ApiError::field(ErrorCode::InvalidValue, format!("{prefix}.{}", error.field), &error.rule)
}

/// Checks `spec` (found at `prefix` in the request) against the job manager's rules.
pub fn validate_spec(prefix: &str, spec: &JobSpec, context: &SpecContext) -> Result<(), ApiError> {
    job::validate_spec(spec, context).map_err(|error| invalid_spec(prefix, &error))
}

/// Checks an amount of wei that goes into a job's escrow, at `field` in the request.
pub fn validate_funding(field: &'static str, amount: U256, allow_zero: bool) -> Result<(), ApiError> {
    job::validate_funding(field, amount, allow_zero)
        .map_err(|error| ApiError::field(ErrorCode::InvalidValue, error.field, &error.rule))
}

/// The job manager's struct for `spec`, after [`validate_spec`] (which this runs with `context`).
pub fn spec_to_abi(prefix: &str, spec: &JobSpec, context: &SpecContext) -> Result<JobManager::JobSpec, ApiError> {
    validate_spec(prefix, spec, context)?;
    spec.to_job_manager().map_err(|error| ApiError::new(ErrorCode::InvalidValue, format!("{prefix}: {error}")))
}
