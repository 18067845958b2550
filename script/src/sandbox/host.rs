//! The `keeper_v1` host functions (docs/script-jobs.md, "Imports"). Every pointer and length comes from the
//! guest and is checked against its memory and a per-call maximum before the host touches or allocates
//! anything; a bad one ends the run with a [`HostFault`], never a panic. Every call costs fuel.
//!
//! Chain reads cannot be answered inside a host function (they are async): the function checks its arguments
//! and returns a [`HostSignal::Read`]; the driver (`super::run`) performs the read, writes its result into the
//! guest's memory and resumes the guest where it stopped.

use std::fmt;

use alloy::primitives::{Address, Bytes, B256};
use thiserror::Error;
use wasmi::{Caller, Error, Extern, Linker, Memory, StoreLimits, ValType};

use super::{ScriptInput, ScriptOutcome, ABI_MODULE};
use crate::config::Limits;

/// Fuel every host call costs, whatever it does.
pub const HOST_CALL_FUEL: u64 = 100;
/// Fuel per byte a host call copies between the host and the guest.
pub const BYTE_FUEL: u64 = 1;
/// Fuel a chain read costs on top (the node's work is not metered by the sandbox).
pub const CHAIN_READ_FUEL: u64 = 20_000;
/// The longest call data a script may pass to `call`.
pub const MAX_CALL_DATA_BYTES: u64 = 128 << 10;
/// The longest reason a script may give to `skip`, or message to `fail`.
pub const MAX_REASON_BYTES: u64 = 256;
/// The longest log line, and how many lines a run keeps (later ones are counted, not kept).
pub const MAX_LOG_BYTES: u64 = 1024;
pub const MAX_LOG_LINES: usize = 64;

/// The imports a module may have, with their signatures (`docs/script-jobs.md` is the reference).
pub const IMPORTS: &[(&str, &[ValType], &[ValType])] = {
    use ValType::{I32, I64};
    &[
        ("job_id", &[I32], &[]),
        ("args_len", &[], &[I32]),
        ("args_read", &[I32], &[]),
        ("block_number", &[], &[I64]),
        ("block_timestamp", &[], &[I64]),
        ("block_hash", &[I32], &[]),
        ("call", &[I32, I32, I32], &[I32]),
        ("return_data_len", &[], &[I32]),
        ("return_data_read", &[I32], &[]),
        ("balance", &[I32, I32], &[]),
        ("code_size", &[I32], &[I64]),
        ("storage", &[I32, I32, I32], &[]),
        ("perform", &[I32, I32], &[]),
        ("skip", &[I32, I32], &[]),
        ("fail", &[I32, I32], &[]),
        ("log", &[I32, I32], &[]),
    ]
};

/// A host call's misuse or a script's own failure: the run ends with it.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum HostFault {
    #[error("host call `{call}`: {what} at [{ptr}, {ptr}+{len}) is outside the module's memory of {memory} bytes")]
    OutOfBounds { call: &'static str, what: &'static str, ptr: u32, len: u64, memory: u64 },
    #[error("host call `{call}`: {what} of {len} bytes is above the limit of {limit}")]
    TooLong { call: &'static str, what: &'static str, len: u64, limit: u64 },
    #[error("host call `{call}`: the module exports no memory named `memory`")]
    NoMemory { call: &'static str },
    #[error("host call `{call}`: more than {limit} chain reads")]
    TooManyChainReads { call: &'static str, limit: u32 },
    #[error("host call `{call}`: out of fuel")]
    OutOfFuel { call: &'static str },
    #[error("the script failed: {message}")]
    ScriptFailed { message: String },
}

/// Why a host function stopped the guest.
#[derive(Debug)]
pub(crate) enum HostSignal {
    /// A chain read to perform before resuming.
    Read(PendingRead),
    /// `perform` or `skip` gave the result: the run is over.
    Finished,
    /// The run ends with this fault.
    Fault(HostFault),
}

impl fmt::Display for HostSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read(read) => write!(f, "chain read {read:?}"),
            Self::Finished => f.write_str("result given"),
            Self::Fault(fault) => fault.fmt(f),
        }
    }
}

impl wasmi::errors::HostError for HostSignal {}

/// A chain read a host function asked for; `out` pointers were checked against memory already.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PendingRead {
    Call { to: Address, data: Bytes },
    Balance { address: Address, out: u32 },
    CodeSize { address: Address },
    Storage { address: Address, slot: B256, out: u32 },
}

/// What a run's host functions see and set.
#[derive(Debug)]
pub(crate) struct HostState {
    pub input: ScriptInput,
    pub limits: Limits,
    /// Fuel of the run's budget not yet handed to the store (the store gets it in slices).
    pub unallocated_fuel: u64,
    pub chain_reads: u32,
    /// The last `call`'s return (or revert) data.
    pub return_data: Bytes,
    pub outcome: Option<ScriptOutcome>,
    pub logs: Vec<String>,
    pub logs_dropped: u32,
    pub limiter: StoreLimits,
}

fn signal(signal: HostSignal) -> Error {
    Error::host(signal)
}

fn fault(fault: HostFault) -> Error {
    signal(HostSignal::Fault(fault))
}

/// Takes `cost` fuel from the store, topping it up from the run's unallocated budget when the current slice
/// is short, so the outcome does not depend on how the budget is sliced.
fn charge(caller: &mut Caller<'_, HostState>, call: &'static str, cost: u64) -> Result<(), Error> {
    let fuel = caller.get_fuel()?;
    if fuel >= cost {
        return caller.set_fuel(fuel - cost);
    }
    let need = cost - fuel;
    let state = caller.data_mut();
    if state.unallocated_fuel >= need {
        state.unallocated_fuel -= need;
        caller.set_fuel(0)
    } else {
        state.unallocated_fuel = 0;
        caller.set_fuel(0)?;
        Err(fault(HostFault::OutOfFuel { call }))
    }
}

fn memory(caller: &Caller<'_, HostState>, call: &'static str) -> Result<Memory, Error> {
    caller.get_export("memory").and_then(Extern::into_memory).ok_or_else(|| fault(HostFault::NoMemory { call }))
}

/// Checks that `[ptr, ptr + len)` lies in the guest's memory; returns the range.
pub(crate) fn checked_range(
    memory_bytes: usize,
    call: &'static str,
    what: &'static str,
    ptr: i32,
    len: u64,
) -> Result<std::ops::Range<usize>, HostFault> {
    let start = ptr as u32;
    let end = u64::from(start) + len;
    if end > memory_bytes as u64 {
        return Err(HostFault::OutOfBounds { call, what, ptr: start, len, memory: memory_bytes as u64 });
    }
    Ok(start as usize..end as usize)
}

/// Copies `len` guest bytes at `ptr` out (length checked against `limit` first), charging per byte.
fn read_guest(
    caller: &mut Caller<'_, HostState>,
    call: &'static str,
    what: &'static str,
    ptr: i32,
    len: i32,
    limit: u64,
) -> Result<Vec<u8>, Error> {
    let len = u64::from(len as u32);
    if len > limit {
        return Err(fault(HostFault::TooLong { call, what, len, limit }));
    }
    charge(caller, call, len * BYTE_FUEL)?;
    let memory = memory(caller, call)?;
    let data = memory.data(&*caller);
    let range = checked_range(data.len(), call, what, ptr, len).map_err(fault)?;
    Ok(data[range].to_vec())
}

fn read_fixed<const N: usize>(
    caller: &mut Caller<'_, HostState>,
    call: &'static str,
    what: &'static str,
    ptr: i32,
) -> Result<[u8; N], Error> {
    let bytes = read_guest(caller, call, what, ptr, N as i32, N as u64)?;
    let mut out = [0u8; N];
    out.copy_from_slice(&bytes);
    Ok(out)
}

/// Copies `bytes` into the guest at `ptr`, charging per byte.
fn write_guest(caller: &mut Caller<'_, HostState>, call: &'static str, ptr: i32, bytes: &[u8]) -> Result<(), Error> {
    charge(caller, call, bytes.len() as u64 * BYTE_FUEL)?;
    let memory = memory(caller, call)?;
    let data = memory.data_mut(&mut *caller);
    let range = checked_range(data.len(), call, "output buffer", ptr, bytes.len() as u64).map_err(fault)?;
    data[range].copy_from_slice(bytes);
    Ok(())
}

/// Checks an output buffer of `len` bytes now, so the driver can write the read's result after it.
fn check_out(caller: &mut Caller<'_, HostState>, call: &'static str, ptr: i32, len: u64) -> Result<u32, Error> {
    let memory = memory(caller, call)?;
    checked_range(memory.data_size(&*caller), call, "output buffer", ptr, len).map_err(fault)?;
    Ok(ptr as u32)
}

/// Counts a chain read against the limit and charges for it.
fn chain_read(caller: &mut Caller<'_, HostState>, call: &'static str) -> Result<(), Error> {
    charge(caller, call, CHAIN_READ_FUEL)?;
    let state = caller.data_mut();
    if state.chain_reads >= state.limits.max_chain_reads {
        return Err(fault(HostFault::TooManyChainReads { call, limit: state.limits.max_chain_reads }));
    }
    state.chain_reads += 1;
    Ok(())
}

fn utf8_lossy(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Records the result and ends the run: nothing the guest would do after it can change the answer.
fn finish(caller: &mut Caller<'_, HostState>, outcome: ScriptOutcome) -> Result<(), Error> {
    caller.data_mut().outcome = Some(outcome);
    Err(signal(HostSignal::Finished))
}

/// Defines every import of [`IMPORTS`] in `linker`.
pub(crate) fn define(linker: &mut Linker<HostState>) -> Result<(), wasmi::errors::LinkerError> {
    let m = ABI_MODULE;
    linker.func_wrap(m, "job_id", |mut c: Caller<'_, HostState>, out: i32| -> Result<(), Error> {
        charge(&mut c, "job_id", HOST_CALL_FUEL)?;
        let id = c.data().input.job_id.to_be_bytes::<32>();
        write_guest(&mut c, "job_id", out, &id)
    })?;
    linker.func_wrap(m, "args_len", |mut c: Caller<'_, HostState>| -> Result<i32, Error> {
        charge(&mut c, "args_len", HOST_CALL_FUEL)?;
        Ok(c.data().input.args.len() as i32)
    })?;
    linker.func_wrap(m, "args_read", |mut c: Caller<'_, HostState>, out: i32| -> Result<(), Error> {
        charge(&mut c, "args_read", HOST_CALL_FUEL)?;
        let args = c.data().input.args.clone();
        write_guest(&mut c, "args_read", out, &args)
    })?;
    linker.func_wrap(m, "block_number", |mut c: Caller<'_, HostState>| -> Result<i64, Error> {
        charge(&mut c, "block_number", HOST_CALL_FUEL)?;
        Ok(c.data().input.block.number as i64)
    })?;
    linker.func_wrap(m, "block_timestamp", |mut c: Caller<'_, HostState>| -> Result<i64, Error> {
        charge(&mut c, "block_timestamp", HOST_CALL_FUEL)?;
        Ok(c.data().input.block.timestamp as i64)
    })?;
    linker.func_wrap(m, "block_hash", |mut c: Caller<'_, HostState>, out: i32| -> Result<(), Error> {
        charge(&mut c, "block_hash", HOST_CALL_FUEL)?;
        let hash = c.data().input.block.hash;
        write_guest(&mut c, "block_hash", out, hash.as_slice())
    })?;
    linker.func_wrap(
        m,
        "call",
        |mut c: Caller<'_, HostState>, to: i32, data: i32, len: i32| -> Result<i32, Error> {
            charge(&mut c, "call", HOST_CALL_FUEL)?;
            let to = Address::from(read_fixed::<20>(&mut c, "call", "target address", to)?);
            let data = read_guest(&mut c, "call", "call data", data, len, MAX_CALL_DATA_BYTES)?;
            chain_read(&mut c, "call")?;
            Err(signal(HostSignal::Read(PendingRead::Call { to, data: data.into() })))
        },
    )?;
    linker.func_wrap(m, "return_data_len", |mut c: Caller<'_, HostState>| -> Result<i32, Error> {
        charge(&mut c, "return_data_len", HOST_CALL_FUEL)?;
        Ok(c.data().return_data.len() as i32)
    })?;
    linker.func_wrap(m, "return_data_read", |mut c: Caller<'_, HostState>, out: i32| -> Result<(), Error> {
        charge(&mut c, "return_data_read", HOST_CALL_FUEL)?;
        let data = c.data().return_data.clone();
        write_guest(&mut c, "return_data_read", out, &data)
    })?;
    linker.func_wrap(m, "balance", |mut c: Caller<'_, HostState>, address: i32, out: i32| -> Result<(), Error> {
        charge(&mut c, "balance", HOST_CALL_FUEL)?;
        let address = Address::from(read_fixed::<20>(&mut c, "balance", "address", address)?);
        let out = check_out(&mut c, "balance", out, 32)?;
        chain_read(&mut c, "balance")?;
        Err(signal(HostSignal::Read(PendingRead::Balance { address, out })))
    })?;
    linker.func_wrap(m, "code_size", |mut c: Caller<'_, HostState>, address: i32| -> Result<i64, Error> {
        charge(&mut c, "code_size", HOST_CALL_FUEL)?;
        let address = Address::from(read_fixed::<20>(&mut c, "code_size", "address", address)?);
        chain_read(&mut c, "code_size")?;
        Err(signal(HostSignal::Read(PendingRead::CodeSize { address })))
    })?;
    linker.func_wrap(
        m,
        "storage",
        |mut c: Caller<'_, HostState>, address: i32, slot: i32, out: i32| -> Result<(), Error> {
            charge(&mut c, "storage", HOST_CALL_FUEL)?;
            let address = Address::from(read_fixed::<20>(&mut c, "storage", "address", address)?);
            let slot = B256::from(read_fixed::<32>(&mut c, "storage", "slot", slot)?);
            let out = check_out(&mut c, "storage", out, 32)?;
            chain_read(&mut c, "storage")?;
            Err(signal(HostSignal::Read(PendingRead::Storage { address, slot, out })))
        },
    )?;
    linker.func_wrap(m, "perform", |mut c: Caller<'_, HostState>, data: i32, len: i32| -> Result<(), Error> {
        charge(&mut c, "perform", HOST_CALL_FUEL)?;
        let limit = u64::from(c.data().limits.max_output_bytes);
        let call_data = read_guest(&mut c, "perform", "call data", data, len, limit)?;
        finish(&mut c, ScriptOutcome::Perform { call_data: call_data.into() })
    })?;
    linker.func_wrap(m, "skip", |mut c: Caller<'_, HostState>, reason: i32, len: i32| -> Result<(), Error> {
        charge(&mut c, "skip", HOST_CALL_FUEL)?;
        let reason = read_guest(&mut c, "skip", "reason", reason, len, MAX_REASON_BYTES)?;
        finish(&mut c, ScriptOutcome::Skip { reason: utf8_lossy(reason) })
    })?;
    linker.func_wrap(m, "fail", |mut c: Caller<'_, HostState>, message: i32, len: i32| -> Result<(), Error> {
        charge(&mut c, "fail", HOST_CALL_FUEL)?;
        let message = read_guest(&mut c, "fail", "message", message, len, MAX_REASON_BYTES)?;
        Err(fault(HostFault::ScriptFailed { message: utf8_lossy(message) }))
    })?;
    linker.func_wrap(m, "log", |mut c: Caller<'_, HostState>, line: i32, len: i32| -> Result<(), Error> {
        charge(&mut c, "log", HOST_CALL_FUEL)?;
        let line = read_guest(&mut c, "log", "log line", line, len, MAX_LOG_BYTES)?;
        let state = c.data_mut();
        if state.logs.len() < MAX_LOG_LINES {
            state.logs.push(utf8_lossy(line));
        } else {
            state.logs_dropped += 1;
        }
        Ok(())
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_past_memory_or_wrapping_are_refused() {
        assert_eq!(checked_range(65536, "c", "w", 0, 65536), Ok(0..65536));
        assert_eq!(checked_range(65536, "c", "w", 65536, 0), Ok(65536..65536));
        assert!(checked_range(65536, "c", "w", 65535, 2).is_err());
        // A negative i32 is a pointer near 4 GiB, far outside any memory the limits allow.
        assert!(checked_range(65536, "c", "w", -1, 1).is_err());
        assert!(checked_range(65536, "c", "w", 1, u64::from(u32::MAX)).is_err());
    }
}
