//! The console's views rendered into ratatui's `TestBackend`: keys and API events in, screen text
//! out. No terminal and no daemon.

mod console_support;

use alloy::primitives::{Address, U256};
use console_support::*;
use crossterm::event::KeyCode;
use keeper_shared::api::{JobStatus, P2pStatus, PeerView, TaskDetail, TaskState, TaskTransitionView};
use keeperctl::console::{Action, ApiEvent, App, Command, Connection, View};

fn app_with_status() -> App {
    let mut app = App::new();
    app.apply(ApiEvent::Tick { now_ms: NOW_MS });
    app.apply(ApiEvent::Connection(Connection::Connected));
    app.apply(ApiEvent::Status(status()));
    app
}

#[test]
fn overview_shows_chain_sync_roles_health_and_throughput() {
    let mut app = app_with_status();
    for (id, number) in [(1, 413), (3, 414)] {
        app.apply(ApiEvent::Event(new_head(id, number)));
        app.apply(ApiEvent::Event(performed(id + 1, 1, id)));
    }
    let lines = render(&app, 80, 24);
    assert!(lines[0].starts_with(" 1 Overview  2 Operators  3 Tasks  4 Jobs  5 Events  "), "{}", lines[0]);
    assert!(lines[0].ends_with("● connected"), "{}", lines[0]);
    let text = lines.join("\n");
    assert!(text.contains("chain    31337"), "{text}");
    assert!(text.contains("head     #414"), "the stream's head replaces the status's: {text}");
    assert!(text.contains("sync     synced, 0 behind"), "{text}");
    assert!(text.contains("roles    scheduler, keeper"), "{text}");
    assert!(text.contains("healthy  127.0.0.1:8545 1ms, 0/830 failed"), "{text}");
    assert!(text.contains("running  scheduler"), "{text}");
    assert!(text.contains("due 3"), "{text}");
    assert!(text.contains("Performed per block: last 2 blocks, 2 tasks, max 1"), "{text}");
    assert_eq!(lines[23].trim_end(), "1-5/Tab view  g refresh  q quit");
}

#[test]
fn at_80x24_roles_and_the_disconnect_reason_are_abbreviated_not_cut() {
    let mut app = App::new();
    app.apply(ApiEvent::Tick { now_ms: NOW_MS });
    let mut all_roles = status();
    all_roles.roles = ["scheduler", "keeper", "aggregator", "challenger"].map(str::to_owned).to_vec();
    app.apply(ApiEvent::Status(all_roles));
    app.apply(ApiEvent::Connection(Connection::Disconnected {
        error: "Connection refused (os error 111)".to_owned(),
        attempt: 5,
    }));
    let lines = render(&app, 80, 24);
    let text = lines.join("\n");
    assert!(text.contains("roles    sched, keep, aggr, chal"), "{text}");
    assert!(lines[0].ends_with("✕ retry 5: Connection…"), "whole words: {}", lines[0]);
    let wide = render(&app, 160, 40);
    assert!(wide.join("\n").contains("roles    scheduler, keeper, aggregator, challenger"));
    assert!(wide[0].ends_with("✕ disconnected, retry 5: Connection refused (os error 111)"), "{}", wide[0]);
}

#[test]
fn overview_waits_for_the_first_status() {
    let app = App::new();
    let text = screen(&app);
    assert!(text.contains("waiting for the daemon's status"), "{text}");
    assert!(text.contains("◌ connecting"), "{text}");
}

#[test]
fn header_follows_the_connection_and_keeps_the_last_data() {
    let mut app = app_with_status();
    app.apply(ApiEvent::Connection(Connection::Disconnected { error: "no socket there".to_owned(), attempt: 2 }));
    let lines = render(&app, 80, 24);
    assert!(lines[0].ends_with(" 5 Events   ✕ retry 2: no socket there"), "tabs whole, reason kept: {}", lines[0]);
    assert!(render(&app, 120, 24)[0].ends_with("✕ disconnected, retry 2: no socket there"), "wider: all of it");
    assert!(lines.join("\n").contains("chain    31337"), "last known state stays on screen");
    app.apply(ApiEvent::Connection(Connection::Connected));
    assert!(render(&app, 80, 24)[0].ends_with("● connected"));
}

#[test]
fn operators_view_shows_registration_stake_last_seen_signatures_and_latency() {
    let mut app = app_with_status();
    app.apply(ApiEvent::Operators(vec![operator(0xaa, true, true, 90, 10), operator(0xbb, false, false, 0, 0)]));
    app.handle_key(ch('2'));
    assert_eq!(app.view, View::Operators);
    let text = screen(&app);
    assert!(text.contains("Operators (2)"), "{text}");
    assert!(text.contains("  operator      in set stake        last seen  signed  missed  miss  latency"), "{text}");
    assert!(text.contains("* 0xaAaA…aaAa   yes    500.0000     3s ago     90      10      10%   180ms"), "{text}");
    assert!(text.contains("  0xbBbB…BBbB   no     500.0000     3s ago     0       0       -     -"), "{text}");
    assert!(text.contains("R register local operator"), "{text}");
}

#[test]
fn over_p2p_each_operator_shows_its_peer_and_the_overview_counts_peers() {
    let mut app = App::new();
    app.apply(ApiEvent::Tick { now_ms: NOW_MS });
    app.apply(ApiEvent::Connection(Connection::Connected));
    let mut over_p2p = status();
    over_p2p.p2p = Some(P2pStatus {
        transport: "p2p".to_owned(),
        peer_id: "12D3KooWLocalLocalLocalLocalLocalLocalLocalLocal0wn1".to_owned(),
        peers: vec![
            PeerView {
                peer_id: "12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo".to_owned(),
                operator: Some(Address::repeat_byte(0xbb)),
                mesh: vec!["proposals".to_owned()],
            },
            // Connected, its record not presented yet: counted, but on no operator's row.
            PeerView {
                peer_id: "12D3KooWUnverifiedUnverifiedUnverifiedUnverifiedXyz9".to_owned(),
                operator: None,
                mesh: Vec::new(),
            },
        ],
    });
    app.apply(ApiEvent::Status(over_p2p));
    app.apply(ApiEvent::Operators(vec![
        operator(0xaa, true, true, 90, 10),
        operator(0xbb, false, true, 0, 0),
        operator(0xcc, false, true, 0, 0),
    ]));
    let overview = screen(&app);
    assert!(overview.contains("ok       p2p: 2 peers, 1 verified"), "{overview}");

    app.handle_key(ch('2'));
    let lines = render(&app, 80, 24);
    let text = lines.join("\n");
    assert!(text.contains("Operators (3), peers 2 connected, 1 verified"), "{text}");
    assert!(text.contains("  operator      in set stake     last seen signed missed miss latency peer"), "{text}");
    assert!(text.contains("* 0xaAaA…aaAa   yes    500.0000  3s ago    90     10     10%  180ms   self"), "{text}");
    assert!(text.contains("  0xbBbB…BBbB   yes    500.0000  3s ago    0      0      -    -       ✓ CVe2Xo"), "{text}");
    assert!(text.contains("  0xCcCC…cccC   yes    500.0000  3s ago    0      0      -    -       none"), "{text}");
    // The peer column fits inside the border at 80 columns.
    assert!(lines.iter().all(|l| l.chars().count() == 80), "{text}");
    assert!(lines[4].ends_with("✓ CVe2Xo│"), "{}", lines[4]);
}

#[test]
fn task_view_renders_only_visible_rows_of_ten_thousand() {
    let mut app = app_with_status();
    let tasks = (0..10_000)
        .map(|i| task(1 + i / 1000, i % 1000, if i % 10 == 0 { TaskState::Due } else { TaskState::Performed }));
    app.apply(ApiEvent::Tasks { states: vec![TaskState::Due, TaskState::Performed], tasks: tasks.collect() });
    app.handle_key(ch('3'));
    let lines = render(&app, 80, 24);
    let text = lines.join("\n");
    assert!(text.contains("Tasks: 10000 of 10000 (f: all states)"), "{text}");
    assert!(text.contains("due 1000 exec 0 sign 0 prop 0 sub 0 perf 9000 fail 0 skip 0 miss 0"), "{text}");
    // Rows: borders, counts, header, then 19 tasks (80x24 minus tab line and help bar).
    assert!(lines[4].starts_with("│1        0         due"), "{}", lines[4]);
    assert!(lines[4].contains("5s"), "waiting since due: {}", lines[4]);
    assert!(lines[5].starts_with("│1        1         performed"), "{}", lines[5]);

    app.handle_key(key(KeyCode::End));
    let lines = render(&app, 80, 24);
    assert!(lines[21].starts_with("│10       999       performed"), "{}", lines[21]);
    assert!(lines[21].contains("1s"), "finished: due to last update: {}", lines[21]);

    // A page up moves the selection one screen (18 rows) up, to the top row.
    app.handle_key(key(KeyCode::PageUp));
    let lines = render(&app, 80, 24);
    assert!(lines[4].starts_with("│10       981"), "selected row at the top: {}", lines[4]);
    assert!(lines[21].starts_with("│10       998"), "{}", lines[21]);
    // One row down keeps the screen where it is.
    app.handle_key(key(KeyCode::Down));
    let lines = render(&app, 80, 24);
    assert!(lines[4].starts_with("│10       981"), "{}", lines[4]);

    // The state filter walks the due tasks only.
    app.handle_key(ch('f'));
    let lines = render(&app, 80, 24);
    assert!(lines[1].contains("Tasks: 1000 of 10000 (f: due)"), "{}", lines[1]);
    assert!(lines[4].contains("due"), "{}", lines[4]);
    assert!(!lines.join("\n").contains("performed"));
}

#[test]
fn task_outcomes_move_tasks_live() {
    let mut app = app_with_status();
    app.apply(ApiEvent::Tasks { states: vec![TaskState::Due], tasks: vec![task(7, 0, TaskState::Due)] });
    app.handle_key(ch('3'));
    assert!(screen(&app).contains("due 1 exec 0"));
    app.apply(ApiEvent::Event(performed(1, 7, 0)));
    let text = screen(&app);
    assert!(text.contains("due 0 exec 0 sign 0 prop 0 sub 0 perf 1"), "{text}");
    assert!(text.contains("7        0         performed"), "{text}");
}

#[test]
fn jobs_view_shows_spec_escrow_warning_next_due_and_history() {
    let mut app = app_with_status();
    app.apply(ApiEvent::Jobs(vec![
        job(1, JobStatus::Active, 1_000_000_000_000_000_000),
        job(2, JobStatus::Paused, 50_000_000_000_000_000),
    ]));
    app.apply(ApiEvent::Tasks {
        states: vec![TaskState::Performed],
        tasks: vec![task(1, 10, TaskState::Performed), task(1, 11, TaskState::Performed)],
    });
    app.handle_key(ch('4'));
    let text = screen(&app);
    assert!(text.contains("Jobs (2)"), "{text}");
    assert!(text.contains("1     active    every 5s      1.0000 ETH      #12 now"), "{text}");
    assert!(text.contains("2     paused    every 5s      0.0500 ETH !"), "low escrow flagged: {text}");
    assert!(text.contains("Job 1 (active)"), "{text}");
    assert!(text.contains("escrow  1.0000 ETH (~100 tasks)"), "{text}");
    assert!(text.contains("action  call 0x1111…1111 (4 bytes)"), "{text}");
    assert!(text.contains("11        performed"), "history, newest first: {text}");

    app.handle_key(key(KeyCode::Down));
    let text = screen(&app);
    assert!(text.contains("Job 2 (paused)"), "{text}");
    assert!(text.contains("escrow  0.0500 ETH (~5 tasks)  LOW: top it up"), "{text}");
}

#[test]
fn the_job_panel_counts_failed_tasks_and_warns_about_a_target_that_keeps_reverting() {
    let mut app = app_with_status();
    let mut failing = job(1, JobStatus::Active, 1_000_000_000_000_000_000);
    failing.tasks_failed = 4;
    failing.warning = Some("the target keeps reverting (its last 3 tasks failed): ForwarderNotAllowed".into());
    app.apply(ApiEvent::Jobs(vec![failing]));
    app.apply(ApiEvent::Tasks {
        states: vec![TaskState::Failed],
        tasks: vec![task(1, 10, TaskState::Failed), task(1, 11, TaskState::NothingToDo)],
    });
    app.handle_key(ch('4'));
    let text = screen(&app);
    assert!(text.contains("watermark 11  failed 4"), "{text}");
    assert!(text.contains("! the target keeps reverting"), "{text}");
    assert!(text.contains("10        failed"), "{text}");
    assert!(text.contains("11        nothing_to_do  "), "{text}");
}

#[test]
fn a_job_with_one_wei_of_escrow_is_unfunded_not_due_now() {
    let mut app = app_with_status();
    app.apply(ApiEvent::Jobs(vec![job(1, JobStatus::Active, 1)]));
    app.handle_key(ch('4'));
    let text = screen(&app);
    assert!(!text.contains("#12 now"), "{text}");
    assert!(text.contains("next    unfunded"), "{text}");
}

#[test]
fn selecting_a_job_reads_its_tasks_into_the_history() {
    let mut app = app_with_status();
    let mut far = job(2, JobStatus::Active, 1_000_000_000_000_000_000);
    far.next_due = None;
    far.watermark = 1_000;
    app.apply(ApiEvent::Jobs(vec![job(1, JobStatus::Active, 1_000_000_000_000_000_000), far]));
    // Job 1 is next due at 12: its history is read from its first task.
    let read_one = Action::Send(Command::LoadJobTasks { job_id: U256::from(1), from_sequence: 0 });
    assert_eq!(app.handle_key(ch('4')), read_one);
    assert_eq!(app.handle_key(ch('4')), Action::None, "read once per selection");
    assert!(!screen(&app).contains("waiting for the daemon"), "a read is no pending write");
    // Tasks the console never saw an event of, read from the daemon.
    let mut failed = task(1, 4, TaskState::Failed);
    failed.updated_at_ms = NOW_MS - 1_000;
    app.apply(ApiEvent::JobTasks {
        job_id: U256::from(1),
        tasks: vec![task(1, 3, TaskState::Performed), failed, task(1, 5, TaskState::Due)],
    });
    let lines = render(&app, 80, 24);
    let text = lines.join("\n");
    assert!(text.contains("5         due"), "{text}");
    assert!(text.contains("4         failed"), "{text}");
    assert!(text.contains("3         performed"), "{text}");
    let at = |needle: &str| text.find(needle).unwrap();
    assert!(
        at("5         due") < at("4         failed") && at("4         failed") < at("3         performed"),
        "newest first: {text}"
    );
    // Merged into the task queue too.
    app.handle_key(ch('3'));
    assert!(screen(&app).contains("due 1 exec 0 sign 0 prop 0 sub 0 perf 1 fail 1"));

    // Job 2's newest task is past its watermark: the last 200 before it are read.
    app.handle_key(ch('4'));
    assert_eq!(
        app.handle_key(key(KeyCode::Down)),
        Action::Send(Command::LoadJobTasks { job_id: U256::from(2), from_sequence: 800 })
    );
    // The link came back: the history may be stale, it is read again.
    app.apply(ApiEvent::Connection(Connection::Disconnected { error: "gone".to_owned(), attempt: 1 }));
    assert_eq!(app.follow_up(), None, "nothing is asked while the daemon is away");
    app.apply(ApiEvent::Connection(Connection::Connected));
    assert_eq!(app.follow_up(), Some(Command::LoadJobTasks { job_id: U256::from(2), from_sequence: 800 }));
    assert_eq!(app.follow_up(), None);
}

/// An unprofitable task's dialog shows the whole reason (fee needed, maxFee, base fee), not only the
/// history's cut detail column.
#[test]
fn an_unprofitable_tasks_dialog_shows_its_whole_reason() {
    let mut app = app_with_status();
    app.apply(ApiEvent::Tasks {
        states: vec![TaskState::Unprofitable],
        tasks: vec![task(1, 0, TaskState::Unprofitable)],
    });
    app.handle_key(ch('3'));
    let key_1_0 = (U256::from(1), 0);
    assert_eq!(app.handle_key(key(KeyCode::Enter)), Action::Send(Command::LoadTask(key_1_0)));
    let reason = "unprofitable: needs 30000000000000000 wei ((gas limit 300000 + batch 300000) x base fee \
                  50000000000 wei), maxFee is 600000000000000 wei";
    let detail = TaskDetail {
        task: task(1, 0, TaskState::Unprofitable),
        history: vec![
            TaskTransitionView { from: None, to: TaskState::Due, at_ms: NOW_MS - 2_000, detail: None },
            TaskTransitionView {
                from: Some(TaskState::Due),
                to: TaskState::Unprofitable,
                at_ms: NOW_MS - 1_000,
                detail: Some(reason.to_owned()),
            },
        ],
    };
    app.apply(ApiEvent::TaskDetail { key: key_1_0, result: Ok(detail) });
    let text: String = screen(&app).split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(text.contains("state unprofitable"), "{text}");
    for part in ["needs 30000000000000000 wei", "base fee", "maxFee is 600000000000000 wei"] {
        assert!(text.contains(part), "{part}: {text}");
    }
}

#[test]
fn enter_on_a_task_opens_its_state_history() {
    let mut app = app_with_status();
    app.apply(ApiEvent::Tasks {
        states: vec![TaskState::Due],
        tasks: vec![task(1, 0, TaskState::Due), task(1, 1, TaskState::Due)],
    });
    app.handle_key(ch('3'));
    app.handle_key(key(KeyCode::Down));
    let key_1_1 = (U256::from(1), 1);
    assert_eq!(app.handle_key(key(KeyCode::Enter)), Action::Send(Command::LoadTask(key_1_1)));
    let text = screen(&app);
    assert!(text.contains("Task 1/1"), "{text}");
    assert!(text.contains("reading its history from the daemon"), "{text}");
    assert!(text.contains("Esc close"), "{text}");

    let at = NOW_MS - 5_000;
    let step = |from: Option<TaskState>, to, after_ms, detail: Option<&str>| TaskTransitionView {
        from,
        to,
        at_ms: at + after_ms,
        detail: detail.map(str::to_owned),
    };
    let mut done = task(1, 1, TaskState::Performed);
    done.updated_at_ms = at + 4_000;
    let detail = TaskDetail {
        task: done,
        history: vec![
            step(None, TaskState::Due, 0, None),
            step(Some(TaskState::Due), TaskState::Executed, 1_000, Some("simulated ok")),
            step(Some(TaskState::Executed), TaskState::Signed, 2_000, None),
            step(Some(TaskState::Signed), TaskState::Proposed, 3_000, None),
            step(Some(TaskState::Proposed), TaskState::Performed, 4_000, Some("batch 0x4e")),
        ],
    };
    // An answer for another task (a dialog closed and reopened meanwhile) is not shown.
    app.apply(ApiEvent::TaskDetail { key: (U256::from(1), 0), result: Err("nope".to_owned()) });
    assert!(screen(&app).contains("reading its history"));
    app.apply(ApiEvent::TaskDetail { key: key_1_1, result: Ok(detail) });
    let text = screen(&app);
    assert!(text.contains("state performed"), "{text}");
    assert!(text.contains("at       from       to         after   detail"), "{text}");
    assert!(text.contains("-          due        0ms"), "{text}");
    assert!(text.contains("due        executed   1s      simulated ok"), "{text}");
    assert!(text.contains("proposed   performed  4s      batch 0x4e"), "{text}");
    // The read task replaces the queue's older copy.
    assert_eq!(app.tasks.get(&key_1_1).map(|t| t.state), Some(TaskState::Performed));

    assert_eq!(app.handle_key(key(KeyCode::Esc)), Action::None);
    assert!(app.modal.is_none());
    assert!(!screen(&app).contains("Task 1/1"));

    // A failed read says why; a long history keeps its newest entries.
    app.handle_key(key(KeyCode::Enter));
    app.apply(ApiEvent::TaskDetail { key: key_1_1, result: Err("task_not_found: no such task".to_owned()) });
    assert!(screen(&app).contains("could not read it: task_not_found"));
    app.handle_key(key(KeyCode::Esc));
    app.handle_key(key(KeyCode::Enter));
    let long = TaskDetail {
        task: task(1, 1, TaskState::Due),
        history: (0..40).map(|i| step(None, TaskState::Due, i, Some(&format!("entry {i}")))).collect(),
    };
    app.apply(ApiEvent::TaskDetail { key: key_1_1, result: Ok(long) });
    let text = screen(&app);
    assert!(text.contains("earlier"), "{text}");
    assert!(text.contains("entry 39"), "{text}");
    assert!(!text.contains("entry 0 "), "{text}");
}

#[test]
fn pause_asks_for_confirmation_and_reports_the_outcome() {
    let mut app = app_with_status();
    app.apply(ApiEvent::Jobs(vec![job(1, JobStatus::Active, 1_000_000_000_000_000_000)]));
    app.handle_key(ch('4'));
    assert_eq!(app.handle_key(ch('p')), Action::None);
    let text = screen(&app);
    assert!(text.contains("Pause job 1?"), "{text}");
    assert!(text.contains("y: yes   n: no"), "{text}");
    assert_eq!(app.handle_key(ch('n')), Action::None, "no: nothing is sent");
    assert!(!screen(&app).contains("Pause job 1?"));

    app.handle_key(ch('p'));
    assert_eq!(app.handle_key(ch('y')), Action::Send(Command::PauseJob(U256::from(1))));
    assert!(screen(&app).contains("… pause job 1: waiting for the daemon"));
    app.apply(ApiEvent::WriteDone { what: "pause job 1".to_owned(), result: Ok("done in block 9".to_owned()) });
    assert!(screen(&app).contains("pause job 1: done in block 9"));
}

#[test]
fn resume_and_cancel_are_refused_for_the_wrong_status() {
    let mut app = app_with_status();
    app.apply(ApiEvent::Jobs(vec![job(1, JobStatus::Active, 1), job(2, JobStatus::Cancelled, 0)]));
    app.handle_key(ch('4'));
    app.handle_key(ch('r'));
    assert!(app.modal.is_none());
    assert!(screen(&app).contains("job 1 is active: only a paused job can be resumed"));
    app.handle_key(key(KeyCode::Down));
    app.handle_key(ch('c'));
    assert!(screen(&app).contains("job 2 is cancelled already"));
    app.handle_key(key(KeyCode::Up));
    app.handle_key(ch('c'));
    let text = screen(&app);
    assert!(text.contains("Cancel job 1?"), "{text}");
    assert!(text.contains("goes back to the owner"), "{text}");
    assert_eq!(app.handle_key(ch('y')), Action::Send(Command::CancelJob(U256::from(1))));
}

#[test]
fn event_log_follows_and_filters() {
    let mut app = app_with_status();
    for i in 0..50u64 {
        app.apply(ApiEvent::Event(if i % 2 == 0 { new_head(i, 400 + i) } else { performed(i, 1 + i % 3, i) }));
    }
    app.apply(ApiEvent::Missed(4));
    app.handle_key(ch('5'));
    let lines = render(&app, 80, 24);
    assert!(lines[1].contains("Events (50 received)"), "{}", lines[1]);
    assert!(lines[21].contains("console  missed 4 events"), "newest at the bottom: {}", lines[21]);
    assert!(lines[20].contains("49 ") && lines[20].contains("job 2 task 49 performed"), "{}", lines[20]);

    app.handle_key(ch('/'));
    type_text(&mut app, "job 3");
    app.handle_key(key(KeyCode::Enter));
    let text = screen(&app);
    assert!(text.contains("filter: job 3"), "{text}");
    assert!(text.contains("job 3 task 47"), "{text}");
    assert!(!text.contains("job 2 task"), "{text}");
    assert!(!text.contains("new_head"), "{text}");
    // Typing went into the filter, not to the view switcher.
    assert_eq!(app.view, View::Events);

    app.handle_key(ch('x'));
    assert!(screen(&app).contains("new_head"));
}

#[test]
fn at_80x24_an_event_cut_by_the_list_is_shown_whole_below_it() {
    let mut app = app_with_status();
    let reason =
        "simulated perform reverted: Error(\"stale performData: round 41 was already answered at block 9120\")";
    let failed = |id: u64, sequence: u64| keeper_shared::api::EventRecord {
        id,
        at_ms: console_support::NOW_MS,
        event: keeper_shared::api::Event::TaskState {
            job_id: U256::from(7),
            sequence,
            from: Some(TaskState::Proposed),
            to: TaskState::Failed,
            detail: Some(reason.to_owned()),
        },
    };
    app.apply(ApiEvent::Event(failed(1, 3)));
    app.handle_key(ch('5'));
    let lines = render(&app, 80, 24);
    let text = lines.join("\n");
    assert!(text.contains("Detail"), "{text}");
    // The list cuts the line at the width; the pane shows its end.
    let tail = lines.iter().rposition(|l| l.contains("9120\")")).expect("the whole reason is on screen");
    assert!(tail > 17, "in the pane at the bottom: {text}");

    // A short newest line needs no pane: the whole height goes to the list.
    app.apply(ApiEvent::Event(new_head(2, 400)));
    let text = render(&app, 80, 24).join("\n");
    assert!(!text.contains("Detail"), "{text}");
    // Scrolling back to the long line brings the pane back.
    app.handle_key(key(KeyCode::Up));
    let text = render(&app, 80, 24).join("\n");
    assert!(text.contains("Detail") && text.contains("9120\")"), "{text}");
}

#[test]
fn every_view_fits_small_and_scales_up() {
    let mut app = app_with_status();
    app.apply(ApiEvent::Jobs(vec![job(1, JobStatus::Active, 1)]));
    app.apply(ApiEvent::Operators(vec![operator(0xaa, true, true, 1, 0)]));
    app.apply(ApiEvent::Tasks { states: vec![TaskState::Due], tasks: vec![task(1, 0, TaskState::Due)] });
    app.apply(ApiEvent::Event(new_head(1, 1)));
    for view in View::ALL {
        app.view = view;
        for (width, height) in [(80, 24), (200, 60), (20, 5), (1, 1)] {
            let lines = render(&app, width, height);
            assert_eq!(lines.len(), height as usize);
        }
    }
    // Wide terminals put the job list and the job side by side.
    app.view = View::Jobs;
    let lines = render(&app, 200, 60);
    assert!(lines[1].contains("Jobs (1)") && lines[1].contains("Job 1 (active)"), "{}", lines[1]);
}

#[test]
fn tab_cycles_views_and_q_quits() {
    let mut app = App::new();
    for expected in [View::Operators, View::Tasks, View::Jobs, View::Events, View::Overview] {
        app.handle_key(key(KeyCode::Tab));
        assert_eq!(app.view, expected);
    }
    app.handle_key(key(KeyCode::BackTab));
    assert_eq!(app.view, View::Events);
    assert_eq!(app.handle_key(ch('g')), Action::Send(Command::Refresh));
    assert_eq!(app.handle_key(ch('q')), Action::Quit);
}
