// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {IStrategy} from "./IStrategy.sol";
import {IDelegationManager} from "./IDelegationManager.sol";

/// @notice An operator set: an AVS address and a set id within it.
struct OperatorSet {
    address avs;
    uint32 id;
}

/// @notice `createOperatorSets` argument: a new set id and its initial strategies.
struct CreateSetParams {
    uint32 operatorSetId;
    IStrategy[] strategies;
}

/// @notice `createOperatorSets` argument of cores v1.9 and later: also names the set's slasher, the only address
/// that may slash in it (EigenLayer's `IAllocationManager.sol`, `CreateSetParamsV2`).
struct CreateSetParamsV2 {
    uint32 operatorSetId;
    IStrategy[] strategies;
    address slasher;
}

/// @notice `modifyAllocations` argument: new magnitudes (out of 1e18) an operator allocates to one set.
struct AllocateParams {
    OperatorSet operatorSet;
    IStrategy[] strategies;
    uint64[] newMagnitudes;
}

/// @notice `registerForOperatorSets` argument; `data` is forwarded to the AVS registrar.
struct RegisterParams {
    address avs;
    uint32[] operatorSetIds;
    bytes data;
}

/// @notice `deregisterFromOperatorSets` argument.
struct DeregisterParams {
    address operator;
    address avs;
    uint32[] operatorSetIds;
}

/// @notice `slashOperator` argument: strategies strictly ascending, one wad (1..1e18) per strategy.
struct SlashingParams {
    address operator;
    uint32 operatorSetId;
    IStrategy[] strategies;
    uint256[] wadsToSlash;
    string description;
}

/// @notice An operator's allocation to one set in one strategy.
struct Allocation {
    uint64 currentMagnitude;
    int128 pendingDiff;
    uint32 effectBlock;
}

/// @title IAllocationManager
/// @notice The subset of EigenLayer's AllocationManager this project calls: operator sets, the AVS registrar,
/// allocations, slashable stake and slashing. Written from the v1.3 ABI; where later cores differ (read in
/// EigenLayer's sources, v1.5.0 to v1.12.0): `slashOperator` returns `(uint256 slashId, uint256[] shares)` from v1.5
/// (same selector; the service manager calls it so that either form works), and from v1.9 only the set's slasher may
/// slash, named at creation by the `CreateSetParamsV2` overload of `createOperatorSets` (the v1.3 form, deprecated
/// there, names the AVS itself).
interface IAllocationManager {
    error AlreadyMemberOfSet();
    error InvalidAVSRegistrar();
    error InvalidCaller();
    error InvalidOperator();
    error InvalidOperatorSet();
    error InvalidPermissions();
    error InvalidWadToSlash();
    error NonexistentAVSMetadata();
    error NotMemberOfSet();
    error OperatorNotSlashable();
    error StrategiesMustBeInAscendingOrder();
    error UninitializedAllocationDelay();

    /// @notice Emitted when an AVS publishes its metadata URI.
    event AVSMetadataURIUpdated(address indexed avs, string metadataURI);
    /// @notice Emitted when an AVS names its registrar.
    event AVSRegistrarSet(address avs, address registrar);
    /// @notice Emitted when an operator is slashed.
    event OperatorSlashed(
        address operator, OperatorSet operatorSet, IStrategy[] strategies, uint256[] wadSlashed, string description
    );

    /// @notice Publishes the AVS's metadata URI; required before creating operator sets.
    /// @param avs The AVS (the caller must be allowed to act for it).
    /// @param metadataURI The URI.
    function updateAVSMetadataURI(address avs, string calldata metadataURI) external;

    /// @notice Creates operator sets for `avs`.
    /// @param avs The AVS.
    /// @param params One entry per set.
    function createOperatorSets(address avs, CreateSetParams[] calldata params) external;

    /// @notice Names the contract that receives registration callbacks for `avs`.
    /// @param avs The AVS.
    /// @param registrar The registrar; its `supportsAVS(avs)` must be true.
    function setAVSRegistrar(address avs, address registrar) external;

    /// @notice Adds strategies to an operator set.
    /// @param avs The AVS.
    /// @param operatorSetId The set.
    /// @param strategies The strategies to add.
    function addStrategiesToOperatorSet(address avs, uint32 operatorSetId, IStrategy[] calldata strategies) external;

    /// @notice Removes strategies from an operator set.
    /// @param avs The AVS.
    /// @param operatorSetId The set.
    /// @param strategies The strategies to remove.
    function removeStrategiesFromOperatorSet(address avs, uint32 operatorSetId, IStrategy[] calldata strategies)
        external;

    /// @notice Creates operator sets for `avs` with a slasher each (core v1.9 and later; absent before).
    /// @param avs The AVS.
    /// @param params One entry per set.
    function createOperatorSets(address avs, CreateSetParamsV2[] calldata params) external;

    /// @notice The address that may slash in `operatorSet` (core v1.9 and later; absent before).
    /// @param operatorSet The set.
    /// @return The slasher.
    function getSlasher(OperatorSet calldata operatorSet) external view returns (address);

    /// @notice Slashes an operator in one of `avs`'s sets. Declared as v1.3 has it (no return values); v1.5 and later
    /// return `(uint256 slashId, uint256[] shares)`.
    /// @param avs The AVS (the caller must be allowed to act for it; from v1.9, the set's slasher).
    /// @param params What to slash.
    function slashOperator(address avs, SlashingParams calldata params) external;

    /// @notice Registers `operator` for sets of an AVS and calls the AVS registrar with `params.data`.
    /// @param operator The operator (the caller must be allowed to act for it).
    /// @param params The AVS, set ids and registrar data.
    function registerForOperatorSets(address operator, RegisterParams calldata params) external;

    /// @notice Deregisters an operator from sets of an AVS; the operator or the AVS may call.
    /// @param params The operator, AVS and set ids.
    function deregisterFromOperatorSets(DeregisterParams calldata params) external;

    /// @notice Changes an operator's allocations (magnitudes out of 1e18 of its stake per strategy).
    /// @param operator The operator (the caller must be allowed to act for it).
    /// @param params The new magnitudes per set.
    function modifyAllocations(address operator, AllocateParams[] calldata params) external;

    /// @notice The registrar of `avs` (the AVS itself if none was set).
    /// @param avs The AVS.
    /// @return The registrar.
    function getAVSRegistrar(address avs) external view returns (address);

    /// @notice Whether `operator` is registered in `operatorSet`.
    /// @param operator The operator.
    /// @param operatorSet The set.
    /// @return True if a member.
    function isMemberOfOperatorSet(address operator, OperatorSet calldata operatorSet) external view returns (bool);

    /// @notice Whether the set exists.
    /// @param operatorSet The set.
    /// @return True if created.
    function isOperatorSet(OperatorSet calldata operatorSet) external view returns (bool);

    /// @notice Whether `operator` can currently be slashed by `operatorSet`.
    /// @param operator The operator.
    /// @param operatorSet The set.
    /// @return True if slashable.
    function isOperatorSlashable(address operator, OperatorSet calldata operatorSet) external view returns (bool);

    /// @notice The members of a set.
    /// @param operatorSet The set.
    /// @return The operators.
    function getMembers(OperatorSet calldata operatorSet) external view returns (address[] memory);

    /// @notice The number of members of a set.
    /// @param operatorSet The set.
    /// @return The count.
    function getMemberCount(OperatorSet calldata operatorSet) external view returns (uint256);

    /// @notice The strategies of a set.
    /// @param operatorSet The set.
    /// @return The strategies.
    function getStrategiesInOperatorSet(OperatorSet calldata operatorSet) external view returns (IStrategy[] memory);

    /// @notice Stake allocated by each operator to the set per strategy (shares x current magnitude).
    /// @param operatorSet The set.
    /// @param operators The operators.
    /// @param strategies The strategies.
    /// @return [operator][strategy] stake.
    function getAllocatedStake(
        OperatorSet calldata operatorSet,
        address[] calldata operators,
        IStrategy[] calldata strategies
    ) external view returns (uint256[][] memory);

    /// @notice Stake each operator is guaranteed to have slashable by the set up to `futureBlock`.
    /// @param operatorSet The set.
    /// @param operators The operators.
    /// @param strategies The strategies.
    /// @param futureBlock The block up to which pending deallocations are taken into account.
    /// @return slashableStake [operator][strategy] stake.
    function getMinimumSlashableStake(
        OperatorSet calldata operatorSet,
        address[] calldata operators,
        IStrategy[] calldata strategies,
        uint32 futureBlock
    ) external view returns (uint256[][] memory slashableStake);

    /// @notice An operator's allocation to a set in one strategy.
    /// @param operator The operator.
    /// @param operatorSet The set.
    /// @param strategy The strategy.
    /// @return The allocation.
    function getAllocation(address operator, OperatorSet calldata operatorSet, IStrategy strategy)
        external
        view
        returns (Allocation memory);

    /// @notice An operator's allocation delay and whether it is in effect.
    /// @param operator The operator.
    /// @return isSet Whether the delay is in effect.
    /// @return delay The delay in blocks.
    function getAllocationDelay(address operator) external view returns (bool isSet, uint32 delay);

    /// @notice Blocks between a deallocation or deregistration and the end of slashability.
    /// @return The delay.
    function DEALLOCATION_DELAY() external view returns (uint32);

    /// @notice Blocks before an operator's allocation delay takes effect.
    /// @return The delay.
    function ALLOCATION_CONFIGURATION_DELAY() external view returns (uint32);

    /// @notice The PermissionController consulted for who may act for an account.
    /// @return The PermissionController.
    function permissionController() external view returns (address);

    /// @notice The DelegationManager whose operator shares the allocations apply to.
    /// @return The DelegationManager.
    function delegation() external view returns (IDelegationManager);
}
