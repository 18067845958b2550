//! Chain access: an RPC pool with failover and health ([`rpc`]), a head follower that emits
//! confirmed blocks and reorgs ([`follower`]), and a transaction sender per signer with a nonce
//! manager, fee bumping and crash recovery through the store ([`sender`]).
//!
//! Shutdown: every long-running task here takes a `tokio_util::sync::CancellationToken`, the one
//! shutdown signal of the whole daemon (a child token per task, cancelled from the signal handler).

pub mod follower;
pub mod logs;
pub mod rpc;
pub mod sender;

pub use follower::{BlockFollower, BlockRef, FollowerConfig, FollowerError, FollowerEvent, Reorg, StartFrom};
pub use logs::{logs_in_ranges, LogsError, LOG_RANGE};
pub use rpc::{
    classify_payload, classify_transport, redact_url, CallError, EndpointHealth, EndpointState, ErrorClass,
    PoolConfigError, PoolTransport, RpcError, RpcPool, RpcPoolConfig,
};
pub use sender::{bumped_fee, MinedTx, SenderConfig, SenderError, TrackedTx, TxRequest, TxSender};
