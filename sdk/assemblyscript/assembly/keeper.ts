// Bindings of the keeper_v1 host interface (docs/script-jobs.md). A script exports `run(): void` and ends it by
// calling `perform(callData)` or `skip(reason)`; everything it reads comes from the task's reference block.

// ---- Raw imports: pointers and lengths into this module's memory -------------------------------------------
@external("keeper_v1", "job_id") declare function _job_id(out: usize): void;
@external("keeper_v1", "args_len") declare function _args_len(): i32;
@external("keeper_v1", "args_read") declare function _args_read(out: usize): void;
@external("keeper_v1", "block_number") declare function _block_number(): i64;
@external("keeper_v1", "block_timestamp") declare function _block_timestamp(): i64;
@external("keeper_v1", "block_hash") declare function _block_hash(out: usize): void;
@external("keeper_v1", "call") declare function _call(to: usize, data: usize, len: i32): i32;
@external("keeper_v1", "return_data_len") declare function _return_data_len(): i32;
@external("keeper_v1", "return_data_read") declare function _return_data_read(out: usize): void;
@external("keeper_v1", "balance") declare function _balance(address: usize, out: usize): void;
@external("keeper_v1", "code_size") declare function _code_size(address: usize): i64;
@external("keeper_v1", "storage") declare function _storage(address: usize, slot: usize, out: usize): void;
@external("keeper_v1", "perform") declare function _perform(data: usize, len: i32): void;
@external("keeper_v1", "skip") declare function _skip(reason: usize, len: i32): void;
@external("keeper_v1", "fail") declare function _fail(message: usize, len: i32): void;
@external("keeper_v1", "log") declare function _log(line: usize, len: i32): void;

/** `keeper_v1.call`'s status. */
export enum CallStatus {
  Success = 0,
  Reverted = 1,
  /** Out of gas or an invalid opcode: no data. */
  Halted = 2,
}

/** The result of a read-only call. */
export class CallResult {
  constructor(public status: CallStatus, public data: Uint8Array) {}

  get ok(): bool {
    return this.status == CallStatus.Success;
  }
}

function utf8(text: string): Uint8Array {
  return Uint8Array.wrap(String.UTF8.encode(text));
}

function fixed(length: i32, what: string, bytes: Uint8Array): void {
  if (bytes.length != length) fail(what + " must be " + length.toString() + " bytes, got " + bytes.length.toString());
}

/** The job's id, a 32-byte big-endian integer. */
export function jobId(): Uint8Array {
  const out = new Uint8Array(32);
  _job_id(out.dataStart);
  return out;
}

/** The job's arguments: its `data`, as its owner encoded them (usually with the ABI). */
export function args(): Uint8Array {
  const out = new Uint8Array(_args_len());
  _args_read(out.dataStart);
  return out;
}

export function blockNumber(): u64 {
  return <u64>_block_number();
}

/** Unix time of the reference block, in seconds. */
export function blockTimestamp(): u64 {
  return <u64>_block_timestamp();
}

export function blockHash(): Uint8Array {
  const out = new Uint8Array(32);
  _block_hash(out.dataStart);
  return out;
}

/** A read-only `eth_call` of `to` (20 bytes) with `data`, from the zero address, at the reference block. */
export function call(to: Uint8Array, data: Uint8Array): CallResult {
  fixed(20, "call: the target address", to);
  const status = _call(to.dataStart, data.dataStart, data.length);
  const out = new Uint8Array(_return_data_len());
  _return_data_read(out.dataStart);
  return new CallResult(<CallStatus>status, out);
}

/** The balance of `address` in wei, as a 32-byte big-endian integer. */
export function balance(address: Uint8Array): Uint8Array {
  fixed(20, "balance: the address", address);
  const out = new Uint8Array(32);
  _balance(address.dataStart, out.dataStart);
  return out;
}

export function codeSize(address: Uint8Array): u64 {
  fixed(20, "codeSize: the address", address);
  return <u64>_code_size(address.dataStart);
}

/** The storage word of `address` at `slot` (32 bytes). */
export function storage(address: Uint8Array, slot: Uint8Array): Uint8Array {
  fixed(20, "storage: the address", address);
  fixed(32, "storage: the slot", slot);
  const out = new Uint8Array(32);
  _storage(address.dataStart, slot.dataStart, out.dataStart);
  return out;
}

/** Ends the run: send `callData` to the job's target. */
export function perform(callData: Uint8Array): void {
  _perform(callData.dataStart, callData.length);
  unreachable();
}

/** Ends the run: nothing to do, because of `reason` (at most 256 bytes of UTF-8). */
export function skip(reason: string): void {
  const bytes = utf8(reason);
  _skip(bytes.dataStart, min(bytes.length, 256));
  unreachable();
}

/** Ends the run as a failure with `message`: the keeper signs nothing for the task. */
export function fail(message: string): void {
  const bytes = utf8(message);
  _fail(bytes.dataStart, min(bytes.length, 256));
  unreachable();
}

/** A line for the script's author (shown by `keeperctl script run`; never part of the result). */
export function log(line: string): void {
  const bytes = utf8(line);
  _log(bytes.dataStart, min(bytes.length, 1024));
}

/** AssemblyScript's `abort` (failed assertions, bounds checks), routed to `fail` (build with
 * `--use abort=assembly/keeper/abort`): the host offers no `env.abort`. */
export function abort(message: string | null, file: string | null, line: u32, column: u32): void {
  let text = message !== null ? message : "abort";
  if (file !== null) text += " at " + file + ":" + line.toString() + ":" + column.toString();
  fail(text);
}
