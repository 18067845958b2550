// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {BLS12381} from "../libraries/BLS12381.sol";
import {BatchDigest} from "../libraries/BatchDigest.sol";
import {IAllocationManager, OperatorSet} from "../interfaces/IAllocationManager.sol";
import {IDelegationManager} from "../interfaces/IDelegationManager.sol";
import {IBlsKeyRegistry} from "../interfaces/IBlsKeyRegistry.sol";
import {IStrategy} from "../interfaces/IStrategy.sol";
import {BlockCheckpoints} from "./BlockCheckpoints.sol";

/// @title BlsKeyRegistry
/// @notice The BLS12-381 keys of the keeper operator set and the stake behind them. Each operator binds one G1
/// public key, proven on chain with a proof of possession; a key, once bound, belongs to that operator forever.
/// The registry keeps, checkpointed by block, the aggregate key of the registered operators, each operator's
/// weight and the total weight, so a batch signature is checked against the set exactly as it stood at the
/// batch's reference block.
/// @dev Weight is the operator's stake in the keeper set that stays slashable for `slashableHorizon()` blocks from
/// the block it is read in: `getMinimumSlashableStake` with `futureBlock = block.number + horizon`, summed over the
/// set's strategies, where the horizon is the shorter of EigenLayer's DEALLOCATION_DELAY and
/// MIN_WITHDRAWAL_DELAY_BLOCKS (read from chain). A deallocation already queued that completes within the horizon
/// is left out at once; one queued later completes after the horizon; a withdrawal queued later stays slashable in
/// EigenLayer's queue for the withdrawal delay; a deregistered operator stays slashable for the deallocation delay.
/// So weight read in block U is slashable through block U + horizon, whatever the operator does after U.
/// Weights change only when written: at registration and deregistration, by the permissionless `updateWeights` (the
/// service manager calls it after every slash) and `updateAllWeights`. Only `updateAllWeights` reads every member
/// at once, so only it confirms the whole set: the block of its last run is kept with the total weight
/// (`weightsConfirmedAt`), and the task manager refuses a batch whose reference block is too far after it
/// (`maxWeightAge`), so every weight that signs was read recently enough to stay slashable through the batch's
/// challenge deadline. Stake is summed across strategies in shares; that is only meaningful when the set's
/// strategies are denominated alike (one token, as on our networks; the strategies are fixed when the AVS is
/// initialised).
/// Joining needs `minimumStake` of slashable stake (so keys without stake cannot bloat every batch's non-signer
/// list), an operator that falls below it can be ejected by anyone (`KeeperServiceManager.ejectBelowMinimum`), and an
/// operator ejected for a proven offence is banned: it can never join again, and its key stays bound to it.
contract BlsKeyRegistry is IBlsKeyRegistry, Ownable2Step {
    using BlockCheckpoints for BlockCheckpoints.History;

    /// @notice The id of the keeper operator set within the AVS.
    uint32 public constant OPERATOR_SET_ID = 0;

    /// @notice Largest total weight: the set's total is kept in 192 bits beside the block of its confirmation.
    uint256 public constant MAX_TOTAL_WEIGHT = type(uint192).max;

    /// @notice EigenLayer's AllocationManager, read for slashable stake.
    IAllocationManager public immutable allocationManager;

    /// @inheritdoc IBlsKeyRegistry
    address public immutable serviceManager;

    /// @inheritdoc IBlsKeyRegistry
    uint256 public minimumStake;

    /// @inheritdoc IBlsKeyRegistry
    mapping(address operator => bool) public isBanned;

    /// @dev A key in EIP-2537 encoding with the zero top halves of the high words dropped: 3 slots, not 4.
    struct StoredKey {
        uint128 xHi;
        uint128 yHi;
        bytes32 xLo;
        bytes32 yLo;
    }

    /// @dev The aggregate key from `blockNumber` on, packed the same way: 4 slots per checkpoint.
    struct ApkCheckpoint {
        uint32 blockNumber;
        uint128 xHi;
        bytes32 xLo;
        uint128 yHi;
        bytes32 yLo;
    }

    mapping(address operator => StoredKey) private _keys;
    mapping(address operator => bytes32) private _pubkeyHashes;
    mapping(bytes32 pubkeyHash => address) private _operatorOfPubkeyHash;
    mapping(address operator => bool) private _registered;
    ApkCheckpoint[] private _apkHistory;
    mapping(address operator => BlockCheckpoints.History) private _operatorWeights;
    BlockCheckpoints.History private _totalWeight;

    /// @dev The latest weight of the operator a key is bound to, and the block of that weight's checkpoint: one
    /// slot, so a batch's non-signer whose weight did not change after the reference block costs one storage read.
    /// Zero for a key bound to no one (a bound key's entry has a non-zero block).
    mapping(bytes32 pubkeyHash => BlockCheckpoints.Checkpoint) private _latestKeyWeight;

    /// @dev The latest aggregate key, total weight and weight confirmation, and the last block in which any changed,
    /// in 4 slots: a batch whose reference block is at or after that block reads its signing set here, not from the
    /// histories. `_totalWeight`'s checkpoints pack the same pair: `confirmedAt << 192 | totalWeight`.
    struct LatestSet {
        uint32 since;
        uint32 confirmedAt;
        uint192 totalWeight;
        uint128 xHi;
        uint128 yHi;
        bytes32 xLo;
        bytes32 yLo;
    }

    LatestSet private _latestSet;

    /// @notice A key was bound to an operator for good, after its proof of possession was checked.
    event PubkeyRegistered(address indexed operator, bytes32 indexed pubkeyHash, BLS12381.G1Point pubkey);
    /// @notice An operator joined the set.
    event OperatorRegistered(address indexed operator, bytes32 indexed pubkeyHash);
    /// @notice An operator left the set.
    event OperatorDeregistered(address indexed operator, bytes32 indexed pubkeyHash);
    /// @notice The set's aggregate key changed in this block.
    event AggregatePubkeyUpdated(uint32 indexed blockNumber, BLS12381.G1Point apk);
    /// @notice An operator's weight changed in this block.
    event OperatorWeightUpdated(address indexed operator, uint32 indexed blockNumber, uint256 previous, uint256 weight);
    /// @notice The total weight changed in this block.
    event TotalWeightUpdated(uint32 indexed blockNumber, uint256 previous, uint256 total);
    /// @notice `updateAllWeights` read every member's stake in this block: the weights in force from this block on
    /// were all read in it or later.
    event WeightsConfirmed(uint32 indexed blockNumber, uint256 operators, uint256 totalWeight);
    /// @notice The owner lowered the minimum stake to join.
    event MinimumStakeSet(uint256 previous, uint256 minimum);
    /// @notice The operator was ejected for a proven offence and may never join again.
    event OperatorBanned(address indexed operator, bytes32 indexed pubkeyHash);

    /// @notice The caller is not the service manager.
    error OnlyServiceManager();
    /// @notice The zero address was given where an account is needed.
    error InputAddressZero();
    /// @notice The operator is already in the set.
    error OperatorAlreadyRegistered(address operator);
    /// @notice The operator is not in the set.
    error OperatorNotRegistered(address operator);
    /// @notice The key is already bound to another operator (now or in the past).
    error PubkeyAlreadyRegistered(bytes32 pubkeyHash, address owner);
    /// @notice The operator already has a different key; an operator's key never changes.
    error OperatorKeyMismatch(address operator, bytes32 registered, bytes32 given);
    /// @notice The key is the point at infinity, off the curve or outside the prime-order subgroup.
    error InvalidPublicKey();
    /// @notice The proof of possession does not verify for this operator, key and registry.
    error InvalidProofOfPossession();
    /// @notice The operator's slashable stake is below the minimum to join.
    error InsufficientStake(address operator, uint256 stake, uint256 minimum);
    /// @notice The operator was ejected for a proven offence and may never join again.
    error OperatorIsBanned(address operator);
    /// @notice A minimum stake of 0, or above the current one (it can only be lowered: raising it would let anyone
    /// eject operators that met the rule when they joined).
    error InvalidMinimumStake(uint256 minimum, uint256 current);
    /// @notice A member of the operator set is not registered here (the two lists disagree).
    error MemberNotRegistered(address operator);
    /// @notice A look-up for a block after the current one, whose state is not settled.
    error FutureBlock(uint32 blockNumber, uint256 currentBlock);
    /// @notice A weight does not fit in 224 bits.
    error WeightOverflow(uint256 weight);

    modifier onlyServiceManager() {
        if (msg.sender != serviceManager) revert OnlyServiceManager();
        _;
    }

    modifier notFuture(uint32 blockNumber) {
        if (blockNumber > block.number) revert FutureBlock(blockNumber, block.number);
        _;
    }

    /// @param allocationManager_ EigenLayer's AllocationManager (its proxy).
    /// @param serviceManager_ The keeper service manager: the AVS whose operator set 0 this registry serves.
    /// @param initialOwner Who may lower the minimum stake.
    /// @param minimumStake_ The slashable stake (in strategy shares) an operator needs to join, at least 1.
    constructor(
        IAllocationManager allocationManager_,
        address serviceManager_,
        address initialOwner,
        uint256 minimumStake_
    ) Ownable(initialOwner) {
        if (address(allocationManager_) == address(0) || serviceManager_ == address(0)) {
            revert InputAddressZero();
        }
        if (minimumStake_ == 0) revert InvalidMinimumStake(0, 0);
        allocationManager = allocationManager_;
        serviceManager = serviceManager_;
        minimumStake = minimumStake_;
        emit MinimumStakeSet(0, minimumStake_);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Membership (service manager only)
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IBlsKeyRegistry
    /// @dev An operator that registered before may come back only with the same key; its proof is not checked
    /// again, since the binding already exists. A banned operator never comes back. Encoding errors (length,
    /// padding, coordinates >= p) revert with BLS12381's errors.
    function registerOperator(address operator, bytes calldata pubkeyG1, bytes calldata proofOfPossessionG2)
        external
        onlyServiceManager
    {
        if (_registered[operator]) revert OperatorAlreadyRegistered(operator);
        if (isBanned[operator]) revert OperatorIsBanned(operator);
        BLS12381.G1Point memory pubkey = BLS12381.g1FromBytes(pubkeyG1);
        bytes32 pubkeyHash = keccak256(pubkeyG1);
        bytes32 boundHash = _pubkeyHashes[operator];
        bool firstRegistration = boundHash == bytes32(0);
        if (firstRegistration) {
            address owner_ = _operatorOfPubkeyHash[pubkeyHash];
            if (owner_ != address(0)) revert PubkeyAlreadyRegistered(pubkeyHash, owner_);
            if (!BLS12381.isValidG1(pubkey)) revert InvalidPublicKey();
            BLS12381.G2Point memory proof = BLS12381.g2FromBytes(proofOfPossessionG2);
            bytes memory message = abi.encode(keyRegistrationDigest(operator, pubkeyHash));
            if (!BLS12381.verify(pubkey, proof, message, BatchDigest.POP_DST)) revert InvalidProofOfPossession();
        } else if (boundHash != pubkeyHash) {
            revert OperatorKeyMismatch(operator, boundHash, pubkeyHash);
        }
        // A view call, made before any write: EigenLayer already lists the operator in the set here.
        uint256 stake = _readStakes(_asArray(operator))[0];
        if (stake < minimumStake) revert InsufficientStake(operator, stake, minimumStake);
        uint224 weight = _toWeight(stake);

        if (firstRegistration) {
            _keys[operator] =
                StoredKey(uint128(uint256(pubkey.xHi)), uint128(uint256(pubkey.yHi)), pubkey.xLo, pubkey.yLo);
            _pubkeyHashes[operator] = pubkeyHash;
            _operatorOfPubkeyHash[pubkeyHash] = operator;
            emit PubkeyRegistered(operator, pubkeyHash, pubkey);
        }
        _registered[operator] = true;
        emit OperatorRegistered(operator, pubkeyHash);
        _writeApk(BLS12381.addG1(_latestApk(), pubkey));
        uint32 blockNumber = uint32(block.number);
        uint256 total = _latestSet.totalWeight;
        _writeOperatorWeight(operator, blockNumber, weight);
        _writeTotalWeight(blockNumber, total, total + weight, _latestSet.confirmedAt);
    }

    /// @inheritdoc IBlsKeyRegistry
    function deregisterOperator(address operator) external onlyServiceManager {
        if (!_registered[operator]) revert OperatorNotRegistered(operator);
        _registered[operator] = false;
        emit OperatorDeregistered(operator, _pubkeyHashes[operator]);
        _writeApk(BLS12381.addG1(_latestApk(), BLS12381.negateG1(pubkeyOf(operator))));
        uint32 blockNumber = uint32(block.number);
        uint256 previous = _writeOperatorWeight(operator, blockNumber, 0);
        uint256 total = _latestSet.totalWeight;
        _writeTotalWeight(blockNumber, total, total - previous, _latestSet.confirmedAt);
    }

    /// @inheritdoc IBlsKeyRegistry
    function banOperator(address operator) external onlyServiceManager {
        if (isBanned[operator]) return;
        isBanned[operator] = true;
        emit OperatorBanned(operator, _pubkeyHashes[operator]);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Weights
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IBlsKeyRegistry
    /// @dev One AllocationManager call for all registered operators in the list. Unregistered addresses are
    /// skipped rather than reverting, so a refresh of many operators cannot be blocked by one that just left.
    function updateWeights(address[] calldata operators) external {
        address[] memory registered = new address[](operators.length);
        uint256 count;
        for (uint256 i; i < operators.length; ++i) {
            if (_registered[operators[i]]) registered[count++] = operators[i];
        }
        if (count == 0) return;
        assembly ("memory-safe") {
            // Shrink to the registered ones; the tail stays allocated, unused.
            mstore(registered, count)
        }
        uint256 previousTotal = _latestSet.totalWeight;
        uint256 total = _refresh(registered);
        if (total != previousTotal) {
            _writeTotalWeight(uint32(block.number), previousTotal, total, _latestSet.confirmedAt);
        }
    }

    /// @inheritdoc IBlsKeyRegistry
    /// @dev Reads the members from EigenLayer (`getMembers`, the same set as ours: the registrar callbacks keep the
    /// two in step) and their stakes in one call, writes the weights that changed, and records this block as the
    /// set's confirmation, with a total-weight checkpoint even when nothing changed.
    function updateAllWeights() external {
        address[] memory members = allocationManager.getMembers(operatorSet());
        for (uint256 i; i < members.length; ++i) {
            if (!_registered[members[i]]) revert MemberNotRegistered(members[i]);
        }
        uint256 previousTotal = _latestSet.totalWeight;
        uint256 total = _refresh(members);
        uint32 blockNumber = uint32(block.number);
        _writeTotalWeight(blockNumber, previousTotal, total, blockNumber);
        emit WeightsConfirmed(blockNumber, members.length, total);
    }

    /// @notice Lowers the slashable stake an operator needs to join.
    /// @dev Only the owner. It can only be lowered (to at least 1): raising it would let anyone eject operators that
    /// met the rule when they joined (`KeeperServiceManager.ejectBelowMinimum`), which would hand the quorum to
    /// whoever is left.
    /// @param minimum The new minimum, 1..`minimumStake`.
    function setMinimumStake(uint256 minimum) external onlyOwner {
        uint256 current = minimumStake;
        if (minimum == 0 || minimum > current) revert InvalidMinimumStake(minimum, current);
        minimumStake = minimum;
        emit MinimumStakeSet(current, minimum);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IBlsKeyRegistry
    function isRegistered(address operator) external view returns (bool) {
        return _registered[operator];
    }

    /// @inheritdoc IBlsKeyRegistry
    function pubkeyHashOf(address operator) external view returns (bytes32) {
        return _pubkeyHashes[operator];
    }

    /// @inheritdoc IBlsKeyRegistry
    function operatorOfPubkeyHash(bytes32 pubkeyHash) external view returns (address) {
        return _operatorOfPubkeyHash[pubkeyHash];
    }

    /// @inheritdoc IBlsKeyRegistry
    function getApkAtBlock(uint32 blockNumber) external view notFuture(blockNumber) returns (BLS12381.G1Point memory) {
        return _apkAt(blockNumber);
    }

    /// @inheritdoc IBlsKeyRegistry
    function signingSetAtBlock(bytes32[] calldata nonSignerPubkeyHashes, uint32 blockNumber)
        external
        view
        notFuture(blockNumber)
        returns (
            BLS12381.G1Point memory apk,
            uint256 totalWeight,
            uint256 nonSignerWeight,
            uint256 firstUnknown,
            uint256 confirmedAt
        )
    {
        // The latest set's words, read once each: since | confirmedAt << 32 | totalWeight << 64, xHi | yHi << 128,
        // xLo, yLo.
        uint256 head;
        assembly ("memory-safe") {
            head := sload(_latestSet.slot)
        }
        if (head & type(uint32).max <= blockNumber) {
            assembly ("memory-safe") {
                let his := sload(add(_latestSet.slot, 1))
                mstore(apk, and(his, 0xffffffffffffffffffffffffffffffff))
                mstore(add(apk, 0x20), sload(add(_latestSet.slot, 2)))
                mstore(add(apk, 0x40), shr(128, his))
                mstore(add(apk, 0x60), sload(add(_latestSet.slot, 3)))
            }
            totalWeight = head >> 64;
            // casting to a narrower type is safe: it takes one field out of a packed word, as the layout above defines it
            // forge-lint: disable-next-line(unsafe-typecast)
            confirmedAt = uint32(head >> 32);
        } else {
            apk = _apkAt(blockNumber);
            (totalWeight, confirmedAt) = _totalAt(blockNumber);
        }
        (nonSignerWeight, firstUnknown) = _keyWeightsAt(nonSignerPubkeyHashes, blockNumber);
    }

    /// @dev The total weight and its confirmation block at the end of `blockNumber`, from the history.
    function _totalAt(uint32 blockNumber) private view returns (uint256 totalWeight, uint256 confirmedAt) {
        uint256 packed = _totalWeight.valueAt(blockNumber);
        // casting to a narrower type is safe: it takes one field out of a packed word, as the layout above defines it
        // forge-lint: disable-next-line(unsafe-typecast)
        return (uint192(packed), packed >> 192);
    }

    /// @dev The aggregate key at the end of `blockNumber`, from the history.
    function _apkAt(uint32 blockNumber) private view returns (BLS12381.G1Point memory) {
        uint256 index = _apkUpperIndex(blockNumber);
        if (index == 0) return BLS12381.G1Point(0, 0, 0, 0);
        return _unpackApk(_apkHistory[index - 1]);
    }

    /// @notice The current aggregate key of the set.
    /// @return The aggregate key (the point at infinity for an empty set).
    function currentApk() external view returns (BLS12381.G1Point memory) {
        return _latestApk();
    }

    /// @inheritdoc IBlsKeyRegistry
    function getOperatorWeightAtBlock(address operator, uint32 blockNumber)
        external
        view
        notFuture(blockNumber)
        returns (uint256)
    {
        return _operatorWeights[operator].valueAt(blockNumber);
    }

    /// @notice `operator`'s current weight.
    /// @param operator The operator.
    /// @return The weight.
    function getOperatorWeight(address operator) external view returns (uint256) {
        return _operatorWeights[operator].latest();
    }

    /// @inheritdoc IBlsKeyRegistry
    function getTotalWeightAtBlock(uint32 blockNumber) external view notFuture(blockNumber) returns (uint256 total) {
        (total,) = _totalAt(blockNumber);
    }

    /// @inheritdoc IBlsKeyRegistry
    function weightsConfirmedAtBlock(uint32 blockNumber)
        external
        view
        notFuture(blockNumber)
        returns (uint256 confirmedAt)
    {
        (, confirmedAt) = _totalAt(blockNumber);
    }

    /// @notice The block of the last `updateAllWeights` (0 if never).
    /// @return The block.
    function weightsConfirmedAt() external view returns (uint256) {
        return _latestSet.confirmedAt;
    }

    /// @inheritdoc IBlsKeyRegistry
    function slashableHorizon() public view returns (uint32) {
        uint32 deallocation = allocationManager.DEALLOCATION_DELAY();
        uint32 withdrawal = allocationManager.delegation().minWithdrawalDelayBlocks();
        return deallocation < withdrawal ? deallocation : withdrawal;
    }

    /// @inheritdoc IBlsKeyRegistry
    function nonSignerWeightsAtBlock(bytes32[] calldata pubkeyHashes, uint32 blockNumber)
        external
        view
        notFuture(blockNumber)
        returns (uint256 weightSum, uint256 totalWeight, uint256 firstUnknown)
    {
        (totalWeight,) = _totalAt(blockNumber);
        (weightSum, firstUnknown) = _keyWeightsAt(pubkeyHashes, blockNumber);
    }

    /// @dev The sum of the weights at the end of `blockNumber` of the operators bound to `pubkeyHashes`, up to the
    /// first key bound to no one (whose index is returned, or the list's length).
    function _keyWeightsAt(bytes32[] calldata pubkeyHashes, uint32 blockNumber)
        private
        view
        returns (uint256 weightSum, uint256 firstUnknown)
    {
        uint256 count = pubkeyHashes.length;
        uint256 i;
        // Unchecked sums: each weight is below 2^224, so fewer than 2^32 of them cannot overflow.
        while (i < count) {
            // The keys whose weight did not change after the block, in assembly (one per non-signer of every
            // batch): the checkpoint's word holds the block number in its low 32 bits and the weight above.
            // The loop stops at the end of the list, at a key bound to no one (block 0), or at a key whose weight
            // changed after the block, which is looked up in its operator's history below.
            uint256 latest;
            assembly ("memory-safe") {
                mstore(0x20, _latestKeyWeight.slot)
                for {} lt(i, count) { i := add(i, 1) } {
                    mstore(0x00, calldataload(add(pubkeyHashes.offset, shl(5, i))))
                    latest := sload(keccak256(0x00, 0x40))
                    let since := and(latest, 0xffffffff)
                    if or(iszero(since), gt(since, blockNumber)) { break }
                    weightSum := add(weightSum, shr(32, latest))
                }
            }
            if (i == count) break;
            if (latest & type(uint32).max == 0) return (weightSum, i);
            unchecked {
                weightSum += _operatorWeights[_operatorOfPubkeyHash[pubkeyHashes[i]]].valueAt(blockNumber);
                ++i;
            }
        }
        firstUnknown = count;
    }

    /// @notice The set's current total weight.
    /// @return The total weight.
    function getTotalWeight() external view returns (uint256) {
        return _latestSet.totalWeight;
    }

    /// @notice The number of aggregate-key checkpoints (one per block in which the set changed).
    /// @return The count.
    function apkHistoryLength() external view returns (uint256) {
        return _apkHistory.length;
    }

    /// @notice The number of weight checkpoints of `operator`.
    /// @param operator The operator.
    /// @return The count.
    function operatorWeightHistoryLength(address operator) external view returns (uint256) {
        return _operatorWeights[operator].length();
    }

    /// @notice The number of total-weight checkpoints.
    /// @return The count.
    function totalWeightHistoryLength() external view returns (uint256) {
        return _totalWeight.length();
    }

    /// @inheritdoc IBlsKeyRegistry
    function currentStake(address operator) external view returns (uint256) {
        return _readStakes(_asArray(operator))[0];
    }

    /// @notice The keeper operator set (this registry's service manager, id 0).
    /// @return The set.
    function operatorSet() public view returns (OperatorSet memory) {
        return OperatorSet(serviceManager, OPERATOR_SET_ID);
    }

    /// @inheritdoc IBlsKeyRegistry
    function pubkeyOf(address operator) public view returns (BLS12381.G1Point memory) {
        StoredKey storage key = _keys[operator];
        return BLS12381.G1Point(bytes32(uint256(key.xHi)), key.xLo, bytes32(uint256(key.yHi)), key.yLo);
    }

    /// @notice The EIP-712 style domain separator of key registrations on this chain and registry.
    /// @return The domain separator.
    function domainSeparator() public view returns (bytes32) {
        return BatchDigest.domainSeparator(block.chainid, address(this));
    }

    /// @notice The digest an operator signs (with the proof-of-possession DST) to register a key here; the BLS
    /// message is its 32 bytes.
    /// @param operator The operator.
    /// @param pubkeyHash keccak256 of the 128-byte EIP-2537 key.
    /// @return The digest.
    function keyRegistrationDigest(address operator, bytes32 pubkeyHash) public view returns (bytes32) {
        return BatchDigest.keyRegistrationDigest(domainSeparator(), operator, pubkeyHash);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Internals
    // ---------------------------------------------------------------------------------------------------------

    /// @dev Reads `operators`' stakes, writes each weight that changed, and returns the new total weight.
    /// Duplicates in the list are harmless: the second write finds the weight already current.
    function _refresh(address[] memory operators) private returns (uint256 total) {
        uint256[] memory stakes = _readStakes(operators);
        uint32 blockNumber = uint32(block.number);
        total = _latestSet.totalWeight;
        for (uint256 i; i < operators.length; ++i) {
            uint224 weight = _toWeight(stakes[i]);
            uint256 previous = _operatorWeights[operators[i]].latest();
            if (previous == weight) continue;
            _writeOperatorWeight(operators[i], blockNumber, weight);
            total = total - previous + weight;
        }
    }

    /// @dev Each operator's stake in the keeper set that stays slashable through `slashableHorizon()` blocks from
    /// now, summed over the set's strategies.
    function _readStakes(address[] memory operators) private view returns (uint256[] memory stakes) {
        OperatorSet memory set = operatorSet();
        IStrategy[] memory strategies = allocationManager.getStrategiesInOperatorSet(set);
        stakes = new uint256[](operators.length);
        if (strategies.length == 0 || operators.length == 0) return stakes;
        uint32 futureBlock = uint32(block.number) + slashableHorizon();
        uint256[][] memory perStrategy =
            allocationManager.getMinimumSlashableStake(set, operators, strategies, futureBlock);
        for (uint256 i; i < operators.length; ++i) {
            uint256 sum;
            for (uint256 j; j < strategies.length; ++j) {
                sum += perStrategy[i][j];
            }
            stakes[i] = sum;
        }
    }

    function _toWeight(uint256 stake) private pure returns (uint224) {
        if (stake > MAX_TOTAL_WEIGHT) revert WeightOverflow(stake);
        // casting to 'uint224' is safe because the line above bounds it
        // forge-lint: disable-next-line(unsafe-typecast)
        return uint224(stake);
    }

    /// @dev Returns the previous weight.
    function _writeOperatorWeight(address operator, uint32 blockNumber, uint224 weight)
        private
        returns (uint224 previous)
    {
        previous = _operatorWeights[operator].push(blockNumber, weight);
        _latestKeyWeight[_pubkeyHashes[operator]] = BlockCheckpoints.Checkpoint(blockNumber, weight);
        emit OperatorWeightUpdated(operator, blockNumber, previous, weight);
    }

    /// @dev Records the total weight and the block of the last full confirmation from `blockNumber` on, in the
    /// history and in the latest set.
    function _writeTotalWeight(uint32 blockNumber, uint256 previous, uint256 total, uint32 confirmedAt) private {
        if (total > MAX_TOTAL_WEIGHT) revert WeightOverflow(total);
        // casting to 'uint224' is safe: total fits 192 bits (checked above) and confirmedAt 32
        // forge-lint: disable-next-line(unsafe-typecast)
        _totalWeight.push(blockNumber, uint224((uint256(confirmedAt) << 192) | total));
        LatestSet storage latest = _latestSet;
        latest.since = blockNumber;
        latest.confirmedAt = confirmedAt;
        // forge-lint: disable-next-line(unsafe-typecast)
        latest.totalWeight = uint192(total);
        if (total != previous) emit TotalWeightUpdated(blockNumber, previous, total);
    }

    function _latestApk() private view returns (BLS12381.G1Point memory) {
        uint256 length = _apkHistory.length;
        if (length == 0) return BLS12381.G1Point(0, 0, 0, 0);
        return _unpackApk(_apkHistory[length - 1]);
    }

    /// @dev Records `apk` from this block on; a second change in the same block overwrites the first.
    function _writeApk(BLS12381.G1Point memory apk) private {
        uint32 blockNumber = uint32(block.number);
        ApkCheckpoint memory checkpoint =
            ApkCheckpoint(blockNumber, uint128(uint256(apk.xHi)), apk.xLo, uint128(uint256(apk.yHi)), apk.yLo);
        uint256 length = _apkHistory.length;
        if (length != 0 && _apkHistory[length - 1].blockNumber == blockNumber) {
            _apkHistory[length - 1] = checkpoint;
        } else {
            _apkHistory.push(checkpoint);
        }
        LatestSet storage latest = _latestSet;
        latest.since = blockNumber;
        latest.xHi = checkpoint.xHi;
        latest.yHi = checkpoint.yHi;
        latest.xLo = checkpoint.xLo;
        latest.yLo = checkpoint.yLo;
        emit AggregatePubkeyUpdated(blockNumber, apk);
    }

    /// @dev The number of APK checkpoints at or before `blockNumber` (binary search, latest checked first).
    function _apkUpperIndex(uint32 blockNumber) private view returns (uint256) {
        uint256 high = _apkHistory.length;
        if (high == 0 || _apkHistory[high - 1].blockNumber <= blockNumber) return high;
        uint256 low;
        while (low < high) {
            uint256 mid = (low + high) >> 1;
            if (_apkHistory[mid].blockNumber > blockNumber) high = mid;
            else low = mid + 1;
        }
        return high;
    }

    function _unpackApk(ApkCheckpoint storage checkpoint) private view returns (BLS12381.G1Point memory) {
        return BLS12381.G1Point(
            bytes32(uint256(checkpoint.xHi)), checkpoint.xLo, bytes32(uint256(checkpoint.yHi)), checkpoint.yLo
        );
    }

    function _asArray(address operator) private pure returns (address[] memory array) {
        array = new address[](1);
        array[0] = operator;
    }
}
