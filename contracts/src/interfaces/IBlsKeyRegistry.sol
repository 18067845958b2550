// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {BLS12381} from "../libraries/BLS12381.sol";

/// @title IBlsKeyRegistry
/// @notice Operator BLS12-381 keys of the keeper operator set, the set's aggregate key and stake weights, each
/// with history by block so a signature can be checked against the set as it stood at a reference block.
interface IBlsKeyRegistry {
    /// @notice Records `operator`'s key (first time: after checking the proof of possession) and adds it to the
    /// set: aggregate key and weight from this block on. Refuses an operator with less than `minimumStake` of
    /// slashable stake, and a banned one.
    /// @dev Only the service manager, from its registrar callback.
    /// @param operator The operator joining the set.
    /// @param pubkeyG1 The 128-byte EIP-2537 G1 public key.
    /// @param proofOfPossessionG2 The 256-byte EIP-2537 G2 signature over the key registration digest.
    function registerOperator(address operator, bytes calldata pubkeyG1, bytes calldata proofOfPossessionG2) external;

    /// @notice Removes `operator` from the set: its key leaves the aggregate and its weight is 0 from this block.
    /// @dev Only the service manager. The key stays bound to the operator and can never be used by another.
    /// @param operator The operator leaving the set.
    function deregisterOperator(address operator) external;

    /// @notice Bans `operator` for good after a proven offence: it can never register again (its key stays bound
    /// to it, so no one else can use that key either). Does not deregister it (the service manager does).
    /// @dev Only the service manager.
    /// @param operator The operator.
    function banOperator(address operator) external;

    /// @notice Re-reads registered operators' slashable stake from EigenLayer and records any change.
    /// @dev Permissionless; unregistered addresses are skipped. Does not confirm the set (see `updateAllWeights`).
    /// @param operators The operators to refresh.
    function updateWeights(address[] calldata operators) external;

    /// @notice Re-reads every member's slashable stake, records any change, and confirms the set's weights at this
    /// block: batches whose reference block is at most the task manager's `maxWeightAge` after the last
    /// confirmation are accepted.
    /// @dev Permissionless. Keepers call it when EigenLayer reports a change in the set's stake
    /// (`AllocationManager.AllocationUpdated`, `DelegationManager.OperatorSharesIncreased/Decreased`, ...) and at
    /// least every `maxWeightAge` blocks.
    function updateAllWeights() external;

    /// @notice The service manager (the AVS) this registry serves.
    /// @return The service manager.
    function serviceManager() external view returns (address);

    /// @notice The slashable stake (in strategy shares) an operator needs to join; anyone may eject a member whose
    /// stake falls below it.
    /// @return The minimum.
    function minimumStake() external view returns (uint256);

    /// @notice Whether `operator` was banned for a proven offence.
    /// @param operator The operator.
    /// @return True if banned.
    function isBanned(address operator) external view returns (bool);

    /// @notice The operator's stake in the keeper set that stays slashable for `slashableHorizon()` blocks, as
    /// EigenLayer reports it now: what a refresh would record as its weight.
    /// @param operator The operator.
    /// @return The stake, summed over the set's strategies.
    function currentStake(address operator) external view returns (uint256);

    /// @notice For how many blocks a weight read now stays slashable, whatever the operator does next: the shorter of
    /// EigenLayer's DEALLOCATION_DELAY and MIN_WITHDRAWAL_DELAY_BLOCKS, read from chain.
    /// @return The horizon in blocks.
    function slashableHorizon() external view returns (uint32);

    /// @notice The block of the last `updateAllWeights` in force at the end of `blockNumber` (0 if none).
    /// @param blockNumber A block not after the current one.
    /// @return confirmedAt The block.
    function weightsConfirmedAtBlock(uint32 blockNumber) external view returns (uint256 confirmedAt);

    /// @notice Whether `operator` is currently in the set.
    /// @param operator The operator.
    /// @return True if registered.
    function isRegistered(address operator) external view returns (bool);

    /// @notice The public key bound to `operator` (zero if none ever was).
    /// @param operator The operator.
    /// @return The key.
    function pubkeyOf(address operator) external view returns (BLS12381.G1Point memory);

    /// @notice keccak256 of the 128-byte key bound to `operator` (zero if none).
    /// @param operator The operator.
    /// @return The key hash.
    function pubkeyHashOf(address operator) external view returns (bytes32);

    /// @notice The operator a key hash is bound to (zero if none); a binding is permanent.
    /// @param pubkeyHash The key hash.
    /// @return The operator.
    function operatorOfPubkeyHash(bytes32 pubkeyHash) external view returns (address);

    /// @notice The aggregate key of the set at the end of `blockNumber`.
    /// @param blockNumber A block not after the current one.
    /// @return The aggregate key (the point at infinity for an empty set).
    function getApkAtBlock(uint32 blockNumber) external view returns (BLS12381.G1Point memory);

    /// @notice `operator`'s weight at the end of `blockNumber`.
    /// @param operator The operator.
    /// @param blockNumber A block not after the current one.
    /// @return The weight.
    function getOperatorWeightAtBlock(address operator, uint32 blockNumber) external view returns (uint256);

    /// @notice The set's total weight at the end of `blockNumber`.
    /// @param blockNumber A block not after the current one.
    /// @return The total weight.
    function getTotalWeightAtBlock(uint32 blockNumber) external view returns (uint256);

    /// @notice The non-signers' weight and the set's total weight at the end of `blockNumber`, in one call: for
    /// each key hash, the operator bound to it and that operator's weight at the block.
    /// @dev Stops at the first key hash bound to no operator and returns its index in `firstUnknown` (the weight
    /// sum then covers only the keys before it); `firstUnknown == pubkeyHashes.length` when every key is bound.
    /// @param pubkeyHashes The non-signers' key hashes.
    /// @param blockNumber A block not after the current one.
    /// @return weightSum The sum of the bound operators' weights at the block.
    /// @return totalWeight The set's total weight at the block.
    /// @return firstUnknown The index of the first key hash bound to no operator, or `pubkeyHashes.length`.
    function nonSignerWeightsAtBlock(bytes32[] calldata pubkeyHashes, uint32 blockNumber)
        external
        view
        returns (uint256 weightSum, uint256 totalWeight, uint256 firstUnknown);

    /// @notice What a batch signature with reference block `blockNumber` is checked against, in one call: the set's
    /// aggregate key, total weight and weight confirmation at the end of that block, and the weight then of the
    /// operators bound to the non-signers' keys.
    /// @dev Stops summing at the first key hash bound to no operator and returns its index in `firstUnknown`
    /// (`nonSignerPubkeyHashes.length` when every key is bound). Reads one slot per non-signer whose weight did not
    /// change after the block, and 4 slots for key and total when the set did not change after it.
    /// @param nonSignerPubkeyHashes The non-signers' key hashes.
    /// @param blockNumber A block not after the current one.
    /// @return apk The aggregate key of the set (the point at infinity for an empty set).
    /// @return totalWeight The set's total weight.
    /// @return nonSignerWeight The sum of the bound non-signers' weights.
    /// @return firstUnknown The index of the first key hash bound to no operator, or the list's length.
    /// @return confirmedAt The block of the last `updateAllWeights` in force at the block (0 if none).
    function signingSetAtBlock(bytes32[] calldata nonSignerPubkeyHashes, uint32 blockNumber)
        external
        view
        returns (
            BLS12381.G1Point memory apk,
            uint256 totalWeight,
            uint256 nonSignerWeight,
            uint256 firstUnknown,
            uint256 confirmedAt
        );
}
