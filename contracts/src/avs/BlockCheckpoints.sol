// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

/// @title BlockCheckpoints
/// @notice A history of a uint224 value by block number: each write appends (block, value), a second write in the
/// same block overwrites the first, and a look-up by block finds the value that stood at the end of that block.
/// @dev One storage slot per checkpoint (uint32 + uint224), so a look-up costs one cold SLOAD per binary-search
/// step. Blocks only move forward, so checkpoints stay sorted and writes never insert in the middle.
library BlockCheckpoints {
    /// @notice One value and the block from which it holds.
    struct Checkpoint {
        uint32 blockNumber;
        uint224 value;
    }

    /// @notice The checkpoints in strictly increasing block order.
    struct History {
        Checkpoint[] checkpoints;
    }

    /// @notice A write for a block earlier than the latest checkpoint.
    error CheckpointOutOfOrder(uint32 latestBlock, uint32 blockNumber);

    /// @notice Records `value` from `blockNumber` on.
    /// @param history The history.
    /// @param blockNumber The block (at least the latest checkpoint's).
    /// @param value The value.
    /// @return previous The value before this write (0 if the history was empty).
    function push(History storage history, uint32 blockNumber, uint224 value) internal returns (uint224 previous) {
        Checkpoint[] storage checkpoints = history.checkpoints;
        uint256 count = checkpoints.length;
        if (count != 0) {
            Checkpoint storage last = checkpoints[count - 1];
            uint32 lastBlock = last.blockNumber;
            previous = last.value;
            if (blockNumber < lastBlock) revert CheckpointOutOfOrder(lastBlock, blockNumber);
            if (blockNumber == lastBlock) {
                last.value = value;
                return previous;
            }
        }
        checkpoints.push(Checkpoint(blockNumber, value));
    }

    /// @notice The latest value (0 if none).
    /// @param history The history.
    /// @return The value.
    function latest(History storage history) internal view returns (uint224) {
        uint256 count = history.checkpoints.length;
        return count == 0 ? 0 : history.checkpoints[count - 1].value;
    }

    /// @notice The value at the end of `blockNumber`: that of the last checkpoint at or before it (0 if none).
    /// @param history The history.
    /// @param blockNumber The block.
    /// @return The value.
    function valueAt(History storage history, uint32 blockNumber) internal view returns (uint224) {
        uint256 index = upperIndex(history.checkpoints, blockNumber);
        return index == 0 ? 0 : history.checkpoints[index - 1].value;
    }

    /// @notice The number of checkpoints at or before `blockNumber`: one past the index of the checkpoint in
    /// force at that block, 0 if none was.
    /// @dev Checks the latest checkpoint first: most look-ups are for recent blocks.
    /// @param checkpoints Sorted checkpoints.
    /// @param blockNumber The block.
    /// @return The count.
    function upperIndex(Checkpoint[] storage checkpoints, uint32 blockNumber) internal view returns (uint256) {
        uint256 high = checkpoints.length;
        if (high == 0 || checkpoints[high - 1].blockNumber <= blockNumber) return high;
        uint256 low;
        // Invariant: checkpoints[i].blockNumber <= blockNumber for i < low, > blockNumber for i >= high.
        while (low < high) {
            uint256 mid = (low + high) >> 1;
            if (checkpoints[mid].blockNumber > blockNumber) high = mid;
            else low = mid + 1;
        }
        return high;
    }

    /// @notice The number of checkpoints.
    /// @param history The history.
    /// @return The count.
    function length(History storage history) internal view returns (uint256) {
        return history.checkpoints.length;
    }
}
