// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {Test} from "forge-std/Test.sol";
import {JobManager} from "../../src/jobs/JobManager.sol";
import {JobManagerHandler} from "../utils/JobManagerHandler.sol";
import {FeeLedgerStub} from "../utils/FeeLedgerStub.sol";

/// @dev Escrow accounting under random sequences of creates, top-ups, charges, pauses, cancels and withdrawals.
contract JobManagerInvariantTest is Test {
    JobManager internal jm;
    JobManagerHandler internal handler;

    function setUp() public {
        address taskManager = address(new FeeLedgerStub());
        vm.prank(taskManager);
        jm = new JobManager();
        handler = new JobManagerHandler(jm, taskManager);
        targetContract(address(handler));
    }

    function _sumOfBalances() internal view returns (uint256 sum) {
        uint256 count = handler.jobCount();
        for (uint256 i; i < count; ++i) {
            sum += jm.jobState(handler.jobIds(i)).balance;
        }
    }

    /// forge-config: default.invariant.runs = 64
    /// forge-config: default.invariant.depth = 64
    /// forge-config: default.invariant.fail-on-revert = true
    /// Every wei deposited is still escrowed, was charged as a fee, or was refunded.
    function invariant_depositedIsHeldChargedOrRefunded() public view {
        uint256 held = _sumOfBalances();
        assertEq(handler.deposited(), held + handler.charged() + handler.refunded());
        assertEq(jm.totalEscrow(), held);
    }

    /// forge-config: default.invariant.runs = 64
    /// forge-config: default.invariant.depth = 64
    /// forge-config: default.invariant.fail-on-revert = true
    /// The contract holds exactly the escrow plus the fees not yet withdrawn.
    function invariant_balanceIsEscrowPlusUnwithdrawnFees() public view {
        assertEq(jm.accruedFees(), handler.charged() - handler.withdrawn());
        assertEq(address(jm).balance, jm.totalEscrow() + jm.accruedFees());
        assertEq(handler.feeRecipient().balance, handler.withdrawn());
    }
}
