//! The cases of `contracts/test/jobs/JobSchedule.t.sol` and of the task manager's skip rules, in Rust.

use alloy::primitives::{address, bytes, Address, Bytes, B256};

use super::*;
use crate::job::spec::EventFilter;

const EMITTER: Address = address!("0x000000000000000000000000000000000000000e");

fn reference(number: u64, timestamp: u64) -> ReferenceBlock {
    ReferenceBlock { number, hash: B256::ZERO, timestamp }
}

fn spec(trigger: Trigger, expiry: Option<u64>) -> JobSpec {
    JobSpec {
        trigger,
        action: Action::Call { target: EMITTER, data: bytes!("d09de08a") },
        gas_limit: 100_000,
        max_fee: 1_000_000,
        expiry,
    }
}

fn event_trigger(start: u64) -> Trigger {
    Trigger::Event(EventFilter { start, emitter: EMITTER, topic0: B256::with_last_byte(1), topics: [None; 3] })
}

#[test]
fn due_at_examples() {
    assert_eq!(due_at(1000, 60, 0), 1000);
    assert_eq!(due_at(1000, 60, 3), 1180);
    let max = u128::from(u64::MAX);
    assert_eq!(due_at(u64::MAX, u64::MAX, u64::MAX), max + max * max);
}

#[test]
fn is_interval_due_boundaries() {
    assert!(!is_interval_due(1000, 60, None, 2, 1119));
    assert!(is_interval_due(1000, 60, None, 2, 1120));
    assert!(is_interval_due(1000, 60, None, 2, u64::MAX));
    // Expiry is inclusive: due at 1120 with expiry 1120 still runs, expiry 1119 never.
    assert!(is_interval_due(1000, 60, Some(1120), 2, 5000));
    assert!(!is_interval_due(1000, 60, Some(1119), 2, 5000));
    assert!(is_interval_due(1000, 60, None, 0, 1000));
    assert!(!is_interval_due(1000, 60, None, 0, 999));
    // An expiry of 0 means never, as on chain.
    assert!(is_interval_due(1000, 60, Some(0), 2, 5000));
}

#[test]
fn is_block_due_boundaries() {
    assert!(!is_block_due(100, 10, None, 3, 129, 0));
    assert!(is_block_due(100, 10, None, 3, 130, 0));
    assert!(is_block_due(100, 10, Some(500), 3, 130, 500));
    assert!(!is_block_due(100, 10, Some(500), 3, 130, 501));
}

#[test]
fn latest_due_examples() {
    assert_eq!(latest_due(1000, 60, 999), None);
    assert_eq!(latest_due(1000, 60, 1000), Some(0));
    assert_eq!(latest_due(1000, 60, 1179), Some(2));
    assert_eq!(latest_due(1000, 60, 1180), Some(3));
    assert_eq!(latest_due(1000, 0, 5000), None);
}

/// The latest due sequence is due and the one after it is not (the fuzz property of the forge test, over
/// a grid of small and extreme values).
#[test]
fn latest_due_is_due_and_the_next_is_not() {
    let values = [0u64, 1, 2, 59, 60, 61, 1000, u64::MAX / 2, u64::MAX - 1, u64::MAX];
    for &start in &values {
        for &period in &values {
            for &point in &values {
                match latest_due(start, period, point) {
                    None => assert!(period == 0 || point < start),
                    Some(sequence) => {
                        assert!(is_interval_due(start, period, None, sequence, point));
                        if sequence < u64::MAX {
                            assert!(!is_interval_due(start, period, None, sequence + 1, point));
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn event_sequence_examples_and_range() {
    assert_eq!(event_sequence(0, 0), Ok(0));
    assert_eq!(event_sequence(1, 0), Ok(1 << 24));
    assert_eq!(event_sequence(1, 5), Ok((1 << 24) | 5));
    assert_eq!(event_sequence(MAX_EVENT_BLOCK, MAX_LOG_INDEX), Ok(u64::MAX));
    assert_eq!(
        event_sequence(1 << 40, 0),
        Err(ScheduleError::EventLogOutOfRange { block_number: 1 << 40, log_index: 0 })
    );
    assert_eq!(
        event_sequence(1, 1 << 24),
        Err(ScheduleError::EventLogOutOfRange { block_number: 1, log_index: 1 << 24 })
    );
}

#[test]
fn event_sequence_round_trips_and_orders_like_logs() {
    let logs = [(0u64, 0u64), (0, 7), (1, 0), (150, 3), (150, 4), (MAX_EVENT_BLOCK, MAX_LOG_INDEX)];
    for (i, &(block, index)) in logs.iter().enumerate() {
        let sequence = event_sequence(block, index).unwrap();
        assert_eq!(event_log(sequence), (block, index as u32));
        for &(later_block, later_index) in &logs[i + 1..] {
            assert!(sequence < event_sequence(later_block, later_index).unwrap());
        }
    }
}

#[test]
fn is_event_due_cases() {
    let sequence = event_sequence(150, 3).unwrap();
    assert!(is_event_due(100, None, sequence, 150, 0));
    assert!(!is_event_due(100, None, sequence, 149, 0));
    assert!(!is_event_due(151, None, sequence, 200, 0));
    assert!(is_event_due(150, None, sequence, 150, 0));
    assert!(is_event_due(100, Some(1000), sequence, 150, 1000));
    assert!(!is_event_due(100, Some(1000), sequence, 150, 1001));
}

#[test]
fn matches_log_cases() {
    let transfer = B256::with_last_byte(0x77);
    let bob = B256::with_last_byte(0xb0);
    let trigger =
        Trigger::Event(EventFilter { start: 0, emitter: EMITTER, topic0: transfer, topics: [None, Some(bob), None] });
    let mut topics = vec![transfer, B256::with_last_byte(0xa1), bob];
    assert!(matches_log(&trigger, EMITTER, &topics));
    assert!(!matches_log(&trigger, Address::repeat_byte(0xf), &topics));
    topics[2] = B256::with_last_byte(0xca);
    assert!(!matches_log(&trigger, EMITTER, &topics));
    // Too few topics to hold the filtered one.
    assert!(!matches_log(&trigger, EMITTER, &[transfer, B256::ZERO]));
    // A filter on zero (mints: from = 0).
    let mints = Trigger::Event(EventFilter {
        start: 0,
        emitter: EMITTER,
        topic0: transfer,
        topics: [Some(B256::ZERO), None, None],
    });
    assert!(matches_log(&mints, EMITTER, &[transfer, B256::ZERO]));
    assert!(!matches_log(&mints, EMITTER, &[transfer]));
    // Topic 0 must match; other kinds match nothing.
    assert!(!matches_log(&mints, EMITTER, &[bob, B256::ZERO]));
    assert!(!matches_log(&Trigger::Interval { start: 0, period: 60 }, Address::ZERO, &[]));
}

#[test]
fn is_due_dispatches_by_kind() {
    let interval = spec(Trigger::Interval { start: 1000, period: 60 }, None);
    assert!(is_due(&interval, 1, &reference(0, 1060)));
    assert!(!is_due(&interval, 1, &reference(u64::MAX, 1059)));
    let block = spec(Trigger::Block { start: 100, period: 10 }, None);
    assert!(is_due(&block, 1, &reference(110, 0)));
    assert!(!is_due(&block, 1, &reference(109, u64::MAX)));
    let event = spec(event_trigger(100), None);
    assert!(is_due(&event, event_sequence(120, 0).unwrap(), &reference(120, 0)));
    assert!(!is_due(&event, event_sequence(121, 0).unwrap(), &reference(120, 0)));
}

#[test]
fn latest_due_sequence_respects_expiry() {
    let interval = spec(Trigger::Interval { start: 1000, period: 60 }, None);
    assert_eq!(latest_due_sequence(&interval, &reference(0, 1200)), Some(3));
    assert_eq!(latest_due_sequence(&interval, &reference(0, 999)), None);
    // Expiry 1130: sequence 2 (1120) is the last that is ever due.
    let expiring = spec(Trigger::Interval { start: 1000, period: 60 }, Some(1130));
    assert_eq!(latest_due_sequence(&expiring, &reference(0, 5000)), Some(2));
    assert!(is_due(&expiring, 2, &reference(0, 5000)));
    assert!(!is_due(&expiring, 3, &reference(0, 5000)));

    let block = spec(Trigger::Block { start: 100, period: 10 }, Some(500));
    assert_eq!(latest_due_sequence(&block, &reference(135, 500)), Some(3));
    assert_eq!(latest_due_sequence(&block, &reference(135, 501)), None);
    assert_eq!(latest_due_sequence(&spec(event_trigger(0), None), &reference(10, 10)), None);
}

#[test]
fn on_chain_due_uses_submission_time_for_intervals_and_reference_block_otherwise() {
    let interval = Trigger::Interval { start: 1000, period: 60 };
    assert!(is_due_on_chain(&interval, 2, 0, 1120));
    assert!(!is_due_on_chain(&interval, 2, u64::MAX, 1119));
    let block = Trigger::Block { start: 100, period: 10 };
    assert!(is_due_on_chain(&block, 3, 130, 0));
    assert!(!is_due_on_chain(&block, 3, 129, u64::MAX));
    let event = event_trigger(100);
    assert!(is_due_on_chain(&event, event_sequence(100, 0).unwrap(), 100, 0));
    assert!(!is_due_on_chain(&event, event_sequence(99, 0).unwrap(), 100, 0));
    assert!(!is_due_on_chain(&event, event_sequence(101, 0).unwrap(), 100, 0));
}

#[test]
fn valid_call_data_per_action() {
    let call = Action::Call { target: EMITTER, data: bytes!("d09de08a") };
    assert!(valid_call_data(&call, &TaskResponse::perform(bytes!("d09de08a"))));
    assert!(!valid_call_data(&call, &TaskResponse::perform(bytes!("d09de08b"))));
    assert!(!valid_call_data(&call, &TaskResponse::nothing_to_do()));

    let upkeep = Action::ChainlinkUpkeep { target: EMITTER, check_data: Bytes::new() };
    assert!(valid_call_data(&upkeep, &TaskResponse::nothing_to_do()));
    assert!(valid_call_data(&upkeep, &TaskResponse::perform(bytes!("4585e33b"))));
    assert!(!valid_call_data(&upkeep, &TaskResponse::perform(bytes!("4585e3"))));
    assert!(!valid_call_data(&upkeep, &TaskResponse::perform(bytes!("d09de08a"))));

    let resolver = Action::GelatoResolver { target: EMITTER, resolver: EMITTER, resolver_data: bytes!("cf5303cf") };
    assert!(valid_call_data(&resolver, &TaskResponse::perform(Bytes::new())));
    assert!(valid_call_data(&resolver, &TaskResponse::nothing_to_do()));
}

#[test]
fn skip_reasons_in_the_contract_order() {
    let s = spec(Trigger::Block { start: 100, period: 10 }, Some(1000));
    let perform = TaskResponse::perform(bytes!("d09de08a"));
    let task = SignedTask { spec: &s, sequence: 3, response: &perform, reference_block: 130 };
    let job = OnChainJob {
        spec_is_current: true,
        status: OnChainStatus::Active,
        balance: 1_000_000,
        max_fee: 1_000_000,
        next_sequence: 0,
    };
    let at = Submission { timestamp: 900, gas_price: 1, premium: 10 };
    assert_eq!(skip_reason(&task, &job, &at), None);

    // The spec comes first, even before an offence.
    let not_due = SignedTask { reference_block: 129, ..task };
    assert_eq!(
        skip_reason(&not_due, &OnChainJob { spec_is_current: false, ..job }, &at),
        Some(SkipReason::SpecMismatch)
    );
    // Offences come before the job's state.
    let paused = OnChainJob { status: OnChainStatus::Paused, ..job };
    assert_eq!(skip_reason(&not_due, &paused, &at), Some(SkipReason::NotDue));
    let nothing = TaskResponse::nothing_to_do();
    let wrong = SignedTask { response: &nothing, ..task };
    assert_eq!(skip_reason(&wrong, &paused, &at), Some(SkipReason::InvalidCallData));
    assert!(SkipReason::NotDue.is_offence() && SkipReason::InvalidCallData.is_offence());

    assert_eq!(skip_reason(&task, &paused, &at), Some(SkipReason::JobNotActive));
    let late = Submission { timestamp: 1001, ..at };
    assert_eq!(skip_reason(&task, &job, &late), Some(SkipReason::Expired));
    assert!(!SkipReason::Expired.is_offence());
    let done = OnChainJob { next_sequence: 4, ..job };
    assert_eq!(skip_reason(&task, &done, &at), Some(SkipReason::AlreadyPerformed));

    // Funds: the worst case is min(maxFee, gasLimit * gasPrice + premium) = 100_010 here.
    let poor = OnChainJob { balance: 100_009, ..job };
    assert_eq!(skip_reason(&task, &poor, &at), Some(SkipReason::Unfunded));
    assert_eq!(skip_reason(&task, &OnChainJob { balance: 100_010, ..job }, &at), None);
    // ... capped by maxFee; an empty escrow is always unfunded.
    assert_eq!(skip_reason(&task, &OnChainJob { balance: 50, max_fee: 50, ..job }, &at), None);
    assert_eq!(skip_reason(&task, &OnChainJob { balance: 0, max_fee: 0, ..job }, &at), Some(SkipReason::Unfunded));
}

#[test]
fn skip_reason_values_match_the_contract_enum() {
    assert_eq!(SkipReason::from_u8(0), Some(SkipReason::SpecMismatch));
    assert_eq!(SkipReason::from_u8(5), Some(SkipReason::NotDue));
    assert_eq!(SkipReason::from_u8(6), Some(SkipReason::InvalidCallData));
    assert_eq!(SkipReason::from_u8(7), None);
}

fn interval(start: u64, period: u64, expiry: Option<u64>) -> JobSpec {
    spec(Trigger::Interval { start, period }, expiry)
}

#[test]
fn next_due_is_the_pending_task_or_the_first_after_the_head() {
    let every_10s = interval(100, 10, None);
    // At t=125 task 2 (due 120) is due; the watermark 2 has not passed it.
    let due = next_due(&every_10s, 2, Some(&reference(1, 125))).unwrap();
    assert_eq!((due.sequence, due.due_now, due.at_secs, due.at_block), (2, true, Some(120), None));
    // Watermark 0: the latest due task is still task 2 (earlier ones need never run).
    let due = next_due(&every_10s, 0, Some(&reference(1, 125))).unwrap();
    assert_eq!((due.sequence, due.due_now, due.at_secs), (2, true, Some(120)));
    // Watermark 3: task 2 is done, task 3 (due 130) comes next.
    let due = next_due(&every_10s, 3, Some(&reference(1, 125))).unwrap();
    assert_eq!((due.sequence, due.due_now, due.at_secs), (3, false, Some(130)));
    // Before the start, and before any head: the watermark's task.
    let due = next_due(&every_10s, 0, Some(&reference(1, 50))).unwrap();
    assert_eq!((due.sequence, due.due_now, due.at_secs), (0, false, Some(100)));
    assert_eq!(next_due(&every_10s, 4, None).unwrap().sequence, 4);
    let block = JobSpec { trigger: Trigger::Block { start: 0, period: 10 }, ..every_10s.clone() };
    let due = next_due(&block, 0, Some(&reference(25, 1))).unwrap();
    assert_eq!((due.sequence, due.due_now, due.at_block, due.at_secs), (2, true, Some(20), None));
    let due = next_due(&block, 3, Some(&reference(25, 1))).unwrap();
    assert_eq!((due.sequence, due.due_now, due.at_block), (3, false, Some(30)));
    assert_eq!(next_due(&spec(event_trigger(0), None), 0, Some(&reference(10, 10))), None);
}

/// The rule the daemon's and keeperctl's copies disagreed on: an interval task due after the expiry
/// is never due (`JobSchedule.isIntervalDue`), so it is not shown as the next one.
#[test]
fn next_due_never_names_an_interval_task_past_the_expiry() {
    // Task 3 would be due at 130, after the expiry 125.
    assert_eq!(next_due(&interval(100, 10, Some(125)), 3, Some(&reference(1, 125))), None);
    assert_eq!(next_due(&interval(100, 10, Some(125)), 3, None), None);
    // Due exactly at the expiry: still due.
    let due = next_due(&interval(100, 10, Some(130)), 3, Some(&reference(1, 125))).unwrap();
    assert_eq!((due.sequence, due.at_secs), (3, Some(130)));
    // The last task before the expiry, due and not performed, stays due after the expiry has passed.
    let due = next_due(&interval(100, 10, Some(125)), 2, Some(&reference(1, 200))).unwrap();
    assert_eq!((due.sequence, due.due_now), (2, true));
}

#[test]
fn on_chain_status_values_and_the_api_status() {
    assert_eq!(OnChainStatus::from_u8(0), Some(OnChainStatus::None));
    assert_eq!(OnChainStatus::from_u8(3), Some(OnChainStatus::Cancelled));
    assert_eq!(OnChainStatus::from_u8(4), None);
    assert_eq!(OnChainStatus::None.job_status(None, 0), None);
    assert_eq!(OnChainStatus::Paused.job_status(Some(10), 20), Some(JobStatus::Paused));
    // Expired once the time is after the expiry, as the task manager judges (`Expired` skips).
    assert_eq!(OnChainStatus::Active.job_status(Some(10), 10), Some(JobStatus::Active));
    assert_eq!(OnChainStatus::Active.job_status(Some(10), 11), Some(JobStatus::Expired));
    assert_eq!(OnChainStatus::Active.job_status(None, u64::MAX), Some(JobStatus::Active));
}
