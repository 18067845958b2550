// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {KeeperServiceManager} from "../../src/avs/KeeperServiceManager.sol";
import {BlsKeyRegistry} from "../../src/avs/BlsKeyRegistry.sol";
import {ERC20Strategy} from "../../src/devnet/ERC20Strategy.sol";
import {IAllocationManager, OperatorSet, RegisterParams} from "../../src/interfaces/IAllocationManager.sol";
import {IBlsKeyRegistry} from "../../src/interfaces/IBlsKeyRegistry.sol";
import {IStrategy} from "../../src/interfaces/IStrategy.sol";
import {EigenLayerFixture} from "../utils/EigenLayerFixture.sol";

contract KeeperServiceManagerTest is EigenLayerFixture {
    address internal operator = makeAddr("operator");
    address internal slasher = makeAddr("slasher");
    address internal stranger = makeAddr("stranger");
    uint256 internal constant SECRET = 0x1234567890abcdef;
    uint256 internal constant STAKE = 1000e18;
    uint64 internal constant MAGNITUDE = 0.5e18;

    event AVSMetadataURIUpdated(address indexed avs, string metadataURI);
    event AVSRegistrarSet(address avs, address registrar);
    event AVSInitialized(IBlsKeyRegistry indexed keyRegistry, IStrategy[] strategies, string metadataURI);
    event SlasherSet(address indexed slasher, bool allowed);
    event MaxSlashWadSet(uint256 previous, uint256 maxSlashWad);
    event OperatorSlashRequested(
        address indexed operator,
        address indexed slasher,
        uint256 wadToSlash,
        IStrategy[] strategies,
        string description
    );
    event OperatorEjected(address indexed operator);

    function setUp() public {
        _deployCore();
        _deployAvs(0);
        vm.prank(avsOwner);
        serviceManager.setSlasher(slasher, true);
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

    function test_constructor_emitsMaxSlashWadSet() public {
        vm.expectEmit();
        emit MaxSlashWadSet(0, 1e18);
        new KeeperServiceManager(allocationManager, avsOwner, 1e18);
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

    function test_addAndRemoveStrategies() public {
        IStrategy[] memory extra = new IStrategy[](1);
        extra[0] = new ERC20Strategy(strategyManager, stakeToken);
        vm.prank(avsOwner);
        serviceManager.addStrategies(extra);
        IStrategy[] memory sorted = serviceManager.sortedStrategies();
        assertEq(sorted.length, 2);
        assertLt(uint160(address(sorted[0])), uint160(address(sorted[1])));

        vm.prank(avsOwner);
        serviceManager.removeStrategies(extra);
        sorted = serviceManager.sortedStrategies();
        assertEq(sorted.length, 1);
        assertEq(address(sorted[0]), address(strategy));
    }

    function test_addAndRemoveStrategies_revertForNonOwner() public {
        IStrategy[] memory strategies = _strategies();
        vm.startPrank(stranger);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        serviceManager.addStrategies(strategies);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        serviceManager.removeStrategies(strategies);
        vm.stopPrank();
    }

    function test_sortedStrategies_sortsManyStrategies() public {
        IStrategy[] memory extra = new IStrategy[](5);
        for (uint256 i; i < extra.length; ++i) {
            extra[i] = new ERC20Strategy(strategyManager, stakeToken);
        }
        vm.prank(avsOwner);
        serviceManager.addStrategies(extra);
        IStrategy[] memory sorted = serviceManager.sortedStrategies();
        assertEq(sorted.length, 6);
        for (uint256 i = 1; i < sorted.length; ++i) {
            assertLt(uint160(address(sorted[i - 1])), uint160(address(sorted[i])));
        }
    }

    function test_setSlasher() public {
        vm.expectEmit(address(serviceManager));
        emit SlasherSet(stranger, true);
        vm.prank(avsOwner);
        serviceManager.setSlasher(stranger, true);
        assertTrue(serviceManager.isSlasher(stranger));

        vm.expectEmit(address(serviceManager));
        emit SlasherSet(stranger, false);
        vm.prank(avsOwner);
        serviceManager.setSlasher(stranger, false);
        assertFalse(serviceManager.isSlasher(stranger));
    }

    function test_setSlasher_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        vm.prank(stranger);
        serviceManager.setSlasher(stranger, true);
        vm.expectRevert(KeeperServiceManager.InputAddressZero.selector);
        vm.prank(avsOwner);
        serviceManager.setSlasher(address(0), true);
    }

    function test_setMaxSlashWad() public {
        vm.expectEmit(address(serviceManager));
        emit MaxSlashWadSet(MAX_SLASH_WAD, 1e18);
        vm.prank(avsOwner);
        serviceManager.setMaxSlashWad(1e18);
        assertEq(serviceManager.maxSlashWad(), 1e18);
    }

    function test_setMaxSlashWad_reverts() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        vm.prank(stranger);
        serviceManager.setMaxSlashWad(1);
        vm.startPrank(avsOwner);
        vm.expectRevert(abi.encodeWithSelector(KeeperServiceManager.InvalidMaxSlashWad.selector, 0));
        serviceManager.setMaxSlashWad(0);
        vm.expectRevert(abi.encodeWithSelector(KeeperServiceManager.InvalidMaxSlashWad.selector, 1e18 + 1));
        serviceManager.setMaxSlashWad(1e18 + 1);
        vm.stopPrank();
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

    function test_ejectOperator() public {
        _onboard(operator, SECRET, STAKE, MAGNITUDE);
        vm.expectEmit(address(serviceManager));
        emit OperatorEjected(operator);
        vm.prank(avsOwner);
        serviceManager.ejectOperator(operator);
        assertFalse(allocationManager.isMemberOfOperatorSet(operator, _keeperSet()));
        assertFalse(registry.isRegistered(operator));
    }

    function test_ejectOperator_bySlasher() public {
        _onboard(operator, SECRET, STAKE, MAGNITUDE);
        vm.prank(slasher); // authorised in setUp
        serviceManager.ejectOperator(operator);
        assertFalse(registry.isRegistered(operator));
    }

    function test_ejectOperator_reverts() public {
        _onboard(operator, SECRET, STAKE, MAGNITUDE);
        vm.expectRevert(KeeperServiceManager.OnlyOwnerOrSlasher.selector);
        vm.prank(stranger);
        serviceManager.ejectOperator(operator);
        vm.expectRevert(IAllocationManager.NotMemberOfSet.selector);
        vm.prank(avsOwner);
        serviceManager.ejectOperator(stranger);
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
        emit OperatorSlashRequested(operator, slasher, 0.5e18, strategies, "equivocation");
        vm.prank(slasher);
        serviceManager.slashOperator(operator, 0.5e18, "equivocation");

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

        // The slashed shares are burnt through the strategy (permissionless).
        uint256 burnable = strategyManager.getBurnableShares(strategy);
        assertGt(burnable, 0);
        address burnAddress = strategyManager.DEFAULT_BURN_ADDRESS();
        strategyManager.burnShares(strategy);
        assertApproxEqAbs(stakeToken.balanceOf(burnAddress), 250e18, 1e6);
    }

    function test_slashOperator_withSeveralStrategies() public {
        IStrategy[] memory extra = new IStrategy[](3);
        for (uint256 i; i < extra.length; ++i) {
            extra[i] = new ERC20Strategy(strategyManager, stakeToken);
        }
        vm.prank(avsOwner);
        serviceManager.addStrategies(extra);
        _onboard(operator, SECRET, STAKE, MAGNITUDE);
        vm.prank(slasher);
        serviceManager.slashOperator(operator, 0.1e18, "not due");
        assertApproxEqAbs(registry.getOperatorWeight(operator), 450e18, 1e6);
    }

    function test_slashOperator_revertsForNonSlasher() public {
        _onboard(operator, SECRET, STAKE, MAGNITUDE);
        vm.expectRevert(KeeperServiceManager.OnlySlasher.selector);
        vm.prank(stranger);
        serviceManager.slashOperator(operator, 0.1e18, "x");
        // The owner is not a slasher unless it makes itself one.
        vm.expectRevert(KeeperServiceManager.OnlySlasher.selector);
        vm.prank(avsOwner);
        serviceManager.slashOperator(operator, 0.1e18, "x");
    }

    function test_slashOperator_revertsOutOfBounds() public {
        _onboard(operator, SECRET, STAKE, MAGNITUDE);
        vm.startPrank(slasher);
        vm.expectRevert(abi.encodeWithSelector(KeeperServiceManager.WadToSlashOutOfBounds.selector, 0, MAX_SLASH_WAD));
        serviceManager.slashOperator(operator, 0, "x");
        vm.expectRevert(
            abi.encodeWithSelector(
                KeeperServiceManager.WadToSlashOutOfBounds.selector, MAX_SLASH_WAD + 1, MAX_SLASH_WAD
            )
        );
        serviceManager.slashOperator(operator, MAX_SLASH_WAD + 1, "x");
        vm.stopPrank();
    }

    function test_slashOperator_revokedSlasherCannotSlash() public {
        _onboard(operator, SECRET, STAKE, MAGNITUDE);
        vm.prank(avsOwner);
        serviceManager.setSlasher(slasher, false);
        vm.expectRevert(KeeperServiceManager.OnlySlasher.selector);
        vm.prank(slasher);
        serviceManager.slashOperator(operator, 0.1e18, "x");
    }

    function test_slashOperator_afterDeregistrationUntilDelayEnds() public {
        _onboard(operator, SECRET, STAKE, MAGNITUDE);
        _leaveSet(operator);
        // Still slashable during DEALLOCATION_DELAY; the registry weight stays 0 (the operator left).
        vm.roll(block.number + DEALLOCATION_DELAY - 1);
        vm.prank(slasher);
        serviceManager.slashOperator(operator, 0.1e18, "late evidence");
        assertEq(registry.getOperatorWeight(operator), 0);

        vm.roll(block.number + 2);
        vm.expectRevert(IAllocationManager.OperatorNotSlashable.selector);
        vm.prank(slasher);
        serviceManager.slashOperator(operator, 0.1e18, "too late");
    }

    function test_slashOperator_revertsForNonMember() public {
        vm.expectRevert(IAllocationManager.OperatorNotSlashable.selector);
        vm.prank(slasher);
        serviceManager.slashOperator(stranger, 0.1e18, "x");
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
        vm.prank(slasher);
        serviceManager.slashOperator(operator, 0.1e18, "gas");
        emit log_named_uint("slashOperator (with weight refresh)", vm.lastCallGas().gasTotalUsed);
        emit log_named_uint("core deployment", coreDeploymentGas);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Helpers
    // ---------------------------------------------------------------------------------------------------------

    function _freshAvs() internal returns (KeeperServiceManager fresh, BlsKeyRegistry freshRegistry) {
        fresh = new KeeperServiceManager(allocationManager, avsOwner, MAX_SLASH_WAD);
        freshRegistry = new BlsKeyRegistry(allocationManager, address(fresh), avsOwner, 0);
    }

    function _registerParamsWithIds(uint32[] memory ids, bytes memory data)
        internal
        view
        returns (RegisterParams memory)
    {
        return RegisterParams(address(serviceManager), ids, data);
    }
}
