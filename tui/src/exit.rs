//! How keeperctl fails: every error carries one of a few exit codes, so scripts can tell a mistake
//! in the command from a daemon that is not there from a request the daemon or chain refused.

use std::process::ExitCode;

use keeper_shared::api::{ApiError, ErrorCode};
use keeperctl::client::ClientError;
use serde::Serialize;

/// The exit codes, documented in `keeperctl --help`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Exit {
    /// 1: anything else (a file that cannot be read, a keystore with the wrong password).
    Failure,
    /// 2: the command line or the job spec is wrong (clap's own usage errors exit 2 too).
    Usage,
    /// 3: the daemon (or, without one, the RPC endpoint) cannot be reached or did not answer.
    Unreachable,
    /// 4: the daemon or the chain refused the request (unknown job, not the owner, a revert).
    Rejected,
    /// 5: done as far as it can go now; the same command must run again later (an operator
    /// registration waiting on EigenLayer's allocation delay).
    Incomplete,
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Self::Failure => 1,
            Self::Usage => 2,
            Self::Unreachable => 3,
            Self::Rejected => 4,
            Self::Incomplete => 5,
        }
    }
}

/// A failed command: its exit code, the report for humans and, when the daemon or the local
/// validation produced one, the structured API error for `--json`.
#[derive(Debug)]
pub struct CliError {
    pub exit: Exit,
    pub report: eyre::Report,
    pub api: Option<Box<ApiError>>,
}

impl CliError {
    pub fn new(exit: Exit, report: impl Into<eyre::Report>) -> Self {
        Self { exit, report: report.into(), api: None }
    }

    pub fn usage(message: impl std::fmt::Display) -> Self {
        Self::new(Exit::Usage, eyre::eyre!("{message}"))
    }

    /// A spec or argument refused by local validation: a usage error carrying the API's field.
    pub fn invalid(error: ApiError) -> Self {
        Self { exit: Exit::Usage, report: eyre::eyre!("{}", error.message), api: Some(Box::new(error)) }
    }

    /// A refusal, as `context: message`; a message that already starts with the context (the
    /// direct-mode calls name themselves, `pauseJob: ...`) is not prefixed twice.
    pub fn rejected(error: ApiError, context: impl std::fmt::Display) -> Self {
        let context = context.to_string();
        let report = if error.message.starts_with(&format!("{context}: ")) {
            eyre::eyre!("{}", error.message)
        } else {
            eyre::eyre!("{context}: {}", error.message)
        };
        Self { exit: Exit::Rejected, report, api: Some(Box::new(error)) }
    }

    pub fn unreachable(message: impl std::fmt::Display) -> Self {
        Self::new(Exit::Unreachable, eyre::eyre!("{message}"))
    }

    /// Prints the error on stderr (one line, or one JSON object with `--json`) and gives the exit code.
    pub fn report(self, json: bool) -> ExitCode {
        if json {
            #[derive(Serialize)]
            struct Body<'a> {
                error: String,
                exit: Exit,
                exit_code: u8,
                #[serde(skip_serializing_if = "Option::is_none")]
                api: Option<&'a ApiError>,
            }
            let body = Body {
                error: format!("{:#}", self.report),
                exit: self.exit,
                exit_code: self.exit.code(),
                api: self.api.as_deref(),
            };
            match serde_json::to_string(&body) {
                Ok(text) => eprintln!("{text}"),
                Err(_) => eprintln!("error: {:#}", self.report),
            }
        } else {
            // The cause chain on one line: "writing --out k.json: keystore file k.json already exists; ..."
            eprintln!("error: {:#}", self.report);
        }
        ExitCode::from(self.exit.code())
    }
}

impl From<eyre::Report> for CliError {
    fn from(report: eyre::Report) -> Self {
        Self::new(Exit::Failure, report)
    }
}

impl From<ClientError> for CliError {
    fn from(error: ClientError) -> Self {
        let exit = match &error {
            ClientError::Unreachable { .. } | ClientError::Timeout { .. } => Exit::Unreachable,
            ClientError::Api { error, .. } => match error.code {
                // The daemon is there but cannot serve: as good as unreachable for a script.
                ErrorCode::Timeout | ErrorCode::Unavailable => Exit::Unreachable,
                // Its own failures, and a transaction whose fate is unknown: not a refusal.
                ErrorCode::Internal | ErrorCode::TxFailed | ErrorCode::TxPending | ErrorCode::Unknown => Exit::Failure,
                _ => Exit::Rejected,
            },
            ClientError::Protocol { .. } => Exit::Failure,
        };
        let api = error.api_error().cloned().map(Box::new);
        Self { exit, report: eyre::Report::new(error), api }
    }
}

pub type CliResult<T = ()> = Result<T, CliError>;

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use keeper_shared::api::{ApiError, ErrorCode};

    use super::CliError;

    #[test]
    fn a_refusal_names_its_context_once() {
        let named = ApiError::new(ErrorCode::Reverted, "pauseJob: the job manager refused: InvalidJobStatus");
        let error = CliError::rejected(named, "pauseJob");
        assert_eq!(format!("{}", error.report), "pauseJob: the job manager refused: InvalidJobStatus");
        let bare = ApiError::new(ErrorCode::JobNotFound, "id: job 9 is not known");
        let error = CliError::rejected(bare, "POST /v1/jobs/9/pause");
        assert_eq!(format!("{}", error.report), "POST /v1/jobs/9/pause: id: job 9 is not known");
    }
}
