//! keeperd's logs: `tracing` events to stderr and to a daily-rotated file in the data directory
//! (`<data_dir>/logs/keeperd.log.YYYY-MM-DD`, dates in UTC, the newest `max_files` kept, and a
//! `keeperd.log` symlink to the current one), as human-readable text or one JSON object per line.
//!
//! Settings are the configuration's `[log]` section ([`crate::config::log`]).
//!
//! The file is written by a background thread (`tracing_appender::non_blocking`), so a slow disk
//! never stalls the runtime; the [`LogGuard`] flushes it when dropped and must live as long as the
//! process logs. Nothing here ever formats key material: keys and passwords stay out of events
//! (`daemon/tests/logging.rs` runs the daemon at trace level and scans both outputs for them).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::{LogConfig, LogFormat};

/// The log files' name: `keeperd.log.YYYY-MM-DD`, and `keeperd.log` links to the current one.
pub const FILE_PREFIX: &str = "keeperd.log";

/// Why logging could not start.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    #[error("log.dir {}: {source}", path.display())]
    Dir { path: PathBuf, source: std::io::Error },
    #[error("log.dir {}: {source}", path.display())]
    Appender { path: PathBuf, source: tracing_appender::rolling::InitError },
    #[error("log.level {filter:?}: {message}")]
    Filter { filter: String, message: String },
    #[error("a global logger is already installed: {0}")]
    AlreadyInstalled(String),
}

/// Keeps the file writer's background thread alive; dropping it flushes what is buffered.
#[must_use = "dropping the guard stops file logging"]
pub struct LogGuard {
    _file: Option<WorkerGuard>,
}

/// The daily appender for `dir`, creating it (mode 0700: logs name operators, jobs and endpoints)
/// and deleting all but the newest `max_files - 1` older files.
pub fn file_appender(dir: &Path, max_files: usize) -> Result<RollingFileAppender, LoggingError> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| LoggingError::Dir { path: dir.to_owned(), source })?;
    RollingFileAppender::builder()
        .rotation(Rotation::DAILY)
        .filename_prefix(FILE_PREFIX)
        .max_log_files(max_files)
        .latest_symlink(FILE_PREFIX)
        .build(dir)
        .map_err(|source| LoggingError::Appender { path: dir.to_owned(), source })
}

type BoxedLayer = Box<dyn Layer<tracing_subscriber::Registry> + Send + Sync>;

/// A formatting layer of `format` on `writer`, filtered by `filter`.
fn layer<W>(format: LogFormat, writer: W, ansi: bool, filter: EnvFilter) -> BoxedLayer
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let base = tracing_subscriber::fmt::layer().with_writer(writer).with_ansi(ansi);
    match format {
        LogFormat::Text => base.with_filter(filter).boxed(),
        LogFormat::Json => base.json().with_filter(filter).boxed(),
    }
}

/// Installs the process-wide logger: stderr, plus the daily file unless turned off. Hold the
/// returned guard until the process exits.
pub fn init(config: &LogConfig) -> Result<LogGuard, LoggingError> {
    let filter = || {
        EnvFilter::builder()
            .parse(&config.filter)
            .map_err(|e| LoggingError::Filter { filter: config.filter.clone(), message: e.to_string() })
    };
    // Colours only for a person at a terminal; NO_COLOR (no-color.org) turns them off there too.
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let mut layers = vec![layer(config.format, std::io::stderr, ansi, filter()?)];
    let mut guard = None;
    if let Some(dir) = &config.dir {
        let (writer, worker) = tracing_appender::non_blocking(file_appender(dir, config.max_files)?);
        layers.push(layer(config.format, writer, false, filter()?));
        guard = Some(worker);
    }
    tracing_subscriber::registry()
        .with(layers)
        .try_init()
        .map_err(|e| LoggingError::AlreadyInstalled(e.to_string()))?;
    Ok(LogGuard { _file: guard })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_keeps_the_newest_files_and_links_the_current_one() {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("logs");
        std::fs::create_dir(&logs).unwrap();
        for day in 1..=9 {
            std::fs::write(logs.join(format!("{FILE_PREFIX}.2020-01-0{day}")), "old\n").unwrap();
            std::thread::sleep(std::time::Duration::from_millis(5)); // distinct creation times
        }
        std::fs::write(logs.join("unrelated.txt"), "kept").unwrap();
        let appender = file_appender(&logs, 3).unwrap();
        drop(appender);
        let mut names: Vec<String> =
            std::fs::read_dir(&logs).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        // The symlink names today's file (the appender dates files in UTC).
        let current = std::fs::read_link(logs.join(FILE_PREFIX)).unwrap();
        let current = current.file_name().unwrap().to_str().unwrap().to_owned();
        let date = current.strip_prefix(&format!("{FILE_PREFIX}.")).unwrap();
        assert!(date.len() == 10 && date.as_bytes()[4] == b'-' && date > "2020-01-09", "{current}");
        let mut expected = vec![
            FILE_PREFIX.to_owned(),
            format!("{FILE_PREFIX}.2020-01-08"),
            format!("{FILE_PREFIX}.2020-01-09"),
            current,
            "unrelated.txt".to_owned(),
        ];
        expected.sort();
        assert_eq!(names, expected);
    }

    #[test]
    fn the_log_dir_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("data/logs");
        drop(file_appender(&logs, 7).unwrap());
        assert_eq!(std::fs::metadata(&logs).unwrap().permissions().mode() & 0o777, 0o700);
    }
}
