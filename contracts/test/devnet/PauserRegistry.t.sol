// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {Test} from "forge-std/Test.sol";
import {PauserRegistry} from "../../src/devnet/PauserRegistry.sol";

contract PauserRegistryTest is Test {
    address internal pauser = makeAddr("pauser");
    address internal unpauser = makeAddr("unpauser");
    address internal stranger = makeAddr("stranger");
    PauserRegistry internal registry;

    event PauserStatusChanged(address pauser, bool canPause);
    event UnpauserChanged(address previousUnpauser, address newUnpauser);

    function setUp() public {
        address[] memory pausers = new address[](1);
        pausers[0] = pauser;
        registry = new PauserRegistry(pausers, unpauser);
    }

    function test_constructor() public {
        assertTrue(registry.isPauser(pauser));
        assertFalse(registry.isPauser(stranger));
        assertEq(registry.unpauser(), unpauser);

        address[] memory pausers = new address[](1);
        pausers[0] = pauser;
        vm.expectEmit();
        emit PauserStatusChanged(pauser, true);
        vm.expectEmit();
        emit UnpauserChanged(address(0), unpauser);
        new PauserRegistry(pausers, unpauser);
    }

    function test_constructor_revertsOnZero() public {
        address[] memory pausers = new address[](1);
        vm.expectRevert(PauserRegistry.InputAddressZero.selector);
        new PauserRegistry(pausers, unpauser);
        vm.expectRevert(PauserRegistry.InputAddressZero.selector);
        new PauserRegistry(new address[](0), address(0));
    }

    function test_setIsPauser() public {
        vm.expectEmit(address(registry));
        emit PauserStatusChanged(stranger, true);
        vm.prank(unpauser);
        registry.setIsPauser(stranger, true);
        assertTrue(registry.isPauser(stranger));
        vm.prank(unpauser);
        registry.setIsPauser(pauser, false);
        assertFalse(registry.isPauser(pauser));
    }

    function test_setIsPauser_reverts() public {
        vm.expectRevert(PauserRegistry.OnlyUnpauser.selector);
        vm.prank(pauser);
        registry.setIsPauser(stranger, true);
        vm.expectRevert(PauserRegistry.InputAddressZero.selector);
        vm.prank(unpauser);
        registry.setIsPauser(address(0), true);
    }

    function test_setUnpauser() public {
        vm.expectEmit(address(registry));
        emit UnpauserChanged(unpauser, stranger);
        vm.prank(unpauser);
        registry.setUnpauser(stranger);
        assertEq(registry.unpauser(), stranger);
    }

    function test_setUnpauser_reverts() public {
        vm.expectRevert(PauserRegistry.OnlyUnpauser.selector);
        vm.prank(stranger);
        registry.setUnpauser(stranger);
        vm.expectRevert(PauserRegistry.InputAddressZero.selector);
        vm.prank(unpauser);
        registry.setUnpauser(address(0));
    }
}
