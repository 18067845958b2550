//! keeperd's control API: HTTP/1.1 + JSON on a Unix socket, for keeperctl and scripts. The types
//! and paths are `keeper_shared::api`'s; the reference is `docs/api.md`.
//!
//! The socket is 0600 in a private directory ([`ControlSocket`]); on top of that, every request's
//! peer uid (`SO_PEERCRED`) must be the daemon's ([`authorize`]). The serve loop is the aggregator's
//! (connection cap, header-read and request timeouts, graceful shutdown); bodies are capped.

mod convert;
mod events;
mod operators;
mod routes;
mod socket;
mod writes;

use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub use events::EventHub;
pub use socket::{authorize, ControlSocket, Peer, SocketError};

use crate::aggregator::server::{serve as serve_http, HttpLimits};
use crate::node::NodeContext;

/// The control API's limits: small requests, quick answers, a handful of local clients.
pub fn limits() -> HttpLimits {
    HttpLimits {
        max_body_bytes: 64 * 1024,
        request_timeout: Duration::from_secs(10),
        header_read_timeout: Duration::from_secs(5),
        max_connections: 64,
        shutdown_grace: Duration::from_secs(2),
    }
}

/// Serves the control API on `socket` until `shutdown`; the socket file is removed on return.
pub async fn serve(
    mut socket: ControlSocket,
    context: NodeContext,
    shutdown: CancellationToken,
) -> Result<(), SocketError> {
    let listener = socket.listener()?;
    let hub = EventHub::new();
    let feeder = tokio::spawn(hub.clone().run(context.clone(), shutdown.clone()));
    let limits = limits();
    let router = routes::router(routes::ApiState::new(context, hub, socket.uid(), shutdown.clone()), &limits);
    tracing::info!(socket = %socket.path().display(), "control API listening");
    serve_http(listener, router, limits, shutdown).await;
    feeder.abort();
    drop(socket);
    Ok(())
}
