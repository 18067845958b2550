// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {Test} from "forge-std/Test.sol";
import {KeeperServiceManager} from "../../src/avs/KeeperServiceManager.sol";
import {IAllocationManager, OperatorSet} from "../../src/interfaces/IAllocationManager.sol";
import {IBlsKeyRegistry} from "../../src/interfaces/IBlsKeyRegistry.sol";
import {IStrategy} from "../../src/interfaces/IStrategy.sol";
import {
    KeyRegistryDouble,
    NewerAllocationManagerDouble,
    NewerStrategyManagerDouble
} from "../utils/NewerCoreDoubles.sol";
import {SlasherStub} from "../utils/SlasherStub.sol";

/// The service manager against the behaviour of newer EigenLayer cores (v1.5 to v1.12), through test doubles of
/// what changed (`test/utils/NewerCoreDoubles.sol`); `KeeperServiceManager.t.sol` runs it on the real v1.3 core.
contract KeeperServiceManagerNewerCoreTest is Test {
    address internal avsOwner = makeAddr("avsOwner");
    address internal operator = makeAddr("operator");
    bytes32 internal constant OFFENCE = keccak256("offence");
    uint256 internal constant MAX_SLASH_WAD = 0.5e18;

    NewerStrategyManagerDouble internal strategyManager;
    NewerAllocationManagerDouble internal allocationManager;
    KeyRegistryDouble internal registry;
    KeeperServiceManager internal serviceManager;
    SlasherStub internal slasher;

    event SlashedSharesCleared(uint256 slashId, bool cleared);

    /// A v1.9+ core (slasher overload, slasher checked) unless a test deploys another.
    function setUp() public {
        _deploy(true);
    }

    function _deploy(bool slasherOverload) internal {
        strategyManager = new NewerStrategyManagerDouble();
        allocationManager = new NewerAllocationManagerDouble(address(strategyManager), slasherOverload);
        registry = new KeyRegistryDouble();
        serviceManager =
            new KeeperServiceManager(IAllocationManager(address(allocationManager)), avsOwner, MAX_SLASH_WAD);
        registry.setServiceManager(address(serviceManager));
    }

    function _initialize() internal {
        IStrategy[] memory strategies = new IStrategy[](2);
        strategies[0] = IStrategy(address(0xB0B));
        strategies[1] = IStrategy(address(0xA11CE));
        vm.prank(avsOwner);
        serviceManager.initializeAVS(IBlsKeyRegistry(address(registry)), "uri", strategies);
        slasher = new SlasherStub(serviceManager);
        vm.prank(avsOwner);
        serviceManager.setTaskManager(address(slasher));
    }

    function _keeperSet() internal view returns (OperatorSet memory) {
        return OperatorSet(address(serviceManager), 0);
    }

    function test_constructor_readsStrategyManagerFromTheCore() public view {
        assertEq(address(serviceManager.strategyManager()), address(strategyManager));
    }

    /// v1.9+: the keeper set is created through the overload that names the slasher: the service manager.
    function test_initializeAVS_namesServiceManagerAsSlasher() public {
        _initialize();
        assertEq(allocationManager.getSlasher(_keeperSet()), address(serviceManager));
        assertEq(allocationManager.legacyCreateCalls(), 0);
        assertEq(allocationManager.registrars(address(serviceManager)), address(serviceManager));
        assertEq(allocationManager.getStrategiesInOperatorSet(_keeperSet()).length, 2);
    }

    /// v1.5 to v1.8: no overload (the call reverts with no data), so the v1.3 form creates the set (slasher = AVS).
    function test_initializeAVS_fallsBackOnCoreWithoutSlasherOverload() public {
        _deploy(false);
        _initialize();
        assertEq(allocationManager.legacyCreateCalls(), 1);
        assertEq(allocationManager.getSlasher(_keeperSet()), address(serviceManager));
    }

    /// A core that answers the overload with an error is not retried with the old form: its error is passed on.
    function test_initializeAVS_passesOnTheCoresRefusal() public {
        bytes memory refusal = abi.encodeWithSelector(NewerAllocationManagerDouble.NonexistentAVSMetadata.selector);
        allocationManager.setCreateRevertData(refusal);
        IStrategy[] memory strategies = new IStrategy[](1);
        strategies[0] = IStrategy(address(0xB0B));
        vm.expectRevert(refusal);
        vm.prank(avsOwner);
        serviceManager.initializeAVS(IBlsKeyRegistry(address(registry)), "uri", strategies);
        assertEq(allocationManager.legacyCreateCalls(), 0);
    }

    /// v1.5+: the slash id `slashOperator` returns clears the slashed shares in the same transaction.
    function test_slashOperator_clearsSharesWithTheReturnedSlashId() public {
        _initialize();
        vm.expectEmit(address(serviceManager));
        emit SlashedSharesCleared(1, true);
        slasher.slash(operator, 0.1e18, OFFENCE);
        vm.expectEmit(address(serviceManager));
        emit SlashedSharesCleared(2, true);
        slasher.slash(operator, 0.2e18, keccak256("another offence"));

        assertEq(strategyManager.clearedCount(), 2);
        (address avs, uint32 setId, uint256 slashId) = strategyManager.cleared(1);
        assertEq(avs, address(serviceManager));
        assertEq(setId, 0);
        assertEq(slashId, 2);
        assertEq(strategyManager.burnSharesCalls(), 0);
        assertEq(allocationManager.lastSlashedOperator(), operator);
        assertEq(allocationManager.lastWadToSlash(), 0.2e18);
        assertEq(registry.updateWeightsCalls(), 2);
        assertTrue(serviceManager.isSlashed(OFFENCE, operator));
    }

    /// Clearing is best effort: a StrategyManager that refuses does not undo a proven slash.
    function test_slashOperator_standsWhenClearingIsRefused() public {
        _initialize();
        strategyManager.setRefuse(true);
        vm.expectEmit(address(serviceManager));
        emit SlashedSharesCleared(1, false);
        slasher.slash(operator, 0.1e18, OFFENCE);
        assertEq(allocationManager.slashCount(keccak256(abi.encode(address(serviceManager), uint32(0)))), 1);
        assertEq(registry.updateWeightsCalls(), 1);
    }

    /// v1.9+: once the set's slasher is another address, the core's refusal reaches the caller unchanged.
    function test_slashOperator_passesOnTheSlasherCheck() public {
        _initialize();
        allocationManager.setSlasher(_keeperSet(), makeAddr("someoneElse"));
        vm.expectRevert(NewerAllocationManagerDouble.InvalidCaller.selector);
        slasher.slash(operator, 0.1e18, OFFENCE);
        assertFalse(serviceManager.isSlashed(OFFENCE, operator));
    }
}
