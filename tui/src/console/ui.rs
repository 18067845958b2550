//! Drawing: a pure function of the [`App`]. Lists are virtualised (only the rows that fit are
//! read from the state), so a frame costs the same with ten tasks or a hundred thousand.
//!
//! Layout: a tab line with the connection state, the view, an optional notice line, and a help bar
//! with the keys that work here. Everything fits 80x24 and grows with the terminal.

use alloy::primitives::U256;
use keeper_shared::api::{
    Action, EndpointState, JobStatus, JobView, SyncState, TaskDetail, TaskState, TaskView, Trigger,
};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Clear, Paragraph, Row, Sparkline, Table, Wrap};
use ratatui::Frame;

use super::app::{App, Connection, Modal, View, LOW_ESCROW_TASKS};
use super::events::LogLine;
use super::form::{CreateJobPreview, Form};
use super::format::{clock, duration, eth, fit_words, roles, short_addr, short_hash, short_peer_id};

const ACCENT: Color = Color::Cyan;
const DIM: Style = Style::new().fg(Color::DarkGray);
const BAD: Style = Style::new().fg(Color::Red);
const GOOD: Style = Style::new().fg(Color::Green);
const WARN: Style = Style::new().fg(Color::Yellow);
const SELECTED: Style = Style::new().bg(Color::Blue).fg(Color::White);

pub fn draw(frame: &mut Frame<'_>, app: &App) {
    let has_notice = app.notice.is_some() || !app.pending.is_empty();
    let [header, body, notice, help] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(u16::from(has_notice)),
        Constraint::Length(1),
    ])
    .areas(frame.area());

    draw_header(frame, app, header);
    match app.view {
        View::Overview => draw_overview(frame, app, body),
        View::Operators => draw_operators(frame, app, body),
        View::Tasks => draw_tasks(frame, app, body),
        View::Jobs => draw_jobs(frame, app, body),
        View::Events => draw_events(frame, app, body),
    }
    if has_notice {
        draw_notice(frame, app, notice);
    }
    if let Some(modal) = &app.modal {
        draw_modal(frame, app, modal, body);
    }
    frame.render_widget(Paragraph::new(help_line(app)).style(DIM), help);
}

fn draw_header(frame: &mut Frame<'_>, app: &App, area: Rect) {
    // The tabs take 52 columns (and a gap): the state gets the rest (at least 14), shortened to fit
    // (the disconnect reason word by word) rather than cut.
    let room = usize::from(area.width.saturating_sub(53).max(14));
    let (mark, text, style) = match &app.connection {
        Connection::Connected => ("●", "connected".to_owned(), GOOD),
        Connection::Connecting { attempt: 1 } => ("◌", "connecting".to_owned(), WARN),
        Connection::Connecting { attempt } => ("◌", format!("reconnecting (try {attempt})"), WARN),
        Connection::Disconnected { error, attempt } => {
            let full = format!("disconnected, retry {attempt}: {error}");
            let text = if full.chars().count() + 2 <= room {
                full
            } else {
                let prefix = format!("retry {attempt}: ");
                format!("{prefix}{}", fit_words(error, room.saturating_sub(prefix.chars().count() + 2)))
            };
            ("✕", text, BAD)
        }
    };
    let status = format!("{mark} {text}");
    let status_width = (status.chars().count() as u16).min(room as u16);
    let [tabs, conn] = Layout::horizontal([Constraint::Fill(1), Constraint::Length(status_width)]).areas(area);
    let mut spans = Vec::new();
    for (i, view) in View::ALL.iter().enumerate() {
        let label = format!(" {} {} ", i + 1, view.title());
        spans.push(if *view == app.view {
            Span::styled(label, Style::new().fg(Color::Black).bg(ACCENT).add_modifier(Modifier::BOLD))
        } else {
            Span::raw(label)
        });
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), tabs);
    frame.render_widget(Paragraph::new(status).style(style), conn);
}

fn draw_notice(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let line = match (&app.notice, app.pending.last()) {
        (_, Some(pending)) => Line::styled(format!("… {pending}: waiting for the daemon"), WARN),
        (Some(notice), None) => Line::styled(notice.text.clone(), if notice.ok { GOOD } else { BAD }),
        (None, None) => Line::default(),
    };
    frame.render_widget(Paragraph::new(line), area);
}

fn help_line(app: &App) -> String {
    let keys = match &app.modal {
        Some(Modal::JobForm(_)) | Some(Modal::OperatorForm(_)) => "Tab/↑↓ field  ←→ choice  Enter check  Esc close",
        Some(Modal::JobPreview { .. }) => "y send  n edit  Esc edit",
        Some(Modal::Confirm { .. }) => "y yes  n no",
        Some(Modal::TaskDetail { .. }) => "Esc close",
        None => match app.view {
            View::Overview => "1-5/Tab view  g refresh  q quit",
            View::Operators => "↑↓ select  R register local operator  1-5 view  q quit",
            View::Tasks => "↑↓ PgUp/PgDn Home/End move  f/F state filter  Enter history  q quit",
            View::Jobs => "↑↓ select  n new  p pause  r resume  c cancel  1-5 view  q quit",
            View::Events if app.events.editing_filter => "type filter  Enter done  Esc clear",
            View::Events => "/ filter  x clear  ↑↓ PgUp/PgDn scroll  End follow  q quit",
        },
    };
    keys.to_owned()
}

// ---------------------------------------------------------------------------------------------
// Overview
// ---------------------------------------------------------------------------------------------

fn draw_overview(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let Some(status) = &app.status else {
        frame.render_widget(
            Paragraph::new("waiting for the daemon's status…").block(Block::bordered().title("Overview")),
            area,
        );
        return;
    };
    let [top, counts, spark] =
        Layout::vertical([Constraint::Length(7), Constraint::Length(4), Constraint::Min(4)]).areas(area);
    let [chain, health] = Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(top);

    let head = match status.head {
        Some(head) => {
            let age = status.health.scheduler.head_age_secs.map_or(String::new(), |a| format!(" ({a}s old)"));
            format!("#{} {}{age}", head.number, short_hash(&head.hash.to_string()))
        }
        None => "none yet".to_owned(),
    };
    let sync_style = match status.sync.state {
        SyncState::Synced => GOOD,
        SyncState::Syncing | SyncState::Starting => WARN,
        SyncState::Unknown => BAD,
    };
    let behind = match (status.sync.blocks_behind, status.sync.percent) {
        (Some(b), Some(percent)) if b > 0 => format!(", {b} behind, {percent}%"),
        (Some(b), _) => format!(", {b} behind"),
        (None, _) => String::new(),
    };
    let chain_lines = vec![
        Line::from(vec![Span::styled("chain    ", DIM), Span::raw(status.chain_id.to_string())]),
        Line::from(vec![Span::styled("head     ", DIM), Span::raw(head)]),
        Line::from(vec![
            Span::styled("sync     ", DIM),
            Span::styled(format!("{}{behind}", status.sync.state), sync_style),
        ]),
        Line::from(vec![
            Span::styled("roles    ", DIM),
            Span::raw(roles(&status.roles, usize::from(chain.width.saturating_sub(11)))),
        ]),
        Line::from(vec![
            Span::styled("operator ", DIM),
            Span::raw(status.operator.map_or("none (no key)".to_owned(), |a| short_addr(&a))),
        ]),
    ];
    frame.render_widget(
        Paragraph::new(chain_lines).block(Block::bordered().title(format!("keeperd {}", status.version))),
        chain,
    );

    let mut health_lines = Vec::new();
    for rpc in &status.health.rpc {
        let style = match rpc.state {
            EndpointState::Healthy => GOOD,
            EndpointState::Degraded => WARN,
            EndpointState::Down => BAD,
        };
        let latency = rpc.last_latency_ms.map_or("-".to_owned(), |l| format!("{l}ms"));
        health_lines.push(Line::from(vec![
            Span::styled(format!("{:<8} ", rpc.state.as_str()), style),
            Span::raw(format!(
                "{} {latency}, {}/{} failed",
                rpc.endpoint.split_once("://").map_or(rpc.endpoint.as_str(), |(_, rest)| rest),
                rpc.failures_total,
                rpc.requests_total
            )),
        ]));
    }
    let scheduler = &status.health.scheduler;
    health_lines.push(Line::from(vec![
        Span::styled(format!("{:<8} ", if scheduler.running { "running" } else { "stopped" }), {
            if scheduler.running {
                GOOD
            } else {
                BAD
            }
        }),
        Span::raw("scheduler"),
    ]));
    let database = &status.health.database;
    health_lines.push(Line::from(vec![
        Span::styled(
            format!("{:<8} ", if database.ok { "ok" } else { "failing" }),
            if database.ok { GOOD } else { BAD },
        ),
        Span::raw(format!("database{}", database.error.as_ref().map_or(String::new(), |e| format!(": {e}")))),
    ]));
    if let Some(p2p) = &status.p2p {
        let verified = p2p.peers.iter().filter(|p| p.operator.is_some()).count();
        health_lines.push(Line::from(vec![
            Span::styled(
                format!("{:<8} ", if verified > 0 { "ok" } else { "alone" }),
                if verified > 0 { GOOD } else { WARN },
            ),
            Span::raw(format!("p2p: {} peers, {verified} verified", p2p.peers.len())),
        ]));
    }
    frame.render_widget(Paragraph::new(health_lines).block(Block::bordered().title("Health")), health);

    let mut spans = Vec::new();
    for state in TaskState::ALL {
        let count = database.task_counts.iter().find(|c| c.state == *state).map_or(0, |c| c.count);
        spans.push(Span::styled(format!("{state} "), DIM));
        spans.push(Span::raw(format!("{count}  ")));
    }
    frame.render_widget(
        Paragraph::new(Line::from(spans)).wrap(Wrap { trim: true }).block(Block::bordered().title("Tasks")),
        counts,
    );

    let width = spark.width.saturating_sub(2) as usize;
    let data: Vec<u64> = app.throughput.iter().rev().take(width).rev().copied().collect();
    let total: u64 = data.iter().sum();
    let max = data.iter().copied().max().unwrap_or(0);
    frame.render_widget(
        Sparkline::default().data(&data).style(Style::new().fg(ACCENT)).block(
            Block::bordered()
                .title(format!("Performed per block: last {} blocks, {total} tasks, max {max}", data.len())),
        ),
        spark,
    );
}

// ---------------------------------------------------------------------------------------------
// Operators
// ---------------------------------------------------------------------------------------------

fn draw_operators(frame: &mut Frame<'_>, app: &App, area: Rect) {
    // Over P2P each operator's row says whether its node is a verified peer of ours; peers that
    // have not presented a record yet have no operator, so only the title counts them.
    let p2p = app.status.as_ref().and_then(|s| s.p2p.as_ref());
    let title = match p2p {
        Some(p2p) => format!(
            "Operators ({}), peers {} connected, {} verified",
            app.operators.len(),
            p2p.peers.len(),
            p2p.peers.iter().filter(|p| p.operator.is_some()).count()
        ),
        None => format!("Operators ({})", app.operators.len()),
    };
    let block = Block::bordered().title(title);
    if app.operators.is_empty() {
        frame.render_widget(Paragraph::new("no operators known yet").block(block), area);
        return;
    }
    let rows_fit = area.height.saturating_sub(3) as usize;
    app.page_rows.set(rows_fit.max(1));
    let top = app.operator_selected.saturating_sub(rows_fit.saturating_sub(1));
    let rows = app.operators.iter().enumerate().skip(top).take(rows_fit).map(|(i, op)| {
        let seen = op.last_seen_ms.map_or("never".to_owned(), |at| format!("{} ago", duration(app.now_ms - at)));
        let total = op.signed + op.missed;
        let rate = op.missed.saturating_mul(100).checked_div(total).map_or("-".to_owned(), |r| format!("{r}%"));
        let mut cells = vec![
            Cell::from(if op.local { "*" } else { " " }),
            Cell::from(short_addr(&op.address)),
            Cell::from(if op.registered { "yes" } else { "no" }).style(if op.registered { GOOD } else { WARN }),
            Cell::from(eth(op.stake).trim_end_matches(" ETH").to_owned()),
            Cell::from(seen),
            Cell::from(op.signed.to_string()),
            Cell::from(op.missed.to_string()),
            Cell::from(rate),
            Cell::from(op.signature_latency_ms.map_or("-".to_owned(), |ms| format!("{ms}ms"))),
        ];
        if let Some(p2p) = p2p {
            let peer = p2p.peers.iter().find(|p| p.operator == Some(op.address));
            cells.push(match peer {
                _ if op.local => Cell::from("self").style(DIM),
                Some(peer) => Cell::from(format!("✓ {}", short_peer_id(&peer.peer_id))).style(GOOD),
                None => Cell::from("none").style(if op.registered { WARN } else { DIM }),
            });
        }
        let row = Row::new(cells);
        if i == app.operator_selected {
            row.style(SELECTED)
        } else {
            row
        }
    });
    let mut header = vec!["", "operator", "in set", "stake", "last seen", "signed", "missed", "miss", "latency"];
    // The peer column takes its room from the others' slack, so 80 columns still hold every column.
    let widths: &[u16] = if p2p.is_some() {
        header.push("peer");
        &[1, 13, 6, 9, 9, 6, 6, 4, 7, 8]
    } else {
        &[1, 13, 6, 12, 10, 7, 7, 5, 8]
    };
    let widths = widths.iter().map(|w| Constraint::Length(*w));
    frame.render_widget(Table::new(rows, widths).header(Row::new(header).style(DIM)).block(block), area);
}

// ---------------------------------------------------------------------------------------------
// Tasks
// ---------------------------------------------------------------------------------------------

fn draw_tasks(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let filter = app.task_filter;
    let title = format!(
        "Tasks: {} of {} (f: {})",
        app.tasks.count(filter),
        app.tasks.len(),
        filter.map_or("all states", |s| s.as_str())
    );
    let block = Block::bordered().title(title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [counts, list] = Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(inner);

    let mut spans = Vec::new();
    for state in TaskState::ALL {
        let style = if Some(*state) == filter { Style::new().fg(ACCENT).add_modifier(Modifier::BOLD) } else { DIM };
        spans.push(Span::styled(format!("{} {} ", abbrev(*state), app.tasks.count(Some(*state))), style));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)), counts);

    let rows_fit = list.height.saturating_sub(1) as usize;
    app.page_rows.set(rows_fit.max(1));
    let selected = app.task_selected.and_then(|k| app.tasks.resolve(filter, k)).or_else(|| app.tasks.first(filter));
    let Some(selected) = selected else {
        frame.render_widget(Paragraph::new("no tasks").style(DIM), list);
        return;
    };
    // Keep the previous first row unless the selection left the screen.
    let mut top = app.task_top.get().and_then(|k| app.tasks.resolve(filter, k)).unwrap_or(selected);
    if selected < top {
        top = selected;
    }
    let mut window = app.tasks.window(filter, top, rows_fit);
    if !window.iter().any(|t| (t.job_id, t.sequence) == selected) {
        top = app.tasks.step(filter, selected, -(rows_fit.saturating_sub(1) as isize)).unwrap_or(selected);
        window = app.tasks.window(filter, top, rows_fit);
    }
    app.task_top.set(Some(top));

    let rows = window.into_iter().map(|task| {
        let row = task_row(task, app.now_ms);
        if (task.job_id, task.sequence) == selected {
            row.style(SELECTED)
        } else {
            row
        }
    });
    let header = Row::new(vec!["job", "task", "state", "due", "latency", "updated"]).style(DIM);
    let widths = [
        Constraint::Length(8),
        Constraint::Length(9),
        Constraint::Length(10),
        Constraint::Length(10),
        Constraint::Length(8),
        Constraint::Length(9),
    ];
    frame.render_widget(Table::new(rows, widths).header(header), list);
}

fn abbrev(state: TaskState) -> &'static str {
    match state {
        TaskState::Due => "due",
        TaskState::Executed => "exec",
        TaskState::Signed => "sign",
        TaskState::Proposed => "prop",
        TaskState::Submitted => "sub",
        TaskState::Performed => "perf",
        TaskState::Failed => "fail",
        TaskState::Skipped => "skip",
        TaskState::Missed => "miss",
        TaskState::Dropped => "drop",
        TaskState::Unprofitable => "unpr",
        TaskState::Unsupported => "unsp",
        TaskState::NothingToDo => "idle",
    }
}

fn state_style(state: TaskState) -> Style {
    match state {
        TaskState::Performed => GOOD,
        TaskState::Failed | TaskState::Dropped | TaskState::Missed => BAD,
        TaskState::Due | TaskState::Unprofitable | TaskState::Skipped | TaskState::Unsupported => WARN,
        _ => Style::new(),
    }
}

/// Finished tasks: due to last update; others: how long they have waited since due.
fn latency(task: &TaskView, now_ms: i64) -> String {
    let since = task.due_at_ms.unwrap_or(task.created_at_ms);
    duration(if task.state.is_pending() { now_ms } else { task.updated_at_ms } - since)
}

fn task_row(task: &TaskView, now_ms: i64) -> Row<'static> {
    let due = match (task.due_at_ms, task.due_block) {
        (Some(at), _) => clock(at),
        (None, Some(block)) => format!("#{block}"),
        (None, None) => "-".to_owned(),
    };
    Row::new(vec![
        Cell::from(task.job_id.to_string()),
        Cell::from(task.sequence.to_string()),
        Cell::from(task.state.as_str()).style(state_style(task.state)),
        Cell::from(due),
        Cell::from(latency(task, now_ms)),
        Cell::from(clock(task.updated_at_ms)),
    ])
}

// ---------------------------------------------------------------------------------------------
// Jobs
// ---------------------------------------------------------------------------------------------

fn trigger_text(trigger: &Trigger) -> String {
    match trigger {
        Trigger::Interval { period, .. } => format!("every {period}s"),
        Trigger::Block { period, .. } => format!("every {period} blk"),
        Trigger::Event(_) => "on event".to_owned(),
    }
}

/// Escrow for fewer than [`LOW_ESCROW_TASKS`] tasks at the maximum fee.
fn low_escrow(job: &JobView) -> bool {
    job.balance_wei < U256::from(job.spec.max_fee).saturating_mul(U256::from(LOW_ESCROW_TASKS))
}

fn next_due_text(job: &JobView) -> String {
    if job.is_unfunded() {
        return "unfunded".to_owned();
    }
    match job.next_due {
        None => "-".to_owned(),
        Some(next) if next.due_now => format!("#{} now", next.sequence),
        Some(next) => match (next.at_secs, next.at_block) {
            (Some(at), _) => format!("#{} {}", next.sequence, clock(at as i64 * 1000)),
            (None, Some(block)) => format!("#{} blk {block}", next.sequence),
            (None, None) => format!("#{}", next.sequence),
        },
    }
}

fn draw_jobs(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let [list, detail] = if area.width >= 120 {
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(area)
    } else {
        Layout::vertical([Constraint::Percentage(40), Constraint::Percentage(60)]).areas(area)
    };
    let block = Block::bordered().title(format!("Jobs ({})", app.jobs.len()));
    if app.jobs.is_empty() {
        frame.render_widget(Paragraph::new("no jobs indexed (n: create one)").block(block), list);
    } else {
        let rows_fit = list.height.saturating_sub(3) as usize;
        app.page_rows.set(rows_fit.max(1));
        let at = app.job_selected.and_then(|id| app.jobs.keys().position(|k| *k == id)).unwrap_or(0);
        let mut top = app.job_top.get();
        if at < top {
            top = at;
        } else if at >= top + rows_fit {
            top = at + 1 - rows_fit;
        }
        app.job_top.set(top);
        let rows = app.jobs.values().enumerate().skip(top).take(rows_fit).map(|(i, job)| {
            let status_style = match job.status {
                JobStatus::Active => GOOD,
                JobStatus::Paused => WARN,
                _ => DIM,
            };
            let escrow = eth(job.balance_wei);
            let row =
                Row::new(vec![
                    Cell::from(job.id.to_string()),
                    Cell::from(job.status.as_str()).style(status_style),
                    Cell::from(trigger_text(&job.spec.trigger)),
                    Cell::from(if low_escrow(job) { format!("{escrow} !") } else { escrow })
                        .style(if low_escrow(job) { BAD } else { Style::new() }),
                    Cell::from(next_due_text(job)),
                ]);
            if i == at {
                row.style(SELECTED)
            } else {
                row
            }
        });
        let header = Row::new(vec!["id", "status", "trigger", "escrow", "next due"]).style(DIM);
        let widths = [
            Constraint::Length(5),
            Constraint::Length(9),
            Constraint::Length(13),
            Constraint::Length(15),
            Constraint::Fill(1),
        ];
        frame.render_widget(Table::new(rows, widths).header(header).block(block), list);
    }

    let Some(job) = app.selected_job() else {
        frame.render_widget(Block::bordered().title("Job"), detail);
        return;
    };
    let mut lines = vec![Line::from(vec![
        Span::styled("owner ", DIM),
        Span::raw(short_addr(&job.owner)),
        Span::styled("  forwarder ", DIM),
        Span::raw(short_addr(&job.forwarder)),
    ])];
    let trigger = match job.spec.trigger {
        Trigger::Interval { start, period } => format!("interval, every {period}s from {}", clock(start as i64 * 1000)),
        Trigger::Block { start, period } => format!("block, every {period} blocks from #{start}"),
        Trigger::Event(filter) => format!(
            "event {} of {} from #{}",
            short_hash(&filter.topic0.to_string()),
            short_addr(&filter.emitter),
            filter.start
        ),
    };
    lines.push(Line::from(vec![Span::styled("trigger ", DIM), Span::raw(trigger)]));
    let action = match &job.spec.action {
        Action::Call { target, data } => format!("call {} ({} bytes)", short_addr(target), data.len()),
        Action::ChainlinkUpkeep { target, .. } => format!("upkeep {}", short_addr(target)),
        Action::GelatoResolver { target, resolver, .. } => {
            format!("{} when {} says", short_addr(target), short_addr(resolver))
        }
        Action::Script { target, code_url, .. } => format!("script {code_url} on {}", short_addr(target)),
    };
    lines.push(Line::from(vec![Span::styled("action  ", DIM), Span::raw(action)]));
    lines.push(Line::from(vec![
        Span::styled("gas ", DIM),
        Span::raw(job.spec.gas_limit.to_string()),
        Span::styled("  max fee ", DIM),
        Span::raw(eth(U256::from(job.spec.max_fee))),
        Span::styled("  expiry ", DIM),
        Span::raw(job.spec.expiry.map_or("never".to_owned(), |e| clock(e as i64 * 1000))),
    ]));
    let tasks_left = if job.spec.max_fee == 0 {
        String::new()
    } else {
        format!(" (~{} tasks)", job.balance_wei / U256::from(job.spec.max_fee))
    };
    let mut escrow = vec![Span::styled("escrow  ", DIM), Span::raw(format!("{}{tasks_left}", eth(job.balance_wei)))];
    if low_escrow(job) {
        escrow.push(Span::styled("  LOW: top it up", BAD.add_modifier(Modifier::BOLD)));
    }
    lines.push(Line::from(escrow));
    lines.push(Line::from(vec![
        Span::styled("next    ", DIM),
        Span::raw(next_due_text(job)),
        Span::styled("  watermark ", DIM),
        Span::raw(job.watermark.to_string()),
        Span::styled("  failed ", DIM),
        Span::styled(job.tasks_failed.to_string(), if job.tasks_failed > 0 { BAD } else { Style::new() }),
    ]));
    if let Some(warning) = &job.warning {
        lines.push(Line::from(Span::styled(format!("! {warning}"), BAD.add_modifier(Modifier::BOLD))));
    }
    let block = Block::bordered().title(format!("Job {} ({})", job.id, job.status));
    let inner = block.inner(detail);
    frame.render_widget(block, detail);
    let [info, history] = Layout::vertical([Constraint::Length(lines.len() as u16), Constraint::Fill(1)]).areas(inner);
    frame.render_widget(Paragraph::new(lines), info);
    let rows = app.tasks.of_job(job.id, history.height.saturating_sub(1) as usize);
    let rows = rows.into_iter().map(|t| {
        Row::new(vec![
            Cell::from(t.sequence.to_string()),
            Cell::from(t.state.as_str()).style(state_style(t.state)),
            Cell::from(clock(t.updated_at_ms)),
            Cell::from(latency(t, app.now_ms)),
        ])
    });
    let header = Row::new(vec!["task", "state", "updated", "latency"]).style(DIM);
    // The state column fits the longest name (nothing_to_do).
    let widths = [Constraint::Length(9), Constraint::Length(14), Constraint::Length(9), Constraint::Length(8)];
    frame.render_widget(Table::new(rows, widths).header(header), history);
}

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

fn draw_events(frame: &mut Frame<'_>, app: &App, area: Rect) {
    let log = &app.events;
    let mut title = format!("Events ({} received)", log.received);
    if !log.filter.is_empty() || log.editing_filter {
        title.push_str(&format!(" filter: {}{}", log.filter, if log.editing_filter { "▏" } else { "" }));
    }
    if log.scroll_back > 0 {
        title.push_str(&format!(" [{} newer below]", log.scroll_back));
    }
    // The line at the bottom of the list (the newest, or the one scrolled to) is shown whole in a
    // detail pane below the list when the list cuts it: narrow terminals lose no event text.
    let list_rows = area.height.saturating_sub(2) as usize;
    let bottom = log.visible(list_rows.max(1)).last().copied().map(event_line);
    let detail_rows = match &bottom {
        Some(full) if full.width() > area.width.saturating_sub(2) as usize && area.height >= 12 => {
            let text_width = usize::from(area.width.saturating_sub(2)).max(1);
            (full.width().div_ceil(text_width) as u16).min(4) + 2
        }
        _ => 0,
    };
    let [list, detail] = Layout::vertical([Constraint::Fill(1), Constraint::Length(detail_rows)]).areas(area);
    let block = Block::bordered().title(title);
    let inner = block.inner(list);
    frame.render_widget(block, list);
    app.page_rows.set((inner.height as usize).max(1));
    let lines: Vec<Line<'_>> = log.visible(inner.height as usize).into_iter().map(event_line).collect();
    frame.render_widget(Paragraph::new(lines), inner);
    if let (Some(full), true) = (bottom, detail_rows > 0) {
        let pane = Block::bordered().title("Detail (↑/↓ picks the bottom line)").border_style(DIM);
        frame.render_widget(Paragraph::new(full).wrap(Wrap { trim: false }).block(pane), detail);
    }
}

fn event_line(line: &LogLine) -> Line<'_> {
    let id = line.id.map_or("-".to_owned(), |id| id.to_string());
    let kind_style = match line.kind {
        "task" => GOOD,
        "console" => WARN,
        _ => Style::new().fg(ACCENT),
    };
    Line::from(vec![
        Span::styled(format!("{id:>6} {} ", clock(line.at_ms)), DIM),
        Span::styled(format!("{:<8} ", line.kind), kind_style),
        Span::raw(line.text.as_str()),
    ])
}

// ---------------------------------------------------------------------------------------------
// Dialogs
// ---------------------------------------------------------------------------------------------

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect { x: area.x + (area.width - width) / 2, y: area.y + (area.height - height) / 2, width, height }
}

fn draw_modal(frame: &mut Frame<'_>, app: &App, modal: &Modal, body: Rect) {
    match modal {
        Modal::JobForm(form) | Modal::OperatorForm(form) => draw_form(frame, form, body),
        Modal::JobPreview { preview, .. } => draw_preview(frame, app, preview, body),
        Modal::TaskDetail { key, detail } => draw_task_detail(frame, app, *key, detail.as_ref(), body),
        Modal::Confirm { question, detail, .. } => {
            let area = centered(body, 76, 8);
            frame.render_widget(Clear, area);
            let lines = vec![
                Line::styled(question.clone(), Style::new().add_modifier(Modifier::BOLD)),
                Line::raw(detail.clone()),
                Line::default(),
                Line::styled("y: yes   n: no", DIM),
            ];
            frame.render_widget(
                Paragraph::new(lines)
                    .wrap(Wrap { trim: true })
                    .block(Block::bordered().title("Confirm").border_style(WARN)),
                area,
            );
        }
    }
}

/// A task's state history, oldest first; when it does not fit, the newest entries are kept (the
/// number left out is said above them).
fn draw_task_detail(
    frame: &mut Frame<'_>,
    app: &App,
    key: (U256, u64),
    detail: Option<&Result<TaskDetail, String>>,
    body: Rect,
) {
    let area = centered(body, 76, body.height);
    frame.render_widget(Clear, area);
    let title = format!("Task {}/{}", key.0, key.1);
    let block = Block::bordered().title(title).border_style(Style::new().fg(ACCENT));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let detail = match detail {
        None => {
            frame.render_widget(Paragraph::new("reading its history from the daemon…").style(DIM), inner);
            return;
        }
        Some(Err(error)) => {
            frame.render_widget(Paragraph::new(format!("could not read it: {error}")).style(BAD), inner);
            return;
        }
        Some(Ok(detail)) => detail,
    };
    let task = &detail.task;
    let due = match (task.due_at_ms, task.due_block) {
        (Some(at), _) => clock(at),
        (None, Some(block)) => format!("block #{block}"),
        (None, None) => "-".to_owned(),
    };
    let mut lines = vec![
        Line::from(vec![
            Span::styled("state ", DIM),
            Span::styled(task.state.as_str(), state_style(task.state)),
            Span::styled("  due ", DIM),
            Span::raw(due),
            Span::styled("  latency ", DIM),
            Span::raw(latency(task, app.now_ms)),
        ]),
        Line::from(vec![
            Span::styled("response ", DIM),
            Span::raw(task.response_hash.map_or("-".to_owned(), |h| short_hash(&h.to_string()))),
        ]),
    ];
    // The history's detail column is cut at the dialog's width; the reason a task waits is shown whole.
    if let Some(reason) = detail.reason() {
        let width = usize::from(inner.width.max(1));
        let text: Vec<char> = reason.chars().collect();
        for chunk in text.chunks(width) {
            lines.push(Line::styled(chunk.iter().collect::<String>(), WARN));
        }
    }
    lines.push(Line::styled(format!("{:<9}{:<11}{:<11}{:<8}detail", "at", "from", "to", "after"), DIM));
    let fit = (inner.height as usize).saturating_sub(lines.len());
    let history = &detail.history;
    let (skip, rows) = if history.len() > fit {
        // One row goes to the "earlier" note.
        let rows = fit.saturating_sub(1);
        (history.len() - rows, rows)
    } else {
        (0, history.len())
    };
    if skip > 0 {
        lines.push(Line::styled(format!("… {skip} earlier"), DIM));
    }
    let start_ms = history.first().map_or(task.created_at_ms, |h| h.at_ms);
    for entry in history.iter().skip(skip).take(rows) {
        lines.push(Line::from(vec![
            Span::raw(format!("{:<9}", clock(entry.at_ms))),
            Span::styled(format!("{:<11}", entry.from.map_or("-", |s| s.as_str())), DIM),
            Span::styled(format!("{:<11}", entry.to.as_str()), state_style(entry.to)),
            Span::raw(format!("{:<8}", duration(entry.at_ms - start_ms))),
            Span::raw(entry.detail.clone().unwrap_or_default()),
        ]));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

fn draw_form(frame: &mut Frame<'_>, form: &Form, body: Rect) {
    let visible: Vec<(usize, &super::form::Field)> =
        form.fields.iter().enumerate().filter(|(_, f)| f.visible).collect();
    let error_rows = if form.error.is_some() { 3 } else { 0 };
    let area = centered(body, 76, visible.len() as u16 + 2 + error_rows);
    frame.render_widget(Clear, area);
    let block = Block::bordered().title(form.title).border_style(Style::new().fg(ACCENT));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let error_field = form.error.as_ref().and_then(|e| e.field);
    let mut lines = Vec::new();
    for (i, field) in visible {
        let focused = i == form.focus;
        let in_error = error_field == Some(field.id);
        let label_style = if in_error { BAD.add_modifier(Modifier::BOLD) } else { DIM };
        let value = if field.is_choice() {
            format!("‹ {} ›", field.value)
        } else if focused {
            format!("{}▏", field.value)
        } else {
            field.value.clone()
        };
        let mut spans = vec![
            Span::styled(
                if in_error {
                    "!"
                } else if focused {
                    ">"
                } else {
                    " "
                },
                label_style,
            ),
            Span::styled(format!("{:<14}", field.label), label_style),
            Span::styled(value, if focused { Style::new().add_modifier(Modifier::REVERSED) } else { Style::new() }),
        ];
        if focused || field.value.is_empty() {
            spans.push(Span::styled(format!("  {}", field.hint), DIM));
        }
        lines.push(Line::from(spans));
    }
    if let Some(error) = &form.error {
        lines.push(Line::styled(error.message.clone(), BAD));
    }
    frame.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }), inner);
}

fn draw_preview(frame: &mut Frame<'_>, app: &App, preview: &CreateJobPreview, body: Rect) {
    let area = centered(body, 76, 14);
    frame.render_widget(Clear, area);
    let request = &preview.request;
    let spec = &request.spec;
    let from =
        app.status.as_ref().and_then(|s| s.operator).map_or("the daemon's operator".to_owned(), |a| a.to_string());
    let trigger = match spec.trigger {
        Trigger::Interval { start, period } => format!("interval every {period}s from {start}"),
        Trigger::Block { start, period } => format!("block every {period} blocks from #{start}"),
        Trigger::Event(filter) => format!("event of {} from #{}", filter.emitter, filter.start),
    };
    let action = match &spec.action {
        Action::Call { target, data } => format!("call {target} data {}", short_hash(&data.to_string())),
        Action::ChainlinkUpkeep { target, .. } => format!("chainlink upkeep {target}"),
        Action::GelatoResolver { target, resolver, .. } => {
            format!("gelato {target} resolver {}", short_addr(resolver))
        }
        Action::Script { target, code_url, .. } => format!("script {code_url} on {}", short_addr(target)),
    };
    let row = |label: &'static str, value: String| {
        Line::from(vec![Span::styled(format!("{label:<10}"), DIM), Span::raw(value)])
    };
    let lines = vec![
        row("call", "JobManager.createJob(spec)".to_owned()),
        row("from", from),
        row("value", format!("{} wei ({})", request.funding_wei, eth(request.funding_wei))),
        row("trigger", trigger),
        row("action", action),
        row("gas limit", spec.gas_limit.to_string()),
        row("max fee", format!("{} wei per task", spec.max_fee)),
        row("expiry", spec.expiry.map_or("never".to_owned(), |e| e.to_string())),
        row(
            "calldata",
            format!(
                "{} bytes, selector {}",
                preview.calldata.len(),
                alloy::hex::encode_prefixed(&preview.calldata[..preview.calldata.len().min(4)])
            ),
        ),
        Line::default(),
        Line::styled("y: send through the daemon   n: back to the form", DIM),
    ];
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title("Transaction preview").border_style(WARN)),
        area,
    );
}
