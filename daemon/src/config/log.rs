//! The `[log]` section: the file's settings, overridden by environment variables, overridden by
//! flags. The level is an `EnvFilter` directive (`debug`, `warn,keeperd=debug`); its variable is the
//! ecosystem's `RUST_LOG`, so there is one way to set it. [`crate::logging`] installs the logger.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use tracing_subscriber::EnvFilter;

use super::ConfigError;

/// Used when neither flag, variable nor file sets a level: the daemon's own progress, and only
/// warnings from its dependencies.
pub const DEFAULT_FILTER: &str = "warn,keeperd=info";
/// Daily files kept when the configuration does not say.
pub const DEFAULT_MAX_FILES: usize = 7;
/// The most daily files one may ask to keep (ten years).
pub const MAX_MAX_FILES: usize = 3650;

/// How each event is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line (`timestamp`, `level`, `fields`, `target`, `span`, `spans`), for log shippers.
    Json,
}

/// The `[log]` section of the configuration file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileLog {
    /// `EnvFilter` directive, e.g. `"info"` or `"warn,keeperd=debug"`.
    pub level: Option<String>,
    pub format: Option<LogFormat>,
    /// Where the daily files go [default: `<data_dir>/logs`].
    pub dir: Option<PathBuf>,
    /// Daily files kept (the oldest are deleted at start and at each rotation).
    pub max_files: Option<usize>,
    /// `false` logs to stderr only (e.g. under journald).
    pub file: Option<bool>,
}

/// What flags and environment variables set for logging; `None` = not given.
#[derive(Debug, Default, Clone)]
pub struct LogOverrides {
    pub level: Option<String>,
    pub format: Option<LogFormat>,
    pub dir: Option<PathBuf>,
    pub max_files: Option<usize>,
}

/// Validated logging settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// The `EnvFilter` directive (checked to parse).
    pub filter: String,
    pub format: LogFormat,
    /// The directory of the daily files; `None` when file logging is off.
    pub dir: Option<PathBuf>,
    /// Daily files kept, at least 1.
    pub max_files: usize,
}

impl LogConfig {
    /// Merges defaults, the file's `[log]` section and the overrides, then validates; the log
    /// directory defaults to `<data_dir>/logs`.
    pub fn resolve(file: FileLog, overrides: LogOverrides, data_dir: &Path) -> Result<Self, ConfigError> {
        let filter = overrides.level.or(file.level).unwrap_or_else(|| DEFAULT_FILTER.to_owned());
        if let Err(e) = EnvFilter::builder().parse(&filter) {
            return Err(ConfigError::Invalid { field: "log.level", reason: format!("{filter:?}: {e}") });
        }
        let max_files = overrides.max_files.or(file.max_files).unwrap_or(DEFAULT_MAX_FILES);
        if !(1..=MAX_MAX_FILES).contains(&max_files) {
            return Err(ConfigError::Invalid {
                field: "log.max_files",
                reason: format!("{max_files} is not in 1..={MAX_MAX_FILES}"),
            });
        }
        let dir = match (overrides.dir, file.file.unwrap_or(true)) {
            (Some(dir), _) => Some(dir),
            (None, true) => Some(file.dir.unwrap_or_else(|| data_dir.join("logs"))),
            (None, false) => None,
        };
        Ok(Self { filter, format: overrides.format.or(file.format).unwrap_or_default(), dir, max_files })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(file: &str, overrides: LogOverrides) -> Result<LogConfig, ConfigError> {
        let file: FileLog = toml::from_str(file).unwrap();
        LogConfig::resolve(file, overrides, Path::new("/var/lib/keeperd"))
    }

    #[test]
    fn defaults_log_info_to_a_week_of_daily_files_in_the_data_dir() {
        let config = resolve("", LogOverrides::default()).unwrap();
        assert_eq!(
            config,
            LogConfig {
                filter: DEFAULT_FILTER.into(),
                format: LogFormat::Text,
                dir: Some(PathBuf::from("/var/lib/keeperd/logs")),
                max_files: 7,
            }
        );
    }

    #[test]
    fn overrides_beat_the_file() {
        let file = "level = \"debug\"\nformat = \"text\"\ndir = \"/a\"\nmax_files = 3\n";
        assert_eq!(resolve(file, LogOverrides::default()).unwrap().filter, "debug");
        let overrides = LogOverrides {
            level: Some("warn,keeperd=trace".into()),
            format: Some(LogFormat::Json),
            dir: Some("/b".into()),
            max_files: Some(30),
        };
        let config = resolve(file, overrides).unwrap();
        assert_eq!(config.filter, "warn,keeperd=trace");
        assert_eq!(config.format, LogFormat::Json);
        assert_eq!(config.dir, Some(PathBuf::from("/b")));
        assert_eq!(config.max_files, 30);
    }

    #[test]
    fn file_logging_can_be_turned_off() {
        assert_eq!(resolve("file = false", LogOverrides::default()).unwrap().dir, None);
    }

    #[test]
    fn bad_values_name_their_field() {
        let bad_level = resolve("level = \"keeperd=loud\"", LogOverrides::default()).unwrap_err();
        assert!(bad_level.to_string().contains("`log.level`"), "{bad_level}");
        let zero = resolve("max_files = 0", LogOverrides::default()).unwrap_err();
        assert!(zero.to_string().contains("`log.max_files`"), "{zero}");
        let format = toml::from_str::<FileLog>("format = \"xml\"").unwrap_err();
        assert!(format.to_string().contains("xml"), "{format}");
    }
}
