// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {JobSpec, Trigger, TriggerKind, Action, ActionKind} from "../../src/interfaces/IJobManager.sol";

/// @dev Valid specs of each kind, for tests to start from and mutate.
library JobSpecs {
    uint32 internal constant GAS_LIMIT = 200_000;
    uint80 internal constant MAX_FEE = 0.01 ether;

    function intervalTrigger(uint64 start, uint64 period) internal pure returns (Trigger memory t) {
        t.kind = TriggerKind.Interval;
        t.start = start;
        t.period = period;
    }

    function blockTrigger(uint64 startBlock, uint64 everyBlocks) internal pure returns (Trigger memory t) {
        t.kind = TriggerKind.Block;
        t.start = startBlock;
        t.period = everyBlocks;
    }

    function eventTrigger(uint64 startBlock, address emitter, bytes32 topic0) internal pure returns (Trigger memory t) {
        t.kind = TriggerKind.Event;
        t.start = startBlock;
        t.emitter = emitter;
        t.topicMask = 1;
        t.topics[0] = topic0;
    }

    function callAction(address target, bytes memory data) internal pure returns (Action memory a) {
        a.kind = ActionKind.Call;
        a.target = target;
        a.data = data;
    }

    function upkeepAction(address target, bytes memory checkData) internal pure returns (Action memory a) {
        a.kind = ActionKind.ChainlinkUpkeep;
        a.target = target;
        a.data = checkData;
    }

    function resolverAction(address target, address resolver, bytes memory resolverData)
        internal
        pure
        returns (Action memory a)
    {
        a.kind = ActionKind.GelatoResolver;
        a.target = target;
        a.resolver = resolver;
        a.data = resolverData;
    }

    function scriptAction(address target, string memory codeUrl, bytes32 codeHash, bytes memory args)
        internal
        pure
        returns (Action memory a)
    {
        a.kind = ActionKind.Script;
        a.target = target;
        a.codeUrl = codeUrl;
        a.codeHash = codeHash;
        a.data = args;
    }

    function spec(Trigger memory trigger, Action memory action) internal pure returns (JobSpec memory s) {
        s.trigger = trigger;
        s.action = action;
        s.gasLimit = GAS_LIMIT;
        s.maxFee = MAX_FEE;
    }

    /// @dev Every hour from `start`, calling `target.work()`.
    function hourly(uint64 start, address target) internal pure returns (JobSpec memory) {
        return spec(intervalTrigger(start, 3600), callAction(target, abi.encodeWithSignature("work()")));
    }
}
