//! keeperd's control API: HTTP/1.1 + JSON on a Unix socket, for keeperctl and scripts. The types
//! and paths are `keeper_shared::api`'s; the reference is `docs/api.md`.
//!
//! The socket is 0600 in a private directory ([`ControlSocket`]); on top of that, every request's
//! peer uid (`SO_PEERCRED`) must be the daemon's ([`authorize`]). The serve loop is the daemon's
//! ([`crate::http`]: connection cap answered `503`, header-read and request timeouts, JSON bodies for hyper's own
//! errors, graceful shutdown); bodies are capped, and event streams have their own cap.

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
/// Names a revert by its custom error (ours, the core's of every supported version); the challenger
/// uses it for proofs the chain refuses.
pub(crate) use writes::decode_revert;

use crate::context::NodeContext;
use crate::http::{serve as serve_http, HttpLimits};
use crate::store::SharedStore;

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
///
/// The API runs on its own thread and runtime, apart from the pipeline's: however many clients
/// connect and whatever they send, the scheduler, keeper and aggregator keep their workers (a
/// flood of requests once cost tasks when both shared one runtime). It reads the store through its
/// own read-only connection, one read at a time ([`routes::ApiState`]): in WAL mode the pipeline's
/// writes never wait for it (a flood once cost tasks when both shared one connection).
pub async fn serve(
    socket: ControlSocket,
    context: NodeContext,
    shutdown: CancellationToken,
) -> Result<(), SocketError> {
    let path = socket.path().to_path_buf();
    let thread_error = |step, source| SocketError::Io { path: path.clone(), step, source };
    let (done, finished) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("keeperd-api".into())
        .spawn(move || {
            let result = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .max_blocking_threads(BLOCKING_THREADS)
                .thread_name("keeperd-api-blocking")
                .build()
                .map_err(|source| SocketError::Io {
                    path: socket.path().to_path_buf(),
                    step: "starting the API's runtime",
                    source,
                })
                .and_then(|runtime| runtime.block_on(serve_here(socket, context, shutdown)));
            let _ = done.send(result);
        })
        .map_err(|source| thread_error("starting the API's thread", source))?;
    finished.await.unwrap_or_else(|_| Err(thread_error("serving", std::io::Error::other("the API's thread panicked"))))
}

/// Threads the API's runtime may use for store reads (they go one at a time) and other blocking work.
const BLOCKING_THREADS: usize = 4;

async fn serve_here(
    mut socket: ControlSocket,
    context: NodeContext,
    shutdown: CancellationToken,
) -> Result<(), SocketError> {
    let listener = socket.listener()?;
    let hub = EventHub::new();
    let reader = reader(&context);
    // Aborted once the serve loop returns; the API's runtime, and every task on it, ends with its thread.
    let feeder = tokio::spawn(hub.clone().run(context.clone(), reader.clone(), shutdown.clone()));
    let limits = limits();
    let state = routes::ApiState::new(context, reader, hub, socket.uid(), shutdown.clone());
    let router = routes::router(state, &limits);
    tracing::info!(socket = %socket.path().display(), "control API listening");
    serve_http(listener, router, limits, shutdown).await;
    feeder.abort();
    drop(socket);
    Ok(())
}

/// The API's own read-only connection to the store, so that its reads (however many clients ask)
/// never hold the connection the pipeline writes through; the pipeline's own connection for an
/// in-memory store, or if the file cannot be opened a second time (with a warning).
fn reader(context: &NodeContext) -> SharedStore {
    match context.store.with_blocking(|store| store.open_reader()) {
        Some(Ok(reader)) => SharedStore::new(reader),
        Some(Err(error)) => {
            tracing::warn!(%error, "control API: no reader connection to the store, sharing the pipeline's");
            context.store.clone()
        }
        None => context.store.clone(),
    }
}

/// Event streams open at once: fewer than the connections, so reads always find a slot. One more
/// is refused `503 unavailable` at once.
pub const MAX_EVENT_STREAMS: usize = 32;
