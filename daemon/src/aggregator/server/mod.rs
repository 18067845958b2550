//! The aggregator's endpoint: the [`Collector`] (open proposals, their signatures, quorums and
//! disputes; the API the rest of the aggregator drives) and its HTTP routes, served by
//! [`crate::http::serve`].
//!
//! ```text
//! let collector = Collector::new(store, CollectorConfig::default())?;
//! collector.publish(batch, operator_set).await?;            // keepers can now fetch and sign it
//! let router = server::router(collector.clone(), &limits);
//! tokio::spawn(http::serve(tcp_listener, router, limits, shutdown.clone()));
//! // on CollectorEvent::QuorumReached { digest }: wait a little for more signers, then
//! let certificate = collector.certificate(digest)?;          // submit it, then
//! collector.close(digest);
//! ```

mod collector;
mod routes;
mod verifier;

pub use collector::{ClosedProposal, Collector, CollectorConfig, CollectorError, CollectorEvent, Published};
pub use routes::router;
pub use verifier::{OffenderPolicy, Verdict};
