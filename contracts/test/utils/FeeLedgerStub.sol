// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

/// @dev Stands in for the task manager in job manager tests: the job manager reads its count of fees charged
/// (`totalCredited`), which the test adds each charge to, as the task manager does at the end of a batch, and the
/// least max fee a job may have (`minJobFee`, the task manager's formula at a floor price the test sets; 0 by
/// default).
contract FeeLedgerStub {
    uint256 public totalCredited;
    uint256 public minGasPrice;

    function credit(uint256 amount) external {
        totalCredited += amount;
    }

    function setMinGasPrice(uint256 price) external {
        minGasPrice = price;
    }

    function minJobFee(uint32 gasLimit) external view returns (uint256) {
        return (uint256(gasLimit) + 300_000) * minGasPrice;
    }
}
