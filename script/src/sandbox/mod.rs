//! The sandbox: wasmi, configured for determinism and bounded resources (docs/script-jobs.md, "Sandbox").
//!
//! - Fuel: every instruction costs fuel (wasmi's table), every host call too ([`host`]); the run's budget is
//!   handed to the store in slices, and between slices the wall clock is checked and the async runtime gets a
//!   turn. A call fails for lack of fuel only when the whole budget is spent, so slicing never changes an answer.
//! - Memory: the store's limiter refuses growth past the limit, and a refused growth traps (rather than
//!   `memory.grow` returning -1) so the reason is explicit.
//! - Stack: wasmi's call-depth and value-stack limits; an overflow is a trap, never the host's stack.
//! - Determinism: wasmi's `deterministic` feature canonicalises every NaN an arithmetic instruction produces
//!   (the Wasm 3.0 deterministic profile); no SIMD, threads, memory64 or multi-memory; no start function
//!   (code runs only under the driver's metering); no WASI or any import but `keeper_v1`.

pub(crate) mod host;

use std::time::{Duration, Instant};

use alloy::primitives::{Bytes, U256};
use thiserror::Error;
use tokio::time::timeout;
use wasmi::errors::{ErrorKind, InstantiationError, MemoryError};
use wasmi::{
    CompilationMode, Config, Engine, ExternType, Instance, Linker, Module, Store, StoreLimitsBuilder, TrapCode,
    TypedFunc, TypedResumableCall, Val,
};

pub use host::HostFault;
use host::{HostSignal, HostState, PendingRead};

use crate::chain::{BlockContext, CallResult, ChainError, ChainReader};
use crate::config::Limits;

/// The import module of the host interface; its version is part of the name, so a later interface can be
/// offered beside this one.
pub const ABI_MODULE: &str = "keeper_v1";
/// The export a run calls.
pub const RUN_EXPORT: &str = "run";
/// The optional export called once before `run` (a language's initialisation of its globals).
pub const INITIALIZE_EXPORT: &str = "_initialize";
/// The memory export host calls read and write.
pub const MEMORY_EXPORT: &str = "memory";
/// A Wasm page.
pub const PAGE_BYTES: u64 = 65_536;
/// Fuel handed to the store at a time; between slices the wall clock is checked.
const FUEL_SLICE: u64 = 2_000_000;
/// Table elements a module may have (function tables of compiled languages are far smaller).
const MAX_TABLE_ELEMENTS: usize = 100_000;

/// What a script is given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScriptInput {
    pub job_id: U256,
    /// The job's `data`: its arguments, as the job's owner encoded them.
    pub args: Bytes,
    pub block: BlockContext,
}

/// What a script decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptOutcome {
    /// Send this call data to the job's target.
    Perform { call_data: Bytes },
    /// Nothing to do, and why (at most 256 bytes, UTF-8).
    Skip { reason: String },
}

/// A completed run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunReport {
    pub outcome: ScriptOutcome,
    /// Fuel consumed, host calls included: deterministic for a given module, input and chain state.
    pub fuel_used: u64,
    pub chain_reads: u32,
    pub elapsed: Duration,
    /// The script's `log` lines (for its author; never part of the result).
    pub logs: Vec<String>,
}

/// Why a run gave no result.
#[derive(Debug, Error)]
pub enum RunError {
    #[error("invalid module: {reason}")]
    InvalidModule { reason: String },
    #[error("the module does not follow the {ABI_MODULE} interface: {reason}")]
    Interface { reason: String },
    #[error("out of fuel: the run needs more than its {limit} units")]
    OutOfFuel { limit: u64 },
    #[error("memory limit: the module asked for more than {limit} bytes of memory")]
    MemoryLimit { limit: u64 },
    #[error("stack overflow: deeper than {max_call_depth} calls or {value_stack_bytes} bytes of value stack")]
    StackOverflow { max_call_depth: u32, value_stack_bytes: u64 },
    #[error("wall-clock limit: the run took longer than {limit_ms} ms")]
    WallClock { limit_ms: u64 },
    #[error("trap: {message}")]
    Trap { message: String },
    #[error(transparent)]
    Host(HostFault),
    #[error("the script returned without calling `perform` or `skip`")]
    NoResult,
    #[error(transparent)]
    Chain(#[from] ChainError),
}

impl RunError {
    /// Whether the failure is the script's own and every keeper meets it alike (as opposed to this keeper's
    /// node or clock failing it). Either way the keeper signs nothing for the task.
    pub fn is_deterministic(&self) -> bool {
        !matches!(self, RunError::WallClock { .. } | RunError::Chain(_))
    }
}

/// A module checked against the interface and compiled for one [`Sandbox`].
#[derive(Debug, Clone)]
pub struct CompiledScript {
    module: Module,
    has_initialize: bool,
}

/// An engine configured with one set of limits, and the host functions.
#[derive(Debug)]
pub struct Sandbox {
    engine: Engine,
    linker: Linker<HostState>,
    limits: Limits,
}

impl Sandbox {
    /// A sandbox enforcing `limits` (validate them first: `Limits::validate`).
    pub fn new(limits: Limits) -> Self {
        let mut config = Config::default();
        config
            .consume_fuel(true)
            // Everything is validated and translated up front: compilation costs no fuel, and a module that
            // compiles has no latent error in a function a later run reaches.
            .compilation_mode(CompilationMode::Eager)
            .allow_start_fn(false)
            .ignore_custom_sections(true)
            .wasm_multi_memory(false)
            .set_max_recursion_depth(limits.max_call_depth as usize)
            .set_max_stack_height(limits.value_stack_bytes as usize)
            .set_max_cached_stacks(1);
        let engine = Engine::new(&config);
        let mut linker = Linker::new(&engine);
        host::define(&mut linker).expect("the host functions have distinct names");
        Self { engine, linker, limits }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Parses, validates and compiles `code`, and checks it against the interface: only `keeper_v1` imports
    /// with their exact signatures, a `memory` export, a `run: [] -> []` export, no start function.
    pub fn compile(&self, code: &[u8]) -> Result<CompiledScript, RunError> {
        let module =
            Module::new(&self.engine, code).map_err(|error| RunError::InvalidModule { reason: error.to_string() })?;
        for import in module.imports() {
            let (module_name, name) = (import.module(), import.name());
            let known = host::IMPORTS.iter().find(|(known, ..)| module_name == ABI_MODULE && *known == name);
            let Some((_, params, results)) = known else {
                return Err(RunError::Interface {
                    reason: format!("it imports `{module_name}.{name}`, which the host does not provide"),
                });
            };
            let matches = match import.ty() {
                ExternType::Func(ty) => ty.params() == *params && ty.results() == *results,
                _ => false,
            };
            if !matches {
                return Err(RunError::Interface {
                    reason: format!(
                        "it imports `{ABI_MODULE}.{name}` as {:?}; the host's is a function {params:?} -> {results:?}",
                        import.ty()
                    ),
                });
            }
        }
        let export =
            |name: &str| module.exports().find(|export| export.name() == name).map(|export| export.ty().clone());
        if !matches!(export(MEMORY_EXPORT), Some(ExternType::Memory(_))) {
            return Err(RunError::Interface { reason: format!("it exports no memory named `{MEMORY_EXPORT}`") });
        }
        let unit_func = |name: &str| -> Result<bool, RunError> {
            match export(name) {
                None => Ok(false),
                Some(ExternType::Func(ty)) if ty.params().is_empty() && ty.results().is_empty() => Ok(true),
                Some(other) => Err(RunError::Interface {
                    reason: format!("its export `{name}` is {other:?}, not a function without parameters or results"),
                }),
            }
        };
        if !unit_func(RUN_EXPORT)? {
            return Err(RunError::Interface { reason: format!("it exports no function `{RUN_EXPORT}`") });
        }
        let has_initialize = unit_func(INITIALIZE_EXPORT)?;
        Ok(CompiledScript { module, has_initialize })
    }

    /// Runs a compiled script on `input` against `chain` (which must be at `input.block`).
    pub async fn run<C: ChainReader>(
        &self,
        script: &CompiledScript,
        input: &ScriptInput,
        chain: &C,
    ) -> Result<RunReport, RunError> {
        let started = Instant::now();
        let deadline = started + Duration::from_millis(self.limits.wall_clock_ms);
        let limiter = StoreLimitsBuilder::new()
            .memory_size(usize::try_from(self.limits.memory_bytes).unwrap_or(usize::MAX))
            .table_elements(MAX_TABLE_ELEMENTS)
            .instances(1)
            .tables(4)
            .memories(1)
            .trap_on_grow_failure(true)
            .build();
        let state = HostState {
            input: input.clone(),
            limits: self.limits,
            unallocated_fuel: 0,
            chain_reads: 0,
            return_data: Bytes::new(),
            outcome: None,
            logs: Vec::new(),
            logs_dropped: 0,
            limiter,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.limiter);
        // Instantiation (data and element segments) is not resumable: it gets the whole budget, and the driver
        // takes back all but a slice afterwards.
        store.set_fuel(self.limits.fuel).map_err(|e| self.classify(e))?;
        let instance = self.linker.instantiate_and_start(&mut store, &script.module).map_err(|e| self.classify(e))?;
        let left = store.get_fuel().map_err(|e| self.classify(e))?;
        let slice = left.min(FUEL_SLICE);
        store.set_fuel(slice).map_err(|e| self.classify(e))?;
        store.data_mut().unallocated_fuel = left - slice;

        let mut driver = Driver { sandbox: self, store: &mut store, instance, chain, deadline };
        if script.has_initialize {
            driver.drive(INITIALIZE_EXPORT).await?;
        }
        if driver.store.data().outcome.is_none() {
            driver.drive(RUN_EXPORT).await?;
        }
        let remaining = store.get_fuel().map_err(|e| self.classify(e))? + store.data().unallocated_fuel;
        let state = store.into_data();
        let outcome = state.outcome.ok_or(RunError::NoResult)?;
        Ok(RunReport {
            outcome,
            fuel_used: self.limits.fuel - remaining,
            chain_reads: state.chain_reads,
            elapsed: started.elapsed(),
            logs: state.logs,
        })
    }

    /// The reason a wasmi error ended the run.
    fn classify(&self, error: wasmi::Error) -> RunError {
        if let Some(signal) = error.downcast_ref::<HostSignal>() {
            return self.signal_error(signal);
        }
        match error.kind() {
            ErrorKind::Memory(MemoryError::ResourceLimiterDeniedAllocation | MemoryError::OutOfBoundsGrowth) => {
                return RunError::MemoryLimit { limit: self.limits.memory_bytes };
            }
            // The limiter refuses a memory whose declared minimum is past the limit at instantiation.
            ErrorKind::Instantiation(InstantiationError::FailedToInstantiateMemory(
                MemoryError::ResourceLimiterDeniedAllocation | MemoryError::OutOfSystemMemory,
            )) => {
                return RunError::MemoryLimit { limit: self.limits.memory_bytes };
            }
            ErrorKind::Instantiation(_) | ErrorKind::Linker(_) => {
                return RunError::Interface { reason: error.to_string() };
            }
            _ => {}
        }
        match error.as_trap_code() {
            Some(TrapCode::OutOfFuel) => RunError::OutOfFuel { limit: self.limits.fuel },
            Some(TrapCode::StackOverflow) => RunError::StackOverflow {
                max_call_depth: self.limits.max_call_depth,
                value_stack_bytes: self.limits.value_stack_bytes,
            },
            Some(TrapCode::GrowthOperationLimited | TrapCode::OutOfSystemMemory) => {
                RunError::MemoryLimit { limit: self.limits.memory_bytes }
            }
            Some(code) => RunError::Trap { message: code.trap_message().to_owned() },
            None => RunError::Trap { message: error.to_string() },
        }
    }

    fn signal_error(&self, signal: &HostSignal) -> RunError {
        match signal {
            HostSignal::Fault(HostFault::OutOfFuel { .. }) => RunError::OutOfFuel { limit: self.limits.fuel },
            HostSignal::Fault(fault) => RunError::Host(fault.clone()),
            // Only reachable from instantiation, which runs no code.
            HostSignal::Read(_) | HostSignal::Finished => RunError::Trap { message: signal.to_string() },
        }
    }
}

/// Drives one export of an instance to completion: refills fuel, answers chain reads, stops at a result.
struct Driver<'a, C> {
    sandbox: &'a Sandbox,
    store: &'a mut Store<HostState>,
    instance: Instance,
    chain: &'a C,
    deadline: Instant,
}

impl<C: ChainReader> Driver<'_, C> {
    async fn drive(&mut self, export: &str) -> Result<(), RunError> {
        let func: TypedFunc<(), ()> = self
            .instance
            .get_typed_func(&*self.store, export)
            .map_err(|error| RunError::Interface { reason: error.to_string() })?;
        let mut call = func.call_resumable(&mut *self.store, ()).map_err(|e| self.sandbox.classify(e))?;
        loop {
            let next = match call {
                TypedResumableCall::Finished(()) => return Ok(()),
                TypedResumableCall::OutOfFuel(invocation) => {
                    self.check_deadline()?;
                    self.refill(invocation.required_fuel())?;
                    // A long computation shares the runtime's thread with the keeper's other work.
                    tokio::task::yield_now().await;
                    invocation.resume(&mut *self.store)
                }
                TypedResumableCall::HostTrap(invocation) => {
                    let read = match invocation.host_error().downcast_ref::<HostSignal>() {
                        Some(HostSignal::Finished) => return Ok(()),
                        Some(HostSignal::Read(read)) => read.clone(),
                        Some(signal) => return Err(self.sandbox.signal_error(signal)),
                        None => return Err(RunError::Trap { message: invocation.host_error().to_string() }),
                    };
                    let results = self.read(read).await?;
                    invocation.resume(&mut *self.store, &results)
                }
            };
            call = next.map_err(|e| self.sandbox.classify(e))?;
        }
    }

    fn check_deadline(&self) -> Result<(), RunError> {
        if Instant::now() >= self.deadline {
            return Err(RunError::WallClock { limit_ms: self.sandbox.limits.wall_clock_ms });
        }
        Ok(())
    }

    /// Tops the store's fuel up by at least `required` (and at most a slice), from the unallocated budget.
    fn refill(&mut self, required: u64) -> Result<(), RunError> {
        let out_of_fuel = || RunError::OutOfFuel { limit: self.sandbox.limits.fuel };
        let current = self.store.get_fuel().map_err(|_| out_of_fuel())?;
        let unallocated = self.store.data().unallocated_fuel;
        let need = required.saturating_sub(current);
        if need > unallocated || unallocated == 0 {
            return Err(out_of_fuel());
        }
        let give = need.max(FUEL_SLICE).min(unallocated);
        self.store.data_mut().unallocated_fuel = unallocated - give;
        self.store.set_fuel(current + give).map_err(|_| out_of_fuel())
    }

    /// Performs a chain read within the wall-clock limit; returns the host function's results.
    async fn read(&mut self, read: PendingRead) -> Result<Vec<Val>, RunError> {
        self.check_deadline()?;
        let remaining = self.deadline.saturating_duration_since(Instant::now());
        let limits = &self.sandbox.limits;
        let wall_clock = || RunError::WallClock { limit_ms: limits.wall_clock_ms };
        match read {
            PendingRead::Call { to, data } => {
                let result = timeout(remaining, self.chain.call(to, data, limits.call_gas))
                    .await
                    .map_err(|_| wall_clock())??;
                let (status, data) = match result {
                    CallResult::Success(data) => (0, data),
                    CallResult::Reverted(data) => (1, data),
                    CallResult::Halted => (2, Bytes::new()),
                };
                self.store.data_mut().return_data = data;
                Ok(vec![Val::I32(status)])
            }
            PendingRead::Balance { address, out } => {
                let balance = timeout(remaining, self.chain.balance(address)).await.map_err(|_| wall_clock())??;
                self.write(out, &balance.to_be_bytes::<32>())?;
                Ok(Vec::new())
            }
            PendingRead::CodeSize { address } => {
                let size = timeout(remaining, self.chain.code_size(address)).await.map_err(|_| wall_clock())??;
                Ok(vec![Val::I64(size as i64)])
            }
            PendingRead::Storage { address, slot, out } => {
                let word = timeout(remaining, self.chain.storage(address, slot)).await.map_err(|_| wall_clock())??;
                self.write(out, word.as_slice())?;
                Ok(Vec::new())
            }
        }
    }

    /// Writes a read's result at `out` (checked by the host function; memory cannot shrink in between).
    fn write(&mut self, out: u32, bytes: &[u8]) -> Result<(), RunError> {
        let memory = self
            .instance
            .get_memory(&*self.store, MEMORY_EXPORT)
            .ok_or(RunError::Host(HostFault::NoMemory { call: "read" }))?;
        let data = memory.data_mut(&mut *self.store);
        let range = host::checked_range(data.len(), "read", "output buffer", out as i32, bytes.len() as u64)
            .map_err(RunError::Host)?;
        data[range].copy_from_slice(bytes);
        Ok(())
    }
}
