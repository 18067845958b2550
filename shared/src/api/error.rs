//! The error body of keeperd's two HTTP APIs, the control API (this module's parent) and the
//! aggregator's endpoint keepers talk to (`keeperd::protocol`): a stable machine-readable `code`, a
//! human `message` that starts with the field at fault when there is one, and that field. One type
//! for both, so a code means the same and answers with the same status on either server, and the
//! serve loop's own answers (a bad request line, a timeout) parse as either's error.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Machine-readable error codes. Stable: scripts, keeperctl and keepers match on them
/// (docs/api.md lists the control API's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// A query parameter this endpoint does not take, or a query string that does not parse.
    InvalidQuery,
    /// A value out of its domain (a limit of 0, an unknown state, a job id that is not a number, an
    /// empty list, a duplicate).
    InvalidValue,
    /// A pagination cursor this server did not issue.
    InvalidCursor,
    /// The body is not JSON of the expected shape (a missing or unknown field, a wrong type).
    BadJson,
    BodyTooLarge,
    /// No such route.
    NotFound,
    /// A request that is not valid HTTP/1.1 (request line, method, version, a header).
    BadRequest,
    /// Request headers above the server's buffer.
    HeadersTooLarge,
    UriTooLong,
    JobNotFound,
    TaskNotFound,
    MethodNotAllowed,
    /// The connecting process runs as another user than the daemon.
    PeerForbidden,
    /// A job write for a job the daemon's operator does not own.
    NotJobOwner,
    /// A write, but the daemon has no operator key to send it with.
    NoOperatorKey,
    /// The contract refused the transaction (in simulation or on chain): `revert` names its
    /// custom error.
    Reverted,
    /// The transaction could not be sent or followed (the RPC endpoints failed; details in the message).
    TxFailed,
    /// Sent, but not mined within the write's wait: `message` has the hash; it may still be mined.
    TxPending,
    /// Aggregator: a value that is not `0x`-prefixed hex.
    InvalidHex,
    /// Aggregator: hex of the wrong number of bytes.
    InvalidLength,
    /// Aggregator: bytes of the right length that are not a valid curve point in the prime-order
    /// subgroup.
    InvalidPoint,
    /// Aggregator: no open proposal has this digest.
    UnknownDigest,
    /// Aggregator: the proposal is closed (it will take no more signatures).
    ProposalClosed,
    /// Aggregator: the operator is not in the operator set at the proposal's reference block.
    UnknownOperator,
    /// Aggregator: the signature does not verify against the operator's key.
    InvalidSignature,
    /// Aggregator: the operator already signed this proposal with another signature.
    ConflictingSignature,
    /// Aggregator: the operator sent invalid signatures recently and used up its allowance: retry
    /// later.
    RateLimited,
    /// Aggregator: a disputed leaf names a task the proposal does not have.
    UnknownTask,
    Timeout,
    /// The server cannot answer yet or any more (shutting down, its scheduler not running, all
    /// connections in use).
    Unavailable,
    Internal,
    /// A code this build does not know (sent by a newer server).
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// The HTTP status the server answers with.
    pub fn http_status(self) -> u16 {
        match self {
            Self::InvalidQuery
            | Self::InvalidValue
            | Self::InvalidCursor
            | Self::BadJson
            | Self::InvalidHex
            | Self::InvalidLength
            | Self::InvalidPoint => 400,
            Self::PeerForbidden | Self::NotJobOwner | Self::UnknownOperator => 403,
            Self::NoOperatorKey | Self::Reverted | Self::ConflictingSignature => 409,
            Self::ProposalClosed => 410,
            Self::InvalidSignature | Self::UnknownTask => 422,
            Self::RateLimited => 429,
            Self::TxFailed => 502,
            Self::TxPending => 504,
            Self::NotFound | Self::JobNotFound | Self::TaskNotFound | Self::UnknownDigest => 404,
            Self::MethodNotAllowed => 405,
            Self::BadRequest => 400,
            Self::HeadersTooLarge => 431,
            Self::UriTooLong => 414,
            Self::Timeout => 408,
            Self::BodyTooLarge => 413,
            Self::Unavailable => 503,
            Self::Internal | Self::Unknown => 500,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidQuery => "invalid_query",
            Self::InvalidValue => "invalid_value",
            Self::InvalidCursor => "invalid_cursor",
            Self::BadJson => "bad_json",
            Self::BodyTooLarge => "body_too_large",
            Self::NotFound => "not_found",
            Self::JobNotFound => "job_not_found",
            Self::TaskNotFound => "task_not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::BadRequest => "bad_request",
            Self::HeadersTooLarge => "headers_too_large",
            Self::UriTooLong => "uri_too_long",
            Self::PeerForbidden => "peer_forbidden",
            Self::NotJobOwner => "not_job_owner",
            Self::NoOperatorKey => "no_operator_key",
            Self::Reverted => "reverted",
            Self::TxFailed => "tx_failed",
            Self::TxPending => "tx_pending",
            Self::InvalidHex => "invalid_hex",
            Self::InvalidLength => "invalid_length",
            Self::InvalidPoint => "invalid_point",
            Self::UnknownDigest => "unknown_digest",
            Self::ProposalClosed => "proposal_closed",
            Self::UnknownOperator => "unknown_operator",
            Self::InvalidSignature => "invalid_signature",
            Self::ConflictingSignature => "conflicting_signature",
            Self::RateLimited => "rate_limited",
            Self::UnknownTask => "unknown_task",
            Self::Timeout => "timeout",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
            Self::Unknown => "unknown",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For `reverted`: the contract's custom error, e.g. `InvalidJobStatus` (`null` if the revert
    /// carried none this build knows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revert: Option<String>,
    /// For transaction errors after sending (`reverted` on chain, `tx_pending`): the transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx_hash: Option<alloy::primitives::B256>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), field: None, revert: None, tx_hash: None }
    }

    /// An error about one field; the message starts with the field's name.
    pub fn field(code: ErrorCode, field: impl Into<String>, reason: impl fmt::Display) -> Self {
        let field = field.into();
        Self { code, message: format!("{field}: {reason}"), field: Some(field), revert: None, tx_hash: None }
    }
}
