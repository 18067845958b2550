#![allow(clippy::unwrap_used)]

use alloy::primitives::{address, b256, Address, B256, U256};

use super::*;

#[test]
fn queries_round_trip_through_their_query_strings() {
    let jobs = JobsQuery { status: Some(JobStatus::Paused), after: Some(U256::from(7u64)), limit: Some(5) };
    assert_eq!(jobs.to_query(), "?status=paused&after=7&limit=5");
    assert_eq!(JobsQuery::parse(Some(&jobs.to_query()[1..])).unwrap(), jobs);
    let tasks = TasksQuery {
        state: Some(TaskState::Performed),
        job: Some(U256::from(3u64)),
        from: None,
        to: None,
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
    // Both servers' codes, as clients, docs/api.md and the keepers know them.
    let table = [
        (ErrorCode::InvalidQuery, "invalid_query", 400),
        (ErrorCode::InvalidValue, "invalid_value", 400),
        (ErrorCode::InvalidCursor, "invalid_cursor", 400),
        (ErrorCode::BadJson, "bad_json", 400),
        (ErrorCode::BodyTooLarge, "body_too_large", 413),
        (ErrorCode::NotFound, "not_found", 404),
        (ErrorCode::BadRequest, "bad_request", 400),
        (ErrorCode::HeadersTooLarge, "headers_too_large", 431),
        (ErrorCode::UriTooLong, "uri_too_long", 414),
        (ErrorCode::JobNotFound, "job_not_found", 404),
        (ErrorCode::TaskNotFound, "task_not_found", 404),
        (ErrorCode::MethodNotAllowed, "method_not_allowed", 405),
        (ErrorCode::PeerForbidden, "peer_forbidden", 403),
        (ErrorCode::NotJobOwner, "not_job_owner", 403),
        (ErrorCode::NoOperatorKey, "no_operator_key", 409),
        (ErrorCode::Reverted, "reverted", 409),
        (ErrorCode::TxFailed, "tx_failed", 502),
        (ErrorCode::TxPending, "tx_pending", 504),
        (ErrorCode::InvalidHex, "invalid_hex", 400),
        (ErrorCode::InvalidLength, "invalid_length", 400),
        (ErrorCode::InvalidPoint, "invalid_point", 400),
        (ErrorCode::UnknownDigest, "unknown_digest", 404),
        (ErrorCode::ProposalClosed, "proposal_closed", 410),
        (ErrorCode::UnknownOperator, "unknown_operator", 403),
        (ErrorCode::InvalidSignature, "invalid_signature", 422),
        (ErrorCode::ConflictingSignature, "conflicting_signature", 409),
        (ErrorCode::RateLimited, "rate_limited", 429),
        (ErrorCode::UnknownTask, "unknown_task", 422),
        (ErrorCode::Timeout, "timeout", 408),
        (ErrorCode::Unavailable, "unavailable", 503),
        (ErrorCode::Internal, "internal", 500),
    ];
    for (code, wire, status) in table {
        assert_eq!(serde_json::to_string(&code).unwrap(), format!("\"{wire}\""));
        assert_eq!((code.as_str(), code.http_status()), (wire, status));
        assert_eq!(serde_json::from_str::<ErrorCode>(&format!("\"{wire}\"")).unwrap(), code);
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
        spec: JobSpec {
            trigger: Trigger::Interval { start: 1_700_000_000, period: 5 },
            action: Action::Call {
                target: address!("0x3000000000000000000000000000000000000003"),
                data: vec![0xd0, 0x9d, 0xe0, 0x8a].into(),
            },
            gas_limit: 300_000,
            max_fee: 10u128.pow(16),
            expiry: None,
        },
        tasks_failed: 2,
        warning: Some("the target keeps reverting".into()),
    };
    let json = serde_json::to_value(&view).unwrap();
    assert_eq!(json["id"], U256::MAX.to_string());
    assert_eq!(json["tasks_failed"], 2);
    assert_eq!(json["balance_wei"], "1000000000000000000");
    assert_eq!(json["spec"]["trigger"]["kind"], "interval");
    assert_eq!(json["spec"]["action"]["data"], "0xd09de08a");
    assert_eq!(json["spec"]["max_fee_wei"], "10000000000000000");
    assert_eq!(serde_json::from_value::<JobView>(json.clone()).unwrap(), view);
    // A daemon from before the failure fields: they default to none.
    let mut older = json;
    older.as_object_mut().unwrap().remove("tasks_failed");
    older.as_object_mut().unwrap().remove("warning");
    let read = serde_json::from_value::<JobView>(older).unwrap();
    assert_eq!((read.tasks_failed, read.warning), (0, None));
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
            outcome: OutcomeKind::Skipped { reason: 2 },
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

fn call_spec() -> JobSpec {
    JobSpec {
        trigger: Trigger::Interval { start: 1_700_000_000, period: 60 },
        action: Action::Call {
            target: address!("0x3000000000000000000000000000000000000003"),
            data: vec![0xd0, 0x9d, 0xe0, 0x8a].into(),
        },
        gas_limit: 100_000,
        max_fee: 10u128.pow(16),
        expiry: None,
    }
}

#[test]
fn broken_job_manager_rules_are_invalid_values_at_the_fields_json_path() {
    use job_spec::{validate_funding, validate_spec, SpecContext};
    let context = SpecContext { now_secs: Some(1_700_000_100), job_manager: None };
    assert!(validate_spec("spec", &call_spec(), &context).is_ok());
    let late = JobSpec { expiry: Some(1_700_000_100), ..call_spec() };
    let err = validate_spec("spec", &late, &context).unwrap_err();
    assert_eq!((err.code, err.field.as_deref()), (ErrorCode::InvalidValue, Some("spec.expiry_secs")));
    assert_eq!(err.message, "spec.expiry_secs: 1700000100 is not after the chain's time 1700000100");
    let err = validate_funding("funding_wei", U256::from(1u64) << 96, true).unwrap_err();
    assert_eq!((err.code, err.field.as_deref()), (ErrorCode::InvalidValue, Some("funding_wei")));
    assert_eq!(err.message, "funding_wei: must be below 2^96 (a job's escrow is a uint96)");
    let err = validate_funding("amount_wei", U256::ZERO, false).unwrap_err();
    assert_eq!(err.message, "amount_wei: must be > 0");
}

#[test]
fn a_spec_converts_to_the_contracts_struct() {
    let abi = job_spec::spec_to_abi("spec", &call_spec(), &job_spec::SpecContext::default()).unwrap();
    assert_eq!((abi.trigger.kind, abi.trigger.start, abi.trigger.period), (0, 1_700_000_000, 60));
    assert_eq!((abi.action.kind, abi.gasLimit, abi.expiry.to::<u64>()), (0, 100_000, 0));
    let topic = B256::repeat_byte(7);
    let event = JobSpec {
        trigger: Trigger::Event(EventFilter {
            start: 5,
            emitter: Address::repeat_byte(9),
            topic0: B256::repeat_byte(1),
            topics: [None, Some(topic), None],
        }),
        ..call_spec()
    };
    let abi = job_spec::spec_to_abi("spec", &event, &job_spec::SpecContext::default()).unwrap();
    assert_eq!((abi.trigger.kind, abi.trigger.topicMask, abi.trigger.topics[2]), (2, 0b101, topic));
    let err = job_spec::spec_to_abi("spec", &JobSpec { gas_limit: 1, ..call_spec() }, &Default::default()).unwrap_err();
    assert_eq!(err.field.as_deref(), Some("spec.gas_limit"));
}

#[test]
fn request_bodies_name_the_bad_or_unknown_field() {
    let good = r#"{"spec":{"trigger":{"kind":"interval","start_secs":1,"period_secs":60},
        "action":{"kind":"call","target":"0x3000000000000000000000000000000000000003","data":"0x"},
        "gas_limit":100000,"max_fee_wei":"1000"},"funding_wei":"5"}"#;
    let request: CreateJobRequest = parse_body(good.as_bytes()).unwrap();
    assert_eq!((request.funding_wei, request.spec.expiry), (U256::from(5u64), None));
    let cases = [
        // Inside a tagged trigger or action too, the field at fault is named.
        (good.replace("\"period_secs\":60", "\"period_secs\":\"x\""), Some("spec.trigger.period_secs")),
        (good.replace("\"data\":\"0x\"", "\"data\":\"\""), Some("spec.action.data")),
        (good.replace("\"data\":\"0x\"", "\"data\":\"d09de08a\""), Some("spec.action.data")),
        (good.replace("\"data\":\"0x\"", "\"data\":\"0xzz\""), Some("spec.action.data")),
        ("[]".to_owned(), None),
        (r#"{"spec":[],"funding_wei":"5"}"#.to_owned(), Some("spec")),
        (good.replace("\"gas_limit\":100000", "\"gas_limit\":-1"), Some("spec.gas_limit")),
        (good.replace("\"gas_limit\"", "\"gas_limt\""), Some("spec")),
        (good.replace("\"funding_wei\":\"5\"", "\"funding_wei\":\"5\",\"fundng\":1"), Some("fundng")),
        (good.replace("\"period_secs\":60", "\"period_secs\":60,\"perod\":1"), Some("spec.trigger.perod")),
        (good.replace("\"interval\"", "\"hourly\""), Some("spec.trigger.kind")),
        ("{".to_owned(), None),
    ];
    for (body, field) in cases {
        let err = parse_body::<CreateJobRequest>(body.as_bytes()).unwrap_err();
        assert_eq!((err.code, err.field.as_deref()), (ErrorCode::BadJson, field), "{err}");
    }
    let _: EmptyRequest = parse_body(b"").unwrap();
    let _: EmptyRequest = parse_body(b" {} ").unwrap();
    let err = parse_body::<EmptyRequest>(b"[]").unwrap_err();
    assert_eq!((err.code, err.message.as_str()), (ErrorCode::BadJson, "body: must be a JSON object"));
    assert_eq!(parse_body::<RegisterOperatorRequest>(b"[]").unwrap_err().code, ErrorCode::BadJson);
    assert_eq!(parse_body::<EmptyRequest>(b"{\"x\":1}").unwrap_err().field.as_deref(), Some("x"));
    let register: RegisterOperatorRequest = parse_body(b"{}").unwrap();
    assert_eq!((register.metadata_uri.as_str(), register.magnitude), ("", None));
}

#[test]
fn new_event_types_round_trip_and_unknown_ones_parse() {
    let record = EventRecord {
        id: 1,
        at_ms: 2,
        event: Event::TaskState {
            job_id: U256::from(3u64),
            sequence: 4,
            from: Some(TaskState::Due),
            to: TaskState::Executed,
            detail: None,
        },
    };
    let json = serde_json::to_value(&record).unwrap();
    assert_eq!(json["event"]["type"], "task_state");
    assert_eq!(serde_json::from_value::<EventRecord>(json).unwrap(), record);
    let newer: Event = serde_json::from_str(r#"{"type":"from_the_future","x":1}"#).unwrap();
    assert_eq!((newer.clone(), newer.name()), (Event::Unknown, "unknown"));
    let query = TasksQuery { from: Some(10), to: Some(20), ..TasksQuery::default() };
    assert_eq!(query.to_query(), "?from=10&to=20");
    assert_eq!(TasksQuery::parse(Some("from=10&to=20")).unwrap(), query);
    assert_eq!(TasksQuery::parse(Some("from=20&to=10")).unwrap_err().field.as_deref(), Some("to"));
    assert_eq!(TasksQuery::parse(Some("from=-1")).unwrap_err().field.as_deref(), Some("from"));
    assert_eq!(job_action_path(U256::from(4u64), JobAction::TopUp), "/v1/jobs/4/topup");
}
