//! A script job from URL to result: compiled modules in memory, then the disk cache, then the network; the
//! sandbox of the job's kind. What keeperd's keeper and challenger and `keeperctl` call.

use std::collections::HashMap;
use std::sync::Mutex;

use alloy::primitives::B256;
use thiserror::Error;

use crate::cache::ModuleCache;
use crate::chain::ChainReader;
use crate::config::{ConfigError, JobKind, ScriptConfig};
use crate::fetch::{FetchError, Fetcher};
use crate::sandbox::{CompiledScript, RunError, RunReport, Sandbox, ScriptInput};

/// Compiled modules kept in memory (per kind); past this the map is emptied (modules are cheap to recompile
/// from the disk cache, and a keeper runs far fewer distinct scripts).
const MAX_COMPILED: usize = 256;

/// Why a script job gave no result: the task's failure reason. The keeper signs nothing for it.
#[derive(Debug, Error)]
pub enum ScriptError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error(transparent)]
    Run(#[from] RunError),
}

/// Fetcher, cache and one sandbox per job kind.
#[derive(Debug)]
pub struct ScriptRunner {
    fetcher: Fetcher,
    cache: Option<ModuleCache>,
    sandboxes: [Sandbox; 3],
    compiled: Mutex<HashMap<(JobKind, B256), CompiledScript>>,
}

impl ScriptRunner {
    /// Checks `config` and sets everything up. A disk cache that cannot be opened is logged and skipped (the
    /// runner then fetches every module it has not compiled yet).
    pub fn new(config: &ScriptConfig) -> Result<Self, ScriptError> {
        config.validate("script")?;
        let fetcher = Fetcher::new(&config.fetch)?;
        let cache = config.cache.dir.as_ref().and_then(|dir| match ModuleCache::open(dir, config.cache.max_bytes) {
            Ok(cache) => Some(cache),
            Err(error) => {
                tracing::warn!(%error, "script cache unavailable; modules are fetched on every start");
                None
            }
        });
        let sandboxes = JobKind::ALL.map(|kind| Sandbox::new(*config.limits.of(kind)));
        Ok(Self { fetcher, cache, sandboxes, compiled: Mutex::new(HashMap::new()) })
    }

    /// The sandbox of a job kind.
    pub fn sandbox(&self, kind: JobKind) -> &Sandbox {
        &self.sandboxes[kind as usize]
    }

    pub fn fetcher(&self) -> &Fetcher {
        &self.fetcher
    }

    /// The module at `url` with hash `code_hash`, compiled for `kind`'s sandbox.
    pub async fn load(&self, kind: JobKind, url: &str, code_hash: B256) -> Result<CompiledScript, ScriptError> {
        if let Some(script) = self.compiled_lock().get(&(kind, code_hash)) {
            return Ok(script.clone());
        }
        let code = match self.cache.as_ref().map(|cache| cache.get(code_hash)) {
            Some(Ok(Some(code))) => code,
            Some(Err(error)) => {
                tracing::warn!(%error, "script cache read failed; fetching");
                self.fetch_and_store(url, code_hash).await?
            }
            Some(Ok(None)) | None => self.fetch_and_store(url, code_hash).await?,
        };
        let script = self.sandbox(kind).compile(&code)?;
        let mut compiled = self.compiled_lock();
        if compiled.len() >= MAX_COMPILED {
            compiled.clear();
        }
        compiled.insert((kind, code_hash), script.clone());
        Ok(script)
    }

    async fn fetch_and_store(&self, url: &str, code_hash: B256) -> Result<Vec<u8>, FetchError> {
        let code = self.fetcher.fetch(url, code_hash).await?;
        if let Some(cache) = &self.cache {
            if let Err(error) = cache.put(code_hash, &code) {
                tracing::warn!(%error, "script cache write failed");
            }
        }
        Ok(code.to_vec())
    }

    /// Loads and runs a script job's code.
    pub async fn run<C: ChainReader>(
        &self,
        kind: JobKind,
        url: &str,
        code_hash: B256,
        input: &ScriptInput,
        chain: &C,
    ) -> Result<RunReport, ScriptError> {
        let script = self.load(kind, url, code_hash).await?;
        Ok(self.sandbox(kind).run(&script, input, chain).await?)
    }

    fn compiled_lock(&self) -> std::sync::MutexGuard<'_, HashMap<(JobKind, B256), CompiledScript>> {
        // The map holds no invariant a panicking holder could break.
        self.compiled.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
