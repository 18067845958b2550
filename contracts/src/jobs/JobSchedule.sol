// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {Trigger, TriggerKind} from "../interfaces/IJobManager.sol";

/// @title JobSchedule
/// @notice When a task `(jobId, sequence)` is due, for each trigger kind.
/// - Interval: due at unix time `start + sequence * period`; never if that time is after a non-zero expiry.
/// - Block: due at block `start + sequence * period`, while the reference block's time is not after expiry.
/// - Event: one task per matching log; its sequence is `blockNumber << 24 | logIndex` (`eventSequence`), so
///   sequences are unique per log and increase in log order. Due once the log's block is reached, from block
///   `start` on, while the reference block's time is not after expiry. That the log exists is attested by the
///   keepers' signatures; the chain cannot see logs.
/// @dev All arithmetic is in uint256 on uint64 inputs, so nothing overflows: the largest due point is below 2^129.
library JobSchedule {
    /// @notice Bits of an event sequence that hold the log index.
    uint64 internal constant LOG_INDEX_BITS = 24;

    /// @notice The largest block number an event sequence can name (2^40 - 1).
    uint64 internal constant MAX_EVENT_BLOCK = type(uint40).max;

    /// @notice The largest log index an event sequence can name (2^24 - 1; a block holds far fewer logs).
    uint32 internal constant MAX_LOG_INDEX = type(uint24).max;

    /// @notice A block number or log index too large for an event sequence.
    error EventLogOutOfRange(uint64 blockNumber, uint32 logIndex);

    // ---------------------------------------------------------------------------------------------------------
    // Interval and block triggers
    // ---------------------------------------------------------------------------------------------------------

    /// @notice The time (interval) or block (block trigger) at which task `sequence` is due:
    /// `start + sequence * period`.
    /// @param start The time or block of sequence 0.
    /// @param period Seconds or blocks between tasks.
    /// @param sequence The task's sequence.
    /// @return The due point (below 2^129, so never overflows).
    function dueAt(uint64 start, uint64 period, uint64 sequence) internal pure returns (uint256) {
        return uint256(start) + uint256(sequence) * uint256(period);
    }

    /// @notice Whether an interval job's task `sequence` is due at `timestamp`: its due time has come and is not
    /// after a non-zero `expiry`.
    /// @param start Unix time of sequence 0.
    /// @param period Seconds between tasks.
    /// @param expiry Unix time after which nothing is due; 0 = never.
    /// @param sequence The task's sequence.
    /// @param timestamp The reference time.
    /// @return True if due.
    function isIntervalDue(uint64 start, uint64 period, uint40 expiry, uint64 sequence, uint256 timestamp)
        internal
        pure
        returns (bool)
    {
        uint256 due = dueAt(start, period, sequence);
        return due <= timestamp && (expiry == 0 || due <= expiry);
    }

    /// @notice Whether a block job's task `sequence` is due at a reference block: its block has been reached and
    /// the reference time is not after a non-zero `expiry`.
    /// @param start Block of sequence 0.
    /// @param period Blocks between tasks.
    /// @param expiry Unix time after which nothing is due; 0 = never.
    /// @param sequence The task's sequence.
    /// @param blockNumber The reference block.
    /// @param timestamp The reference block's time.
    /// @return True if due.
    function isBlockDue(
        uint64 start,
        uint64 period,
        uint40 expiry,
        uint64 sequence,
        uint256 blockNumber,
        uint256 timestamp
    ) internal pure returns (bool) {
        return dueAt(start, period, sequence) <= blockNumber && _notExpired(expiry, timestamp);
    }

    /// @notice The latest sequence due by `point` (a time or block), ignoring expiry.
    /// @dev A scheduler runs this one; with an exactly-once watermark, tasks before it need never run.
    /// @param start The time or block of sequence 0.
    /// @param period Seconds or blocks between tasks (0 gives none).
    /// @param point The reference time or block.
    /// @return any False if nothing is due yet.
    /// @return sequence The latest due sequence (may exceed uint64 only for points beyond 2^64).
    function latestDue(uint64 start, uint64 period, uint256 point) internal pure returns (bool any, uint256 sequence) {
        if (period == 0 || point < start) return (false, 0);
        return (true, (point - start) / period);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Event triggers
    // ---------------------------------------------------------------------------------------------------------

    /// @notice The sequence of the task for the log at (`blockNumber`, `logIndex`): `blockNumber << 24 | logIndex`.
    /// @dev Reverts `EventLogOutOfRange` for a block above 2^40 - 1 or a log index above 2^24 - 1.
    /// @param blockNumber The log's block.
    /// @param logIndex The log's index within its block.
    /// @return The sequence.
    function eventSequence(uint64 blockNumber, uint32 logIndex) internal pure returns (uint64) {
        if (blockNumber > MAX_EVENT_BLOCK || logIndex > MAX_LOG_INDEX) {
            revert EventLogOutOfRange(blockNumber, logIndex);
        }
        return (blockNumber << LOG_INDEX_BITS) | logIndex;
    }

    /// @notice The log an event sequence names.
    /// @param sequence The sequence.
    /// @return blockNumber The log's block.
    /// @return logIndex The log's index within its block.
    function eventLog(uint64 sequence) internal pure returns (uint64 blockNumber, uint32 logIndex) {
        blockNumber = sequence >> LOG_INDEX_BITS;
        // casting to 'uint32' is safe because the value is masked to 24 bits
        // forge-lint: disable-next-line(unsafe-typecast)
        logIndex = uint32(sequence & MAX_LOG_INDEX);
    }

    /// @notice Whether an event job's task `sequence` is due at a reference block: the log's block is at least
    /// `start` and not after the reference block, and the reference time is not after a non-zero `expiry`.
    /// @param start The first block whose logs count.
    /// @param expiry Unix time after which nothing is due; 0 = never.
    /// @param sequence The task's sequence (`eventSequence` of its log).
    /// @param blockNumber The reference block.
    /// @param timestamp The reference block's time.
    /// @return True if due.
    function isEventDue(uint64 start, uint40 expiry, uint64 sequence, uint256 blockNumber, uint256 timestamp)
        internal
        pure
        returns (bool)
    {
        (uint64 logBlock,) = eventLog(sequence);
        return logBlock >= start && logBlock <= blockNumber && _notExpired(expiry, timestamp);
    }

    /// @notice Whether a log of `emitter` with `topics` matches an event trigger's filter.
    /// @param trigger The trigger (an Event trigger; other kinds match nothing).
    /// @param emitter The log's address.
    /// @param topics The log's topics.
    /// @return True if it matches.
    function matchesLog(Trigger calldata trigger, address emitter, bytes32[] calldata topics)
        internal
        pure
        returns (bool)
    {
        if (trigger.kind != TriggerKind.Event || emitter != trigger.emitter) return false;
        uint8 mask = trigger.topicMask;
        for (uint256 i; i < 4; ++i) {
            if ((mask >> i) & 1 == 0) continue;
            if (i >= topics.length || topics[i] != trigger.topics[i]) return false;
        }
        return true;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Any trigger
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Whether task `sequence` of a job with `trigger` and `expiry` is due at a reference block.
    /// @param trigger The job's trigger.
    /// @param expiry The job's expiry; 0 = never.
    /// @param sequence The task's sequence.
    /// @param blockNumber The reference block.
    /// @param timestamp The reference block's time.
    /// @return True if due.
    function isDue(Trigger calldata trigger, uint40 expiry, uint64 sequence, uint256 blockNumber, uint256 timestamp)
        internal
        pure
        returns (bool)
    {
        TriggerKind kind = trigger.kind;
        if (kind == TriggerKind.Interval) {
            return isIntervalDue(trigger.start, trigger.period, expiry, sequence, timestamp);
        }
        if (kind == TriggerKind.Block) {
            return isBlockDue(trigger.start, trigger.period, expiry, sequence, blockNumber, timestamp);
        }
        return isEventDue(trigger.start, expiry, sequence, blockNumber, timestamp);
    }

    function _notExpired(uint40 expiry, uint256 timestamp) private pure returns (bool) {
        return expiry == 0 || timestamp <= expiry;
    }
}
