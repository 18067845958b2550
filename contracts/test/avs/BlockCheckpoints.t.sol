// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {Test} from "forge-std/Test.sol";
import {BlockCheckpoints} from "../../src/avs/BlockCheckpoints.sol";

/// @dev Exposes the library on one history so reverts surface as calls.
contract BlockCheckpointsHarness {
    using BlockCheckpoints for BlockCheckpoints.History;

    BlockCheckpoints.History internal history;

    function push(uint32 blockNumber, uint224 value) external returns (uint224) {
        return history.push(blockNumber, value);
    }

    function valueAt(uint32 blockNumber) external view returns (uint224) {
        return history.valueAt(blockNumber);
    }

    function latest() external view returns (uint224) {
        return history.latest();
    }

    function length() external view returns (uint256) {
        return history.length();
    }
}

contract BlockCheckpointsTest is Test {
    BlockCheckpointsHarness internal harness;

    function setUp() public {
        harness = new BlockCheckpointsHarness();
    }

    function test_empty() public view {
        assertEq(harness.latest(), 0);
        assertEq(harness.valueAt(0), 0);
        assertEq(harness.valueAt(type(uint32).max), 0);
        assertEq(harness.length(), 0);
    }

    function test_pushReturnsPreviousAndOverwritesSameBlock() public {
        assertEq(harness.push(10, 5), 0);
        assertEq(harness.push(10, 7), 5);
        assertEq(harness.length(), 1);
        assertEq(harness.push(12, 9), 7);
        assertEq(harness.length(), 2);
        assertEq(harness.valueAt(9), 0);
        assertEq(harness.valueAt(10), 7);
        assertEq(harness.valueAt(11), 7);
        assertEq(harness.valueAt(12), 9);
        assertEq(harness.latest(), 9);
    }

    function test_push_revertsOutOfOrder() public {
        harness.push(10, 5);
        vm.expectRevert(abi.encodeWithSelector(BlockCheckpoints.CheckpointOutOfOrder.selector, 10, 9));
        harness.push(9, 1);
    }

    /// Random writes at non-decreasing blocks (gaps of 0 overwrite); every look-up equals a naive scan.
    function testFuzz_valueAtMatchesNaiveScan(uint256 seed, uint8 count) public {
        uint256 writes = bound(count, 1, 40);
        uint32[] memory blocks = new uint32[](writes);
        uint224[] memory values = new uint224[](writes);
        uint32 blockNumber = uint32(bound(seed, 0, 1000));
        for (uint256 i; i < writes; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            // casting to 'uint32' is safe because r % 4 < 4
            // forge-lint: disable-next-line(unsafe-typecast)
            blockNumber += uint32(r % 4);
            blocks[i] = blockNumber;
            // casting to 'uint224' is safe because r >> 32 has 224 bits
            // forge-lint: disable-next-line(unsafe-typecast)
            values[i] = uint224(r >> 32);
            harness.push(blockNumber, values[i]);
        }
        uint32 first = blocks[0] > 2 ? blocks[0] - 2 : 0;
        for (uint32 b = first; b <= blockNumber + 2; ++b) {
            // Naive: the last write at or before b wins (same-block writes overwrite).
            uint224 expected;
            for (uint256 i; i < writes; ++i) {
                if (blocks[i] <= b) expected = values[i];
            }
            assertEq(harness.valueAt(b), expected);
        }
        assertEq(harness.latest(), values[writes - 1]);
    }

    /// Look-ups at arbitrary (also huge) blocks against a long history.
    function testFuzz_valueAtAnyBlock(uint32 query) public {
        for (uint32 i = 1; i <= 64; ++i) {
            harness.push(i * 1000, i);
        }
        uint224 expected = query < 1000 ? 0 : uint224(query / 1000 > 64 ? 64 : query / 1000);
        assertEq(harness.valueAt(query), expected);
    }
}
