// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {ITaskManager, BatchHeader, TaskInput, NonSigners, BatchClaim} from "../../src/interfaces/ITaskManager.sol";

/// @dev Called by its job, tries to re-enter the task manager (a batch, then a claim) and records what happened.
contract TaskReentrantTarget {
    ITaskManager public immutable taskManager;
    bool public respondSucceeded;
    bytes4 public respondError;
    bool public claimSucceeded;
    bytes4 public claimError;

    constructor(ITaskManager taskManager_) {
        taskManager = taskManager_;
    }

    function attack() external {
        NonSigners memory none;
        (bool ok, bytes memory ret) = address(taskManager)
            .call(
                abi.encodeCall(
                    ITaskManager.respondToBatch, (BatchHeader(0, 0), new TaskInput[](1), none, new bytes(256))
                )
            );
        respondSucceeded = ok;
        // The first four bytes of the revert data are the error selector.
        // forge-lint: disable-next-line(unsafe-typecast)
        respondError = bytes4(ret);
        (ok, ret) =
            address(taskManager).call(abi.encodeCall(ITaskManager.claimRewards, (new BatchClaim[](0), address(this))));
        claimSucceeded = ok;
        // forge-lint: disable-next-line(unsafe-typecast)
        claimError = bytes4(ret);
    }
}

/// @dev Does nothing and costs as little as a contract can: the minimal target of the gas measurements.
contract TaskMinimalTarget {
    fallback() external {}
}
