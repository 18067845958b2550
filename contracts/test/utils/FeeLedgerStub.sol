// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

/// @dev Stands in for the task manager in job manager tests: the job manager reads its count of fees charged
/// (`totalCredited`), which the test adds each charge to, as the task manager does at the end of a batch.
contract FeeLedgerStub {
    uint256 public totalCredited;

    function credit(uint256 amount) external {
        totalCredited += amount;
    }
}
