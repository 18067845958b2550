// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {JobSpec} from "../interfaces/IJobManager.sol";

/// @title JobSpecHash
/// @notice `keccak256(abi.encode(spec))` for a spec in calldata, without decoding or re-encoding it: the hash of the
/// 0x20 head word followed by the spec's own calldata bytes, taken as long as the spec's canonical encoding.
/// @dev Why that is the spec hash, and why it is safe when the calldata is not canonical: `abi.encode(spec)` of a
/// dynamic struct is the offset word 0x20 followed by the struct's tuple encoding, whose offsets are relative to the
/// tuple's start; calldata encoded canonically (as every ABI encoder does) holds exactly those bytes at `spec`. The
/// canonical layout is fixed but for the two dynamic lengths: 13 head words (the static trigger inline, the action
/// offset 0x1a0, gas limit, max fee, expiry), then the action's 6 head words (its `data` offset 0xc0), `data`'s
/// length word and padded bytes, `codeUrl`'s length word and padded bytes. The lengths are read where the canonical
/// layout puts them. Calldata laid out any other way (other offsets, dirty padding or high bits) hashes to
/// something else, which is never a stored spec hash. When the hash does match a stored one, the hashed bytes are
/// the canonical encoding of that spec, so every field read from them, at the canonical offsets (`FIELD_*`) or
/// through Solidity's decoder (the offset words are the canonical ones), is that spec's. Bytes past the end of
/// calldata read as zero both here and for Solidity; a length beyond calldata gives the hash 0, never a spec's.
library JobSpecHash {
    /// @dev Canonical offsets from the spec's start. Trigger: kind, start, period (then emitter, mask, topics).
    uint256 internal constant FIELD_TRIGGER_KIND = 0x00;
    uint256 internal constant FIELD_TRIGGER_START = 0x20;
    uint256 internal constant FIELD_TRIGGER_PERIOD = 0x40;
    /// @dev The action's offset word, and the scalar fields after it.
    uint256 internal constant FIELD_ACTION_OFFSET = 0x120;
    uint256 internal constant FIELD_GAS_LIMIT = 0x140;
    uint256 internal constant FIELD_MAX_FEE = 0x160;
    uint256 internal constant FIELD_EXPIRY = 0x180;
    /// @dev Where the action's tuple starts (13 words in), and its fields from there: kind, target, data offset,
    /// resolver, codeUrl offset, codeHash; `data`'s length word follows the 6 head words.
    uint256 internal constant ACTION = 0x1a0;
    uint256 internal constant FIELD_ACTION_KIND = 0x1a0;
    uint256 internal constant FIELD_ACTION_TARGET = 0x1c0;
    uint256 internal constant FIELD_ACTION_DATA_LENGTH = 0x260;
    uint256 internal constant FIELD_ACTION_DATA = 0x280;

    /// @dev Bytes of the canonical encoding besides the padded contents of `action.data` and `action.codeUrl`:
    /// 13 spec head words + 6 action head words + 2 length words.
    uint256 internal constant FIXED_LENGTH = 21 * 32;

    /// @notice keccak256(abi.encode(spec)) of a canonically encoded calldata spec (something else otherwise).
    /// @param spec The spec, in calldata.
    /// @return hash The spec hash.
    function fromCalldata(JobSpec calldata spec) internal pure returns (bytes32 hash) {
        assembly ("memory-safe") {
            hash := 0
            let dataLength := calldataload(add(spec, FIELD_ACTION_DATA_LENGTH))
            let size := calldatasize()
            if iszero(gt(dataLength, size)) {
                let paddedData := and(add(dataLength, 31), not(31))
                let urlLength := calldataload(add(add(spec, FIELD_ACTION_DATA), paddedData))
                if iszero(gt(urlLength, size)) {
                    let length := add(add(FIXED_LENGTH, paddedData), and(add(urlLength, 31), not(31)))
                    // Scratch memory past the free pointer: nothing here outlives the hash.
                    let ptr := mload(0x40)
                    mstore(ptr, 0x20)
                    calldatacopy(add(ptr, 0x20), spec, length)
                    hash := keccak256(ptr, add(length, 0x20))
                }
            }
        }
    }

    /// @notice The 32-byte word at `offset` (a `FIELD_*` constant) from the spec's start: the field's value if the
    /// spec is canonically encoded, which a matching `fromCalldata` hash proves. Callers mask it to the field's type.
    /// @param spec The spec, in calldata.
    /// @param offset The field's canonical offset.
    /// @return value The word.
    function word(JobSpec calldata spec, uint256 offset) internal pure returns (uint256 value) {
        assembly ("memory-safe") {
            value := calldataload(add(spec, offset))
        }
    }
}
