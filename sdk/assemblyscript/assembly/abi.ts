// Solidity ABI encoding and decoding for scripts: 32-byte words, static and dynamic `bytes`, the integer
// widths AssemblyScript has natively (values that do not fit fail the script instead of wrapping).

import { fail } from "./keeper";

const HEX = "0123456789abcdef";

function hexValue(c: i32): i32 {
  if (c >= 48 && c <= 57) return c - 48; // 0-9
  if (c >= 97 && c <= 102) return c - 87; // a-f
  if (c >= 65 && c <= 70) return c - 55; // A-F
  return -1;
}

/** Bytes from hex (with or without `0x`). */
export function fromHex(hex: string): Uint8Array {
  const start = hex.startsWith("0x") ? 2 : 0;
  const digits = hex.length - start;
  if (digits % 2 != 0) fail("fromHex: odd number of digits in " + hex);
  const out = new Uint8Array(digits / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = hexValue(hex.charCodeAt(start + 2 * i));
    const lo = hexValue(hex.charCodeAt(start + 2 * i + 1));
    if (hi < 0 || lo < 0) fail("fromHex: not hex: " + hex);
    out[i] = <u8>((hi << 4) | lo);
  }
  return out;
}

/** `0x`-prefixed lowercase hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  let out = "0x";
  for (let i = 0; i < bytes.length; i++) {
    out += HEX.charAt(bytes[i] >> 4) + HEX.charAt(bytes[i] & 15);
  }
  return out;
}

/** Builds call data: a 4-byte selector, then the arguments' head words and the dynamic tails. */
export class Encoder {
  private head: u8[] = [];
  private tail: u8[] = [];
  private dynamic: i32[] = []; // head offsets whose words are patched with tail offsets
  private dynamicTail: i32[] = [];
  private headWords: i32 = 0;

  /** `selector` is 4 bytes, e.g. `fromHex("0xfff6cae9")` for `sync()` (`cast sig "sync()"`); pass an empty
   * array to encode bare parameters (`abi.encode`). */
  constructor(private selector: Uint8Array) {}

  private pushWord(word: Uint8Array): Encoder {
    for (let i = 0; i < 32; i++) this.head.push(word[i]);
    this.headWords++;
    return this;
  }

  /** A raw 32-byte word (bytes32, uint256 already encoded). */
  word(word: Uint8Array): Encoder {
    if (word.length != 32) fail("Encoder.word: a word is 32 bytes");
    return this.pushWord(word);
  }

  address(address: Uint8Array): Encoder {
    if (address.length != 20) fail("Encoder.address: an address is 20 bytes");
    const word = new Uint8Array(32);
    word.set(address, 12);
    return this.pushWord(word);
  }

  uint(value: u64): Encoder {
    const word = new Uint8Array(32);
    for (let i = 0; i < 8; i++) word[31 - i] = <u8>(value >> (8 * i));
    return this.pushWord(word);
  }

  int(value: i64): Encoder {
    const word = new Uint8Array(32);
    if (value < 0) word.fill(0xff);
    for (let i = 0; i < 8; i++) word[31 - i] = <u8>(<u64>value >> (8 * i));
    return this.pushWord(word);
  }

  bool(value: bool): Encoder {
    return this.uint(value ? 1 : 0);
  }

  /** Dynamic `bytes`. */
  bytes(data: Uint8Array): Encoder {
    this.dynamic.push(this.head.length);
    this.dynamicTail.push(this.tail.length);
    this.pushWord(new Uint8Array(32)); // patched in finish()
    const length = new Encoder(new Uint8Array(0)).uint(<u64>data.length).finish();
    for (let i = 0; i < 32; i++) this.tail.push(length[i]);
    for (let i = 0; i < data.length; i++) this.tail.push(data[i]);
    while (this.tail.length % 32 != 0) this.tail.push(0);
    return this;
  }

  finish(): Uint8Array {
    const headBytes = this.headWords * 32;
    const out = new Uint8Array(this.selector.length + headBytes + this.tail.length);
    out.set(this.selector, 0);
    const base = this.selector.length;
    for (let i = 0; i < this.head.length; i++) out[base + i] = this.head[i];
    for (let d = 0; d < this.dynamic.length; d++) {
      const offset = <u64>(headBytes + this.dynamicTail[d]);
      for (let i = 0; i < 8; i++) out[base + this.dynamic[d] + 31 - i] = <u8>(offset >> (8 * i));
    }
    for (let i = 0; i < this.tail.length; i++) out[base + headBytes + i] = this.tail[i];
    return out;
  }
}

/** Reads ABI-encoded values (return data, job arguments) word by word; anything malformed fails the script. */
export class Decoder {
  private index: i32 = 0;

  constructor(private data: Uint8Array) {}

  private wordAt(offset: i32): Uint8Array {
    if (offset < 0 || offset + 32 > this.data.length) {
      fail("Decoder: reading past the end of " + this.data.length.toString() + " bytes");
    }
    return this.data.subarray(offset, offset + 32);
  }

  /** The next head word as is. */
  word(): Uint8Array {
    const word = this.wordAt(this.index * 32);
    this.index++;
    return word;
  }

  address(): Uint8Array {
    const word = this.word();
    for (let i = 0; i < 12; i++) if (word[i] != 0) fail("Decoder.address: not an address");
    return word.slice(12, 32);
  }

  /** A uint that must fit in 64 bits. */
  uint(): u64 {
    return wordToU64(this.word());
  }

  /** An int that must fit in 64 bits (two's complement, sign-extended). */
  int(): i64 {
    return wordToI64(this.word());
  }

  bool(): bool {
    const value = this.uint();
    if (value > 1) fail("Decoder.bool: not 0 or 1");
    return value == 1;
  }

  /** Dynamic `bytes` (the head holds the offset of its length word). */
  bytes(): Uint8Array {
    const offset = this.uint();
    if (offset > <u64>this.data.length) fail("Decoder.bytes: offset past the end");
    const length = wordToU64(this.wordAt(<i32>offset));
    const start = <u64>offset + 32;
    if (length > <u64>this.data.length || start + length > <u64>this.data.length) {
      fail("Decoder.bytes: length past the end");
    }
    return this.data.slice(<i32>start, <i32>(start + length));
  }
}

export function wordToU64(word: Uint8Array): u64 {
  for (let i = 0; i < 24; i++) if (word[i] != 0) fail("ABI: a uint does not fit in 64 bits");
  let value: u64 = 0;
  for (let i = 24; i < 32; i++) value = (value << 8) | <u64>word[i];
  return value;
}

export function wordToI64(word: Uint8Array): i64 {
  let value: u64 = 0;
  for (let i = 24; i < 32; i++) value = (value << 8) | <u64>word[i];
  const fill: u8 = <i64>value < 0 ? 0xff : 0;
  for (let i = 0; i < 24; i++) if (word[i] != fill) fail("ABI: an int does not fit in 64 bits");
  return <i64>value;
}
