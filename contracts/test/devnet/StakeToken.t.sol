// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {Test} from "forge-std/Test.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {StakeToken} from "../../src/devnet/StakeToken.sol";

contract StakeTokenTest is Test {
    address internal owner = makeAddr("owner");
    address internal holder = makeAddr("holder");
    StakeToken internal token;

    event Transfer(address indexed from, address indexed to, uint256 value);

    function setUp() public {
        token = new StakeToken("Keeper Stake", "KSTK", owner);
    }

    function test_metadata() public view {
        assertEq(token.name(), "Keeper Stake");
        assertEq(token.symbol(), "KSTK");
        assertEq(token.decimals(), 18);
        assertEq(token.owner(), owner);
    }

    function test_mint() public {
        vm.expectEmit(address(token));
        emit Transfer(address(0), holder, 5e18);
        vm.prank(owner);
        token.mint(holder, 5e18);
        assertEq(token.balanceOf(holder), 5e18);
        assertEq(token.totalSupply(), 5e18);
    }

    function test_mint_revertsForNonOwner() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, holder));
        vm.prank(holder);
        token.mint(holder, 1);
    }
}
