// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {
    IAllocationManager,
    OperatorSet,
    CreateSetParams,
    DeregisterParams,
    SlashingParams
} from "../interfaces/IAllocationManager.sol";
import {IAVSRegistrar} from "../interfaces/IAVSRegistrar.sol";
import {IBlsKeyRegistry} from "../interfaces/IBlsKeyRegistry.sol";
import {IStrategy} from "../interfaces/IStrategy.sol";

/// @title KeeperServiceManager
/// @notice The keeper network's address in EigenLayer (the AVS) and its registrar. It publishes the AVS metadata,
/// owns the keeper operator set (id 0), receives EigenLayer's registration callbacks and hands the operator's BLS
/// key to the key registry, and is the only caller of `AllocationManager.slashOperator` for the network.
/// @dev EigenLayer checks every AVS action against its PermissionController. This contract never appoints an
/// admin for itself, so it stays its own admin and may call `updateAVSMetadataURI`, `createOperatorSets`,
/// `setAVSRegistrar`, `slashOperator` and `deregisterFromOperatorSets` for itself with no further set-up.
contract KeeperServiceManager is IAVSRegistrar, Ownable2Step {
    /// @notice The keeper operator set's id.
    uint32 public constant KEEPER_OPERATOR_SET_ID = 0;

    /// @notice 100% in EigenLayer's slashing units.
    uint256 public constant WAD = 1e18;

    /// @notice EigenLayer's AllocationManager (its proxy).
    IAllocationManager public immutable allocationManager;

    /// @notice The key registry, fixed once by `initializeAVS`.
    IBlsKeyRegistry public keyRegistry;

    /// @notice The largest share of an operator's stake one `slashOperator` call may take, in wad (1e18 = all).
    uint256 public maxSlashWad;

    /// @notice Contracts (and, until those exist, people) the owner allowed to slash.
    mapping(address => bool) public isSlasher;

    /// @notice The key registry was wired and the keeper operator set created.
    event AVSInitialized(IBlsKeyRegistry indexed keyRegistry, IStrategy[] strategies, string metadataURI);
    /// @notice The owner granted or revoked the slasher role.
    event SlasherSet(address indexed slasher, bool allowed);
    /// @notice The owner changed the per-call slashing bound.
    event MaxSlashWadSet(uint256 previous, uint256 maxSlashWad);
    /// @notice A slasher slashed an operator through this contract.
    event OperatorSlashRequested(
        address indexed operator,
        address indexed slasher,
        uint256 wadToSlash,
        IStrategy[] strategies,
        string description
    );
    /// @notice The owner removed an operator from the keeper set.
    event OperatorEjected(address indexed operator);

    /// @notice The zero address was given where an account is needed.
    error InputAddressZero();
    /// @notice `initializeAVS` was already called.
    error AlreadyInitialized();
    /// @notice The key registry serves another service manager.
    error KeyRegistryMismatch(address registryServiceManager);
    /// @notice The caller is not EigenLayer's AllocationManager.
    error OnlyAllocationManager();
    /// @notice A callback for another AVS.
    error InvalidAVS(address avs);
    /// @notice A callback for sets other than exactly the keeper set.
    error InvalidOperatorSetIds();
    /// @notice The caller is not an authorised slasher.
    error OnlySlasher();

    /// @notice The caller is neither the owner nor an authorised slasher.
    error OnlyOwnerOrSlasher();
    /// @notice The wad to slash is 0 or above `maxSlashWad`.
    error WadToSlashOutOfBounds(uint256 wadToSlash, uint256 maxSlashWad);
    /// @notice The slashing bound is 0 or above 1e18.
    error InvalidMaxSlashWad(uint256 maxSlashWad);

    modifier onlyAllocationManager() {
        if (msg.sender != address(allocationManager)) revert OnlyAllocationManager();
        _;
    }

    modifier onlySlasher() {
        if (!isSlasher[msg.sender]) revert OnlySlasher();
        _;
    }

    /// @param allocationManager_ EigenLayer's AllocationManager (its proxy).
    /// @param initialOwner The owner (sets metadata, strategies, slashers and the slashing bound).
    /// @param maxSlashWad_ The initial per-call slashing bound, 1..1e18.
    constructor(IAllocationManager allocationManager_, address initialOwner, uint256 maxSlashWad_)
        Ownable(initialOwner)
    {
        if (address(allocationManager_) == address(0)) revert InputAddressZero();
        allocationManager = allocationManager_;
        _setMaxSlashWad(maxSlashWad_);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Owner
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Wires the key registry and sets the AVS up in EigenLayer: metadata URI, the keeper operator set
    /// with its strategies, and this contract as the AVS registrar, in the order EigenLayer requires (metadata
    /// before sets; `supportsAVS` already true).
    /// @dev Only the owner, once. It cannot run in the constructor: EigenLayer calls back `supportsAVS`, which
    /// needs this contract's code in place.
    /// @param keyRegistry_ The key registry; must name this contract as its service manager.
    /// @param metadataURI The AVS metadata URI.
    /// @param strategies The strategies whose stake counts in the keeper set.
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
        CreateSetParams[] memory sets = new CreateSetParams[](1);
        sets[0] = CreateSetParams(KEEPER_OPERATOR_SET_ID, strategies);
        allocationManager.createOperatorSets(address(this), sets);
        allocationManager.setAVSRegistrar(address(this), address(this));
    }

    /// @notice Publishes a new AVS metadata URI.
    /// @dev Only the owner. EigenLayer emits `AVSMetadataURIUpdated`.
    /// @param metadataURI The URI.
    function updateAVSMetadataURI(string calldata metadataURI) external onlyOwner {
        allocationManager.updateAVSMetadataURI(address(this), metadataURI);
    }

    /// @notice Adds strategies to the keeper set.
    /// @dev Only the owner. EigenLayer emits `StrategyAddedToOperatorSet`. Weights change as they are next
    /// refreshed (`BlsKeyRegistry.updateWeights`).
    /// @param strategies The strategies.
    function addStrategies(IStrategy[] calldata strategies) external onlyOwner {
        allocationManager.addStrategiesToOperatorSet(address(this), KEEPER_OPERATOR_SET_ID, strategies);
    }

    /// @notice Removes strategies from the keeper set.
    /// @dev Only the owner. EigenLayer emits `StrategyRemovedFromOperatorSet`. Weights change as they are next
    /// refreshed.
    /// @param strategies The strategies.
    function removeStrategies(IStrategy[] calldata strategies) external onlyOwner {
        allocationManager.removeStrategiesFromOperatorSet(address(this), KEEPER_OPERATOR_SET_ID, strategies);
    }

    /// @notice Grants or revokes the right to slash through this contract.
    /// @dev Only the owner. Meant for the task manager and challenge contracts.
    /// @param slasher The address.
    /// @param allowed Whether it may slash.
    function setSlasher(address slasher, bool allowed) external onlyOwner {
        if (slasher == address(0)) revert InputAddressZero();
        isSlasher[slasher] = allowed;
        emit SlasherSet(slasher, allowed);
    }

    /// @notice Sets the largest share of stake one `slashOperator` call may take.
    /// @dev Only the owner.
    /// @param maxSlashWad_ The bound, 1..1e18.
    function setMaxSlashWad(uint256 maxSlashWad_) external onlyOwner {
        _setMaxSlashWad(maxSlashWad_);
    }

    /// @notice Removes an operator from the keeper set (a key known to be compromised, or an operator proven to
    /// have equivocated).
    /// @dev The owner or an authorised slasher (the task manager ejects what it proves equivocation against).
    /// EigenLayer calls back `deregisterOperator`, which removes the key from the registry's aggregate. The
    /// operator stays slashable for EigenLayer's DEALLOCATION_DELAY.
    /// @param operator The operator.
    function ejectOperator(address operator) external {
        if (msg.sender != owner() && !isSlasher[msg.sender]) revert OnlyOwnerOrSlasher();
        emit OperatorEjected(operator);
        uint32[] memory ids = new uint32[](1);
        ids[0] = KEEPER_OPERATOR_SET_ID;
        allocationManager.deregisterFromOperatorSets(DeregisterParams(operator, address(this), ids));
    }

    // ---------------------------------------------------------------------------------------------------------
    // Slashing
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Slashes `wadToSlash` (out of 1e18) of the operator's stake in every strategy of the keeper set,
    /// then refreshes its weight in the key registry so the reduction counts at once.
    /// @dev Only an authorised slasher. EigenLayer reverts if the operator is not slashable by the set.
    /// @param operator The operator.
    /// @param wadToSlash The share to slash, 1..`maxSlashWad`.
    /// @param description Why (kept in EigenLayer's `OperatorSlashed` event).
    function slashOperator(address operator, uint256 wadToSlash, string calldata description) external onlySlasher {
        if (wadToSlash == 0 || wadToSlash > maxSlashWad) revert WadToSlashOutOfBounds(wadToSlash, maxSlashWad);
        IStrategy[] memory strategies = sortedStrategies();
        uint256[] memory wads = new uint256[](strategies.length);
        for (uint256 i; i < wads.length; ++i) {
            wads[i] = wadToSlash;
        }
        emit OperatorSlashRequested(operator, msg.sender, wadToSlash, strategies, description);

        allocationManager.slashOperator(
            address(this), SlashingParams(operator, KEEPER_OPERATOR_SET_ID, strategies, wads, description)
        );
        address[] memory operators = new address[](1);
        operators[0] = operator;
        keyRegistry.updateWeights(operators);
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

    function _checkCallback(address avs, uint32[] calldata operatorSetIds) private view {
        if (avs != address(this)) revert InvalidAVS(avs);
        if (operatorSetIds.length != 1 || operatorSetIds[0] != KEEPER_OPERATOR_SET_ID) revert InvalidOperatorSetIds();
    }

    function _setMaxSlashWad(uint256 maxSlashWad_) private {
        if (maxSlashWad_ == 0 || maxSlashWad_ > WAD) revert InvalidMaxSlashWad(maxSlashWad_);
        emit MaxSlashWadSet(maxSlashWad, maxSlashWad_);
        maxSlashWad = maxSlashWad_;
    }
}
