// A price job: "rebalance" (here: the mirror's `sync()`, which copies the oracle's latest answer) when the
// oracle's price moved more than a threshold from the price last synced; otherwise skip, saying how far it
// moved. The deviation trigger of push oracles, run by keepers.
//
// Arguments: abi.encode(address oracle, address mirror, uint64 thresholdBps): the feed (anything with
// `latestAnswer() returns (int256)`), the target (`answer() returns (int256)` and `sync()`), the threshold in
// basis points (500 = 5%).
import { args, call, fail, perform, skip } from "../assembly/keeper";
import { Decoder, Encoder, fromHex } from "../assembly/abi";

// Selectors (`cast sig`): latestAnswer(), answer(), sync().
const LATEST_ANSWER = "0x50d25bcd";
const ANSWER = "0x85bb7d69";
const SYNC = "0xfff6cae9";

/** `target.<selector>()` returning an int256 that fits in 64 bits. */
function readInt(target: Uint8Array, selector: string, what: string): i64 {
  const result = call(target, new Encoder(fromHex(selector)).finish());
  if (!result.ok) fail(what + " failed with status " + (<i32>result.status).toString());
  return new Decoder(result.data).int();
}

/** Basis points as a percentage with two decimals. */
function percent(bps: u64): string {
  const cents = bps % 100;
  return (bps / 100).toString() + "." + (cents < 10 ? "0" : "") + cents.toString() + "%";
}

export function run(): void {
  const input = new Decoder(args());
  const oracle = input.address();
  const mirror = input.address();
  const thresholdBps = input.uint();

  const price = readInt(oracle, LATEST_ANSWER, "oracle.latestAnswer()");
  const last = readInt(mirror, ANSWER, "mirror.answer()");
  const sync = new Encoder(fromHex(SYNC)).finish();
  if (last == 0) perform(sync); // never synced

  // |price - last| and |last| as unsigned magnitudes (exact in 64 bits, whatever the signs).
  const diff: u64 = price > last ? <u64>price - <u64>last : <u64>last - <u64>price;
  const base: u64 = last < 0 ? <u64>0 - <u64>last : <u64>last;
  const movedBps: u64 = diff > u64.MAX_VALUE / 10000 ? u64.MAX_VALUE : (diff * 10000) / base;
  if (movedBps > thresholdBps) perform(sync);
  skip("price moved " + percent(movedBps) + " since the last sync (threshold " + percent(thresholdBps) + ")");
}
