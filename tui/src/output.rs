//! Human output: aligned tables and readable values; `--json` output is the API's own types.

use alloy::primitives::U256;
use keeper_shared::api::TxOutcome;
use keeper_shared::job::{Action, JobSpec, Trigger};
use serde::Serialize;

use crate::exit::CliResult;

/// Prints `value` as one line of JSON on stdout.
/// Writes a line to stdout. A reader that went away (`keeperctl task list --all | head -1`) ends
/// the command quietly with exit code 0, as `seq 1000 | head -1` does: nobody is left to tell, and
/// `println!` would panic.
pub fn line(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let written = out.write_fmt(args).and_then(|()| out.write_all(b"\n")).and_then(|()| out.flush());
    match written {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => {
            eprintln!("error: writing to stdout: {e}");
            std::process::exit(1);
        }
    }
}

pub fn print_json<T: Serialize + ?Sized>(value: &T) -> CliResult {
    let text = serde_json::to_string(value).map_err(|e| eyre::eyre!("encoding JSON output: {e}"))?;
    line(format_args!("{text}"));
    Ok(())
}

/// A table: a header row and rows, columns padded to the widest cell.
pub struct Table {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&'static str]) -> Self {
        Self { header: header.to_vec(), rows: Vec::new() }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn render(&self) -> String {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let line = |cells: Vec<&str>| {
            let last = cells.len().saturating_sub(1);
            let mut out = String::new();
            for (i, (cell, width)) in cells.iter().zip(&widths).enumerate() {
                if i == last {
                    out.push_str(cell);
                } else {
                    out.push_str(&format!("{cell:<width$}  "));
                }
            }
            out.trim_end().to_owned()
        };
        let mut out = line(self.header.clone());
        for row in &self.rows {
            out.push('\n');
            out.push_str(&line(row.iter().map(String::as_str).collect()));
        }
        out
    }

    pub fn print(&self) {
        line(format_args!("{}", self.render()));
    }
}

/// Wei as ether with the decimals that matter (`1.5 ETH`, `0.000000001 ETH`, `0 ETH`).
pub fn ether(wei: U256) -> String {
    let unit = U256::from(10u64).pow(U256::from(18u64));
    let whole = wei / unit;
    let fraction = wei % unit;
    if fraction.is_zero() {
        return format!("{whole} ETH");
    }
    let digits = format!("{:0>18}", fraction.to_string());
    format!("{whole}.{} ETH", digits.trim_end_matches('0'))
}

/// A unix time as `YYYY-MM-DD hh:mm:ss UTC`.
pub fn time_secs(secs: u64) -> String {
    let days = secs / 86_400;
    let rest = secs % 86_400;
    let (year, month, day) = civil_from_days(days as i64);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC", rest / 3600, rest % 3600 / 60, rest % 60)
}

pub fn time_ms(ms: i64) -> String {
    time_secs(u64::try_from(ms / 1000).unwrap_or_default())
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// A transaction in a few words.
pub fn tx_line(tx: &TxOutcome) -> String {
    format!("transaction {} in block {} ({} gas)", tx.tx_hash, tx.block_number, tx.gas_used)
}

/// A trigger in a few words.
pub fn trigger(trigger: &Trigger) -> String {
    match trigger {
        Trigger::Interval { start, period } => format!("every {period}s from {}", time_secs(*start)),
        Trigger::Block { start, period } => format!("every {period} blocks from block {start}"),
        Trigger::Event(filter) => {
            let topic = filter.topic0.to_string();
            let short = format!("{}…{}", &topic[..10], &topic[topic.len() - 4..]);
            format!("on event {short} of {} from block {}", filter.emitter, filter.start)
        }
    }
}

/// An action in a few words.
pub fn action(action: &Action) -> String {
    match action {
        Action::Call { target, data } => format!("call {target} with {}", short_hex(data)),
        Action::ChainlinkUpkeep { target, .. } => format!("upkeep {target}"),
        Action::GelatoResolver { target, resolver, .. } => format!("call {target} when resolver {resolver} says"),
        Action::Script { target, code_url, .. } => format!("script {code_url} for {target}"),
    }
}

fn short_hex(data: &[u8]) -> String {
    if data.is_empty() {
        return "no data".to_owned();
    }
    let hex = hex::encode(data);
    if hex.len() > 18 {
        format!("0x{}… ({} bytes)", &hex[..16], data.len())
    } else {
        format!("0x{hex}")
    }
}

/// The lines of a spec, for `job show` and the writes' confirmations.
pub fn spec_lines(spec: &JobSpec) -> Vec<(&'static str, String)> {
    vec![
        ("trigger", trigger(&spec.trigger)),
        ("action", action(&spec.action)),
        ("gas limit", spec.gas_limit.to_string()),
        ("max fee", ether(U256::from(spec.max_fee))),
        ("expiry", spec.expiry.map(time_secs).unwrap_or_else(|| "never".to_owned())),
    ]
}

/// `key: value` lines with the keys aligned.
pub fn print_fields(fields: &[(&str, String)]) {
    let width = fields.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
    for (key, value) in fields {
        line(format_args!("{:<width$} {value}", format!("{key}:")));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_well() {
        assert_eq!(ether(U256::from(15u128 * 10u128.pow(17))), "1.5 ETH");
        assert_eq!(ether(U256::from(1u64)), "0.000000000000000001 ETH");
        assert_eq!(ether(U256::ZERO), "0 ETH");
        assert_eq!(time_secs(0), "1970-01-01 00:00:00 UTC");
        // 2024-02-29 12:34:56 UTC (a leap day).
        assert_eq!(time_secs(1_709_210_096), "2024-02-29 12:34:56 UTC");
    }

    #[test]
    fn tables_align() {
        let mut table = Table::new(&["ID", "STATUS"]);
        table.row(vec!["1".into(), "active".into()]);
        table.row(vec!["12345".into(), "paused".into()]);
        assert_eq!(table.render(), "ID     STATUS\n1      active\n12345  paused");
    }
}
