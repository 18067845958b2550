//! One keeperd instance: checks the chain against the deployment, opens the store, builds the
//! [`NodeContext`] the roles share, starts the configured roles, and stops them all on shutdown.

use std::sync::Arc;
use std::time::Duration;

use alloy::providers::Provider;
use eyre::{eyre, WrapErr};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::chain::{RpcPool, RpcPoolConfig, SenderConfig, TxSender};
use crate::config::Config;
use crate::context::{NodeContext, Operator};
use crate::scheduler::Scheduler;
use crate::store::{SharedStore, Store};

/// How long roles get to finish after shutdown is signalled.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Runs the configured roles until `shutdown` is cancelled or a role fails for good.
pub async fn run(config: Config, operator: Option<Operator>, shutdown: CancellationToken) -> eyre::Result<()> {
    let config = Arc::new(config);
    create_private_dir(&config.data_dir)?;
    let store = Store::open(config.database_path()).wrap_err("opening the database")?;
    let store = SharedStore::new(store);
    // Bound before anything slow, so a second daemon on the same socket fails at once.
    let api_socket = crate::api::ControlSocket::bind(&config.api_socket)?;
    let metrics = Arc::new(crate::metrics::Metrics::new()?);
    metrics.set_roles(&config.roles);
    let store = store.counting_errors(metrics.database_errors.clone());
    let metrics_listener = crate::metrics::bind(&config.metrics).await?;

    let mut pool_config = RpcPoolConfig::new(config.chain.rpc_urls.clone());
    pool_config.request_timeout = config.chain.request_timeout;
    pool_config.expected_chain_id = Some(config.deployment.chain_id);
    pool_config.metrics = Some(Arc::clone(&metrics));
    let pool = RpcPool::new(pool_config)?;
    let chain_id = pool.provider().get_chain_id().await.wrap_err("reading the chain id")?;
    if chain_id != config.deployment.chain_id {
        return Err(eyre!(
            "chain.rpc_urls: the endpoint serves chain {chain_id}, but the deployment file is for chain {}",
            config.deployment.chain_id
        ));
    }

    let (scheduler, schedule) = Scheduler::new(
        pool.clone(),
        store.clone(),
        &config.deployment,
        config.chain.confirmations,
        config.chain.poll_interval,
    );
    let scheduler = scheduler.with_metrics(Arc::clone(&metrics));
    let sender = match &operator {
        Some(operator) => Some(Arc::new(
            TxSender::new(pool.clone(), store.clone(), operator.signer.clone(), SenderConfig::default())
                .await
                .wrap_err("starting the transaction sender")?,
        )),
        None => None,
    };
    let scripts = Arc::new(keeper_script::ScriptRunner::new(&config.script).wrap_err("setting up script jobs")?);
    let p2p = if config.p2p.transport.uses_p2p() {
        let signer = operator.as_ref().map(|o| o.signer.clone()).ok_or(crate::p2p::P2pError::NoOperator)?;
        let (hub, task) =
            crate::p2p::P2pHub::start(&config, signer, pool.clone(), schedule.clone(), metrics.registry()).await?;
        Some((hub, task))
    } else {
        None
    };
    let (p2p, p2p_task) = match p2p {
        Some((hub, task)) => (Some(hub), Some(task)),
        None => (None, None),
    };
    let context = NodeContext {
        config: Arc::clone(&config),
        pool: pool.clone(),
        store,
        operator,
        sender,
        schedule,
        metrics,
        scripts,
        p2p,
    };
    tracing::info!(
        roles = ?config.roles.names(),
        operator = ?context.operator.as_ref().map(|o| o.address),
        data_dir = %config.data_dir.display(),
        "keeperd starting"
    );

    let mut roles: JoinSet<(&'static str, eyre::Result<()>)> = JoinSet::new();
    let prober = pool.prober(shutdown.child_token());
    roles.spawn(async move {
        prober.await;
        ("rpc prober", Ok(()))
    });
    if let Some(task) = p2p_task {
        let shutdown = shutdown.child_token();
        roles.spawn(async move { ("p2p", task.run(shutdown).await.map_err(eyre::Report::new)) });
    }
    if config.roles.scheduler {
        let shutdown = shutdown.child_token();
        roles.spawn(async move { ("scheduler", scheduler.run(shutdown).await.map_err(|e| eyre!(e))) });
    }
    crate::roles::spawn(&context, &mut roles, &shutdown);
    if let Some(listener) = metrics_listener {
        let (context, shutdown) = (context.clone(), shutdown.child_token());
        roles.spawn(async move {
            ("metrics", crate::metrics::serve(listener, context, shutdown).await.map_err(eyre::Report::new))
        });
    }
    roles.spawn({
        let (context, shutdown) = (context.clone(), shutdown.child_token());
        async move { ("control API", crate::api::serve(api_socket, context, shutdown).await.map_err(eyre::Report::new)) }
    });

    // The first role to stop for good stops the others: a keeper without its scheduler is no keeper.
    let first = tokio::select! {
        () = shutdown.cancelled() => None,
        done = roles.join_next() => done,
    };
    shutdown.cancel();
    let mut failure = None;
    if let Some(done) = first {
        failure = role_failure(done);
    }
    let deadline = tokio::time::sleep(SHUTDOWN_GRACE);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            done = roles.join_next() => match done {
                Some(done) => { if let Some(f) = role_failure(done) { failure.get_or_insert(f); } }
                None => break,
            },
            () = &mut deadline => {
                tracing::warn!("roles did not stop within {SHUTDOWN_GRACE:?}; aborting them");
                roles.abort_all();
                break;
            }
        }
    }
    tracing::info!("keeperd stopped");
    match failure {
        Some(error) => Err(error),
        None => Ok(()),
    }
}

fn role_failure(done: Result<(&'static str, eyre::Result<()>), tokio::task::JoinError>) -> Option<eyre::Report> {
    match done {
        Ok((_, Ok(()))) => None,
        Ok((role, Err(error))) => {
            tracing::error!(role, %error, "role failed");
            Some(error.wrap_err(format!("{role} failed")))
        }
        Err(join) => Some(eyre!("a role panicked: {join}")),
    }
}

/// Creates `dir` (and parents) and makes it 0700: it holds the database and logs.
fn create_private_dir(dir: &std::path::Path) -> eyre::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).wrap_err_with(|| format!("data_dir {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .wrap_err_with(|| format!("data_dir {}: making it private", dir.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests;
