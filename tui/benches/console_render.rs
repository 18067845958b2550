//! Frame time of the console with a large task queue, and the cost of taking in stream events.
//!
//! `cargo bench -p keeperctl --bench console_render`
//!
//! - `render_tasks/10000/80x24`, `/200x60`: one full frame of the task view (drawing plus the
//!   buffer diff a terminal flush does) with 10,000 tasks, the selection in the middle.
//! - `apply_events/1000`: 1,000 stream events (a new head, then task outcomes of queued tasks) into
//!   an app that holds 10,000 tasks: the work behind one second at 1,000 events a second.

use std::hint::black_box;

use alloy::primitives::{B256, U256};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use keeper_shared::api::{BlockView, Event, EventRecord, OutcomeKind, TaskState, TaskView};
use keeperctl::console::{draw, ApiEvent, App};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

const TASKS: u64 = 10_000;
const NOW_MS: i64 = 1_767_000_100_000;

fn task(i: u64) -> TaskView {
    let state = match i % 10 {
        0 => TaskState::Due,
        1 => TaskState::Signed,
        _ => TaskState::Performed,
    };
    TaskView {
        job_id: U256::from(1 + i / 100),
        sequence: i % 100,
        state,
        due_at_ms: Some(NOW_MS - 5_000),
        due_block: None,
        response_hash: Some(B256::repeat_byte(7)),
        created_at_ms: NOW_MS - 5_000,
        updated_at_ms: NOW_MS - 4_000,
    }
}

fn loaded_app() -> App {
    let mut app = App::new();
    app.apply(ApiEvent::Tick { now_ms: NOW_MS });
    app.apply(ApiEvent::Tasks {
        states: vec![TaskState::Due, TaskState::Signed, TaskState::Performed],
        tasks: (0..TASKS).map(task).collect(),
    });
    app.handle_key(KeyEvent::new(KeyCode::Char('3'), KeyModifiers::NONE));
    // Put the selection in the middle of the list.
    for _ in 0..(TASKS / 2 / 20) {
        app.handle_key(KeyEvent::new(KeyCode::PageDown, KeyModifiers::NONE));
    }
    app
}

fn events(first_id: u64) -> Vec<ApiEvent> {
    (0..1000u64)
        .map(|i| {
            let id = first_id + i;
            let event = if i % 100 == 0 {
                Event::NewHead { block: BlockView { number: id, hash: B256::repeat_byte(1), timestamp_secs: id } }
            } else {
                Event::TaskOutcome {
                    job_id: U256::from(1 + (i * 7 % TASKS) / 100),
                    sequence: (i * 7) % 100,
                    batch: B256::repeat_byte(2),
                    outcome: OutcomeKind::Performed {
                        success: true,
                        gas_used: U256::from(39_248u64),
                        fee_wei: U256::from(62_836_048u64),
                    },
                }
            };
            ApiEvent::Event(EventRecord { id, at_ms: NOW_MS, event })
        })
        .collect()
}

fn render(c: &mut Criterion) {
    let app = loaded_app();
    let mut group = c.benchmark_group("render_tasks/10000");
    for (width, height) in [(80u16, 24u16), (200, 60)] {
        let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test backend");
        group.bench_function(format!("{width}x{height}"), |b| {
            b.iter(|| {
                terminal.draw(|frame| draw(frame, black_box(&app))).expect("draw");
            })
        });
    }
    group.finish();
}

fn apply(c: &mut Criterion) {
    c.bench_function("apply_events/1000", |b| {
        b.iter_batched(
            || (loaded_app(), events(1)),
            |(mut app, events)| {
                for event in events {
                    app.apply(event);
                }
                app
            },
            BatchSize::LargeInput,
        )
    });
}

criterion_group!(benches, render, apply);
criterion_main!(benches);
