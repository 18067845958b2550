use alloy::primitives::{address, b256, bytes, keccak256, Address, Bytes, Log, B256, U256};
use alloy::sol_types::{SolEvent, SolValue};

use crate::contracts::JobManager;

use super::*;

const TARGET: Address = address!("0x00000000000000000000000000000000000000a1");
const RESOLVER: Address = address!("0x00000000000000000000000000000000000000b2");
const EMITTER: Address = address!("0x00000000000000000000000000000000000000c3");
const TOPIC: B256 = b256!("0x0559884fd3a460db3073b7fc896cc77986f16e378210ded43186175bf646fc5f");

fn spec(trigger: Trigger, action: Action) -> JobSpec {
    JobSpec { trigger, action, gas_limit: 200_000, max_fee: 10_000_000_000_000_000, expiry: None }
}

/// One spec of every trigger and action kind.
fn every_kind() -> Vec<JobSpec> {
    let call = Action::Call { target: TARGET, data: bytes!("d09de08a") };
    vec![
        spec(Trigger::Interval { start: 1_000, period: 60 }, call.clone()),
        JobSpec { expiry: Some(9_999), ..spec(Trigger::Block { start: 10, period: 5 }, call.clone()) },
        spec(
            Trigger::Event(EventFilter {
                start: 7,
                emitter: EMITTER,
                topic0: TOPIC,
                topics: [None, Some(B256::ZERO), Some(B256::repeat_byte(3))],
            }),
            call,
        ),
        spec(
            Trigger::Interval { start: 1, period: 1 },
            Action::ChainlinkUpkeep { target: TARGET, check_data: Bytes::new() },
        ),
        spec(
            Trigger::Block { start: 1, period: 1 },
            Action::GelatoResolver { target: TARGET, resolver: RESOLVER, resolver_data: bytes!("cf5303cf") },
        ),
        spec(
            Trigger::Block { start: 1, period: 1 },
            Action::Script {
                target: TARGET,
                args: bytes!("01"),
                code_url: "https://example.invalid/job.js".into(),
                code_hash: keccak256("code"),
            },
        ),
    ]
}

#[test]
fn every_kind_round_trips_through_the_binding_and_the_encoding() {
    for spec in every_kind() {
        let abi = spec.to_job_manager().unwrap();
        assert_eq!(JobSpec::try_from(&abi).unwrap(), spec);
        let encoded = spec.encode().unwrap();
        assert_eq!(JobSpec::decode(&encoded).unwrap(), spec);
        assert_eq!(spec.hash().unwrap(), keccak256(&encoded));
        // The task manager's binding encodes the same bytes, and converts back.
        let tm = spec.to_task_manager().unwrap();
        assert_eq!(tm.abi_encode(), encoded);
        assert_eq!(JobSpec::try_from(&tm).unwrap(), spec);
    }
}

#[test]
fn encoding_is_abi_encode_of_one_dynamic_struct() {
    // `abi.encode(spec)` of a dynamic struct starts with the offset of its tuple (0x20); an encoding of
    // the fields as parameters would not, and would hash differently from the contract's specHash.
    let encoded = every_kind()[0].encode().unwrap();
    assert_eq!(U256::from_be_slice(&encoded[..32]), U256::from(32));
    assert_eq!(U256::from_be_slice(&encoded[32..64]), U256::ZERO); // trigger.kind = Interval
}

#[test]
fn event_filter_sets_mask_bits_for_filtered_topics_only() {
    let abi = every_kind()[2].to_job_manager().unwrap();
    assert_eq!(abi.trigger.topicMask, 0b1101);
    assert_eq!(abi.trigger.topics, [TOPIC, B256::ZERO, B256::ZERO, B256::repeat_byte(3)]);
    assert_eq!(abi.trigger.period, 0);
}

#[test]
fn fields_a_kind_does_not_use_are_refused_with_their_name() {
    let mut abi = every_kind()[0].to_job_manager().unwrap();
    abi.trigger.emitter = EMITTER;
    assert!(matches!(JobSpec::try_from(&abi), Err(SpecError::NotAllowed { field: "trigger.emitter", .. })));

    let mut abi = every_kind()[0].to_job_manager().unwrap();
    abi.action.resolver = RESOLVER;
    assert!(matches!(JobSpec::try_from(&abi), Err(SpecError::NotAllowed { field: "action.resolver", .. })));

    let mut abi = every_kind()[3].to_job_manager().unwrap();
    abi.action.codeUrl = "x".into();
    assert!(matches!(JobSpec::try_from(&abi), Err(SpecError::NotAllowed { field: "action.codeUrl", .. })));

    let mut abi = every_kind()[2].to_job_manager().unwrap();
    abi.trigger.period = 1;
    assert!(matches!(JobSpec::try_from(&abi), Err(SpecError::NotAllowed { field: "trigger.period", .. })));
}

#[test]
fn malformed_specs_are_refused() {
    let mut abi = every_kind()[2].to_job_manager().unwrap();
    abi.trigger.topicMask = 0b0010;
    assert_eq!(JobSpec::try_from(&abi), Err(SpecError::TopicMask { mask: 0b0010 }));
    abi.trigger.topicMask = 0x11;
    assert_eq!(JobSpec::try_from(&abi), Err(SpecError::TopicMask { mask: 0x11 }));
    abi.trigger.topicMask = 0b0001;
    assert_eq!(JobSpec::try_from(&abi), Err(SpecError::UnfilteredTopic { index: 3 }));

    let mut abi = every_kind()[4].to_job_manager().unwrap();
    abi.action.resolver = Address::ZERO;
    assert!(matches!(JobSpec::try_from(&abi), Err(SpecError::Missing { field: "action.resolver", .. })));

    let mut abi = every_kind()[5].to_job_manager().unwrap();
    abi.action.codeHash = B256::ZERO;
    assert!(matches!(JobSpec::try_from(&abi), Err(SpecError::Missing { field: "action.codeHash", .. })));

    let mut abi = every_kind()[0].to_job_manager().unwrap();
    abi.action.kind = 4;
    assert_eq!(JobSpec::try_from(&abi), Err(SpecError::UnknownKind { field: "action.kind", value: 4 }));

    assert!(matches!(JobSpec::decode(&[0u8; 7]), Err(SpecError::Decode(_))));
}

#[test]
fn out_of_range_numbers_are_refused() {
    let mut s = every_kind()[0].clone();
    s.max_fee = 1 << 80;
    assert_eq!(s.encode(), Err(SpecError::OutOfRange { field: "maxFee", value: U256::from(1u128 << 80), bits: 80 }));
    s.max_fee = (1 << 80) - 1;
    s.expiry = Some(1 << 40);
    assert_eq!(s.encode(), Err(SpecError::OutOfRange { field: "expiry", value: U256::from(1u64 << 40), bits: 40 }));
}

fn log_of<E: SolEvent>(event: &E) -> Log {
    Log { address: Address::repeat_byte(9), data: event.encode_log_data() }
}

#[test]
fn job_created_and_updated_logs_decode_with_their_spec_checked() {
    let spec = every_kind()[4].clone();
    let created = JobManager::JobCreated {
        jobId: U256::from(3),
        owner: TARGET,
        forwarder: RESOLVER,
        specHash: spec.hash().unwrap(),
        deposit: U256::from(5),
        spec: spec.to_job_manager().unwrap(),
    };
    let event = decode_job_log(&log_of(&created)).unwrap().unwrap();
    assert_eq!(
        event,
        JobEvent::Created {
            job_id: U256::from(3),
            owner: TARGET,
            forwarder: RESOLVER,
            spec_hash: spec.hash().unwrap(),
            deposit: U256::from(5),
            spec: spec.clone(),
        }
    );
    assert_eq!(event.job_id(), U256::from(3));

    // A receipt's JobCreated counts only from the job manager it was sent to.
    let forged =
        Log { address: TARGET, ..log_of(&JobManager::JobCreated { jobId: U256::from(66), ..created.clone() }) };
    let receipt = [log_of(&JobManager::JobPaused { jobId: U256::from(1) }), forged.clone(), log_of(&created)];
    assert_eq!(
        created_job(&receipt, Address::repeat_byte(9)).map(|e| (e.jobId, e.forwarder)),
        Some((U256::from(3), RESOLVER))
    );
    assert!(created_job(&[forged], Address::repeat_byte(9)).is_none());

    let updated = JobManager::JobUpdated {
        jobId: U256::from(3),
        specHash: keccak256("something else"),
        spec: spec.to_job_manager().unwrap(),
    };
    assert!(matches!(decode_job_log(&log_of(&updated)), Err(SpecError::HashMismatch { event: "JobUpdated", .. })));

    let cancelled = JobManager::JobCancelled { jobId: U256::from(3), owner: TARGET, refund: U256::from(1) };
    assert_eq!(
        decode_job_log(&log_of(&cancelled)).unwrap(),
        Some(JobEvent::Cancelled { job_id: U256::from(3), owner: TARGET, refund: U256::from(1) })
    );
    let paused = JobManager::JobPaused { jobId: U256::from(4) };
    assert_eq!(decode_job_log(&log_of(&paused)).unwrap(), Some(JobEvent::Paused { job_id: U256::from(4) }));

    // Other events, and logs without topics, are not job events.
    let fees = JobManager::FeesWithdrawn { to: TARGET, amount: U256::from(1) };
    assert_eq!(decode_job_log(&log_of(&fees)).unwrap(), None);
    let empty = Log::new_unchecked(TARGET, vec![], Bytes::new());
    assert_eq!(decode_job_log(&empty).unwrap(), None);
}

/// The control API's JSON of every kind, as the API's own view types wrote it before the spec became
/// one type (captured from them): the wire format is unchanged.
const WIRE_JSON: [&str; 6] = [
    r#"{"trigger":{"kind":"interval","start_secs":1000,"period_secs":60},"action":{"kind":"call","target":"0x00000000000000000000000000000000000000a1","data":"0xd09de08a"},"gas_limit":200000,"max_fee_wei":"10000000000000000","expiry_secs":null}"#,
    r#"{"trigger":{"kind":"block","start_block":10,"period_blocks":5},"action":{"kind":"call","target":"0x00000000000000000000000000000000000000a1","data":"0xd09de08a"},"gas_limit":200000,"max_fee_wei":"10000000000000000","expiry_secs":9999}"#,
    r#"{"trigger":{"kind":"event","start_block":7,"emitter":"0x00000000000000000000000000000000000000c3","topic0":"0x0559884fd3a460db3073b7fc896cc77986f16e378210ded43186175bf646fc5f","topics":[null,"0x0000000000000000000000000000000000000000000000000000000000000000","0x0303030303030303030303030303030303030303030303030303030303030303"]},"action":{"kind":"call","target":"0x00000000000000000000000000000000000000a1","data":"0xd09de08a"},"gas_limit":200000,"max_fee_wei":"10000000000000000","expiry_secs":null}"#,
    r#"{"trigger":{"kind":"interval","start_secs":1,"period_secs":1},"action":{"kind":"chainlink_upkeep","target":"0x00000000000000000000000000000000000000a1","check_data":"0x"},"gas_limit":200000,"max_fee_wei":"10000000000000000","expiry_secs":null}"#,
    r#"{"trigger":{"kind":"block","start_block":1,"period_blocks":1},"action":{"kind":"gelato_resolver","target":"0x00000000000000000000000000000000000000a1","resolver":"0x00000000000000000000000000000000000000b2","resolver_data":"0xcf5303cf"},"gas_limit":200000,"max_fee_wei":"10000000000000000","expiry_secs":null}"#,
    r#"{"trigger":{"kind":"block","start_block":1,"period_blocks":1},"action":{"kind":"script","target":"0x00000000000000000000000000000000000000a1","args":"0x01","code_url":"https://example.invalid/job.js","code_hash":"0x2dc081a8d6d4714c79b5abd2e9b08c3a33b4ef1dcf946ef8b8cf6c495014f47b"},"gas_limit":200000,"max_fee_wei":"10000000000000000","expiry_secs":null}"#,
];

#[test]
fn json_is_the_control_apis_and_round_trips() {
    for (spec, json) in every_kind().iter().zip(WIRE_JSON) {
        assert_eq!(serde_json::to_string(spec).unwrap(), json);
        assert_eq!(&serde_json::from_str::<JobSpec>(json).unwrap(), spec);
    }
    // An absent expiry, and absent event topics, mean none.
    let short = r#"{"trigger":{"kind":"event","start_block":7,"emitter":"0x00000000000000000000000000000000000000c3","topic0":"0x0559884fd3a460db3073b7fc896cc77986f16e378210ded43186175bf646fc5f"},"action":{"kind":"call","target":"0x00000000000000000000000000000000000000a1","data":"0x"},"gas_limit":1,"max_fee_wei":"1"}"#;
    let spec: JobSpec = serde_json::from_str(short).unwrap();
    assert_eq!(spec.expiry, None);
    assert!(matches!(spec.trigger, Trigger::Event(EventFilter { topics: [None, None, None], start: 7, .. })));
    // Amounts are decimal strings: a JSON number is refused rather than rounded.
    let number = WIRE_JSON[0].replace(r#""max_fee_wei":"10000000000000000""#, r#""max_fee_wei":10000000000000000"#);
    assert!(serde_json::from_str::<JobSpec>(&number).is_err());
}

#[test]
fn only_checker_resolver_and_script_actions_are_conditions() {
    let kinds: Vec<(&str, bool)> =
        every_kind().iter().map(|spec| (spec.action.kind_name(), spec.action.is_condition())).collect();
    assert_eq!(
        kinds,
        vec![
            ("Call", false),
            ("Call", false),
            ("Call", false),
            ("ChainlinkUpkeep", true),
            ("GelatoResolver", true),
            ("Script", true),
        ]
    );
}
