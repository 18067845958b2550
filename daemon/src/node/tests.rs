//! The daemon's whole metrics registry (every component's metrics, the operators' network's
//! included) against its reference, docs/metrics.md.

use std::collections::BTreeMap;
use std::time::Duration;

use alloy::primitives::{Address, U256};

use crate::metrics::{Metrics, REVERTED_ON_CHAIN};
use crate::store::TaskState;

/// `# TYPE <name> <type>` lines of an encoding, by name.
fn declared(text: &str) -> BTreeMap<String, String> {
    let mut types = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(types.insert(name.to_owned(), kind.to_owned()).is_none(), "{name} declared twice");
        }
    }
    types
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[test]
fn every_metric_is_declared_once_with_a_conventional_name() {
    let metrics = Metrics::new().unwrap();
    // Series with labels not known in advance appear once touched.
    metrics.observe_rpc("eth_blockNumber", 0, Duration::from_millis(3), false);
    metrics.rpc_endpoint_healthy.with_label_values(&["0"]).set(1);
    metrics.observe_signature_invalid(Address::ZERO);
    metrics.observe_signature_rate_limited(Address::ZERO);
    metrics.observe_task_failed(U256::from(1), REVERTED_ON_CHAIN);
    metrics.observe_rpc_state_change(0, crate::chain::EndpointState::Down.as_str());
    // The operators' network's metrics join the registry when P2P is on.
    let network = std::sync::Arc::new(keeper_p2p::metrics::NetworkMetrics::default());
    crate::p2p::metrics::P2pMetrics::register(metrics.registry(), network).unwrap();
    metrics.observe_missed(&[(keeper_shared::batch::TaskId { job_id: U256::from(1), sequence: 0 }, TaskState::Missed)]);
    let text = metrics.encode().unwrap();
    let types = declared(&text);
    // docs/metrics.md's reference tables: `| `keeper_…` | type | labels | meaning |`.
    let documented: BTreeMap<String, String> = include_str!("../../../docs/metrics.md")
        .lines()
        .filter_map(|line| {
            let mut cells = line.strip_prefix("| `")?.split('|');
            let name = cells.next()?.trim().trim_end_matches('`');
            let kind = cells.next()?.trim();
            name.starts_with("keeper_").then(|| (name.to_owned(), kind.to_owned()))
        })
        .collect();
    assert!(documented.len() >= 30, "{documented:?}");
    for (name, kind) in &documented {
        assert_eq!(types.get(name), Some(kind), "docs/metrics.md: {name} is a {kind}; the registry says:\n{text}");
    }
    let undocumented: Vec<&String> = types.keys().filter(|name| !documented.contains_key(*name)).collect();
    assert!(undocumented.is_empty(), "not in docs/metrics.md: {undocumented:?}");
    for (name, kind) in &types {
        assert!(valid_name(name), "{name}");
        assert!(name.starts_with("keeper_"), "{name}");
        assert_eq!(
            kind == "counter",
            name.ends_with("_total"),
            "{name} is a {kind}: counters and only counters end in _total"
        );
        assert!(!name.contains("millis") && !name.contains("_ms"), "{name}: base units");
    }
}
