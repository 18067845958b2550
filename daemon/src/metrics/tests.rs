use super::*;

/// The value of the sample `series` (name with labels, as encoded).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn known_label_values_start_at_zero() {
    let metrics = Metrics::new().unwrap();
    let text = metrics.encode().unwrap();
    let version = keeper_shared::version::long();
    assert_eq!(sample(&text, &format!("keeper_build_info{{version=\"{version}\"}}")), Some(1.0));
    for outcome in OUTCOMES {
        assert_eq!(sample(&text, &format!("keeper_task_outcomes_total{{outcome=\"{outcome}\"}}")), Some(0.0));
    }
    for state in TaskState::ALL {
        assert_eq!(sample(&text, &format!("keeper_tasks{{state=\"{state}\"}}")), Some(0.0));
    }
    // Every dispute reason the protocol has, so a dashboard sees each series from the start.
    for reason in DisputeReason::ALL {
        assert_eq!(sample(&text, &format!("keeper_tasks_disputed_total{{reason=\"{reason}\"}}")), Some(0.0));
    }
    for role in ROLES {
        assert_eq!(sample(&text, &format!("keeper_role_enabled{{role=\"{role}\"}}")), Some(0.0));
    }
    for kind in JOB_KINDS {
        assert_eq!(sample(&text, &format!("keeper_tasks_unprofitable_total{{job=\"{kind}\"}}")), Some(0.0));
    }
    for trigger in WEIGHT_UPDATE_TRIGGERS {
        assert_eq!(sample(&text, &format!("keeper_weight_updates_total{{trigger=\"{trigger}\"}}")), Some(0.0));
    }
    assert_eq!(sample(&text, "keeper_slashable_budget_exceeded"), Some(0.0));
}

#[test]
fn counters_and_histograms_move() {
    let metrics = Metrics::new().unwrap();
    metrics.set_roles(&crate::config::Roles { scheduler: true, keeper: true, ..Default::default() });
    metrics.observe_rpc("eth_call", 1, Duration::from_millis(20), true);
    metrics.observe_rpc("eth_call", 1, Duration::from_millis(30), false);
    metrics.observe_batch_mined(250_000, 64);
    metrics.observe_chain(Some(120), Some(100), 2);
    metrics.observe_unprofitable(&crate::jobs::Action::Call {
        target: alloy::primitives::Address::ZERO,
        data: Default::default(),
    });
    let text = metrics.encode().unwrap();
    assert_eq!(sample(&text, r#"keeper_tasks_unprofitable_total{job="call"}"#), Some(1.0));
    assert_eq!(sample(&text, r#"keeper_tasks_unprofitable_total{job="script"}"#), Some(0.0));
    assert_eq!(sample(&text, r#"keeper_role_enabled{role="keeper"}"#), Some(1.0));
    assert_eq!(sample(&text, r#"keeper_role_enabled{role="aggregator"}"#), Some(0.0));
    assert_eq!(sample(&text, r#"keeper_rpc_requests_total{endpoint="1",method="eth_call"}"#), Some(2.0));
    assert_eq!(sample(&text, r#"keeper_rpc_errors_total{endpoint="1",method="eth_call"}"#), Some(1.0));
    assert_eq!(sample(&text, r#"keeper_rpc_request_duration_seconds_count{method="eth_call"}"#), Some(2.0));
    assert_eq!(sample(&text, r#"keeper_batch_submissions_total{result="accepted"}"#), Some(1.0));
    assert_eq!(sample(&text, "keeper_batch_gas_used_sum"), Some(250_000.0));
    assert_eq!(sample(&text, "keeper_batch_tasks_sum"), Some(64.0));
    assert_eq!(sample(&text, "keeper_chain_head_block"), Some(120.0));
    assert_eq!(sample(&text, "keeper_chain_processed_block"), Some(100.0));
    assert_eq!(sample(&text, "keeper_chain_lag_blocks"), Some(18.0));
}

#[test]
fn lag_never_goes_negative() {
    let metrics = Metrics::new().unwrap();
    metrics.observe_chain(Some(10), Some(10), 4);
    assert_eq!(metrics.chain_lag_blocks.get(), 0);
    // Nothing known about the head yet: no lag is claimed.
    let fresh = Metrics::new().unwrap();
    fresh.observe_chain(None, Some(50), 0);
    assert_eq!(fresh.chain_lag_blocks.get(), 0);
    assert_eq!(fresh.chain_processed_block.get(), 50);
}

#[test]
fn two_daemons_in_one_process_have_separate_registries() {
    let (a, b) = (Metrics::new().unwrap(), Metrics::new().unwrap());
    a.batches_signed.inc();
    assert_eq!(b.batches_signed.get(), 0);
    assert_eq!(sample(&a.encode().unwrap(), "keeper_batches_signed_total"), Some(1.0));
}

#[test]
fn large_amounts_become_floats() {
    assert_eq!(float_value(U256::from(32u64) * U256::from(10u64).pow(U256::from(18u64))), 32e18);
    assert!(float_value(U256::MAX) > 1.15e77);
    assert_eq!(gauge_value(u64::MAX), i64::MAX);
}

#[test]
fn only_missed_tasks_count_as_missed_by_job() {
    let metrics = Metrics::new().unwrap();
    let task = |job: u64, sequence| keeper_shared::batch::TaskId { job_id: U256::from(job), sequence };
    metrics.observe_missed(&[
        (task(7, 1), TaskState::Missed),
        (task(7, 2), TaskState::Missed),
        (task(7, 3), TaskState::Due),
        (task(8, 1), TaskState::Dropped),
    ]);
    assert_eq!(metrics.tasks_missed.with_label_values(&["7"]).get(), 2);
    assert!(
        !metrics.encode().unwrap().contains("keeper_tasks_missed_total{job=\"8\"}"),
        "a dropped task is not missed"
    );
}
