//! Memory and CPU time of a running process, from Linux's /proc: resident set size now (`VmRSS`)
//! and at its peak (`VmHWM`) from `/proc/<pid>/status`, user + system CPU time from
//! `/proc/<pid>/stat` (fields 14 and 15, in clock ticks; see proc(5)).

use std::path::PathBuf;

use serde::Serialize;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ProcError {
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}: no readable {field}")]
    Field { path: PathBuf, field: &'static str },
}

/// One reading of a process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ProcessSample {
    /// Resident set size, KiB.
    pub rss_kib: u64,
    /// Peak resident set size so far, KiB.
    pub peak_rss_kib: u64,
    /// User + system CPU time so far, in clock ticks.
    pub cpu_ticks: u64,
}

/// Reads process `pid`.
pub fn sample(pid: u32) -> Result<ProcessSample, ProcError> {
    let status_path = PathBuf::from(format!("/proc/{pid}/status"));
    let stat_path = PathBuf::from(format!("/proc/{pid}/stat"));
    let status = std::fs::read_to_string(&status_path)
        .map_err(|source| ProcError::Read { path: status_path.clone(), source })?;
    let stat =
        std::fs::read_to_string(&stat_path).map_err(|source| ProcError::Read { path: stat_path.clone(), source })?;
    let field = |field| ProcError::Field { path: status_path.clone(), field };
    Ok(ProcessSample {
        rss_kib: status_kib(&status, "VmRSS").ok_or_else(|| field("VmRSS"))?,
        peak_rss_kib: status_kib(&status, "VmHWM").ok_or_else(|| field("VmHWM"))?,
        cpu_ticks: stat_cpu_ticks(&stat).ok_or(ProcError::Field { path: stat_path, field: "utime+stime" })?,
    })
}

/// A `Name:   1234 kB` line of `/proc/<pid>/status`, in KiB.
pub fn status_kib(status: &str, name: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let value = line.strip_prefix(name)?.strip_prefix(':')?;
        value.trim().strip_suffix("kB")?.trim().parse().ok()
    })
}

/// utime + stime from `/proc/<pid>/stat`. The command name (field 2) is in parentheses and may hold
/// spaces or parentheses, so fields are counted after its last `)`: field 3 (state) is the first.
pub fn stat_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(14 - 3);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// Clock ticks per second (`getconf CLK_TCK`); 100, Linux's USER_HZ on every common architecture,
/// if it cannot be asked.
pub fn clock_ticks_per_second() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .and_then(|text| text.trim().parse().ok())
        .filter(|&ticks| ticks > 0)
        .unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields_in_kib() {
        let status = "Name:\tkeeperd\nVmPeak:\t  900000 kB\nVmHWM:\t   45678 kB\nVmRSS:\t   40000 kB\n";
        assert_eq!(status_kib(status, "VmHWM"), Some(45_678));
        assert_eq!(status_kib(status, "VmRSS"), Some(40_000));
        assert_eq!(status_kib(status, "VmSwap"), None);
        // A prefix of another name is not that name.
        assert_eq!(status_kib(status, "Vm"), None);
    }

    #[test]
    fn cpu_ticks_counted_after_the_command_name() {
        // Fields 14 (utime) = 250 and 15 (stime) = 40; the name holds a space and a parenthesis.
        let stat = "4242 (keeperd (x) y) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 40 0 0 20 0 9 0 100 0 0";
        assert_eq!(stat_cpu_ticks(stat), Some(290));
        assert_eq!(stat_cpu_ticks("4242 (keeperd) S 1 2"), None);
        assert_eq!(stat_cpu_ticks("no parenthesis"), None);
    }

    #[test]
    fn this_process_can_be_sampled() {
        let sample = sample(std::process::id()).unwrap();
        assert!(sample.rss_kib > 0);
        assert!(sample.peak_rss_kib >= sample.rss_kib);
    }
}
