//! Starts the keeper, aggregator and challenger roles a configuration enables (the scheduler is
//! started by the node, since every role reads its view).

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::context::NodeContext;

/// A running role: its name and how it ended.
pub type RoleOutcome = (&'static str, eyre::Result<()>);

/// Spawns each enabled role on `roles`, each with a child of `shutdown`.
pub fn spawn(context: &NodeContext, roles: &mut JoinSet<RoleOutcome>, shutdown: &CancellationToken) {
    let enabled = context.config.roles;
    if enabled.aggregator {
        let (context, shutdown) = (context.clone(), shutdown.child_token());
        roles.spawn(async move {
            ("aggregator", crate::aggregator::role::run(context, shutdown).await.map_err(eyre::Report::new))
        });
    }
    if enabled.keeper {
        let (context, shutdown) = (context.clone(), shutdown.child_token());
        roles.spawn(
            async move { ("keeper", crate::keeper::role::run(context, shutdown).await.map_err(eyre::Report::new)) },
        );
    }
    if enabled.challenger {
        let (context, shutdown) = (context.clone(), shutdown.child_token());
        roles.spawn(async move {
            ("challenger", crate::challenger::run(context, shutdown).await.map_err(eyre::Report::new))
        });
    }
}
