#![allow(clippy::unwrap_used)]

use alloy::primitives::{address, b256, U256};

use super::*;

#[test]
fn queries_round_trip_through_their_query_strings() {
    let jobs = JobsQuery { status: Some(JobStatus::Paused), after: Some(U256::from(7u64)), limit: Some(5) };
    assert_eq!(jobs.to_query(), "?status=paused&after=7&limit=5");
    assert_eq!(JobsQuery::parse(Some(&jobs.to_query()[1..])).unwrap(), jobs);
    let tasks = TasksQuery {
        state: Some(TaskState::Performed),
        job: Some(U256::from(3u64)),
        after: Some(TaskCursor { job_id: U256::from(3u64), sequence: 9 }),
        limit: Some(1000),
    };
    assert_eq!(tasks.to_query(), "?state=performed&job=3&after=3:9&limit=1000");
    assert_eq!(TasksQuery::parse(Some(&tasks.to_query()[1..])).unwrap(), tasks);
    assert_eq!(TasksQuery::parse(Some("after=3%3A9")).unwrap().after, tasks.after);
    assert_eq!(TasksQuery::default().to_query(), "");
    assert_eq!(TasksQuery::parse(None).unwrap(), TasksQuery::default());
}

#[test]
fn bad_query_values_name_their_field_and_code() {
    let cases: &[(&str, ErrorCode, &str)] = &[
        ("status=sleeping", ErrorCode::InvalidValue, "status"),
        ("limit=0", ErrorCode::InvalidValue, "limit"),
        ("limit=1001", ErrorCode::InvalidValue, "limit"),
        ("limit=-1", ErrorCode::InvalidValue, "limit"),
        ("after=0x10", ErrorCode::InvalidValue, "after"),
        ("after=", ErrorCode::InvalidValue, "after"),
        ("colour=red", ErrorCode::InvalidQuery, "colour"),
        ("limit=1&limit=2", ErrorCode::InvalidQuery, "limit"),
    ];
    for (query, code, field) in cases {
        let err = JobsQuery::parse(Some(query)).unwrap_err();
        assert_eq!((err.code, err.field.as_deref()), (*code, Some(*field)), "{query}: {err}");
        assert!(err.message.starts_with(field), "{query}: {}", err.message);
    }
    let err = TasksQuery::parse(Some("after=12")).unwrap_err();
    assert_eq!((err.code, err.field.as_deref()), (ErrorCode::InvalidCursor, Some("after")));
    let err = TasksQuery::parse(Some("state=done")).unwrap_err();
    assert!(err.message.contains("due, executed"), "{}", err.message);
    assert_eq!(JobsQuery::parse(Some("status=%zz")).unwrap_err().code, ErrorCode::InvalidQuery);
    assert_eq!(parse_empty(Some("verbose=1")).unwrap_err().field.as_deref(), Some("verbose"));
    assert!(parse_empty(Some("")).is_ok());
}

#[test]
fn error_codes_are_stable_strings_with_their_statuses() {
    let err = ApiError::field(ErrorCode::PeerForbidden, "peer", "uid 1001 is not the daemon's uid 1000");
    let json = serde_json::to_string(&err).unwrap();
    assert_eq!(
        json,
        r#"{"code":"peer_forbidden","message":"peer: uid 1001 is not the daemon's uid 1000","field":"peer"}"#
    );
    assert_eq!(ErrorCode::PeerForbidden.http_status(), 403);
    for code in [ErrorCode::InvalidQuery, ErrorCode::JobNotFound, ErrorCode::BodyTooLarge, ErrorCode::Unavailable] {
        assert_eq!(serde_json::to_string(&code).unwrap(), format!("\"{}\"", code.as_str()));
    }
    let newer: ApiError = serde_json::from_str(r#"{"code":"from_the_future","message":"m"}"#).unwrap();
    assert_eq!(newer.code, ErrorCode::Unknown);
}

#[test]
fn job_view_json_is_readable_and_round_trips() {
    let view = JobView {
        id: U256::MAX,
        status: JobStatus::Active,
        owner: address!("0x1000000000000000000000000000000000000001"),
        forwarder: address!("0x2000000000000000000000000000000000000002"),
        balance_wei: U256::from(10u64).pow(U256::from(18u64)),
        watermark: 4,
        updated_at_block: 99,
        next_due: Some(NextDue { sequence: 4, due_now: true, at_secs: Some(1_700_000_020), at_block: None }),
        spec: JobSpecView {
            trigger: TriggerView::Interval { start_secs: 1_700_000_000, period_secs: 5 },
            action: ActionView::Call {
                target: address!("0x3000000000000000000000000000000000000003"),
                data: vec![0xd0, 0x9d, 0xe0, 0x8a].into(),
            },
            gas_limit: 300_000,
            max_fee_wei: 10u128.pow(16),
            expiry_secs: None,
        },
    };
    let json = serde_json::to_value(&view).unwrap();
    assert_eq!(json["id"], U256::MAX.to_string());
    assert_eq!(json["balance_wei"], "1000000000000000000");
    assert_eq!(json["spec"]["trigger"]["kind"], "interval");
    assert_eq!(json["spec"]["action"]["data"], "0xd09de08a");
    assert_eq!(json["spec"]["max_fee_wei"], "10000000000000000");
    assert_eq!(serde_json::from_value::<JobView>(json).unwrap(), view);
}

#[test]
fn events_carry_their_type_and_round_trip() {
    let record = EventRecord {
        id: 3,
        at_ms: 1,
        event: Event::TaskOutcome {
            job_id: U256::from(2u64),
            sequence: 5,
            batch: b256!("0x00000000000000000000000000000000000000000000000000000000000000aa"),
            outcome: TaskOutcomeView::Skipped { reason: 2 },
        },
    };
    let json = serde_json::to_value(&record).unwrap();
    assert_eq!(json["event"]["type"], "task_outcome");
    assert_eq!(json["event"]["outcome"]["kind"], "skipped");
    assert_eq!(record.event.name(), "task_outcome");
    assert_eq!(serde_json::from_value::<EventRecord>(json).unwrap(), record);
}

#[test]
fn paths_fill_their_routes() {
    assert_eq!(job_path(U256::from(12u64)), "/v1/jobs/12");
    assert_eq!(task_path(U256::from(12u64), 3), "/v1/tasks/12/3");
    assert_eq!(parse_job_id("id", "12").unwrap(), U256::from(12u64));
    assert_eq!(parse_job_id("id", "+12").unwrap_err().field.as_deref(), Some("id"));
}
