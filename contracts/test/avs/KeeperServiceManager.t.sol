// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {BLS12381} from "../../src/libraries/BLS12381.sol";
import {KeeperServiceManager} from "../../src/avs/KeeperServiceManager.sol";
import {BlsKeyRegistry} from "../../src/avs/BlsKeyRegistry.sol";
import {ERC20Strategy} from "../../src/devnet/ERC20Strategy.sol";
import {IAllocationManager, OperatorSet, RegisterParams} from "../../src/interfaces/IAllocationManager.sol";
import {IBlsKeyRegistry} from "../../src/interfaces/IBlsKeyRegistry.sol";
import {IStrategy} from "../../src/interfaces/IStrategy.sol";
import {EigenLayerFixture} from "../utils/EigenLayerFixture.sol";
import {SlasherStub} from "../utils/SlasherStub.sol";

contract KeeperServiceManagerTest is EigenLayerFixture {
    address internal operator = makeAddr("operator");
    address internal stranger = makeAddr("stranger");
    uint256 internal constant SECRET = 0x1234567890abcdef;
    uint256 internal constant STAKE = 1000e18;
    uint64 internal constant MAGNITUDE = 0.5e18;
    bytes32 internal constant OFFENCE = keccak256("offence");

    /// Stands in for the task manager (the only slasher) in these tests.
    SlasherStub internal slasher;

    event AVSMetadataURIUpdated(address indexed avs, string metadataURI);
    event AVSRegistrarSet(address avs, address registrar);
    event AVSInitialized(IBlsKeyRegistry indexed keyRegistry, IStrategy[] strategies, string metadataURI);
    event TaskManagerSet(address indexed taskManager);
    event OperatorSlashRequested(
        address indexed operator,
        bytes32 indexed offence,
        uint256 wadToSlash,
        IStrategy[] strategies,
        string description
    );
    event OperatorEjected(address indexed operator, KeeperServiceManager.EjectionReason reason);
    event SlashedSharesCleared(uint256 slashId, bool cleared);

    function setUp() public {
        _deployCore();
        _deployAvs(MINIMUM_STAKE);
        slasher = new SlasherStub(serviceManager);
        vm.prank(avsOwner);
        serviceManager.setTaskManager(address(slasher));
    }

    // ---------------------------------------------------------------------------------------------------------
    // Construction and initialisation
    // ---------------------------------------------------------------------------------------------------------

    function test_constructor_setsState() public view {
        assertEq(address(serviceManager.allocationManager()), address(allocationManager));
        assertEq(serviceManager.owner(), avsOwner);
        assertEq(serviceManager.maxSlashWad(), MAX_SLASH_WAD);
        assertEq(address(serviceManager.keyRegistry()), address(registry));
        assertEq(serviceManager.KEEPER_OPERATOR_SET_ID(), 0);
    }

    function test_constructor_revertsOnZeroAllocationManager() public {
        vm.expectRevert(KeeperServiceManager.InputAddressZero.selector);
        new KeeperServiceManager(IAllocationManager(address(0)), avsOwner, MAX_SLASH_WAD);
    }

    function test_constructor_revertsOnBadMaxSlashWad() public {
        vm.expectRevert(abi.encodeWithSelector(KeeperServiceManager.InvalidMaxSlashWad.selector, 0));
        new KeeperServiceManager(allocationManager, avsOwner, 0);
        vm.expectRevert(abi.encodeWithSelector(KeeperServiceManager.InvalidMaxSlashWad.selector, 1e18 + 1));
        new KeeperServiceManager(allocationManager, avsOwner, 1e18 + 1);
    }

    function test_initializeAVS_setsUpEigenLayer() public view {
        OperatorSet memory set = _keeperSet();
        assertTrue(allocationManager.isOperatorSet(set));
        assertEq(allocationManager.getAVSRegistrar(address(serviceManager)), address(serviceManager));
        IStrategy[] memory strategies = allocationManager.getStrategiesInOperatorSet(set);
        assertEq(strategies.length, 1);
        assertEq(address(strategies[0]), address(strategy));
        // No admin was ever appointed, so the service manager acts for itself, slashing included.
        assertTrue(
            permissionController.canCall(
                address(serviceManager),
                address(serviceManager),
                address(allocationManager),
                IAllocationManager.slashOperator.selector
            )
        );
        assertEq(permissionController.getAdmins(address(serviceManager))[0], address(serviceManager));
    }

    function test_initializeAVS_emitsInOrder() public {
        (KeeperServiceManager fresh, BlsKeyRegistry freshRegistry) = _freshAvs();
        IStrategy[] memory strategies = _strategies();
        vm.expectEmit(address(fresh));
        emit AVSInitialized(freshRegistry, strategies, "uri");
        vm.expectEmit(address(allocationManager));
        emit AVSMetadataURIUpdated(address(fresh), "uri");
        vm.expectEmit(address(allocationManager));
        emit AVSRegistrarSet(address(fresh), address(fresh));
        vm.prank(avsOwner);
        fresh.initializeAVS(freshRegistry, "uri", strategies);
        assertEq(address(fresh.keyRegistry()), address(freshRegistry));
    }

    function test_initializeAVS_revertsForNonOwner() public {
        (KeeperServiceManager fresh, BlsKeyRegistry freshRegistry) = _freshAvs();
        IStrategy[] memory strategies = _strategies();
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        vm.prank(stranger);
        fresh.initializeAVS(freshRegistry, "uri", strategies);
    }

    function test_initializeAVS_revertsTwice() public {
        IStrategy[] memory strategies = _strategies();
        vm.expectRevert(KeeperServiceManager.AlreadyInitialized.selector);
        vm.prank(avsOwner);
        serviceManager.initializeAVS(registry, "uri", strategies);
    }

    function test_initializeAVS_revertsOnZeroRegistry() public {
        (KeeperServiceManager fresh,) = _freshAvs();
        IStrategy[] memory strategies = _strategies();
        vm.expectRevert(KeeperServiceManager.InputAddressZero.selector);
        vm.prank(avsOwner);
        fresh.initializeAVS(IBlsKeyRegistry(address(0)), "uri", strategies);
    }

    function test_initializeAVS_revertsOnRegistryOfAnotherAvs() public {
        (KeeperServiceManager fresh,) = _freshAvs();
        IStrategy[] memory strategies = _strategies();
        vm.expectRevert(
            abi.encodeWithSelector(KeeperServiceManager.KeyRegistryMismatch.selector, address(serviceManager))
        );
        vm.prank(avsOwner);
        fresh.initializeAVS(registry, "uri", strategies);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Owner settings
    // ---------------------------------------------------------------------------------------------------------

    function test_updateAVSMetadataURI() public {
        vm.expectEmit(address(allocationManager));
        emit AVSMetadataURIUpdated(address(serviceManager), "ipfs://new");
        vm.prank(avsOwner);
        serviceManager.updateAVSMetadataURI("ipfs://new");
    }

    function test_updateAVSMetadataURI_revertsForNonOwner() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        vm.prank(stranger);
        serviceManager.updateAVSMetadataURI("ipfs://new");
    }

    /// Attack 7: the task manager is linked once, must slash through this service manager (so an EOA or another
    /// contract cannot be named), and the owner has no way to slash, add a slasher, eject, or change the strategies.
    function test_setTaskManager_onceAndOnlyALinkedContract() public {
        (KeeperServiceManager fresh,) = _freshAvs();
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        vm.prank(stranger);
        fresh.setTaskManager(address(slasher));
        vm.startPrank(avsOwner);
        vm.expectRevert(KeeperServiceManager.InputAddressZero.selector);
        fresh.setTaskManager(address(0));
        // An EOA has no `serviceManager()` to answer.
        vm.expectRevert();
        fresh.setTaskManager(stranger);
        // A task manager of another service manager.
        vm.expectRevert(abi.encodeWithSelector(KeeperServiceManager.TaskManagerMismatch.selector, serviceManager));
        fresh.setTaskManager(address(slasher));
        SlasherStub own = new SlasherStub(fresh);
        vm.expectEmit(address(fresh));
        emit TaskManagerSet(address(own));
        fresh.setTaskManager(address(own));
        assertEq(fresh.taskManager(), address(own));
        address another = address(new SlasherStub(fresh));
        vm.expectRevert(KeeperServiceManager.AlreadyInitialized.selector);
        fresh.setTaskManager(another);
        vm.stopPrank();
    }

    function test_ownerHasNoSlashingEjectionOrStrategyPowers() public {
        _onboard(operator, SECRET, STAKE, MAGNITUDE);
        vm.startPrank(avsOwner);
        vm.expectRevert(KeeperServiceManager.OnlyTaskManager.selector);
        serviceManager.slashOperator(operator, 0.1e18, OFFENCE, "owner");
        vm.expectRevert(KeeperServiceManager.OnlyTaskManager.selector);
        serviceManager.ejectForOffence(operator);
        // The functions of earlier releases are gone: setSlasher, ejectOperator, addStrategies, removeStrategies,
        // setMaxSlashWad.
        bytes[5] memory calls = [
            abi.encodeWithSignature("setSlasher(address,bool)", avsOwner, true),
            abi.encodeWithSignature("ejectOperator(address)", operator),
            abi.encodeWithSignature("addStrategies(address[])", new address[](0)),
            abi.encodeWithSignature("removeStrategies(address[])", _strategies()),
            abi.encodeWithSignature("setMaxSlashWad(uint256)", 1e18)
        ];
        for (uint256 i; i < calls.length; ++i) {
            (bool ok,) = address(serviceManager).call(calls[i]);
            assertFalse(ok);
        }
        vm.stopPrank();
        assertTrue(registry.isRegistered(operator));
        assertEq(allocationManager.getStrategiesInOperatorSet(_keeperSet()).length, 1);
    }

    function test_sortedStrategies_sortsManyStrategies() public {
        (KeeperServiceManager fresh, BlsKeyRegistry freshRegistry) = _freshAvs();
        IStrategy[] memory many = new IStrategy[](5);
        for (uint256 i; i < many.length; ++i) {
            many[i] = new ERC20Strategy(strategyManager, stakeToken);
        }
        vm.prank(avsOwner);
        fresh.initializeAVS(freshRegistry, "uri", many);
        IStrategy[] memory sorted = fresh.sortedStrategies();
        assertEq(sorted.length, 5);
        for (uint256 i = 1; i < sorted.length; ++i) {
            assertLt(uint160(address(sorted[i - 1])), uint160(address(sorted[i])));
        }
    }

    function test_ownershipTransferIsTwoStep() public {
        vm.prank(avsOwner);
        serviceManager.transferOwnership(stranger);
        assertEq(serviceManager.owner(), avsOwner);
        vm.prank(stranger);
        serviceManager.acceptOwnership();
        assertEq(serviceManager.owner(), stranger);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Registrar callbacks
    // ---------------------------------------------------------------------------------------------------------

    function test_supportsAVS() public view {
        assertTrue(serviceManager.supportsAVS(address(serviceManager)));
        assertFalse(serviceManager.supportsAVS(stranger));
    }

    function test_operatorSet() public view {
        OperatorSet memory set = serviceManager.operatorSet();
        assertEq(set.avs, address(serviceManager));
        assertEq(set.id, 0);
    }

    function test_registration_throughEigenLayer() public {
        _onboard(operator, SECRET, STAKE, MAGNITUDE);
        assertTrue(allocationManager.isMemberOfOperatorSet(operator, _keeperSet()));
        assertTrue(registry.isRegistered(operator));
        assertEq(registry.getOperatorWeight(operator), STAKE / 2);
    }

    function test_deregistration_throughEigenLayer() public {
        _onboard(operator, SECRET, STAKE, MAGNITUDE);
        vm.roll(block.number + 1);
        _leaveSet(operator);
        assertFalse(allocationManager.isMemberOfOperatorSet(operator, _keeperSet()));
        assertFalse(registry.isRegistered(operator));
        assertEq(registry.getOperatorWeight(operator), 0);
    }

    function test_registration_revertsForNonexistentSet() public {
        _prepareOperator(operator, STAKE, MAGNITUDE);
        bytes memory data = _registrationData(operator, SECRET);
        uint32[] memory ids = new uint32[](1);
        ids[0] = 1;
        vm.expectRevert(IAllocationManager.InvalidOperatorSet.selector);
        vm.prank(operator);
        allocationManager.registerForOperatorSets(operator, _registerParamsWithIds(ids, data));
    }

    function test_registration_revertsOnMalformedData() public {
        _prepareOperator(operator, STAKE, MAGNITUDE);
        vm.expectRevert();
        _joinSet(operator, hex"1234");
    }

    function test_registerOperator_revertsForNonAllocationManager() public {
        uint32[] memory ids = new uint32[](1);
        bytes memory data = _registrationData(operator, SECRET);
        vm.expectRevert(KeeperServiceManager.OnlyAllocationManager.selector);
        vm.prank(operator);
        serviceManager.registerOperator(operator, address(serviceManager), ids, data);
    }

    function test_registerOperator_revertsForAnotherAvs() public {
        uint32[] memory ids = new uint32[](1);
        bytes memory data = _registrationData(operator, SECRET);
        vm.expectRevert(abi.encodeWithSelector(KeeperServiceManager.InvalidAVS.selector, stranger));
        vm.prank(address(allocationManager));
        serviceManager.registerOperator(operator, stranger, ids, data);
    }

    function test_registerOperator_revertsForOtherSetIds() public {
        bytes memory data = _registrationData(operator, SECRET);
        uint32[][] memory cases = new uint32[][](3);
        cases[0] = new uint32[](0);
        cases[1] = new uint32[](1);
        cases[1][0] = 1;
        cases[2] = new uint32[](2);
        for (uint256 i; i < cases.length; ++i) {
            vm.expectRevert(KeeperServiceManager.InvalidOperatorSetIds.selector);
            vm.prank(address(allocationManager));
            serviceManager.registerOperator(operator, address(serviceManager), cases[i], data);
        }
    }

    function test_deregisterOperator_reverts() public {
        uint32[] memory ids = new uint32[](1);
        vm.expectRevert(KeeperServiceManager.OnlyAllocationManager.selector);
        vm.prank(operator);
        serviceManager.deregisterOperator(operator, address(serviceManager), ids);

        vm.startPrank(address(allocationManager));
        vm.expectRevert(abi.encodeWithSelector(KeeperServiceManager.InvalidAVS.selector, stranger));
        serviceManager.deregisterOperator(operator, stranger, ids);
        ids[0] = 7;
        vm.expectRevert(KeeperServiceManager.InvalidOperatorSetIds.selector);
        serviceManager.deregisterOperator(operator, address(serviceManager), ids);
        vm.stopPrank();
    }

    // ---------------------------------------------------------------------------------------------------------
    // Ejection
    // ---------------------------------------------------------------------------------------------------------

    /// A proven offence bans the operator for good: it leaves the set, and it can never come back.
    function test_ejectForOffence_bansForGood() public {
        _onboard(operator, SECRET, STAKE, MAGNITUDE);
        vm.expectEmit(address(serviceManager));
        emit OperatorEjected(operator, KeeperServiceManager.EjectionReason.Offence);
        slasher.eject(operator);
        assertFalse(allocationManager.isMemberOfOperatorSet(operator, _keeperSet()));
        assertFalse(registry.isRegistered(operator));
        assertTrue(registry.isBanned(operator));
        // A second ejection (another offence) is harmless.
        slasher.eject(operator);
        // After EigenLayer's delay it could rejoin the set; the registrar refuses.
        vm.roll(block.number + DEALLOCATION_DELAY + 1);
        bytes memory data = abi.encode(BLS12381.toBytes(_publicKey(SECRET)), bytes(""));
        RegisterParams memory params = _registerParams(data);
        vm.expectRevert(abi.encodeWithSelector(BlsKeyRegistry.OperatorIsBanned.selector, operator));
        vm.prank(operator);
        allocationManager.registerForOperatorSets(operator, params);
    }

    /// Anyone may eject a member whose slashable stake fell below the minimum (here: it deallocated), and no one a
    /// member at or above it.
    function test_ejectBelowMinimum() public {
        _onboard(operator, SECRET, STAKE, MAGNITUDE);
        vm.expectRevert(
            abi.encodeWithSelector(
                KeeperServiceManager.StakeNotBelowMinimum.selector, operator, STAKE / 2, MINIMUM_STAKE
            )
        );
        vm.prank(stranger);
        serviceManager.ejectBelowMinimum(operator);
        vm.expectRevert(abi.encodeWithSelector(KeeperServiceManager.OperatorNotRegistered.selector, stranger));
        serviceManager.ejectBelowMinimum(stranger);

        vm.roll(block.number + 1);
        _allocate(operator, 0);
        vm.expectEmit(address(serviceManager));
        emit OperatorEjected(operator, KeeperServiceManager.EjectionReason.BelowMinimumStake);
        vm.prank(stranger);
        serviceManager.ejectBelowMinimum(operator);
        assertFalse(registry.isRegistered(operator));
        assertFalse(registry.isBanned(operator), "not banned: it may come back with stake");
    }

    // ---------------------------------------------------------------------------------------------------------
    // Slashing
    // ---------------------------------------------------------------------------------------------------------

    function test_slashOperator_reducesStakeAndWeight() public {
        _onboard(operator, SECRET, STAKE, MAGNITUDE);
        uint32 before = uint32(block.number);
        vm.roll(block.number + 1);

        IStrategy[] memory strategies = _strategies();
        vm.expectEmit(address(serviceManager));
        emit OperatorSlashRequested(operator, OFFENCE, 0.5e18, strategies, "test offence");
        slasher.slash(operator, 0.5e18, OFFENCE);
        assertTrue(serviceManager.isSlashed(OFFENCE, operator));

        // EigenLayer reports half of the 500-token allocation gone (EigenLayer rounds down by a few hundred wei).
        address[] memory operators = new address[](1);
        operators[0] = operator;
        uint256 allocated = allocationManager.getAllocatedStake(_keeperSet(), operators, strategies)[0][0];
        assertApproxEqAbs(allocated, 250e18, 1e6);
        // The service manager refreshed the weight in the same transaction.
        assertEq(registry.getOperatorWeight(operator), registry.currentStake(operator));
        assertApproxEqAbs(registry.getOperatorWeight(operator), 250e18, 1e6);
        assertEq(registry.getOperatorWeightAtBlock(operator, before), 500e18);
        assertEq(registry.getTotalWeightAtBlock(before), 500e18);
        assertEq(registry.getTotalWeight(), registry.getOperatorWeight(operator));

        // On this v1.3 core the service manager burnt the slashed shares in the same transaction (`burnShares`).
        assertEq(strategyManager.getBurnableShares(strategy), 0);
        assertApproxEqAbs(stakeToken.balanceOf(strategyManager.DEFAULT_BURN_ADDRESS()), 250e18, 1e6);
    }

    /// v1.3's `slashOperator` returns nothing: no slash id, so the shares go through `burnShares` (slash id 0).
    function test_slashOperator_burnsOnV13Core() public {
        _onboard(operator, SECRET, STAKE, MAGNITUDE);
        vm.expectEmit(address(serviceManager));
        emit SlashedSharesCleared(0, true);
        slasher.slash(operator, 0.5e18, OFFENCE);
    }

    function test_constructor_readsStrategyManagerFromTheCore() public view {
        assertEq(address(serviceManager.strategyManager()), address(strategyManager));
    }

    /// On v1.3 (no `CreateSetParamsV2` overload) the set is created with the v1.3 form; the AVS, which is this
    /// contract, may slash in it.
    function test_initializeAVS_onV13CoreWithoutSlasherOverload() public {
        (bool hasOverload,) =
            address(allocationManager).staticcall(abi.encodeCall(IAllocationManager.getSlasher, (_keeperSet())));
        assertFalse(hasOverload);
        assertTrue(allocationManager.isOperatorSet(_keeperSet()));
    }

    /// Attack 7: each offence slashes an operator at most once.
    function test_slashOperator_onceperOffence() public {
        _onboard(operator, SECRET, STAKE, MAGNITUDE);
        slasher.slash(operator, 0.1e18, OFFENCE);
        vm.expectRevert(abi.encodeWithSelector(KeeperServiceManager.AlreadySlashed.selector, operator, OFFENCE));
        slasher.slash(operator, 0.1e18, OFFENCE);
        // Another offence is another slash.
        slasher.slash(operator, 0.1e18, keccak256("another offence"));
        assertApproxEqAbs(registry.getOperatorWeight(operator), 405e18, 1e6);
    }

    function test_slashOperator_revertsForNonSlasher() public {
        _onboard(operator, SECRET, STAKE, MAGNITUDE);
        vm.expectRevert(KeeperServiceManager.OnlyTaskManager.selector);
        vm.prank(stranger);
        serviceManager.slashOperator(operator, 0.1e18, OFFENCE, "x");
    }

    function test_slashOperator_revertsOutOfBounds() public {
        _onboard(operator, SECRET, STAKE, MAGNITUDE);
        vm.expectRevert(abi.encodeWithSelector(KeeperServiceManager.WadToSlashOutOfBounds.selector, 0, MAX_SLASH_WAD));
        slasher.slash(operator, 0, OFFENCE);
        vm.expectRevert(
            abi.encodeWithSelector(
                KeeperServiceManager.WadToSlashOutOfBounds.selector, MAX_SLASH_WAD + 1, MAX_SLASH_WAD
            )
        );
        slasher.slash(operator, MAX_SLASH_WAD + 1, OFFENCE);
    }

    function test_slashOperator_afterDeregistrationUntilDelayEnds() public {
        _onboard(operator, SECRET, STAKE, MAGNITUDE);
        _leaveSet(operator);
        // Still slashable during DEALLOCATION_DELAY; the registry weight stays 0 (the operator left).
        vm.roll(block.number + DEALLOCATION_DELAY - 1);
        slasher.slash(operator, 0.1e18, OFFENCE);
        assertEq(registry.getOperatorWeight(operator), 0);

        vm.roll(block.number + 2);
        vm.expectRevert(IAllocationManager.OperatorNotSlashable.selector);
        slasher.slash(operator, 0.1e18, keccak256("too late"));
    }

    function test_slashOperator_revertsForNonMember() public {
        vm.expectRevert(IAllocationManager.OperatorNotSlashable.selector);
        slasher.slash(stranger, 0.1e18, OFFENCE);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Gas
    // ---------------------------------------------------------------------------------------------------------

    /// Run with `--isolate` for transaction-accurate numbers (cold storage per call).
    function test_gas_registrationAndSlash() public {
        _prepareOperator(operator, STAKE, MAGNITUDE);
        bytes memory data = _registrationData(operator, SECRET);
        vm.prank(operator);
        allocationManager.registerForOperatorSets(operator, _registerParams(data));
        emit log_named_uint("registerForOperatorSets (with callback, PoP, checkpoints)", vm.lastCallGas().gasTotalUsed);

        vm.roll(block.number + 1);
        vm.prank(address(slasher));
        serviceManager.slashOperator(operator, 0.1e18, OFFENCE, "gas");
        emit log_named_uint("slashOperator (with weight refresh)", vm.lastCallGas().gasTotalUsed);
        emit log_named_uint("core deployment", coreDeploymentGas);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Helpers
    // ---------------------------------------------------------------------------------------------------------

    function _freshAvs() internal returns (KeeperServiceManager fresh, BlsKeyRegistry freshRegistry) {
        fresh = new KeeperServiceManager(allocationManager, avsOwner, MAX_SLASH_WAD);
        freshRegistry = new BlsKeyRegistry(allocationManager, address(fresh), avsOwner, MINIMUM_STAKE);
    }

    function _registerParamsWithIds(uint32[] memory ids, bytes memory data)
        internal
        view
        returns (RegisterParams memory)
    {
        return RegisterParams(address(serviceManager), ids, data);
    }
}
