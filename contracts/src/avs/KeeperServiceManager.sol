// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {
    IAllocationManager,
    OperatorSet,
    CreateSetParams,
    CreateSetParamsV2,
    DeregisterParams,
    SlashingParams
} from "../interfaces/IAllocationManager.sol";
import {IAVSRegistrar} from "../interfaces/IAVSRegistrar.sol";
import {IBlsKeyRegistry} from "../interfaces/IBlsKeyRegistry.sol";
import {IStrategy} from "../interfaces/IStrategy.sol";
import {IStrategyManager} from "../interfaces/IStrategyManager.sol";

/// @dev What the service manager reads of the task manager it is linked to.
interface ITaskManagerLink {
    /// @notice The service manager the task manager slashes through.
    function serviceManager() external view returns (address);
}

/// @title KeeperServiceManager
/// @notice The keeper network's address in EigenLayer (the AVS) and its registrar. It publishes the AVS metadata,
/// owns the keeper operator set (id 0) and its strategies, receives EigenLayer's registration callbacks and hands the
/// operator's BLS key to the key registry, and is the only caller of `AllocationManager.slashOperator` and of
/// ejections for the network.
/// @dev EigenLayer checks every AVS action against its PermissionController. This contract never appoints an
/// admin for itself, so it stays its own admin and may call `updateAVSMetadataURI`, `createOperatorSets`,
/// `setAVSRegistrar`, `slashOperator` and `deregisterFromOperatorSets` for itself with no further set-up.
/// Powers (docs/protocol.md, "Powers and trust"): only the task manager, linked once, may slash, and only for an
/// offence it proved, each offence at most once per operator, at most `maxSlashWad`; it ejects (and bans for good)
/// what it proves. Anyone may eject a member whose slashable stake fell below the registry's minimum. The owner
/// publishes metadata and links the task manager once; the strategies are fixed when the AVS is initialised (adding
/// one would let the owner weigh a worthless token, removing one would free stake that signed from slashing).
///
/// Core versions (EigenLayer's sources, v1.3.0 to v1.12.0): the same code runs on the v1.3 core the devnet deploys and
/// on the newer cores of the public testnets. The keeper set is created with this contract as its slasher (the v1.9+
/// `CreateSetParamsV2` overload where the core has it, else the v1.3 form, whose slasher is the AVS: this contract
/// either way). A slash accepts both forms of `AllocationManager.slashOperator`'s result, then sends the slashed
/// shares' tokens to the burn address in the same transaction: `StrategyManager.clearBurnOrRedistributableShares`
/// with the returned slash id (v1.5+), or `burnShares` per strategy (v1.3, whose `slashOperator` returns nothing).
contract KeeperServiceManager is IAVSRegistrar, Ownable2Step {
    /// @notice The keeper operator set's id.
    uint32 public constant KEEPER_OPERATOR_SET_ID = 0;

    /// @notice 100% in EigenLayer's slashing units.
    uint256 public constant WAD = 1e18;

    /// @notice EigenLayer's AllocationManager (its proxy).
    IAllocationManager public immutable allocationManager;

    /// @notice EigenLayer's StrategyManager (its proxy), read from the AllocationManager's DelegationManager; the
    /// service manager sends slashed shares' tokens to the burn address through it.
    IStrategyManager public immutable strategyManager;

    /// @notice The largest share of an operator's stake one slash may take, in wad (1e18 = all); fixed at deployment.
    uint256 public immutable maxSlashWad;

    /// @notice The key registry, fixed once by `initializeAVS`.
    IBlsKeyRegistry public keyRegistry;

    /// @notice The task manager: the only slasher, fixed once by `setTaskManager`.
    address public taskManager;

    /// @dev offence => operator => slashed. An offence is an id the task manager derives from its proof.
    mapping(bytes32 offence => mapping(address operator => bool)) private _slashed;

    /// @notice Why an operator was ejected.
    enum EjectionReason {
        /// A proven offence: the operator is banned for good.
        Offence,
        /// Its slashable stake fell below the registry's minimum.
        BelowMinimumStake
    }

    /// @notice The key registry was wired and the keeper operator set created.
    event AVSInitialized(IBlsKeyRegistry indexed keyRegistry, IStrategy[] strategies, string metadataURI);
    /// @notice The owner linked the task manager (the only slasher) for good.
    event TaskManagerSet(address indexed taskManager);
    /// @notice The task manager slashed an operator for an offence.
    event OperatorSlashRequested(
        address indexed operator,
        bytes32 indexed offence,
        uint256 wadToSlash,
        IStrategy[] strategies,
        string description
    );
    /// @notice An operator was removed from the keeper set.
    event OperatorEjected(address indexed operator, EjectionReason reason);
    /// @notice After a slash, the slashed shares' tokens were sent to the burn address (`cleared`), or the
    /// StrategyManager refused (the slash stands; anyone may clear them later, permissionless in every core).
    /// `slashId` is the core's id (v1.5+), or 0 on a v1.3 core (`burnShares` for every strategy of the set).
    event SlashedSharesCleared(uint256 slashId, bool cleared);

    /// @notice The zero address was given where an account is needed.
    error InputAddressZero();
    /// @notice `initializeAVS` or `setTaskManager` was already called.
    error AlreadyInitialized();
    /// @notice The key registry serves another service manager.
    error KeyRegistryMismatch(address registryServiceManager);
    /// @notice The task manager slashes through another service manager.
    error TaskManagerMismatch(address taskManagerServiceManager);
    /// @notice The caller is not EigenLayer's AllocationManager.
    error OnlyAllocationManager();
    /// @notice A callback for another AVS.
    error InvalidAVS(address avs);
    /// @notice A callback for sets other than exactly the keeper set.
    error InvalidOperatorSetIds();
    /// @notice The caller is not the task manager.
    error OnlyTaskManager();
    /// @notice The wad to slash is 0 or above `maxSlashWad`.
    error WadToSlashOutOfBounds(uint256 wadToSlash, uint256 maxSlashWad);
    /// @notice The slashing bound is 0 or above 1e18.
    error InvalidMaxSlashWad(uint256 maxSlashWad);
    /// @notice The operator was already slashed for this offence.
    error AlreadySlashed(address operator, bytes32 offence);
    /// @notice The operator is not in the keeper set.
    error OperatorNotRegistered(address operator);
    /// @notice The operator's slashable stake is not below the minimum: it cannot be ejected for it.
    error StakeNotBelowMinimum(address operator, uint256 stake, uint256 minimum);

    modifier onlyAllocationManager() {
        if (msg.sender != address(allocationManager)) revert OnlyAllocationManager();
        _;
    }

    modifier onlyTaskManager() {
        if (msg.sender != taskManager || msg.sender == address(0)) revert OnlyTaskManager();
        _;
    }

    /// @param allocationManager_ EigenLayer's AllocationManager (its proxy).
    /// @param initialOwner The owner (publishes metadata, initialises the AVS, links the task manager).
    /// @param maxSlashWad_ The per-slash bound, 1..1e18, fixed for good.
    constructor(IAllocationManager allocationManager_, address initialOwner, uint256 maxSlashWad_)
        Ownable(initialOwner)
    {
        if (address(allocationManager_) == address(0)) revert InputAddressZero();
        if (maxSlashWad_ == 0 || maxSlashWad_ > WAD) revert InvalidMaxSlashWad(maxSlashWad_);
        allocationManager = allocationManager_;
        strategyManager = IStrategyManager(allocationManager_.delegation().strategyManager());
        maxSlashWad = maxSlashWad_;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Owner
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Wires the key registry and sets the AVS up in EigenLayer: metadata URI, the keeper operator set
    /// with its strategies (fixed for good), and this contract as the AVS registrar, in the order EigenLayer requires
    /// (metadata before sets; `supportsAVS` already true). The set's slasher is this contract (see the contract's
    /// notes on core versions).
    /// @dev Only the owner, once. It cannot run in the constructor: EigenLayer calls back `supportsAVS`, which
    /// needs this contract's code in place.
    /// @param keyRegistry_ The key registry; must name this contract as its service manager.
    /// @param metadataURI The AVS metadata URI.
    /// @param strategies The strategies whose stake counts in the keeper set (denominated alike: weights add shares).
    function initializeAVS(IBlsKeyRegistry keyRegistry_, string calldata metadataURI, IStrategy[] calldata strategies)
        external
        onlyOwner
    {
        if (address(keyRegistry) != address(0)) revert AlreadyInitialized();
        if (address(keyRegistry_) == address(0)) revert InputAddressZero();
        address registryServiceManager = keyRegistry_.serviceManager();
        if (registryServiceManager != address(this)) revert KeyRegistryMismatch(registryServiceManager);

        keyRegistry = keyRegistry_;
        emit AVSInitialized(keyRegistry_, strategies, metadataURI);

        allocationManager.updateAVSMetadataURI(address(this), metadataURI);
        _createKeeperSet(strategies);
        allocationManager.setAVSRegistrar(address(this), address(this));
    }

    /// @notice Links the task manager, the only contract that may slash and eject for offences, for good.
    /// @dev Only the owner, once. The task manager must slash through this contract.
    /// @param taskManager_ The task manager.
    function setTaskManager(address taskManager_) external onlyOwner {
        if (taskManager != address(0)) revert AlreadyInitialized();
        if (taskManager_ == address(0)) revert InputAddressZero();
        address linked = ITaskManagerLink(taskManager_).serviceManager();
        if (linked != address(this)) revert TaskManagerMismatch(linked);
        taskManager = taskManager_;
        emit TaskManagerSet(taskManager_);
    }

    /// @notice Publishes a new AVS metadata URI.
    /// @dev Only the owner. EigenLayer emits `AVSMetadataURIUpdated`.
    /// @param metadataURI The URI.
    function updateAVSMetadataURI(string calldata metadataURI) external onlyOwner {
        allocationManager.updateAVSMetadataURI(address(this), metadataURI);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Slashing and ejection
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Slashes `wadToSlash` (out of 1e18) of the operator's stake in every strategy of the keeper set for
    /// `offence`, sends the slashed shares' tokens to the burn address, then refreshes its weight in the key registry
    /// so the reduction counts at once.
    /// @dev Only the task manager, with the id of an offence it proved. EigenLayer reverts if the operator is not
    /// slashable by the set; its revert is passed on unchanged. Clearing the slashed shares cannot revert the slash
    /// (see `SlashedSharesCleared`).
    /// @param operator The operator.
    /// @param wadToSlash The share to slash, 1..`maxSlashWad`.
    /// @param offence The offence's id; an operator is slashed for it at most once.
    /// @param description Why (kept in EigenLayer's `OperatorSlashed` event).
    function slashOperator(address operator, uint256 wadToSlash, bytes32 offence, string calldata description)
        external
        onlyTaskManager
    {
        if (wadToSlash == 0 || wadToSlash > maxSlashWad) revert WadToSlashOutOfBounds(wadToSlash, maxSlashWad);
        if (_slashed[offence][operator]) revert AlreadySlashed(operator, offence);
        _slashed[offence][operator] = true;
        IStrategy[] memory strategies = sortedStrategies();
        uint256[] memory wads = new uint256[](strategies.length);
        for (uint256 i; i < wads.length; ++i) {
            wads[i] = wadToSlash;
        }
        emit OperatorSlashRequested(operator, offence, wadToSlash, strategies, description);

        // A low-level call: v1.3 returns nothing, v1.5+ returns `(slashId, shares)`; a typed call would fail to
        // decode one of the two.
        (bool slashed, bytes memory returned) = address(allocationManager)
            .call(
                abi.encodeCall(
                    IAllocationManager.slashOperator,
                    (address(this), SlashingParams(operator, KEEPER_OPERATOR_SET_ID, strategies, wads, description))
                )
            );
        if (!slashed) _revertWith(returned);
        _clearSlashedShares(strategies, returned);
        address[] memory operators = new address[](1);
        operators[0] = operator;
        keyRegistry.updateWeights(operators);
    }

    /// @notice Bans an operator for good for a proven offence and removes it from the keeper set if it is in it.
    /// @dev Only the task manager. EigenLayer calls back `deregisterOperator`, which removes the key from the
    /// registry's aggregate. The operator stays slashable for EigenLayer's DEALLOCATION_DELAY.
    /// @param operator The operator.
    function ejectForOffence(address operator) external onlyTaskManager {
        keyRegistry.banOperator(operator);
        if (keyRegistry.isRegistered(operator)) _eject(operator, EjectionReason.Offence);
    }

    /// @notice Removes a member whose slashable stake (`BlsKeyRegistry.currentStake`) is below the registry's
    /// `minimumStake`. Anyone may call it: such a member only costs every batch a non-signer entry. It may join again
    /// once it has the stake (and EigenLayer's deallocation delay has passed).
    /// @param operator The operator.
    function ejectBelowMinimum(address operator) external {
        IBlsKeyRegistry registry = keyRegistry;
        if (!registry.isRegistered(operator)) revert OperatorNotRegistered(operator);
        uint256 stake = registry.currentStake(operator);
        uint256 minimum = registry.minimumStake();
        if (stake >= minimum) revert StakeNotBelowMinimum(operator, stake, minimum);
        _eject(operator, EjectionReason.BelowMinimumStake);
    }

    // ---------------------------------------------------------------------------------------------------------
    // IAVSRegistrar (AllocationManager only)
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IAVSRegistrar
    /// @dev `data` is `abi.encode(bytes pubkeyG1, bytes proofOfPossessionG2)`: the 128-byte EIP-2537 key and the
    /// 256-byte proof of possession, which the key registry checks.
    function registerOperator(address operator, address avs, uint32[] calldata operatorSetIds, bytes calldata data)
        external
        onlyAllocationManager
    {
        _checkCallback(avs, operatorSetIds);
        (bytes memory pubkeyG1, bytes memory proofOfPossessionG2) = abi.decode(data, (bytes, bytes));
        keyRegistry.registerOperator(operator, pubkeyG1, proofOfPossessionG2);
    }

    /// @inheritdoc IAVSRegistrar
    function deregisterOperator(address operator, address avs, uint32[] calldata operatorSetIds)
        external
        onlyAllocationManager
    {
        _checkCallback(avs, operatorSetIds);
        keyRegistry.deregisterOperator(operator);
    }

    /// @inheritdoc IAVSRegistrar
    function supportsAVS(address avs) external view returns (bool) {
        return avs == address(this);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Whether `operator` was slashed for `offence`.
    /// @param offence The offence id (a batch digest, or the task manager's `equivocationId`).
    /// @param operator The operator.
    /// @return True if slashed.
    function isSlashed(bytes32 offence, address operator) external view returns (bool) {
        return _slashed[offence][operator];
    }

    /// @notice The keeper operator set.
    /// @return The set (this contract, id 0).
    function operatorSet() public view returns (OperatorSet memory) {
        return OperatorSet(address(this), KEEPER_OPERATOR_SET_ID);
    }

    /// @notice The keeper set's strategies in ascending address order, as `slashOperator` requires.
    /// @return strategies The strategies.
    function sortedStrategies() public view returns (IStrategy[] memory strategies) {
        strategies = allocationManager.getStrategiesInOperatorSet(operatorSet());
        // Insertion sort: a set has a handful of strategies.
        for (uint256 i = 1; i < strategies.length; ++i) {
            IStrategy current = strategies[i];
            uint256 j = i;
            while (j > 0 && address(strategies[j - 1]) > address(current)) {
                strategies[j] = strategies[j - 1];
                --j;
            }
            strategies[j] = current;
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Internals
    // ---------------------------------------------------------------------------------------------------------

    /// @dev Creates the keeper set with this contract as its slasher: the v1.9+ overload first; a core without it
    /// (v1.3 to v1.8) reverts with no data (no such function, no fallback), and then the v1.3 form, whose slasher
    /// is the AVS, does the same. Any other revert is the core's answer and is passed on.
    function _createKeeperSet(IStrategy[] calldata strategies) private {
        CreateSetParamsV2[] memory sets = new CreateSetParamsV2[](1);
        sets[0] = CreateSetParamsV2(KEEPER_OPERATOR_SET_ID, strategies, address(this));
        (bool created, bytes memory returned) = address(allocationManager)
            .call(
                abi.encodeWithSignature("createOperatorSets(address,(uint32,address[],address)[])", address(this), sets)
            );
        if (created) return;
        if (returned.length != 0) _revertWith(returned);
        CreateSetParams[] memory legacy = new CreateSetParams[](1);
        legacy[0] = CreateSetParams(KEEPER_OPERATOR_SET_ID, strategies);
        allocationManager.createOperatorSets(address(this), legacy);
    }

    /// @dev Sends a slash's shares to the burn address. `returned` is what `slashOperator` returned: at least two words
    /// (`slashId`, the offset of `shares`) from a v1.5+ core, nothing from v1.3. Low-level calls whose failure only
    /// shows in the event: a StrategyManager without the function (v1.3 has no `clearBurnOrRedistributableShares`)
    /// or a strategy that refuses must not undo a proven slash, and clearing stays permissionless for later.
    function _clearSlashedShares(IStrategy[] memory strategies, bytes memory returned) private {
        address manager = address(strategyManager);
        bool cleared = true;
        uint256 slashId;
        if (returned.length >= 64) {
            slashId = abi.decode(returned, (uint256));
            (cleared,) = manager.call(
                abi.encodeCall(IStrategyManager.clearBurnOrRedistributableShares, (operatorSet(), slashId))
            );
        } else {
            for (uint256 i; i < strategies.length; ++i) {
                (bool burnt,) = manager.call(abi.encodeCall(IStrategyManager.burnShares, (strategies[i])));
                cleared = cleared && burnt;
            }
        }
        emit SlashedSharesCleared(slashId, cleared);
    }

    /// @dev Reverts with `data` as returned by a failed call, so the caller sees the core's own error.
    function _revertWith(bytes memory data) private pure {
        assembly ("memory-safe") {
            revert(add(data, 32), mload(data))
        }
    }

    function _eject(address operator, EjectionReason reason) private {
        emit OperatorEjected(operator, reason);
        uint32[] memory ids = new uint32[](1);
        ids[0] = KEEPER_OPERATOR_SET_ID;
        allocationManager.deregisterFromOperatorSets(DeregisterParams(operator, address(this), ids));
    }

    function _checkCallback(address avs, uint32[] calldata operatorSetIds) private view {
        if (avs != address(this)) revert InvalidAVS(avs);
        if (operatorSetIds.length != 1 || operatorSetIds[0] != KEEPER_OPERATOR_SET_ID) revert InvalidOperatorSetIds();
    }
}
