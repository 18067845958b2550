//! Settings of script jobs: how code is fetched and cached, and the sandbox's limits per job kind, each
//! checked against a hard cap. keeperd's configuration embeds [`ScriptConfig`] as its `[script]` table;
//! errors name the field as written there (`script.limits.event.fuel`).
//!
//! Limits only decide whether a run completes, never what it answers: a script that completes gives the same
//! result under any limits. Keepers with tighter limits than their peers fail (and sign nothing) for scripts
//! their peers complete; that costs liveness, not agreement.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A setting outside what this build accepts.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ConfigError {
    #[error("config: `{field}`: {value} is above the hard cap {cap}")]
    AboveCap { field: String, value: u64, cap: u64 },
    #[error("config: `{field}`: must be at least {min}")]
    BelowMin { field: String, min: u64 },
    #[error("config: `{field}`: {reason}")]
    Invalid { field: String, reason: String },
}

/// The job kinds limits are set for: the trigger of the job the script belongs to. Event jobs run once per
/// matching log, so they are the kind an operator most wants to keep cheap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    Interval,
    Block,
    Event,
}

impl JobKind {
    /// Every kind, in the order of the configuration file.
    pub const ALL: [JobKind; 3] = [JobKind::Interval, JobKind::Block, JobKind::Event];

    /// The kind whose limits a job's script runs under: its trigger's.
    pub fn of_trigger(trigger: &keeper_shared::job::Trigger) -> Self {
        use keeper_shared::job::Trigger;
        match trigger {
            Trigger::Interval { .. } => JobKind::Interval,
            Trigger::Block { .. } => JobKind::Block,
            Trigger::Event(_) => JobKind::Event,
        }
    }

    /// The kind's name in the configuration.
    pub fn name(self) -> &'static str {
        match self {
            JobKind::Interval => "interval",
            JobKind::Block => "block",
            JobKind::Event => "event",
        }
    }
}

/// The sandbox's limits for one run. `docs/script-jobs.md` explains each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Fuel for the whole run: one unit per instruction (wasmi's costs), plus the host calls' costs.
    pub fuel: u64,
    /// Linear memory, in bytes (a multiple of the 64 KiB page is enforced by rounding down).
    pub memory_bytes: u64,
    /// Wall-clock time for the run, host calls included, in milliseconds.
    pub wall_clock_ms: u64,
    /// Nested Wasm calls.
    pub max_call_depth: u32,
    /// The interpreter's value stack, in bytes (locals and operands of all active frames).
    pub value_stack_bytes: u64,
    /// Chain reads (`call`, `balance`, `code_size`, `storage`) per run.
    pub max_chain_reads: u32,
    /// The gas an `eth_call` of the script may use (fixed, so a call runs out of gas for every keeper alike).
    pub call_gas: u64,
    /// The call data a script may return, in bytes.
    pub max_output_bytes: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            fuel: 100_000_000,
            memory_bytes: 16 << 20,
            wall_clock_ms: 10_000,
            max_call_depth: 1_000,
            value_stack_bytes: 1 << 20,
            max_chain_reads: 64,
            call_gas: 10_000_000,
            max_output_bytes: 16 << 10,
        }
    }
}

/// What no configuration may exceed: the bounds a keeper's memory and time are planned for.
pub const HARD_CAPS: Limits = Limits {
    fuel: 5_000_000_000,
    memory_bytes: 256 << 20,
    wall_clock_ms: 120_000,
    max_call_depth: 20_000,
    value_stack_bytes: 64 << 20,
    max_chain_reads: 1_024,
    call_gas: 50_000_000,
    max_output_bytes: 128 << 10,
};

impl Limits {
    /// Checks every limit against its cap and its minimum; `prefix` names the table (`script.limits.event`).
    pub fn validate(&self, prefix: &str) -> Result<(), ConfigError> {
        let field = |name: &str| format!("{prefix}.{name}");
        let checks: [(&str, u64, u64, u64); 8] = [
            ("fuel", self.fuel, HARD_CAPS.fuel, 1_000),
            ("memory_bytes", self.memory_bytes, HARD_CAPS.memory_bytes, crate::sandbox::PAGE_BYTES),
            ("wall_clock_ms", self.wall_clock_ms, HARD_CAPS.wall_clock_ms, 1),
            ("max_call_depth", u64::from(self.max_call_depth), u64::from(HARD_CAPS.max_call_depth), 16),
            ("value_stack_bytes", self.value_stack_bytes, HARD_CAPS.value_stack_bytes, 64 << 10),
            ("max_chain_reads", u64::from(self.max_chain_reads), u64::from(HARD_CAPS.max_chain_reads), 0),
            ("call_gas", self.call_gas, HARD_CAPS.call_gas, 21_000),
            ("max_output_bytes", u64::from(self.max_output_bytes), u64::from(HARD_CAPS.max_output_bytes), 4),
        ];
        for (name, value, cap, min) in checks {
            if value > cap {
                return Err(ConfigError::AboveCap { field: field(name), value, cap });
            }
            if value < min {
                return Err(ConfigError::BelowMin { field: field(name), min });
            }
        }
        Ok(())
    }
}

/// Limits for each job kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KindLimits {
    pub interval: Limits,
    pub block: Limits,
    pub event: Limits,
}

impl Default for KindLimits {
    fn default() -> Self {
        // Event jobs can fire on every block of a busy contract: a tighter default.
        let event = Limits { fuel: 50_000_000, wall_clock_ms: 5_000, max_chain_reads: 32, ..Limits::default() };
        Self { interval: Limits::default(), block: Limits::default(), event }
    }
}

impl KindLimits {
    /// The limits of a kind.
    pub fn of(&self, kind: JobKind) -> &Limits {
        match kind {
            JobKind::Interval => &self.interval,
            JobKind::Block => &self.block,
            JobKind::Event => &self.event,
        }
    }
}

/// How code is fetched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FetchConfig {
    /// The largest module accepted, in bytes; a download stops as soon as it passes this.
    pub max_module_bytes: u64,
    /// The whole fetch (connect, redirects, headers and body), in milliseconds: a server trickling bytes
    /// is cut off here.
    pub timeout_ms: u64,
    /// Redirects followed.
    pub max_redirects: u32,
    /// Base URL `ipfs://CID/path` is fetched through, as `<gateway>/ipfs/CID/path`. The content is checked
    /// against the job's hash, so the gateway need not be trusted.
    pub ipfs_gateway: String,
}

impl Default for FetchConfig {
    fn default() -> Self {
        Self {
            max_module_bytes: 2 << 20,
            timeout_ms: 15_000,
            max_redirects: 5,
            ipfs_gateway: "https://ipfs.io".to_owned(),
        }
    }
}

/// Caps of the fetch settings.
pub const MAX_MODULE_BYTES_CAP: u64 = 32 << 20;
pub const FETCH_TIMEOUT_CAP_MS: u64 = 300_000;
pub const MAX_REDIRECTS_CAP: u32 = 20;

/// The on-disk cache of fetched modules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    /// Where modules are kept; keeperd defaults it to `<data_dir>/scripts`. `None`: no disk cache.
    pub dir: Option<PathBuf>,
    /// The most the cache keeps, in bytes; the least recently used modules go first.
    pub max_bytes: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self { dir: None, max_bytes: 256 << 20 }
    }
}

/// Everything about script jobs (keeperd's `[script]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ScriptConfig {
    pub fetch: FetchConfig,
    pub cache: CacheConfig,
    pub limits: KindLimits,
}

impl ScriptConfig {
    /// Checks every setting; `prefix` is where the table sits in the embedding file (`script`).
    pub fn validate(&self, prefix: &str) -> Result<(), ConfigError> {
        for kind in JobKind::ALL {
            self.limits.of(kind).validate(&format!("{prefix}.limits.{}", kind.name()))?;
        }
        let fetch = &self.fetch;
        let field = |name: &str| format!("{prefix}.fetch.{name}");
        if fetch.max_module_bytes > MAX_MODULE_BYTES_CAP {
            return Err(ConfigError::AboveCap {
                field: field("max_module_bytes"),
                value: fetch.max_module_bytes,
                cap: MAX_MODULE_BYTES_CAP,
            });
        }
        if fetch.max_module_bytes < 8 {
            return Err(ConfigError::BelowMin { field: field("max_module_bytes"), min: 8 });
        }
        if fetch.timeout_ms > FETCH_TIMEOUT_CAP_MS {
            return Err(ConfigError::AboveCap {
                field: field("timeout_ms"),
                value: fetch.timeout_ms,
                cap: FETCH_TIMEOUT_CAP_MS,
            });
        }
        if fetch.timeout_ms == 0 {
            return Err(ConfigError::BelowMin { field: field("timeout_ms"), min: 1 });
        }
        if fetch.max_redirects > MAX_REDIRECTS_CAP {
            return Err(ConfigError::AboveCap {
                field: field("max_redirects"),
                value: u64::from(fetch.max_redirects),
                cap: u64::from(MAX_REDIRECTS_CAP),
            });
        }
        crate::fetch::gateway_base(&fetch.ipfs_gateway)
            .map_err(|reason| ConfigError::Invalid { field: field("ipfs_gateway"), reason })?;
        if self.cache.max_bytes < fetch.max_module_bytes {
            return Err(ConfigError::Invalid {
                field: format!("{prefix}.cache.max_bytes"),
                reason: format!(
                    "must hold at least one module ({} bytes, fetch.max_module_bytes)",
                    fetch.max_module_bytes
                ),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_within_caps() {
        ScriptConfig::default().validate("script").expect("defaults");
        HARD_CAPS.validate("caps").expect("the caps themselves are allowed");
    }

    #[test]
    fn errors_name_the_field() {
        let mut config = ScriptConfig::default();
        config.limits.event.fuel = HARD_CAPS.fuel + 1;
        let error = config.validate("script").unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "config: `script.limits.event.fuel`: {} is above the hard cap {}",
                HARD_CAPS.fuel + 1,
                HARD_CAPS.fuel
            )
        );

        let mut config = ScriptConfig::default();
        config.limits.block.memory_bytes = 1000;
        assert!(config.validate("script").unwrap_err().to_string().contains("`script.limits.block.memory_bytes`"));

        let mut config = ScriptConfig::default();
        config.fetch.ipfs_gateway = "ftp://gateway".into();
        assert!(config.validate("script").unwrap_err().to_string().contains("`script.fetch.ipfs_gateway`"));

        let mut config = ScriptConfig::default();
        config.fetch.max_redirects = 50;
        assert!(config.validate("script").unwrap_err().to_string().contains("`script.fetch.max_redirects`"));
    }

    #[test]
    fn toml_tables_fill_in_defaults_and_reject_unknown_fields() {
        let config: ScriptConfig = toml::from_str(
            "[limits.event]\nfuel = 1000000\n[fetch]\nmax_redirects = 2\n[cache]\ndir = \"/var/cache/scripts\"\n",
        )
        .expect("parses");
        assert_eq!(config.limits.event.fuel, 1_000_000);
        assert_eq!(config.limits.event.memory_bytes, Limits::default().memory_bytes);
        assert_eq!(config.limits.interval, Limits::default());
        assert_eq!(config.fetch.max_redirects, 2);
        assert_eq!(config.cache.dir, Some(PathBuf::from("/var/cache/scripts")));
        let error = toml::from_str::<ScriptConfig>("[limits.event]\nfule = 1\n").unwrap_err();
        assert!(error.to_string().contains("fule"), "{error}");
    }
}
