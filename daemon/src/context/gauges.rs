//! The gauges of state a scrape refreshes from the daemon: chain position, jobs, task records,
//! endpoint health and the operator's registration.

use std::time::Duration;

use keeper_shared::contracts::BlsKeyRegistry;

use super::NodeContext;
use crate::chain::EndpointState;
use crate::metrics::{float_value, gauge_value, Metrics, StateGauges};

/// How long reading the operator's registration (three calls) may hold a scrape up.
const OPERATOR_READ_TIMEOUT: Duration = Duration::from_secs(5);

impl StateGauges for NodeContext {
    fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    async fn refresh(&self) {
        refresh(self).await;
    }
}

/// Brings the gauges of state up to date: chain position, jobs, task records, endpoint health and
/// the operator's registration. Each source that fails leaves its gauges as they were.
async fn refresh(context: &NodeContext) {
    let metrics = &context.metrics;
    let processed = context.schedule.head().map(|head| head.number);
    metrics.observe_chain(None, processed, context.config.chain.confirmations);
    crate::scheduler::metrics::observe_jobs(
        metrics,
        &*context.schedule.index().await,
        context.config.metrics.escrow_low_tasks,
    );
    for (endpoint, health) in context.pool.health().iter().enumerate() {
        let healthy = i64::from(health.state == EndpointState::Healthy);
        metrics.rpc_endpoint_healthy.with_label_values(&[endpoint.to_string().as_str()]).set(healthy);
    }
    match context.store.with(|store| store.read(|tx| tx.task_counts())).await {
        Ok(counts) => {
            for state in crate::store::TaskState::ALL {
                let count = counts.iter().find(|(s, _)| s == state).map_or(0, |(_, n)| *n);
                metrics.tasks.with_label_values(&[state.as_str()]).set(gauge_value(count));
            }
        }
        Err(error) => tracing::debug!(%error, "metrics: reading task counts failed"),
    }
    if let Some(operator) = &context.operator {
        refresh_operator(context, operator.address).await;
    }
}

async fn refresh_operator(context: &NodeContext, operator: alloy::primitives::Address) {
    let provider = context.pool.provider();
    let registry = BlsKeyRegistry::new(context.config.deployment.avs.key_registry, &provider);
    let metrics = &context.metrics;
    let read = async {
        let registered = registry.isRegistered(operator).call().await?;
        let weight = registry.getOperatorWeight(operator).call().await?;
        let total = registry.getTotalWeight().call().await?;
        Ok::<_, alloy::contract::Error>((registered, weight, total))
    };
    match tokio::time::timeout(OPERATOR_READ_TIMEOUT, read).await {
        Ok(Ok((registered, weight, total))) => {
            metrics.operator_registered.set(i64::from(registered));
            metrics.operator_weight.set(float_value(weight));
            metrics.operator_total_weight.set(float_value(total));
        }
        Ok(Err(error)) => tracing::debug!(%error, "metrics: reading the operator's registration failed"),
        Err(_) => tracing::debug!("metrics: reading the operator's registration timed out"),
    }
}
