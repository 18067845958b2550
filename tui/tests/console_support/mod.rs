//! Fixtures for the console tests: API values, keys, and a frame rendered to text.

#![allow(dead_code, clippy::unwrap_used)]

use alloy::primitives::{Address, Bytes, B256, U256};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use keeper_shared::api::{
    BlockView, DatabaseHealth, EndpointState, Event, EventRecord, Health, JobStatus, JobView, NextDue, OperatorView,
    OutcomeKind, RpcEndpointHealth, SchedulerHealth, StatusResponse, SyncState, SyncStatus, TaskCount, TaskState,
    TaskView,
};
use keeper_shared::job::{self, JobSpec, Trigger};
use keeperctl::console::{draw, App};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

pub const NOW_MS: i64 = 1_767_000_100_000;

pub fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

pub fn ch(c: char) -> KeyEvent {
    key(KeyCode::Char(c))
}

/// Types `text` into the focused field.
pub fn type_text(app: &mut App, text: &str) {
    for c in text.chars() {
        app.handle_key(ch(c));
    }
}

/// The frame as lines of text (one per terminal row, trailing spaces kept).
pub fn render(app: &App, width: u16, height: u16) -> Vec<String> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| draw(frame, app)).unwrap();
    let buffer = terminal.backend().buffer();
    (0..height).map(|y| (0..width).map(|x| buffer[(x, y)].symbol().to_owned()).collect::<Vec<_>>().concat()).collect()
}

pub fn screen(app: &App) -> String {
    render(app, 80, 24).join("\n")
}

pub fn status() -> StatusResponse {
    StatusResponse {
        version: "0.1.0".to_owned(),
        roles: vec!["scheduler".to_owned(), "keeper".to_owned()],
        operator: Some(Address::repeat_byte(0xf3)),
        chain_id: 31337,
        confirmations: 0,
        head: Some(BlockView { number: 412, hash: B256::repeat_byte(0x9c), timestamp_secs: 1_767_000_000 }),
        sync: SyncStatus {
            state: SyncState::Synced,
            chain_block: Some(412),
            blocks_behind: Some(0),
            processed_block: Some(410),
            percent: Some(100),
        },
        health: Health {
            rpc: vec![RpcEndpointHealth {
                endpoint: "http://127.0.0.1:8545".to_owned(),
                state: EndpointState::Healthy,
                consecutive_failures: 0,
                last_error: None,
                last_latency_ms: Some(1),
                requests_total: 830,
                failures_total: 0,
            }],
            scheduler: SchedulerHealth { running: true, head_age_secs: Some(1) },
            database: DatabaseHealth {
                ok: true,
                error: None,
                task_counts: vec![TaskCount { state: TaskState::Due, count: 3 }],
            },
        },
        p2p: None,
    }
}

pub fn job(id: u64, status: JobStatus, balance_wei: u128) -> JobView {
    JobView {
        id: U256::from(id),
        status,
        owner: Address::repeat_byte(0xf3),
        forwarder: Address::repeat_byte(0x5c),
        balance_wei: U256::from(balance_wei),
        watermark: 11,
        updated_at_block: 40,
        next_due: Some(NextDue { sequence: 12, due_now: true, at_secs: Some(1_767_000_060), at_block: None }),
        spec: call_spec(5),
        tasks_failed: 0,
        warning: None,
    }
}

/// An interval job from 1767000000 calling `increment()` on 0x1111…, at the forms' defaults.
pub fn call_spec(period: u64) -> JobSpec {
    JobSpec {
        trigger: Trigger::Interval { start: 1_767_000_000, period },
        action: job::Action::Call {
            target: Address::repeat_byte(0x11),
            data: Bytes::from(vec![0xd0, 0x9d, 0xe0, 0x8a]),
        },
        gas_limit: 300_000,
        max_fee: 10_000_000_000_000_000,
        expiry: None,
    }
}

pub fn task(job: u64, sequence: u64, state: TaskState) -> TaskView {
    TaskView {
        job_id: U256::from(job),
        sequence,
        state,
        due_at_ms: Some(NOW_MS - 5_000),
        due_block: None,
        response_hash: None,
        created_at_ms: NOW_MS - 5_000,
        updated_at_ms: NOW_MS - 4_000,
    }
}

pub fn operator(byte: u8, local: bool, registered: bool, signed: u64, missed: u64) -> OperatorView {
    OperatorView {
        address: Address::repeat_byte(byte),
        local,
        registered,
        stake: U256::from(500_000_000_000_000_000_000u128),
        bls_pubkey: None,
        pubkey_hash: None,
        last_seen_ms: Some(NOW_MS - 3_000),
        signed,
        missed,
        signature_latency_ms: (signed > 0).then_some(180),
    }
}

pub fn new_head(id: u64, number: u64) -> EventRecord {
    EventRecord {
        id,
        at_ms: NOW_MS,
        event: Event::NewHead {
            block: BlockView { number, hash: B256::repeat_byte(0x27), timestamp_secs: 1_767_000_002 },
        },
    }
}

pub fn performed(id: u64, job: u64, sequence: u64) -> EventRecord {
    EventRecord {
        id,
        at_ms: NOW_MS,
        event: Event::TaskOutcome {
            job_id: U256::from(job),
            sequence,
            batch: B256::repeat_byte(0x4e),
            outcome: OutcomeKind::Performed {
                success: true,
                gas_used: U256::from(39_248u64),
                fee_wei: U256::from(62_836_048u64),
            },
        },
    }
}
