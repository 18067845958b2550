// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {Test} from "forge-std/Test.sol";
import {Trigger, TriggerKind} from "../../src/interfaces/IJobManager.sol";
import {JobSchedule} from "../../src/jobs/JobSchedule.sol";
import {JobSpecs} from "../utils/JobSpecs.sol";

/// @dev Exposes the library so that triggers arrive as calldata, as in the task manager, and reverts are calls.
contract JobScheduleHarness {
    function dueAt(uint64 start, uint64 period, uint64 sequence) external pure returns (uint256) {
        return JobSchedule.dueAt(start, period, sequence);
    }

    function isIntervalDue(uint64 start, uint64 period, uint40 expiry, uint64 sequence, uint256 timestamp)
        external
        pure
        returns (bool)
    {
        return JobSchedule.isIntervalDue(start, period, expiry, sequence, timestamp);
    }

    function isBlockDue(
        uint64 start,
        uint64 period,
        uint40 expiry,
        uint64 sequence,
        uint256 blockNumber,
        uint256 timestamp
    ) external pure returns (bool) {
        return JobSchedule.isBlockDue(start, period, expiry, sequence, blockNumber, timestamp);
    }

    function latestDue(uint64 start, uint64 period, uint256 point) external pure returns (bool, uint256) {
        return JobSchedule.latestDue(start, period, point);
    }

    function eventSequence(uint64 blockNumber, uint32 logIndex) external pure returns (uint64) {
        return JobSchedule.eventSequence(blockNumber, logIndex);
    }

    function eventLog(uint64 sequence) external pure returns (uint64, uint32) {
        return JobSchedule.eventLog(sequence);
    }

    function isEventDue(uint64 start, uint40 expiry, uint64 sequence, uint256 blockNumber, uint256 timestamp)
        external
        pure
        returns (bool)
    {
        return JobSchedule.isEventDue(start, expiry, sequence, blockNumber, timestamp);
    }

    function matchesLog(Trigger calldata trigger, address emitter, bytes32[] calldata topics)
        external
        pure
        returns (bool)
    {
        return JobSchedule.matchesLog(trigger, emitter, topics);
    }

    function isDue(Trigger calldata trigger, uint40 expiry, uint64 sequence, uint256 blockNumber, uint256 timestamp)
        external
        pure
        returns (bool)
    {
        return JobSchedule.isDue(trigger, expiry, sequence, blockNumber, timestamp);
    }
}

contract JobScheduleTest is Test {
    JobScheduleHarness internal h;

    function setUp() public {
        h = new JobScheduleHarness();
    }

    // ---------------------------------------------------------------------------------------------------------
    // Interval and block
    // ---------------------------------------------------------------------------------------------------------

    function test_dueAt_examples() public view {
        assertEq(h.dueAt(1000, 60, 0), 1000);
        assertEq(h.dueAt(1000, 60, 3), 1180);
        assertEq(
            h.dueAt(type(uint64).max, type(uint64).max, type(uint64).max),
            uint256(type(uint64).max) + uint256(type(uint64).max) * type(uint64).max
        );
    }

    /// Never overflows, equals the exact formula, and strictly increases with the sequence.
    function testFuzz_dueAt_exactAndMonotonic(uint64 start, uint64 period, uint64 sequence) public view {
        uint256 due = h.dueAt(start, period, sequence);
        assertEq(due, uint256(start) + uint256(sequence) * uint256(period));
        if (sequence < type(uint64).max) {
            uint256 next = h.dueAt(start, period, sequence + 1);
            assertEq(next - due, period);
            if (period > 0) assertGt(next, due);
        }
    }

    function test_isIntervalDue_boundaries() public view {
        // Sequence 2 of (start 1000, every 60 s) is due at 1120.
        assertFalse(h.isIntervalDue(1000, 60, 0, 2, 1119));
        assertTrue(h.isIntervalDue(1000, 60, 0, 2, 1120));
        assertTrue(h.isIntervalDue(1000, 60, 0, 2, type(uint256).max));
        // Expiry is inclusive: due at 1120 with expiry 1120 still runs, expiry 1119 never.
        assertTrue(h.isIntervalDue(1000, 60, 1120, 2, 5000));
        assertFalse(h.isIntervalDue(1000, 60, 1119, 2, 5000));
        // Sequence 0 is due at start.
        assertTrue(h.isIntervalDue(1000, 60, 0, 0, 1000));
        assertFalse(h.isIntervalDue(1000, 60, 0, 0, 999));
    }

    /// Due exactly from its due time on, and never if that time is after a non-zero expiry.
    function testFuzz_isIntervalDue(uint64 start, uint64 period, uint40 expiry, uint64 sequence, uint256 timestamp)
        public
        view
    {
        uint256 due = uint256(start) + uint256(sequence) * period;
        bool expected = timestamp >= due && (expiry == 0 || due <= expiry);
        assertEq(h.isIntervalDue(start, period, expiry, sequence, timestamp), expected);
    }

    /// Once due, a task stays due at any later time; a later sequence is never due before an earlier one.
    function testFuzz_isIntervalDue_monotonic(uint64 start, uint64 period, uint64 sequence, uint256 t, uint256 dt)
        public
        view
    {
        t = bound(t, 0, type(uint128).max);
        dt = bound(dt, 0, type(uint128).max);
        if (h.isIntervalDue(start, period, 0, sequence, t)) {
            assertTrue(h.isIntervalDue(start, period, 0, sequence, t + dt));
        }
        if (sequence > 0 && h.isIntervalDue(start, period, 0, sequence, t)) {
            assertTrue(h.isIntervalDue(start, period, 0, sequence - 1, t));
        }
    }

    function test_isBlockDue_boundaries() public view {
        // Sequence 3 of (block 100, every 10) is due at block 130.
        assertFalse(h.isBlockDue(100, 10, 0, 3, 129, 0));
        assertTrue(h.isBlockDue(100, 10, 0, 3, 130, 0));
        // Expiry applies to the reference time, inclusively.
        assertTrue(h.isBlockDue(100, 10, 500, 3, 130, 500));
        assertFalse(h.isBlockDue(100, 10, 500, 3, 130, 501));
    }

    function testFuzz_isBlockDue(
        uint64 start,
        uint64 period,
        uint40 expiry,
        uint64 sequence,
        uint256 blockNumber,
        uint256 timestamp
    ) public view {
        bool expected = blockNumber >= uint256(start) + uint256(sequence) * period
            && (expiry == 0 || timestamp <= expiry);
        assertEq(h.isBlockDue(start, period, expiry, sequence, blockNumber, timestamp), expected);
    }

    function test_latestDue_examples() public view {
        (bool any, uint256 sequence) = h.latestDue(1000, 60, 999);
        assertFalse(any);
        (any, sequence) = h.latestDue(1000, 60, 1000);
        assertTrue(any);
        assertEq(sequence, 0);
        (any, sequence) = h.latestDue(1000, 60, 1179);
        assertEq(sequence, 2);
        (any, sequence) = h.latestDue(1000, 60, 1180);
        assertEq(sequence, 3);
        (any,) = h.latestDue(1000, 0, 5000);
        assertFalse(any);
    }

    /// The latest due sequence is due and the one after it is not.
    function testFuzz_latestDue(uint64 start, uint64 period, uint256 point) public view {
        (bool any, uint256 sequence) = h.latestDue(start, period, point);
        if (period == 0 || point < start) {
            assertFalse(any);
            return;
        }
        assertTrue(any);
        // sequence <= point / period, so neither product overflows.
        uint256 due = uint256(start) + sequence * period;
        assertLe(due, point);
        assertLt(point - due, period);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Event
    // ---------------------------------------------------------------------------------------------------------

    function test_eventSequence_examples() public view {
        assertEq(h.eventSequence(0, 0), 0);
        assertEq(h.eventSequence(1, 0), 1 << 24);
        assertEq(h.eventSequence(1, 5), (1 << 24) | 5);
        assertEq(h.eventSequence(type(uint40).max, type(uint24).max), type(uint64).max);
    }

    function test_eventSequence_revertsOutOfRange() public {
        vm.expectRevert(abi.encodeWithSelector(JobSchedule.EventLogOutOfRange.selector, uint64(1) << 40, 0));
        h.eventSequence(uint64(1) << 40, 0);
        vm.expectRevert(abi.encodeWithSelector(JobSchedule.EventLogOutOfRange.selector, 1, uint32(1) << 24));
        h.eventSequence(1, uint32(1) << 24);
    }

    /// Round trip, and the order of sequences is the order of logs (block, then index).
    function testFuzz_eventSequence(uint40 blockA, uint24 indexA, uint40 blockB, uint24 indexB) public view {
        uint64 a = h.eventSequence(blockA, indexA);
        (uint64 blockNumber, uint32 logIndex) = h.eventLog(a);
        assertEq(blockNumber, blockA);
        assertEq(logIndex, indexA);
        uint64 b = h.eventSequence(blockB, indexB);
        bool logBefore = blockA < blockB || (blockA == blockB && indexA < indexB);
        assertEq(a < b, logBefore);
        assertEq(a == b, blockA == blockB && indexA == indexB);
    }

    function test_isEventDue() public view {
        uint64 sequence = h.eventSequence(150, 3);
        assertTrue(h.isEventDue(100, 0, sequence, 150, 0));
        assertFalse(h.isEventDue(100, 0, sequence, 149, 0)); // the log's block is not reached yet
        assertFalse(h.isEventDue(151, 0, sequence, 200, 0)); // before the job's first block
        assertTrue(h.isEventDue(150, 0, sequence, 150, 0));
        assertTrue(h.isEventDue(100, 1000, sequence, 150, 1000));
        assertFalse(h.isEventDue(100, 1000, sequence, 150, 1001));
    }

    function test_matchesLog() public view {
        bytes32 transfer = keccak256("Transfer(address,address,uint256)");
        Trigger memory t = JobSpecs.eventTrigger(0, address(0xE), transfer);
        t.topicMask = 0x05; // topic0 and topic2 (the recipient)
        t.topics[2] = bytes32(uint256(0xB0B));

        bytes32[] memory topics = new bytes32[](4);
        topics[0] = transfer;
        topics[1] = bytes32(uint256(0xA11CE)); // any sender
        topics[2] = bytes32(uint256(0xB0B));
        assertTrue(h.matchesLog(t, address(0xE), topics));
        assertFalse(h.matchesLog(t, address(0xF), topics));

        topics[2] = bytes32(uint256(0xCAFE));
        assertFalse(h.matchesLog(t, address(0xE), topics));

        // Too few topics to hold the filtered one.
        bytes32[] memory short = new bytes32[](2);
        short[0] = transfer;
        assertFalse(h.matchesLog(t, address(0xE), short));

        // A filter on zero (e.g. mints: from = 0).
        t.topicMask = 0x03;
        t.topics[1] = bytes32(0);
        t.topics[2] = bytes32(0);
        assertTrue(h.matchesLog(t, address(0xE), short));

        // Other trigger kinds match nothing.
        assertFalse(h.matchesLog(JobSpecs.intervalTrigger(0, 60), address(0), new bytes32[](0)));
    }

    function test_isDue_dispatchesByKind() public view {
        assertTrue(h.isDue(JobSpecs.intervalTrigger(1000, 60), 0, 1, 0, 1060));
        assertFalse(h.isDue(JobSpecs.intervalTrigger(1000, 60), 0, 1, type(uint256).max, 1059));
        assertTrue(h.isDue(JobSpecs.blockTrigger(100, 10), 0, 1, 110, 0));
        assertFalse(h.isDue(JobSpecs.blockTrigger(100, 10), 0, 1, 109, type(uint256).max));
        Trigger memory e = JobSpecs.eventTrigger(100, address(0xE), bytes32(uint256(1)));
        assertTrue(h.isDue(e, 0, h.eventSequence(120, 0), 120, 0));
        assertFalse(h.isDue(e, 0, h.eventSequence(121, 0), 120, 0));
    }

    function testFuzz_isDue_matchesKindFunctions(
        uint8 kind,
        uint64 start,
        uint64 period,
        uint40 expiry,
        uint64 sequence,
        uint256 blockNumber,
        uint256 timestamp
    ) public view {
        Trigger memory t;
        t.kind = TriggerKind(kind % 3);
        t.start = start;
        t.period = period;
        bool expected;
        if (t.kind == TriggerKind.Interval) {
            expected = h.isIntervalDue(start, period, expiry, sequence, timestamp);
        } else if (t.kind == TriggerKind.Block) {
            expected = h.isBlockDue(start, period, expiry, sequence, blockNumber, timestamp);
        } else {
            expected = h.isEventDue(start, expiry, sequence, blockNumber, timestamp);
        }
        assertEq(h.isDue(t, expiry, sequence, blockNumber, timestamp), expected);
    }
}
