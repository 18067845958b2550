// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {TransparentUpgradeableProxy} from "@openzeppelin/contracts/proxy/transparent/TransparentUpgradeableProxy.sol";
import {ITransparentUpgradeableProxy} from "@openzeppelin/contracts/proxy/transparent/TransparentUpgradeableProxy.sol";
import {ProxyAdmin} from "@openzeppelin/contracts/proxy/transparent/ProxyAdmin.sol";
import {UpgradeableBeacon} from "@openzeppelin/contracts/proxy/beacon/UpgradeableBeacon.sol";
import {BLS12381} from "../../src/libraries/BLS12381.sol";
import {BatchDigest} from "../../src/libraries/BatchDigest.sol";
import {EmptyContract} from "../../src/devnet/EmptyContract.sol";
import {PauserRegistry} from "../../src/devnet/PauserRegistry.sol";
import {ERC20Strategy} from "../../src/devnet/ERC20Strategy.sol";
import {StakeToken} from "../../src/devnet/StakeToken.sol";
import {
    IAllocationManager,
    OperatorSet,
    AllocateParams,
    RegisterParams,
    DeregisterParams
} from "../../src/interfaces/IAllocationManager.sol";
import {IDelegationManager} from "../../src/interfaces/IDelegationManager.sol";
import {IStrategyManager} from "../../src/interfaces/IStrategyManager.sol";
import {IPermissionController} from "../../src/interfaces/IPermissionController.sol";
import {IStrategy} from "../../src/interfaces/IStrategy.sol";
import {KeeperServiceManager} from "../../src/avs/KeeperServiceManager.sol";
import {BlsKeyRegistry} from "../../src/avs/BlsKeyRegistry.sol";
import {BlsTestBase} from "./BlsTestBase.sol";

/// @dev The real EigenLayer core (v1.3 bytecode from the crates.io crate eigen-utils 2.0.0, extracted into
/// test/eigenlayer/<Name>.json), deployed behind OpenZeppelin proxies in the order a devnet deployer uses, plus the
/// keeper AVS wired into it. `_deployCore` and `_deployAvs` are the reference for the Rust deployer.
abstract contract EigenLayerFixture is BlsTestBase {
    string internal constant VERSION = "v1.3.0";
    /// @dev A public testnet's short delays (50 blocks): the tightest slashable horizon the task manager must fit.
    uint32 internal constant MIN_WITHDRAWAL_DELAY_BLOCKS = 50;
    uint32 internal constant DEALLOCATION_DELAY = 50;
    uint32 internal constant ALLOCATION_CONFIGURATION_DELAY = 5;
    /// @dev Operators' own allocation delay: allocations take effect in the block they are made.
    uint32 internal constant OPERATOR_ALLOCATION_DELAY = 0;
    uint64 internal constant GENESIS_TIME = 1_606_824_023;
    /// @dev The beacon deposit contract's address; nothing on a devnet stakes ETH, so it needs no code.
    address internal constant ETH_POS = 0x00000000219ab540356cBB839Cbe05303d7705Fa;
    bytes32 internal constant ERC1967_ADMIN_SLOT = 0xb53127684a568b3173ae13b9f8a6016e243e63b6e8ee1178d6a717850b5d6103;
    uint256 internal constant MAX_SLASH_WAD = 0.5e18;
    /// @dev The slashable stake an operator needs to join the keeper set (one whole token).
    uint256 internal constant MINIMUM_STAKE = 1e18;
    string internal constant AVS_METADATA_URI = "https://keeper.example/avs.json";

    address internal coreOwner = makeAddr("coreOwner");
    address internal pauser = makeAddr("pauser");
    address internal unpauser = makeAddr("unpauser");
    address internal avsOwner = makeAddr("avsOwner");

    EmptyContract internal emptyContract;
    PauserRegistry internal pauserRegistry;
    IPermissionController internal permissionController;
    IDelegationManager internal delegationManager;
    IStrategyManager internal strategyManager;
    IAllocationManager internal allocationManager;
    address internal avsDirectory;
    address internal eigenPodManager;
    UpgradeableBeacon internal eigenPodBeacon;

    StakeToken internal stakeToken;
    ERC20Strategy internal strategy;
    KeeperServiceManager internal serviceManager;
    BlsKeyRegistry internal registry;

    uint256 internal coreDeploymentGas;

    // ---------------------------------------------------------------------------------------------------------
    // Core
    // ---------------------------------------------------------------------------------------------------------

    function _deployCore() internal {
        // A chain with some history: DelegationManager.slashOperatorShares computes
        // `block.number - MIN_WITHDRAWAL_DELAY_BLOCKS` and underflows (panic 0x11) on a chain younger than that.
        vm.roll(1000);
        uint256 gasBefore = gasleft();
        emptyContract = new EmptyContract();
        address[] memory pausers = new address[](1);
        pausers[0] = pauser;
        pauserRegistry = new PauserRegistry(pausers, unpauser);

        // Proxies first: every implementation takes other proxies' addresses as constructor arguments.
        permissionController = IPermissionController(_proxy());
        delegationManager = IDelegationManager(_proxy());
        strategyManager = IStrategyManager(_proxy());
        allocationManager = IAllocationManager(_proxy());
        avsDirectory = _proxy();
        eigenPodManager = _proxy();

        address eigenPodImpl = _deployBytecode("EigenPod", abi.encode(ETH_POS, eigenPodManager, GENESIS_TIME, VERSION));
        eigenPodBeacon = new UpgradeableBeacon(eigenPodImpl, coreOwner);

        _upgradeCore();
        coreDeploymentGas = gasBefore - gasleft();
    }

    /// @dev Implementations with the proxies' addresses, then each proxy upgraded to its implementation and
    /// initialised in the same call.
    function _upgradeCore() private {
        bytes memory ownerAndUnpaused = abi.encodeWithSignature("initialize(address,uint256)", coreOwner, 0);
        _upgrade(address(permissionController), _deployBytecode("PermissionController", abi.encode(VERSION)), "");
        _upgrade(
            address(delegationManager),
            _deployBytecode(
                "DelegationManager",
                abi.encode(
                    strategyManager,
                    eigenPodManager,
                    allocationManager,
                    pauserRegistry,
                    permissionController,
                    MIN_WITHDRAWAL_DELAY_BLOCKS,
                    VERSION
                )
            ),
            ownerAndUnpaused
        );
        _upgrade(
            address(strategyManager),
            _deployBytecode("StrategyManager", abi.encode(delegationManager, pauserRegistry, VERSION)),
            abi.encodeWithSignature("initialize(address,address,uint256)", coreOwner, coreOwner, 0)
        );
        _upgrade(
            address(allocationManager),
            _deployBytecode(
                "AllocationManager",
                abi.encode(
                    delegationManager,
                    pauserRegistry,
                    permissionController,
                    DEALLOCATION_DELAY,
                    ALLOCATION_CONFIGURATION_DELAY,
                    VERSION
                )
            ),
            ownerAndUnpaused
        );
        _upgrade(
            avsDirectory,
            _deployBytecode("AVSDirectory", abi.encode(delegationManager, pauserRegistry, VERSION)),
            ownerAndUnpaused
        );
        _upgrade(
            eigenPodManager,
            _deployBytecode(
                "EigenPodManager", abi.encode(ETH_POS, eigenPodBeacon, delegationManager, pauserRegistry, VERSION)
            ),
            ownerAndUnpaused
        );
    }

    /// @dev A transparent proxy at the empty contract; OpenZeppelin 5 gives it its own ProxyAdmin owned by
    /// `coreOwner`. OpenZeppelin 5.6+ refuses empty initialisation data, hence the no-op call.
    function _proxy() internal returns (address) {
        return address(
            new TransparentUpgradeableProxy(address(emptyContract), coreOwner, abi.encodeCall(EmptyContract.noop, ()))
        );
    }

    function _upgrade(address proxy, address implementation, bytes memory initializer) internal {
        ProxyAdmin admin = ProxyAdmin(address(uint160(uint256(vm.load(proxy, ERC1967_ADMIN_SLOT)))));
        vm.prank(coreOwner);
        admin.upgradeAndCall(ITransparentUpgradeableProxy(proxy), implementation, initializer);
    }

    /// @dev Creation bytecode from test/eigenlayer/<name>.json with ABI-encoded constructor arguments appended.
    function _deployBytecode(string memory name, bytes memory constructorArgs) internal returns (address deployed) {
        string memory json = vm.readFile(string.concat(vm.projectRoot(), "/test/eigenlayer/", name, ".json"));
        bytes memory initCode = bytes.concat(vm.parseJsonBytes(json, ".bytecode"), constructorArgs);
        assembly ("memory-safe") {
            deployed := create(0, add(initCode, 0x20), mload(initCode))
        }
        require(deployed != address(0), string.concat("deploy failed: ", name));
    }

    // ---------------------------------------------------------------------------------------------------------
    // AVS
    // ---------------------------------------------------------------------------------------------------------

    function _deployAvs(uint256 minimumStake) internal {
        stakeToken = new StakeToken("Keeper Stake", "KSTK", avsOwner);
        strategy = new ERC20Strategy(strategyManager, stakeToken);
        IStrategy[] memory strategies = _strategies();
        vm.prank(coreOwner);
        strategyManager.addStrategiesToDepositWhitelist(strategies);

        serviceManager = new KeeperServiceManager(allocationManager, avsOwner, MAX_SLASH_WAD);
        registry = new BlsKeyRegistry(allocationManager, address(serviceManager), avsOwner, minimumStake);
        vm.prank(avsOwner);
        serviceManager.initializeAVS(registry, AVS_METADATA_URI, strategies);
    }

    function _strategies() internal view returns (IStrategy[] memory strategies) {
        strategies = new IStrategy[](1);
        strategies[0] = strategy;
    }

    function _keeperSet() internal view returns (OperatorSet memory) {
        return OperatorSet(address(serviceManager), 0);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Operators
    // ---------------------------------------------------------------------------------------------------------

    /// @dev Registers `operator` in EigenLayer, deposits `stake` and allocates `magnitude` (out of 1e18) of it
    /// to the keeper set, with the allocation in effect by return. Does not join the set.
    function _prepareOperator(address operator, uint256 stake, uint64 magnitude) internal {
        vm.prank(operator);
        delegationManager.registerAsOperator(address(0), OPERATOR_ALLOCATION_DELAY, "https://operator.example");
        _deposit(operator, stake);
        // The operator's allocation delay takes effect ALLOCATION_CONFIGURATION_DELAY + 1 blocks later.
        vm.roll(block.number + ALLOCATION_CONFIGURATION_DELAY + 1);
        _allocate(operator, magnitude);
    }

    function _deposit(address staker, uint256 amount) internal {
        vm.prank(avsOwner);
        stakeToken.mint(staker, amount);
        vm.startPrank(staker);
        stakeToken.approve(address(strategyManager), amount);
        strategyManager.depositIntoStrategy(strategy, stakeToken, amount);
        vm.stopPrank();
    }

    function _allocate(address operator, uint64 magnitude) internal {
        AllocateParams[] memory params = new AllocateParams[](1);
        uint64[] memory magnitudes = new uint64[](1);
        magnitudes[0] = magnitude;
        params[0] = AllocateParams(_keeperSet(), _strategies(), magnitudes);
        vm.prank(operator);
        allocationManager.modifyAllocations(operator, params);
        vm.roll(block.number + 1);
    }

    /// @dev The registrar data for `operator` with secret key `secret`: the key and a valid proof of possession.
    function _registrationData(address operator, uint256 secret) internal view returns (bytes memory) {
        bytes memory pubkey = BLS12381.toBytes(_publicKey(secret));
        return abi.encode(pubkey, _proofOfPossession(operator, secret, pubkey));
    }

    /// @dev The proof of possession, computed from the protocol definition rather than the registry's helper.
    function _proofOfPossession(address operator, uint256 secret, bytes memory pubkey)
        internal
        view
        returns (bytes memory)
    {
        bytes32 digest = BatchDigest.keyRegistrationDigest(
            BatchDigest.domainSeparator(block.chainid, address(registry)), operator, keccak256(pubkey)
        );
        return BLS12381.toBytes(_sign(secret, abi.encode(digest), BatchDigest.POP_DST));
    }

    function _registerParams(bytes memory data) internal view returns (RegisterParams memory) {
        uint32[] memory ids = new uint32[](1);
        return RegisterParams(address(serviceManager), ids, data);
    }

    function _joinSet(address operator, bytes memory data) internal {
        vm.prank(operator);
        allocationManager.registerForOperatorSets(operator, _registerParams(data));
    }

    function _leaveSet(address operator) internal {
        uint32[] memory ids = new uint32[](1);
        vm.prank(operator);
        allocationManager.deregisterFromOperatorSets(DeregisterParams(operator, address(serviceManager), ids));
    }

    /// @dev Prepares `operator` and joins the keeper set with key `secret`.
    function _onboard(address operator, uint256 secret, uint256 stake, uint64 magnitude) internal {
        _prepareOperator(operator, stake, magnitude);
        _joinSet(operator, _registrationData(operator, secret));
    }
}
