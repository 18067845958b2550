// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {EigenLayerFixture} from "../utils/EigenLayerFixture.sol";

/// @dev The fixture's core deployment: every proxy upgraded, initialised and wired as a devnet deployer leaves it.
contract EigenLayerCoreTest is EigenLayerFixture {
    bytes32 internal constant IMPLEMENTATION_SLOT = 0x360894a13ba1a3210667c828492db98dca3e2076cc3735a920a3ca505d382bbc;

    function setUp() public {
        _deployCore();
    }

    function test_proxiesPointAtImplementationsWithVersion() public view {
        address[6] memory proxies = [
            address(permissionController),
            address(delegationManager),
            address(strategyManager),
            address(allocationManager),
            avsDirectory,
            eigenPodManager
        ];
        for (uint256 i; i < proxies.length; ++i) {
            address implementation = address(uint160(uint256(vm.load(proxies[i], IMPLEMENTATION_SLOT))));
            assertTrue(implementation != address(emptyContract));
            assertEq(_string(proxies[i], "version()"), VERSION);
        }
        assertEq(_string(eigenPodBeacon.implementation(), "version()"), VERSION);
        assertEq(eigenPodBeacon.owner(), coreOwner);
    }

    function test_initialisedWithOwnerAndWiring() public view {
        address[5] memory owned = [
            address(delegationManager),
            address(strategyManager),
            address(allocationManager),
            avsDirectory,
            eigenPodManager
        ];
        for (uint256 i; i < owned.length; ++i) {
            assertEq(_address(owned[i], "owner()"), coreOwner);
            assertEq(_address(owned[i], "pauserRegistry()"), address(pauserRegistry));
            assertEq(_uint(owned[i], "paused()"), 0);
        }
        assertEq(_address(address(strategyManager), "strategyWhitelister()"), coreOwner);
        assertEq(_address(address(allocationManager), "permissionController()"), address(permissionController));
        assertEq(allocationManager.DEALLOCATION_DELAY(), DEALLOCATION_DELAY);
        assertEq(allocationManager.ALLOCATION_CONFIGURATION_DELAY(), ALLOCATION_CONFIGURATION_DELAY);
        assertEq(_uint(address(delegationManager), "minWithdrawalDelayBlocks()"), MIN_WITHDRAWAL_DELAY_BLOCKS);
        assertEq(_address(eigenPodManager, "eigenPodBeacon()"), address(eigenPodBeacon));
    }

    function test_coreDeploymentGas() public {
        emit log_named_uint("core deployment gas", coreDeploymentGas);
        assertGt(coreDeploymentGas, 0);
    }

    function _string(address target, string memory signature) internal view returns (string memory) {
        (bool ok, bytes memory out) = target.staticcall(abi.encodeWithSignature(signature));
        require(ok, signature);
        return abi.decode(out, (string));
    }

    function _address(address target, string memory signature) internal view returns (address) {
        (bool ok, bytes memory out) = target.staticcall(abi.encodeWithSignature(signature));
        require(ok, signature);
        return abi.decode(out, (address));
    }

    function _uint(address target, string memory signature) internal view returns (uint256) {
        (bool ok, bytes memory out) = target.staticcall(abi.encodeWithSignature(signature));
        require(ok, signature);
        return abi.decode(out, (uint256));
    }
}
