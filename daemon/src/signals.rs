//! SIGINT (Ctrl-C) and SIGTERM as one awaitable shutdown request: `keeperd run` stops its roles on
//! either, and the devnet harness stops its children before exiting.

use eyre::WrapErr;

/// Both handlers, installed together.
pub struct ShutdownSignals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl ShutdownSignals {
    /// Installs the handlers: from now on either signal is delivered here instead of ending the process.
    pub fn install() -> eyre::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Self {
            interrupt: signal(SignalKind::interrupt()).wrap_err("installing the SIGINT handler")?,
            terminate: signal(SignalKind::terminate()).wrap_err("installing the SIGTERM handler")?,
        })
    }

    /// Waits for the next SIGINT or SIGTERM.
    pub async fn recv(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}
