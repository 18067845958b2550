// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {Test} from "forge-std/Test.sol";
import {EmptyContract} from "../../src/devnet/EmptyContract.sol";

contract EmptyContractTest is Test {
    function test_noopSucceedsAndAnythingElseReverts() public {
        EmptyContract empty = new EmptyContract();
        empty.noop();
        (bool ok,) = address(empty).call(abi.encodeWithSignature("initialize(address,uint256)", address(1), 0));
        assertFalse(ok);
        (ok,) = address(empty).call("");
        assertFalse(ok);
    }
}
