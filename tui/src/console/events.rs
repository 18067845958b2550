//! The event log: the newest events of the daemon's stream, each turned into its line of text
//! once when it arrives (so a frame only filters and copies the lines it shows), in a ring of
//! bounded size.

use std::collections::VecDeque;

use crossterm::event::{KeyCode, KeyEvent};
use keeper_shared::api::{Event, EventRecord, OutcomeKind};

use super::format;

/// Lines kept; older ones are dropped.
pub const DEFAULT_EVENT_CAPACITY: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// The event's id (`None` for the console's own notes, such as a gap in the stream).
    pub id: Option<u64>,
    pub at_ms: i64,
    pub kind: &'static str,
    /// Lower-case text, what the filter matches.
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct EventLog {
    lines: VecDeque<LogLine>,
    capacity: usize,
    /// Lines whose text contains it are shown (empty: all).
    pub filter: String,
    /// Keys go into the filter.
    pub editing_filter: bool,
    /// Matching lines hidden below the view (0: follow the newest).
    pub scroll_back: usize,
    /// Events received in all.
    pub received: u64,
}

impl Default for EventLog {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_EVENT_CAPACITY)
    }
}

impl EventLog {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            lines: VecDeque::with_capacity(capacity.min(1024)),
            capacity: capacity.max(1),
            filter: String::new(),
            editing_filter: false,
            scroll_back: 0,
            received: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    pub fn push(&mut self, record: EventRecord) {
        self.received += 1;
        let (kind, text) = describe(&record.event);
        self.push_line(LogLine { id: Some(record.id), at_ms: record.at_ms, kind, text });
    }

    pub fn push_note(&mut self, at_ms: i64, text: String) {
        self.push_line(LogLine { id: None, at_ms, kind: "console", text });
    }

    fn push_line(&mut self, line: LogLine) {
        if self.lines.len() == self.capacity {
            self.lines.pop_front();
        }
        self.lines.push_back(line);
        // A reader scrolled back keeps looking at the same lines.
        if self.scroll_back > 0 && self.matches(self.lines.back()) {
            self.scroll_back += 1;
        }
    }

    fn matches(&self, line: Option<&LogLine>) -> bool {
        line.is_some_and(|l| self.filter.is_empty() || l.text.contains(&self.filter) || l.kind.contains(&self.filter))
    }

    /// The `rows` lines a screen shows, oldest first, ending `scroll_back` matching lines above
    /// the newest.
    pub fn visible(&self, rows: usize) -> Vec<&LogLine> {
        let mut out: Vec<&LogLine> =
            self.lines.iter().rev().filter(|l| self.matches(Some(l))).skip(self.scroll_back).take(rows).collect();
        out.reverse();
        out
    }

    /// Moves the view `delta` lines down (negative: back in time); `isize::MAX` follows the newest.
    pub fn scroll(&mut self, delta: isize) {
        self.scroll_back = match delta {
            isize::MAX => 0,
            isize::MIN => self.lines.len(),
            d if d < 0 => self.scroll_back.saturating_add(d.unsigned_abs()).min(self.lines.len()),
            d => self.scroll_back.saturating_sub(d.unsigned_abs()),
        };
    }

    /// A key while the filter is being typed.
    pub fn edit_filter(&mut self, key: KeyEvent) {
        match key.code {
            KeyCode::Enter => self.editing_filter = false,
            KeyCode::Esc => {
                self.editing_filter = false;
                self.filter.clear();
            }
            KeyCode::Backspace => {
                self.filter.pop();
            }
            KeyCode::Char(c) => self.filter.extend(c.to_lowercase()),
            _ => {}
        }
        self.scroll_back = 0;
    }
}

/// The event's kind and its line of text.
fn describe(event: &Event) -> (&'static str, String) {
    match event {
        Event::NewHead { block } => {
            ("new_head", format!("block {} {}", block.number, format::short_hash(&block.hash.to_string())))
        }
        Event::TaskState { job_id, sequence, from, to, detail } => {
            let from = from.map_or("new".to_owned(), |f| f.as_str().to_owned());
            let detail = detail.as_ref().map_or(String::new(), |d| format!(": {d}"));
            ("state", format!("job {job_id} task {sequence} {from} -> {to}{detail}").to_lowercase())
        }
        Event::Job { job_id, change, status, balance_wei, block } => (
            "job",
            format!("job {job_id} {change}, {status}, escrow {} at block {block}", format::eth(*balance_wei))
                .to_lowercase(),
        ),
        Event::Health { subsystem, healthy, detail } => {
            let detail = detail.as_ref().map_or(String::new(), |d| format!(": {d}"));
            let state = if *healthy { "healthy" } else { "unhealthy" };
            ("health", format!("{subsystem} {state}{detail}").to_lowercase())
        }
        Event::Unknown => ("unknown", "an event this keeperctl does not know".to_owned()),
        Event::TaskOutcome { job_id, sequence, batch, outcome } => {
            let what = match outcome {
                OutcomeKind::Performed { success: true, gas_used, fee_wei } => {
                    format!("performed, gas {gas_used}, fee {fee_wei} wei")
                }
                OutcomeKind::Performed { success: false, gas_used, .. } => {
                    format!("performed, call reverted, gas {gas_used}")
                }
                OutcomeKind::NotExecuted => "not executed".to_owned(),
                OutcomeKind::Skipped { reason } => format!("skipped (reason {reason})"),
            };
            ("task", format!("job {job_id} task {sequence} {what} batch {}", format::short_hash(&batch.to_string())))
        }
    }
}

#[cfg(test)]
mod tests {
    use alloy::primitives::B256;
    use keeper_shared::api::BlockView;

    use super::*;

    fn head(id: u64) -> EventRecord {
        EventRecord {
            id,
            at_ms: 0,
            event: Event::NewHead { block: BlockView { number: id, hash: B256::ZERO, timestamp_secs: 0 } },
        }
    }

    #[test]
    fn ring_keeps_the_newest_and_filters() {
        let mut log = EventLog::with_capacity(3);
        for id in 1..=5 {
            log.push(head(id));
        }
        assert_eq!(log.len(), 3);
        let ids: Vec<_> = log.visible(10).iter().map(|l| l.id).collect();
        assert_eq!(ids, vec![Some(3), Some(4), Some(5)]);
        log.filter = "block 4".to_owned();
        let ids: Vec<_> = log.visible(10).iter().map(|l| l.id).collect();
        assert_eq!(ids, vec![Some(4)]);
    }

    #[test]
    fn scrolled_back_view_stays_put() {
        let mut log = EventLog::default();
        for id in 1..=10 {
            log.push(head(id));
        }
        log.scroll(-2);
        let ids: Vec<_> = log.visible(2).iter().map(|l| l.id).collect();
        assert_eq!(ids, vec![Some(7), Some(8)]);
        log.push(head(11));
        let ids: Vec<_> = log.visible(2).iter().map(|l| l.id).collect();
        assert_eq!(ids, vec![Some(7), Some(8)]);
        log.scroll(isize::MAX);
        let ids: Vec<_> = log.visible(2).iter().map(|l| l.id).collect();
        assert_eq!(ids, vec![Some(10), Some(11)]);
    }
}
