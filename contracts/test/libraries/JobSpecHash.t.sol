// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {Test} from "forge-std/Test.sol";
import {JobSpec, Trigger, Action, TriggerKind, ActionKind} from "../../src/interfaces/IJobManager.sol";
import {JobSpecHash} from "../../src/libraries/JobSpecHash.sol";

/// @dev Exposes the library on a calldata spec.
contract JobSpecHashHarness {
    function hash(JobSpec calldata spec) external pure returns (bytes32) {
        return JobSpecHash.fromCalldata(spec);
    }

    /// Solidity's own decoding of the same calldata, for comparison.
    function decoded(JobSpec calldata spec) external pure returns (bytes32) {
        return keccak256(abi.encode(spec));
    }

    function word(JobSpec calldata spec, uint256 offset) external pure returns (uint256) {
        return JobSpecHash.word(spec, offset);
    }
}

contract JobSpecHashTest is Test {
    JobSpecHashHarness internal harness = new JobSpecHashHarness();

    function _spec(uint256 seed, bytes memory data, string memory url) internal pure returns (JobSpec memory spec) {
        uint256 r = uint256(keccak256(abi.encode(seed)));
        spec.trigger = Trigger({
            kind: TriggerKind(r % 3),
            start: uint64(r >> 8),
            period: uint64(r >> 72),
            emitter: address(uint160(r >> 96)),
            topicMask: uint8(r >> 16),
            topics: [keccak256(abi.encode(r, 0)), keccak256(abi.encode(r, 1)), bytes32(0), bytes32(r)]
        });
        spec.action = Action({
            kind: ActionKind((r >> 4) % 4),
            target: address(uint160(uint256(keccak256(abi.encode(r, "target"))))),
            data: data,
            resolver: address(uint160(r >> 40)),
            codeUrl: url,
            codeHash: keccak256(abi.encode(r, "code"))
        });
        spec.gasLimit = uint32(r >> 200);
        spec.maxFee = uint80(r >> 120);
        spec.expiry = uint40(r >> 30);
    }

    /// The in-place hash is keccak256(abi.encode(spec)) for any spec, and each field sits at its canonical offset.
    function testFuzz_hashAndFieldsOfCanonicalCalldata(uint256 seed, bytes memory data, string memory url) public view {
        JobSpec memory spec = _spec(seed, data, url);
        bytes32 expected = keccak256(abi.encode(spec));
        assertEq(harness.hash(spec), expected);
        assertEq(harness.decoded(spec), expected);

        assertEq(harness.word(spec, JobSpecHash.FIELD_TRIGGER_KIND), uint256(spec.trigger.kind));
        assertEq(harness.word(spec, JobSpecHash.FIELD_TRIGGER_START), spec.trigger.start);
        assertEq(harness.word(spec, JobSpecHash.FIELD_TRIGGER_PERIOD), spec.trigger.period);
        assertEq(harness.word(spec, JobSpecHash.FIELD_ACTION_OFFSET), JobSpecHash.ACTION);
        assertEq(harness.word(spec, JobSpecHash.FIELD_GAS_LIMIT), spec.gasLimit);
        assertEq(harness.word(spec, JobSpecHash.FIELD_MAX_FEE), spec.maxFee);
        assertEq(harness.word(spec, JobSpecHash.FIELD_EXPIRY), spec.expiry);
        assertEq(harness.word(spec, JobSpecHash.FIELD_ACTION_KIND), uint256(spec.action.kind));
        assertEq(harness.word(spec, JobSpecHash.FIELD_ACTION_TARGET), uint256(uint160(spec.action.target)));
        assertEq(harness.word(spec, JobSpecHash.FIELD_ACTION_DATA_LENGTH), data.length);
        if (data.length >= 32) {
            assertEq(bytes32(harness.word(spec, JobSpecHash.FIELD_ACTION_DATA)), bytes32(_slice32(data)));
        }
    }

    /// Calldata that Solidity decodes to the same spec but that is not laid out canonically (a gap before the
    /// action, dirty padding, a dirty high bit) never hashes to the spec hash.
    function testFuzz_nonCanonicalCalldataNeverMatches(uint256 seed, bytes memory data, uint8 junk) public view {
        vm.assume(junk != 0);
        JobSpec memory spec = _spec(seed, data, "ipfs://code");
        bytes32 expected = keccak256(abi.encode(spec));
        bytes memory canonical = abi.encode(spec);

        // A 32-byte gap before the action tuple, with the action offset moved past it.
        bytes memory gapped = _withGapBeforeAction(canonical);
        (bool ok, bytes memory ret) = address(harness).staticcall(bytes.concat(harness.decoded.selector, gapped));
        assertTrue(ok);
        assertEq(abi.decode(ret, (bytes32)), expected, "Solidity decodes the same spec");
        (ok, ret) = address(harness).staticcall(bytes.concat(harness.hash.selector, gapped));
        assertTrue(ok);
        assertTrue(abi.decode(ret, (bytes32)) != expected, "gap");

        // Dirty padding after codeUrl's bytes ("ipfs://code" is 11 bytes, so 21 bytes of padding follow).
        bytes memory dirty = bytes.concat(canonical);
        dirty[dirty.length - 1] = bytes1(junk);
        (ok, ret) = address(harness).staticcall(bytes.concat(harness.hash.selector, dirty));
        assertTrue(ok);
        assertTrue(abi.decode(ret, (bytes32)) != expected, "padding");
    }

    /// A length word beyond calldata gives hash 0, which is no stored spec's.
    function test_lengthBeyondCalldataHashesToZero() public view {
        bytes memory encoded = abi.encode(_spec(1, hex"c0ffee", ""));
        // The data length word: after the 0x20 head word, at FIELD_ACTION_DATA_LENGTH.
        uint256 at = 0x20 + JobSpecHash.FIELD_ACTION_DATA_LENGTH;
        assembly ("memory-safe") {
            mstore(add(add(encoded, 0x20), at), 0x10000000)
        }
        (bool ok, bytes memory ret) = address(harness).staticcall(bytes.concat(harness.hash.selector, encoded));
        assertTrue(ok);
        assertEq(abi.decode(ret, (bytes32)), bytes32(0));
    }

    function _slice32(bytes memory data) internal pure returns (bytes32 first) {
        assembly ("memory-safe") {
            first := mload(add(data, 0x20))
        }
    }

    /// `abi.encode(spec)` with 32 zero bytes inserted before the action tuple and the action offset moved by 32.
    function _withGapBeforeAction(bytes memory canonical) internal pure returns (bytes memory gapped) {
        uint256 headEnd = 0x20 + JobSpecHash.ACTION;
        bytes memory head = new bytes(headEnd);
        bytes memory tail = new bytes(canonical.length - headEnd);
        for (uint256 i; i < headEnd; ++i) {
            head[i] = canonical[i];
        }
        for (uint256 i; i < tail.length; ++i) {
            tail[i] = canonical[headEnd + i];
        }
        gapped = bytes.concat(head, new bytes(32), tail);
        uint256 offsetAt = 0x20 + JobSpecHash.FIELD_ACTION_OFFSET;
        uint256 moved = JobSpecHash.ACTION + 32;
        assembly ("memory-safe") {
            mstore(add(add(gapped, 0x20), offsetAt), moved)
        }
    }
}
