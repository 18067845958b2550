// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {BLS12381} from "../libraries/BLS12381.sol";
import {BatchDigest} from "../libraries/BatchDigest.sol";
import {JobSpecHash} from "../libraries/JobSpecHash.sol";
import {IBlsKeyRegistry} from "../interfaces/IBlsKeyRegistry.sol";
import {IJobManager, JobSpec, TaskMode, TaskOutcome} from "../interfaces/IJobManager.sol";
import {
    ITaskManager,
    BatchHeader,
    TaskInput,
    NonSigners,
    BatchRecord,
    SkipReason,
    SignedLeaf,
    BatchClaim
} from "../interfaces/ITaskManager.sol";
import {KeeperServiceManager} from "../avs/KeeperServiceManager.sol";
import {JobManager} from "../jobs/JobManager.sol";

/// @title TaskManager
/// @notice Accepts batches of keeper task responses, each signed once by the keeper set with a BLS aggregate
/// signature, and performs every task of a batch exactly once through its job's forwarder, charging the job's escrow.
///
/// A batch is a Merkle root over `(jobId, sequence, specHash, responseHash)` leaves for one reference block
/// (docs/protocol.md); the signers sign its EIP-712 `TaskBatch` digest with this contract as verifying contract. One
/// pairing check covers the whole batch: the signers' key is the registry's aggregate key at the reference block minus
/// the non-signers' keys, which the submitter lists; the signers' weight is the total weight at that block minus the
/// non-signers'. The set's weights in force at the reference block must have been confirmed at most `maxWeightAge`
/// blocks before it (`BlsKeyRegistry.updateAllWeights`), and `maxWeightAge + maxReferenceAge + challengeWindowBlocks`
/// never exceeds the registry's slashable horizon (EigenLayer's deallocation and withdrawal delays, read from chain),
/// so every weight that signs an accepted batch is still slashable when the batch's challenge deadline passes.
///
/// The spec a task is judged by is the one its leaf binds: the submitter hands it in, and its hash must be the
/// signed one. A spec changed after the reference block makes the task skip (`SpecMismatch`), never an offence.
///
/// Fees: a performed task is charged `(gasUsed + overheadGas) * gasPrice + premium`, capped by the job's `maxFee` and
/// balance, where `gasPrice = min(tx.gasprice, block.basefee + maxPriorityFee)` (a submitter that builds its own
/// block cannot pay itself more than the capped priority fee) and `overheadGas` is the task's even share of the
/// batch's fixed cost (signature check, transaction and calldata, record) plus the gas of its own path. The gas part
/// (at most what was charged) reimburses the submitter; the rest (the premium) is shared by the batch's signers by
/// weight. A task signed with `execute = false` ("checked, nothing to do") calls nothing and charges nothing, but
/// completes the task. Rewards are not written per signer: each accepted batch stores one slot, the hash of its
/// `BatchRecord`, and every account claims its share of the batches it wants, in batch order, by handing the records
/// back (`claimRewards`). Invariant: the job manager's fee pool = `totalCredited - totalClaimed` (the sum of the
/// records' rewards minus what was claimed), of which every account's claimable share is a part (the remainder is
/// rounding dust).
///
/// Gas: per batch, one pairing check, one registry call (one slot per non-signer, four for the set), one new slot
/// (the record's hash) and one rewritten (the settings word, which holds the batch counter and the count of fees
/// charged, so the job manager keeps no fee pool slot of its own); per task, one job manager call that reads and
/// writes one slot of the job (found under the hash of the spec given, which is hashed from calldata in place) and
/// calls the target through the job's forwarder (an event task also writes its completion bit).
///
/// Slashable offences (each slashes through the service manager, at most once per operator and offence, and ejects
/// the operator for good): signing a batch that holds a task not due at the reference block by the signed spec's
/// trigger, or a response that cannot be right for the signed spec's action (the batch is accepted, the task skipped,
/// and the leaf kept in the record so that `challengeInvalidResponse` can slash the signers until the record's
/// challenge deadline); and signing two responses for one task under one spec (`challengeEquivocation`, with both
/// signatures and a Merkle proof of each leaf).
/// @dev Exactly-once rests on the job manager (the watermark of interval and block jobs, a bit per event task) and on
/// the reentrancy guards: the task's call is made before its charge (the fee depends on the gas it used), and while
/// it runs, neither this contract's entry points nor the job manager's owner operations and `runTask` can be entered.
contract TaskManager is ITaskManager, Ownable2Step, ReentrancyGuardTransient {
    // ---------------------------------------------------------------------------------------------------------
    // Constants and bounds
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Denominator of `quorumBps`.
    uint16 public constant BPS = 10_000;
    /// @notice Lowest quorum the owner may set: more than half the weight must never be optional.
    uint16 public constant MIN_QUORUM_BPS = 5_000;
    /// @notice Highest quorum (all the weight).
    uint16 public constant MAX_QUORUM_BPS = 10_000;
    /// @notice Highest premium per performed task, in wei.
    uint96 public constant MAX_PREMIUM = 0.01 ether;
    /// @notice The premium is set in whole gwei (it is stored in gwei).
    uint96 public constant PREMIUM_UNIT = 1 gwei;
    /// @notice Oldest reference block allowed, in blocks: `blockhash` knows only the last 256.
    uint16 public constant MAX_REFERENCE_AGE = 256;
    /// @notice Shortest challenge window, in blocks.
    uint32 public constant MIN_CHALLENGE_WINDOW = 1;
    /// @notice Longest challenge window, in blocks (two weeks of 12-second blocks).
    uint32 public constant MAX_CHALLENGE_WINDOW = 100_800;
    /// @notice Longest `maxWeightAge`, in blocks.
    uint32 public constant MAX_WEIGHT_AGE = 100_800;
    /// @notice Highest priority fee per gas a charge may reimburse above the base fee.
    uint256 public constant MAX_PRIORITY_FEE = 100 gwei;
    /// @notice The priority fee cap is set in steps of 0.001 gwei (it is stored in these units).
    uint256 public constant PRIORITY_FEE_UNIT = 1e6;
    /// @notice Lowest floor gas price for jobs' max fees (0.001 gwei).
    uint256 public constant MIN_GAS_PRICE_LOW = 1e6;
    /// @notice Highest floor gas price for jobs' max fees.
    uint256 public constant MIN_GAS_PRICE_HIGH = 1000 gwei;
    /// @notice 100% in EigenLayer's slashing units.
    uint64 public constant WAD = 1e18;
    /// @notice The share of stake slashed for equivocation.
    uint64 public constant EQUIVOCATION_SLASH_WAD = 0.1e18;
    /// @notice The share of stake slashed for signing a batch with an invalid response.
    uint64 public constant INVALID_RESPONSE_SLASH_WAD = 0.05e18;

    /// @notice The quorum at deployment: two thirds of the weight.
    uint16 public constant DEFAULT_QUORUM_BPS = 6_667;
    /// @notice The maximum reference age at deployment, if the slashable horizon allows (else an eighth of it).
    uint16 public constant DEFAULT_MAX_REFERENCE_AGE = 64;
    /// @notice The challenge window at deployment (a day of 12-second blocks), if the slashable horizon allows (else
    /// half of it). The maximum weight age takes the rest of the horizon.
    uint32 public constant DEFAULT_CHALLENGE_WINDOW = 7_200;
    /// @notice The priority fee cap at deployment.
    uint256 public constant DEFAULT_MAX_PRIORITY_FEE = 2 gwei;
    /// @notice The floor gas price for jobs' max fees at deployment.
    uint256 public constant DEFAULT_MIN_GAS_PRICE = 1 gwei;

    /// @notice Gas of a batch holding one task, besides the task's own call, as a transaction: what a job's `maxFee`
    /// must pay for at the floor gas price (`minJobFee`). Measured: 300k covers 64 operators with 7 non-signers.
    uint256 public constant SOLO_BATCH_GAS = 300_000;
    /// @notice Fixed gas of every batch not measured by `gasleft()` after its signature check: the transaction's
    /// 21,000, the reading of the settings word, and after the tasks the record, the settings write and the
    /// `BatchResponded` event.
    uint256 public constant BATCH_BASE_GAS = 36_000;
    /// @notice Calldata the submitter and the job owners choose (the non-signers, the signature, a task's call data,
    /// a spec's data and code URL) is charged at the non-zero byte price, an upper bound (EIP-2028: 16 gas).
    uint256 public constant CALLDATA_GAS_PER_BYTE = 16;
    /// @notice Bytes of a task's ABI encoding besides its variable-length data: its offset in the list, its 5 head
    /// words, the spec's 21 fixed words (the length words included) and the call data's length word.
    uint256 public constant TASK_ENCODING_BYTES = 28 * 32;
    /// @notice Gas of a task's path besides its target call and its share of the batch: its leaf, its job manager
    /// call, the job's slot, its event, its forwarder and target as cold accounts, and its fixed encoding as calldata
    /// (`TASK_ENCODING_BYTES`, mostly zero bytes: at most 170 of them are not).
    uint256 public constant TASK_GAS = 21_000;
    /// @notice Extra gas of an event task: its completion bit, usually in a fresh slot.
    uint256 public constant EVENT_TASK_GAS = 22_500;

    /// @notice `performUpkeep(bytes)`: the only call a Chainlink-style job may make.
    bytes4 public constant PERFORM_UPKEEP_SELECTOR = 0x4585e33b;

    /// @dev EIP-2537's G1ADD precompile, and the gas forwarded to it: its price alone (`BLS12381.G1ADD_GAS`,
    /// repeated because assembly reads only literal constants), so that a key that is no valid point costs that much
    /// rather than the whole transaction.
    uint256 private constant G1ADD_PRECOMPILE = 0x0b;
    uint256 private constant G1ADD_GAS = 375;
    /// @dev The base field modulus p as two words (`BLS12381.P_HI`, `P_LO`), repeated because assembly reads only
    /// literal constants; a wrong word would fail every batch with a non-signer, which the tests submit.
    uint256 private constant P_HI = 0x000000000000000000000000000000001a0111ea397fe69a4b1ba7b6434bacd7;
    uint256 private constant P_LO = 0x64774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaab;

    /// @dev Tag of equivocation offences.
    bytes32 private constant EQUIVOCATION_TAG = keccak256("KeeperNetwork.Equivocation");

    // ---------------------------------------------------------------------------------------------------------
    // Immutables
    // ---------------------------------------------------------------------------------------------------------

    /// @notice The key registry: keys, aggregate key and weights by block.
    IBlsKeyRegistry public immutable registry;
    /// @notice The job manager, created by this contract: specs, escrow, forwarders, exactly-once and the fee pool.
    IJobManager public immutable jobManager;
    /// @notice The service manager, through which challenges slash and eject.
    KeeperServiceManager public immutable serviceManager;

    /// @dev The domain separator for the chain id at deployment; recomputed if the chain id changes (a fork).
    bytes32 private immutable _cachedDomainSeparator;
    uint256 private immutable _cachedChainId;

    // ---------------------------------------------------------------------------------------------------------
    // Storage
    // ---------------------------------------------------------------------------------------------------------

    /// @dev Everything a batch reads and writes, in one slot: a batch reads it once and writes it once, and the job
    /// manager writes no slot of its own for the fees a batch charges. Widths: the quorum fits 14 bits, the reference
    /// age 9, window and weight age 17; the premium is kept in gwei and the priority fee cap in 0.001 gwei.
    struct Config {
        uint16 quorumBps;
        uint16 maxReferenceAge;
        uint24 challengeWindowBlocks;
        uint24 maxWeightAge;
        bool paused;
        /// The premium in `PREMIUM_UNIT`s (MAX_PREMIUM is 1e7 of them).
        uint24 premiumGwei;
        /// The priority fee cap in `PRIORITY_FEE_UNIT`s (MAX_PRIORITY_FEE is 1e5 of them).
        uint24 maxPriorityFeeUnits;
        /// Batches accepted so far: the next batch's index (2^32 batches is over a century of one per second).
        uint32 batchCount;
        /// All fees charged by the batches (`totalCredited`): the job manager's fee pool is this minus what was
        /// withdrawn. 2^88 wei is more than twice all the ether there is; a charge past it reverts the batch.
        uint88 credited;
    }

    /// @dev slot 2 (slots 0 and 1 are Ownable2Step's owner and pending owner).
    Config private _config;
    /// @dev Where `Config`'s fields lie in its word (Solidity packs from the low bits; pinned by test_configLayout):
    /// the batch path reads the word once and takes what it needs, without unpacking the struct.
    uint256 private constant REFERENCE_AGE_SHIFT = 16;
    uint256 private constant WINDOW_SHIFT = 32;
    uint256 private constant WEIGHT_AGE_SHIFT = 56;
    uint256 private constant PAUSED_SHIFT = 80;
    uint256 private constant PREMIUM_SHIFT = 88;
    uint256 private constant PRIORITY_FEE_SHIFT = 112;
    uint256 private constant BATCH_COUNT_SHIFT = 136;
    uint256 private constant CREDITED_SHIFT = 168;
    /// @dev slot 3: all rewards claimed.
    uint256 private _totalClaimed;
    /// @dev slot 4: batch digest => keccak256(abi.encode(BatchRecord)); zero for a digest never accepted.
    mapping(bytes32 digest => bytes32 recordHash) private _batchRecords;
    /// @dev slot 5: the first batch index each account may still claim.
    mapping(address claimant => uint64 batchIndex) private _nextClaimable;
    /// @notice Who may pause and resume the acceptance of batches (zero: no one).
    address public guardian;
    /// @notice The gas price at which a job's `maxFee` must pay for its gas and a batch's fixed cost (`minJobFee`).
    uint96 public minGasPrice;

    /// @dev What `respondToBatch` learns while verifying a batch and accumulates over its tasks. `_recordBatch` reads
    /// the first seven fields by word offset: keep their order.
    struct BatchContext {
        bytes32 root;
        bytes32[] nonSignerHashes;
        uint256 signedWeight;
        uint256 totalWeight;
        uint256 submitterReward;
        uint256 signerReward;
        bytes32 invalidLeaf;
        /// Each task's spec hash, as its leaf binds it.
        bytes32[] specHashes;
        /// The capped price every task's gas is charged at.
        uint256 gasPrice;
        /// Each task's share of the batch's fixed cost plus `TASK_GAS`.
        uint256 overheadGas;
        /// The premium per performed task, in wei.
        uint256 premium;
        /// Each task's variable-length calldata (`_variableBytes`), and their sum.
        uint256[] taskBytes;
        uint256 variableBytes;
    }

    modifier onlyGuardian() {
        if (msg.sender != guardian || msg.sender == address(0)) revert NotGuardian(msg.sender);
        _;
    }

    /// @dev Creates the job manager, whose task manager is then this contract for good (`jobManager()` gives its
    /// address): the pair is linked at deployment, with no setter and no storage read to check the link. The
    /// challenge window, reference age and weight age start from the registry's slashable horizon: the window is
    /// `DEFAULT_CHALLENGE_WINDOW` or half the horizon, the reference age `DEFAULT_MAX_REFERENCE_AGE` or an eighth of
    /// it (at least 1), and the weight age the rest.
    /// @param registry_ The key registry.
    /// @param serviceManager_ The service manager (must link this contract as its task manager for challenges).
    /// @param initialOwner Who sets quorum, premium, fee caps, reference age, challenge window, weight age and the
    /// guardian.
    /// @param guardian_ Who may pause and resume batches (zero: no one until the owner names someone).
    constructor(
        IBlsKeyRegistry registry_,
        KeeperServiceManager serviceManager_,
        address initialOwner,
        address guardian_
    ) Ownable(initialOwner) {
        if (address(registry_) == address(0) || address(serviceManager_) == address(0)) {
            revert InputAddressZero();
        }
        registry = registry_;
        jobManager = new JobManager();
        serviceManager = serviceManager_;
        _cachedChainId = block.chainid;
        _cachedDomainSeparator = BatchDigest.domainSeparator(block.chainid, address(this));
        _setQuorumBps(DEFAULT_QUORUM_BPS);
        uint256 horizon = registry_.slashableHorizon();
        uint256 window = _min(DEFAULT_CHALLENGE_WINDOW, horizon / 2);
        uint256 age = _min(DEFAULT_MAX_REFERENCE_AGE, horizon / 8);
        if (age == 0) age = 1;
        if (window == 0) window = 1;
        uint256 weightAge = horizon > window + age ? _min(horizon - window - age, MAX_WEIGHT_AGE) : 0;
        // forge-lint: disable-next-line(unsafe-typecast)
        _setMaxReferenceAge(uint16(age));
        // forge-lint: disable-next-line(unsafe-typecast)
        _setChallengeWindow(uint32(window));
        // forge-lint: disable-next-line(unsafe-typecast)
        _setMaxWeightAge(uint32(weightAge));
        _checkHorizon();
        emit PremiumSet(0, 0);
        _setMaxPriorityFee(DEFAULT_MAX_PRIORITY_FEE);
        _setMinGasPrice(DEFAULT_MIN_GAS_PRICE);
        _setGuardian(guardian_);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Batches
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc ITaskManager
    function respondToBatch(
        BatchHeader calldata header,
        TaskInput[] calldata tasks,
        NonSigners calldata nonSigners,
        bytes calldata signatureG2
    ) external nonReentrant returns (bytes32 digest) {
        uint256 gasAtStart = gasleft();
        uint256 config;
        assembly ("memory-safe") {
            config := sload(_config.slot)
        }
        // casting to a narrower type is safe: it takes one field out of a packed word, as the layout above defines it
        // forge-lint: disable-next-line(unsafe-typecast)
        if (uint8(config >> PAUSED_SHIFT) != 0) revert Paused();
        BatchContext memory context;
        (digest, context) = _verifyBatch(header, tasks, nonSigners.pubkeys, signatureG2, config);

        // The batch is marked before any call that changes state, so it can never be accepted twice; the mark is
        // replaced by the record's hash once the fees are known (a write to a slot already written this
        // transaction costs 100 gas).
        _batchRecords[digest] = bytes32(uint256(1));
        _priceTasks(context, config, gasAtStart, tasks.length);

        uint32 referenceBlock = header.referenceBlockNumber;
        for (uint256 i; i < tasks.length; ++i) {
            // Nothing a task allocates outlives it, so its memory is released after it: a batch's memory stays the
            // size of one task's instead of growing (and costing quadratically) with the batch.
            uint256 freeMemory;
            assembly ("memory-safe") {
                freeMemory := mload(0x40)
            }
            _runTask(tasks[i], i, referenceBlock, digest, context);
            assembly ("memory-safe") {
                mstore(0x40, freeMemory)
            }
        }
        // casting to a narrower type is safe: it takes one field out of a packed word, as the layout above defines it
        // forge-lint: disable-next-line(unsafe-typecast)
        _recordBatch(digest, header, tasks.length, context, uint24(config >> WINDOW_SHIFT));
    }

    // ---------------------------------------------------------------------------------------------------------
    // Rewards
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc ITaskManager
    /// @dev The signer share of a batch is `signerReward * weight / signedWeight` with the claimant's weight at the
    /// reference block; it is zero for an account without weight then or listed as a non-signer. Shares are rounded
    /// down, so they never add up to more than the batch's `signerReward`. An empty list claims nothing and changes
    /// nothing.
    function claimRewards(BatchClaim[] calldata claims, address to) external nonReentrant returns (uint256 amount) {
        if (to == address(0)) revert InputAddressZero();
        uint256 count = claims.length;
        if (count == 0) return 0;
        uint64 next = _nextClaimable[msg.sender];
        bytes32 ownPubkeyHash = registry.pubkeyHashOf(msg.sender);
        for (uint256 i; i < count; ++i) {
            BatchClaim calldata claim = claims[i];
            BatchRecord calldata record = claim.record;
            if (record.batchIndex < next) revert ClaimOutOfOrder(record.batchIndex, next);
            if (keccak256(abi.encode(record)) != _batchRecords[claim.digest]) revert BatchRecordMismatch(claim.digest);
            if (record.submitter == msg.sender) amount += record.submitterReward;
            if (ownPubkeyHash != bytes32(0) && record.signerReward != 0) {
                amount += _signerShare(claim, ownPubkeyHash);
            }
            next = record.batchIndex + 1;
        }
        _nextClaimable[msg.sender] = next;
        // Every claim is a part of what was credited, so the total stays below _totalCredited, a uint192.
        // forge-lint: disable-next-line(unsafe-typecast)
        _totalClaimed += uint192(amount);
        emit RewardsClaimed(msg.sender, to, amount, claims[0].record.batchIndex, next - 1);
        if (amount != 0) jobManager.withdrawFees(to, amount);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Challenges
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc ITaskManager
    /// @dev Each signature is checked on its own against the operator's registered key, over the digest of the batch
    /// root folded from the leaf and its proof, in this contract's domain. No window applies: a signature is
    /// evidence for as long as EigenLayer lets the operator be slashed. Not paused by the guardian.
    function challengeEquivocation(
        address operator,
        uint256 jobId,
        uint64 sequence,
        bytes32 specHash,
        SignedLeaf calldata a,
        SignedLeaf calldata b
    ) external nonReentrant {
        if (a.responseHash == b.responseHash) revert SameResponse(a.responseHash);
        if (registry.pubkeyHashOf(operator) == bytes32(0)) revert UnknownOperator(operator);
        BLS12381.G1Point memory pubkey = registry.pubkeyOf(operator);
        bytes32 digestA =
            _checkSignedLeaf(operator, pubkey, BatchDigest.leafHash(jobId, sequence, specHash, a.responseHash), a);
        bytes32 digestB =
            _checkSignedLeaf(operator, pubkey, BatchDigest.leafHash(jobId, sequence, specHash, b.responseHash), b);
        _emitEquivocation(operator, jobId, sequence, specHash, digestA, digestB, a.responseHash, b.responseHash);
        serviceManager.slashOperator(
            operator, EQUIVOCATION_SLASH_WAD, _equivocationId(jobId, sequence, specHash), "keeper: equivocation"
        );
        // An equivocating key is out of the set for good; it stays slashable for EigenLayer's deallocation delay.
        serviceManager.ejectForOffence(operator);
    }

    /// @inheritdoc ITaskManager
    /// @dev A signer is an operator with weight at the reference block (so its key was in the aggregate) whose key
    /// is not among the non-signers. The offence is the batch (its digest). Not paused by the guardian.
    function challengeInvalidResponse(
        bytes32 digest,
        BatchRecord calldata record,
        bytes32[] calldata nonSignerPubkeyHashes,
        address[] calldata operators
    ) external nonReentrant {
        if (keccak256(abi.encode(record)) != _batchRecords[digest]) {
            revert BatchRecordMismatch(digest);
        }
        if (record.invalidLeaf == bytes32(0)) revert NoInvalidResponse(digest);
        if (block.number > record.challengeDeadline) revert ChallengeWindowClosed(digest, record.challengeDeadline);
        if (keccak256(abi.encodePacked(nonSignerPubkeyHashes)) != record.nonSignersHash) {
            revert NonSignersMismatch(digest);
        }
        for (uint256 i; i < operators.length; ++i) {
            address operator = operators[i];
            if (!_signed(operator, record.referenceBlockNumber, nonSignerPubkeyHashes)) {
                revert NotASigner(operator, digest);
            }
            emit InvalidResponseProven(operator, digest, record.invalidLeaf, INVALID_RESPONSE_SLASH_WAD, msg.sender);
            serviceManager.slashOperator(operator, INVALID_RESPONSE_SLASH_WAD, digest, "keeper: invalid response");
            serviceManager.ejectForOffence(operator);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Owner and guardian
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Sets the share of the set's weight that must sign a batch (for batches accepted from now on).
    /// @dev Only the owner.
    /// @param quorumBps_ The quorum in basis points, `MIN_QUORUM_BPS`..`MAX_QUORUM_BPS`.
    function setQuorumBps(uint16 quorumBps_) external onlyOwner {
        _setQuorumBps(quorumBps_);
    }

    /// @notice Sets the premium charged per performed task on top of its gas.
    /// @dev Only the owner.
    /// @param premium_ The premium in wei, a multiple of `PREMIUM_UNIT`, at most `MAX_PREMIUM`.
    function setPremium(uint96 premium_) external onlyOwner {
        if (premium_ > MAX_PREMIUM || premium_ % PREMIUM_UNIT != 0) revert InvalidPremium(premium_);
        emit PremiumSet(premium(), premium_);
        // casting to 'uint24' is safe because MAX_PREMIUM / PREMIUM_UNIT fits
        // forge-lint: disable-next-line(unsafe-typecast)
        _config.premiumGwei = uint24(premium_ / PREMIUM_UNIT);
    }

    /// @notice Sets the most priority fee per gas a task's charge reimburses above the block's base fee.
    /// @dev Only the owner.
    /// @param maxPriorityFee_ Wei per gas, a multiple of `PRIORITY_FEE_UNIT`, at most `MAX_PRIORITY_FEE`.
    function setMaxPriorityFee(uint256 maxPriorityFee_) external onlyOwner {
        _setMaxPriorityFee(maxPriorityFee_);
    }

    /// @notice Sets the gas price at which a job's `maxFee` must pay for its gas and a batch's fixed cost, checked
    /// when jobs are created or updated (jobs already created keep their fee).
    /// @dev Only the owner.
    /// @param minGasPrice_ Wei per gas, `MIN_GAS_PRICE_LOW`..`MIN_GAS_PRICE_HIGH`.
    function setMinGasPrice(uint256 minGasPrice_) external onlyOwner {
        _setMinGasPrice(minGasPrice_);
    }

    /// @notice Sets how many blocks old a batch's reference block may be when it is submitted.
    /// @dev Only the owner. Weight age + reference age + challenge window must stay within the slashable horizon.
    /// @param maxReferenceAge_ The age in blocks, 1..`MAX_REFERENCE_AGE`.
    function setMaxReferenceAge(uint16 maxReferenceAge_) external onlyOwner {
        _setMaxReferenceAge(maxReferenceAge_);
        _checkHorizon();
    }

    /// @notice Sets for how many blocks after its acceptance a batch can be challenged, for batches accepted from now
    /// on (each record keeps its own deadline).
    /// @dev Only the owner. Weight age + reference age + challenge window must stay within the slashable horizon.
    /// @param challengeWindowBlocks_ The window, `MIN_CHALLENGE_WINDOW`..`MAX_CHALLENGE_WINDOW`.
    function setChallengeWindow(uint32 challengeWindowBlocks_) external onlyOwner {
        _setChallengeWindow(challengeWindowBlocks_);
        _checkHorizon();
    }

    /// @notice Sets how many blocks before a batch's reference block the set's weights may have been confirmed
    /// (`BlsKeyRegistry.updateAllWeights`): keepers must confirm them at least this often.
    /// @dev Only the owner. Weight age + reference age + challenge window must stay within the slashable horizon.
    /// @param maxWeightAge_ The age in blocks, 1..`MAX_WEIGHT_AGE`.
    function setMaxWeightAge(uint32 maxWeightAge_) external onlyOwner {
        _setMaxWeightAge(maxWeightAge_);
        _checkHorizon();
    }

    /// @notice Names the guardian, who may pause and resume the acceptance of batches.
    /// @dev Only the owner. Zero leaves no guardian.
    /// @param guardian_ The guardian.
    function setGuardian(address guardian_) external onlyOwner {
        _setGuardian(guardian_);
    }

    /// @notice Stops the acceptance of batches (an emergency). Claims, challenges, and every job owner operation
    /// (refunds included) go on.
    /// @dev Only the guardian.
    function pause() external onlyGuardian {
        _config.paused = true;
        emit BatchesPaused(true);
    }

    /// @notice Resumes the acceptance of batches.
    /// @dev Only the guardian.
    function unpause() external onlyGuardian {
        _config.paused = false;
        emit BatchesPaused(false);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc ITaskManager
    function batchDigest(BatchHeader calldata header, bytes32 root) external view returns (bytes32) {
        return
            BatchDigest.taskBatchDigest(
                _domainSeparator(), header.referenceBlockNumber, header.referenceBlockHash, root
            );
    }

    /// @inheritdoc ITaskManager
    function batchRecordHash(bytes32 digest) external view returns (bytes32) {
        return _batchRecords[digest];
    }

    /// @inheritdoc ITaskManager
    function nextClaimableBatch(address claimant) external view returns (uint64) {
        return _nextClaimable[claimant];
    }

    /// @inheritdoc ITaskManager
    function minJobFee(uint32 gasLimit) external view returns (uint256) {
        return (uint256(gasLimit) + SOLO_BATCH_GAS) * minGasPrice;
    }

    /// @notice The EIP-712 domain separator of batch digests: name "KeeperNetwork", version "1", this chain, this
    /// contract.
    /// @return The domain separator.
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparator();
    }

    /// @notice The response hash keepers sign for a task: keccak256(abi.encode(execute, callData)).
    /// @param execute Whether the task's call is to be made.
    /// @param callData What the forwarder sends to the target.
    /// @return The response hash.
    function responseHash(bool execute, bytes calldata callData) external pure returns (bytes32) {
        return _responseHash(execute, callData);
    }

    /// @notice The share of the set's weight that must sign, in basis points.
    /// @return The quorum.
    function quorumBps() external view returns (uint16) {
        return _config.quorumBps;
    }

    /// @notice How many blocks old a reference block may be.
    /// @return The age.
    function maxReferenceAge() external view returns (uint16) {
        return _config.maxReferenceAge;
    }

    /// @notice For how many blocks after acceptance a batch accepted now can be challenged.
    /// @return The window.
    function challengeWindowBlocks() external view returns (uint32) {
        return _config.challengeWindowBlocks;
    }

    /// @notice How many blocks before a batch's reference block the set's weights may have been confirmed.
    /// @return The age.
    function maxWeightAge() external view returns (uint32) {
        return _config.maxWeightAge;
    }

    /// @notice The premium per performed task, in wei.
    /// @return The premium.
    function premium() public view returns (uint96) {
        return uint96(_config.premiumGwei) * PREMIUM_UNIT;
    }

    /// @notice The most priority fee per gas a charge reimburses above the base fee, in wei.
    /// @return The cap.
    function maxPriorityFee() external view returns (uint256) {
        return uint256(_config.maxPriorityFeeUnits) * PRIORITY_FEE_UNIT;
    }

    /// @notice Whether the guardian paused the acceptance of batches.
    /// @return True if paused.
    function paused() external view returns (bool) {
        return _config.paused;
    }

    /// @notice The number of batches accepted (the next batch's index).
    /// @return The count.
    function batchCount() external view returns (uint64) {
        return _config.batchCount;
    }

    /// @inheritdoc ITaskManager
    /// @dev The job manager's withdrawals are this contract's claims, so its pool is also this minus `totalClaimed`.
    function totalCredited() external view returns (uint256) {
        return _config.credited;
    }

    /// @notice All rewards claimed, in wei.
    /// @return The total.
    function totalClaimed() external view returns (uint256) {
        return _totalClaimed;
    }

    /// @notice The offence id of an equivocation on task (`jobId`, `sequence`) under the spec `specHash` (what
    /// `KeeperServiceManager.isSlashed` is keyed by).
    /// @param jobId The job.
    /// @param sequence The task.
    /// @param specHash The spec both leaves carry.
    /// @return The id.
    function equivocationId(uint256 jobId, uint64 sequence, bytes32 specHash) external pure returns (bytes32) {
        return _equivocationId(jobId, sequence, specHash);
    }

    /// @notice The weight age + reference age + challenge window now, and the registry's slashable horizon read from
    /// chain now: the settings are sound while `used <= horizon` (checked whenever a setting changes; an EigenLayer
    /// upgrade shortening its delays would show here).
    /// @return used The blocks the settings use.
    /// @return horizon The blocks a weight stays slashable.
    function slashableBudget() external view returns (uint256 used, uint256 horizon) {
        Config memory config = _config;
        used = uint256(config.maxWeightAge) + config.maxReferenceAge + config.challengeWindowBlocks;
        horizon = registry.slashableHorizon();
    }

    /// @notice What `claimRewards` would pay `claimant` for `claims`, without claiming.
    /// @dev Reverts as `claimRewards` would on a record, order or non-signer list that does not check out.
    /// @param claimant The account.
    /// @param claims The batches.
    /// @return amount The wei.
    function claimableRewards(address claimant, BatchClaim[] calldata claims) external view returns (uint256 amount) {
        uint64 next = _nextClaimable[claimant];
        bytes32 ownPubkeyHash = registry.pubkeyHashOf(claimant);
        for (uint256 i; i < claims.length; ++i) {
            BatchRecord calldata record = claims[i].record;
            if (record.batchIndex < next) revert ClaimOutOfOrder(record.batchIndex, next);
            if (keccak256(abi.encode(record)) != _batchRecords[claims[i].digest]) {
                revert BatchRecordMismatch(claims[i].digest);
            }
            if (record.submitter == claimant) amount += record.submitterReward;
            if (ownPubkeyHash != bytes32(0) && record.signerReward != 0) {
                amount += _signerShareOf(claimant, claims[i], ownPubkeyHash);
            }
            next = record.batchIndex + 1;
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Internals: batch verification
    // ---------------------------------------------------------------------------------------------------------

    /// @dev The reorg guard and the liveness bound on the reference block.
    function _checkReferenceBlock(uint32 referenceBlock, bytes32 referenceBlockHash, uint16 maxAge) private view {
        bytes32 known = blockhash(referenceBlock);
        if (known == bytes32(0) || known != referenceBlockHash) {
            revert UnknownReferenceBlock(referenceBlock, referenceBlockHash);
        }
        if (block.number - referenceBlock > maxAge) {
            revert ReferenceBlockTooOld(referenceBlock, block.number, maxAge);
        }
    }

    /// @dev Each task's leaf, spec hash and variable-length calldata (`_variableBytes`), and those bytes summed:
    /// leafHash(jobId, sequence, keccak256(abi.encode(spec)), keccak256(abi.encode(execute, callData))).
    function _leaves(TaskInput[] calldata tasks)
        private
        pure
        returns (
            bytes32[] memory leaves,
            bytes32[] memory specHashes,
            uint256[] memory taskBytes,
            uint256 variableBytes
        )
    {
        uint256 count = tasks.length;
        leaves = new bytes32[](count);
        specHashes = new bytes32[](count);
        taskBytes = new uint256[](count);
        for (uint256 i; i < count; ++i) {
            TaskInput calldata task = tasks[i];
            bytes32 specHash = JobSpecHash.fromCalldata(task.spec);
            specHashes[i] = specHash;
            leaves[i] = _leafOf(task, specHash);
            uint256 bytes_ = _variableBytes(task);
            taskBytes[i] = bytes_;
            // Unchecked: each is capped at three times the calldata's size.
            unchecked {
                variableBytes += bytes_;
            }
        }
    }

    /// @dev The bytes of a task's encoding that its job chooses: the call data, the spec's data and code URL, each
    /// padded to words. Lengths are read where the canonical encoding puts them and capped at the calldata's size
    /// (a batch whose spec is not canonical fails its signature anyway).
    function _variableBytes(TaskInput calldata task) private pure returns (uint256 bytes_) {
        assembly ("memory-safe") {
            let size := calldatasize()
            let callDataLength := calldataload(add(task, calldataload(add(task, 0x80))))
            let spec := add(task, calldataload(add(task, 0x40)))
            let dataLength := calldataload(add(spec, 0x260))
            if gt(dataLength, size) { dataLength := size }
            let paddedData := and(add(dataLength, 31), not(31))
            let urlLength := calldataload(add(add(spec, 0x280), paddedData))
            if gt(urlLength, size) { urlLength := size }
            if gt(callDataLength, size) { callDataLength := size }
            bytes_ := add(add(and(add(callDataLength, 31), not(31)), paddedData), and(add(urlLength, 31), not(31)))
        }
    }

    /// @dev The task's leaf under `specHash`, read straight from calldata (every task is hashed once per batch). The
    /// checks are the ABI decoder's, so that the fields hashed here are the ones Solidity's accessors later hand to
    /// the job manager (and an encoding either refuses reverts the batch).
    function _leafOf(TaskInput calldata task, bytes32 specHash) private pure returns (bytes32 leaf) {
        bytes32 typeHash = BatchDigest.TASK_RESPONSE_TYPEHASH;
        assembly ("memory-safe") {
            let sequence := calldataload(add(task, 0x20))
            let execute := calldataload(add(task, 0x60))
            let relative := calldataload(add(task, 0x80))
            // Task tuple: jobId, sequence, spec offset, execute, callData offset.
            if or(or(shr(64, sequence), gt(execute, 1)), gt(relative, 0xffffffffffffffff)) { revert(0, 0) }
            let data := add(task, relative)
            let length := calldataload(data)
            if or(gt(length, 0xffffffffffffffff), gt(add(add(data, 0x20), length), calldatasize())) {
                revert(0, 0)
            }
            // responseHash = keccak256(abi.encode(execute, callData)), in scratch memory.
            let ptr := mload(0x40)
            mstore(ptr, execute)
            mstore(add(ptr, 0x20), 0x40)
            mstore(add(ptr, 0x40), length)
            calldatacopy(add(ptr, 0x60), add(data, 0x20), length)
            mstore(add(add(ptr, 0x60), length), 0)
            let response := keccak256(ptr, add(0x60, and(add(length, 31), not(31))))
            // leafHash(jobId, sequence, specHash, responseHash).
            mstore(ptr, typeHash)
            mstore(add(ptr, 0x20), calldataload(task))
            mstore(add(ptr, 0x40), sequence)
            mstore(add(ptr, 0x60), specHash)
            mstore(add(ptr, 0x80), response)
            leaf := keccak256(ptr, 0xa0)
        }
    }

    /// @dev keccak256(abi.encode(execute, callData)), encoded in scratch memory: no allocation per task.
    function _responseHash(bool execute, bytes calldata callData) private pure returns (bytes32 hash) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, execute)
            mstore(add(ptr, 0x20), 0x40)
            mstore(add(ptr, 0x40), callData.length)
            calldatacopy(add(ptr, 0x60), callData.offset, callData.length)
            // Zero padding up to the next word.
            mstore(add(add(ptr, 0x60), callData.length), 0)
            hash := keccak256(ptr, add(0x60, and(add(callData.length, 31), not(31))))
        }
    }

    /// @dev Checks the non-signers, the weights' freshness, the quorum and the aggregate signature; returns the
    /// weights and the non-signers' pubkey hashes. Quorum is checked before the pairing, the expensive part.
    function _checkSignature(
        uint32 referenceBlock,
        bytes32 digest,
        BLS12381.G1Point[] calldata nonSignerKeys,
        bytes calldata signatureG2,
        uint256 config
    ) private view returns (uint256 signedWeight, uint256 totalWeight, bytes32[] memory hashes) {
        BLS12381.G1Point memory negatedSum;
        bool summed;
        (negatedSum, hashes, summed) = _nonSigners(nonSignerKeys);
        // A key bound in the registry passed its proof of possession, so no one can list a key crafted to cancel
        // honest keys out of the aggregate. A bound key not in the set at the reference block has weight 0 there,
        // and subtracting it only makes the signature fail.
        BLS12381.G1Point memory apk;
        // casting to a narrower type is safe: it takes one field out of a packed word, as the layout above defines it
        // forge-lint: disable-next-line(unsafe-typecast)
        (apk, signedWeight, totalWeight) = _signingSet(hashes, referenceBlock, uint24(config >> WEIGHT_AGE_SHIFT));
        // casting to a narrower type is safe: it takes one field out of a packed word, as the layout above defines it
        // forge-lint: disable-next-line(unsafe-typecast)
        if (signedWeight * BPS < totalWeight * uint16(config)) {
            // casting to a narrower type is safe: it takes one field out of a packed word, as the layout above defines it
            // forge-lint: disable-next-line(unsafe-typecast)
            revert QuorumNotReached(signedWeight, totalWeight, uint16(config));
        }

        if (hashes.length != 0) {
            // Only bound keys get here, and those are valid points; the check stays for defence in depth.
            if (!summed) revert BLS12381.PrecompileCallFailed(G1ADD_PRECOMPILE);
            // apk += -(sum of the non-signers' keys), in place.
            assembly ("memory-safe") {
                let input := mload(0x40)
                mcopy(input, apk, 0x80)
                mcopy(add(input, 0x80), negatedSum, 0x80)
                summed := staticcall(G1ADD_GAS, G1ADD_PRECOMPILE, input, 0x100, apk, 0x80)
                summed := and(summed, eq(returndatasize(), 0x80))
            }
            if (!summed) revert BLS12381.PrecompileCallFailed(G1ADD_PRECOMPILE);
        }
        bool valid =
            BLS12381.verify(apk, BLS12381.g2FromCalldata(signatureG2), abi.encode(digest), BatchDigest.BATCH_DST);
        if (!valid) revert InvalidSignature();
    }

    /// @dev The set's aggregate key, the signers' weight (the total minus the non-signers') and the total weight at
    /// the reference block; reverts if the set had no weight then, a non-signer's key is bound to no operator, or the
    /// weights in force then were confirmed more than `maxWeightAge` blocks before it.
    /// `registry.signingSetAtBlock(hashes, referenceBlock)`, called by hand: `_nonSigners` left the call's selector,
    /// offset and block words right before `hashes`, so the list is sent where it lies, without a copy.
    function _signingSet(bytes32[] memory hashes, uint32 referenceBlock, uint24 maxWeightAge_)
        private
        view
        returns (BLS12381.G1Point memory apk, uint256 signedWeight, uint256 totalWeight)
    {
        uint256 nonSignerWeight;
        uint256 firstUnknown;
        uint256 confirmedAt;
        address registry_ = address(registry);
        assembly ("memory-safe") {
            mstore(sub(hashes, 0x20), referenceBlock)
            let input := sub(hashes, 0x44)
            let size := add(0x64, shl(5, mload(hashes)))
            // The answer, 8 words, in scratch past the free pointer.
            let output := mload(0x40)
            if iszero(staticcall(gas(), registry_, input, size, output, 0x100)) {
                returndatacopy(output, 0, returndatasize())
                revert(output, returndatasize())
            }
            // The registry is ours and returns eight words; anything shorter is refused.
            if lt(returndatasize(), 0x100) { revert(0, 0) }
            mcopy(apk, output, 0x80)
            totalWeight := mload(add(output, 0x80))
            nonSignerWeight := mload(add(output, 0xa0))
            firstUnknown := mload(add(output, 0xc0))
            confirmedAt := mload(add(output, 0xe0))
        }
        if (totalWeight == 0) revert NoWeightAtReferenceBlock(referenceBlock);
        if (firstUnknown != hashes.length) revert UnknownNonSigner(hashes[firstUnknown]);
        // The registry's confirmation in force at the reference block is at most the block itself.
        if (confirmedAt == 0 || referenceBlock - confirmedAt > maxWeightAge_) {
            // casting to 'uint32' is safe: a block number the registry recorded as a uint32
            // forge-lint: disable-next-line(unsafe-typecast)
            revert StaleWeights(referenceBlock, uint32(confirmedAt), maxWeightAge_);
        }
        // Distinct operators' weights at one block add up to at most the total at that block.
        signedWeight = totalWeight - nonSignerWeight;
    }

    /// @dev The non-signers' keys summed and negated, straight from calldata (n - 1 G1ADDs for n keys, no copy of the
    /// list; y becomes p - y, as `BLS12381.negateG1` computes it), and their
    /// pubkey hashes (keccak256 of the 128-byte encoding, as the registry hashes them), checked strictly ascending
    /// so that no key is subtracted twice. `summed` is false if a G1ADD failed (a key that is no valid point: each
    /// addition is forwarded only its price, so such a key costs 375 gas, not the batch); the caller reports it only
    /// after the registry's checks, which refuse such a key first (it is bound to no one).
    /// The hashes are allocated after three words that `_signingSet` fills in as the head of the registry call (the
    /// selector and the list's offset are written here); the record and the event reuse them as they are.
    function _nonSigners(BLS12381.G1Point[] calldata keys)
        private
        view
        returns (BLS12381.G1Point memory negatedSum, bytes32[] memory hashes, bool summed)
    {
        uint256 count = keys.length;
        uint256 unsorted;
        bytes4 selector = IBlsKeyRegistry.signingSetAtBlock.selector;
        assembly ("memory-safe") {
            let head := mload(0x40)
            // Selector in the low 4 bytes of the first word, then the list's offset (the block is written later).
            mstore(head, shr(224, selector))
            mstore(add(head, 0x20), 0x40)
            hashes := add(head, 0x60)
            mstore(hashes, count)
            mstore(0x40, add(add(hashes, 0x20), shl(5, count)))
            // Scratch past the free pointer: the running sum (128 bytes), then the key. The sum starts as the first
            // key itself (the point at infinity for an empty list), so n keys cost n - 1 additions.
            let buffer := mload(0x40)
            mstore(buffer, 0)
            mstore(add(buffer, 0x20), 0)
            mstore(add(buffer, 0x40), 0)
            mstore(add(buffer, 0x60), 0)
            let key := add(buffer, 0x80)
            summed := 1
            if count {
                calldatacopy(buffer, keys.offset, 0x80)
                let previous := keccak256(buffer, 0x80)
                mstore(add(hashes, 0x20), previous)
                // A G1Point in calldata is its 128-byte EIP-2537 encoding, four words.
                for { let i := 1 } lt(i, count) { i := add(i, 1) } {
                    calldatacopy(key, add(keys.offset, shl(7, i)), 0x80)
                    let pubkeyHash := keccak256(key, 0x80)
                    if iszero(gt(pubkeyHash, previous)) {
                        unsorted := i
                        break
                    }
                    mstore(add(add(hashes, 0x20), shl(5, i)), pubkeyHash)
                    previous := pubkeyHash
                    summed := and(summed, staticcall(G1ADD_GAS, G1ADD_PRECOMPILE, buffer, 0x100, buffer, 0x80))
                    summed := and(summed, eq(returndatasize(), 0x80))
                }
            }
            // -(x, y) = (x, p - y) over two words (y < p, so the high word cannot underflow); infinity stays.
            let yHi := mload(add(buffer, 0x40))
            let yLo := mload(add(buffer, 0x60))
            if or(yHi, yLo) {
                let borrow := gt(yLo, P_LO)
                mstore(add(buffer, 0x60), sub(P_LO, yLo))
                mstore(add(buffer, 0x40), sub(sub(P_HI, yHi), borrow))
            }
            mcopy(negatedSum, buffer, 0x80)
        }
        if (unsorted != 0) revert NonSignersNotSorted(unsorted);
    }

    /// @dev Checks the reference block, computes the leaves, root and digest, refuses a digest already accepted,
    /// and checks non-signers, weights, quorum and signature.
    function _verifyBatch(
        BatchHeader calldata header,
        TaskInput[] calldata tasks,
        BLS12381.G1Point[] calldata nonSignerKeys,
        bytes calldata signatureG2,
        uint256 config
    ) private view returns (bytes32 digest, BatchContext memory context) {
        uint32 referenceBlock = header.referenceBlockNumber;
        // casting to a narrower type is safe: it takes one field out of a packed word, as the layout above defines it
        // forge-lint: disable-next-line(unsafe-typecast)
        _checkReferenceBlock(referenceBlock, header.referenceBlockHash, uint16(config >> REFERENCE_AGE_SHIFT));
        if (tasks.length == 0) revert EmptyBatch();
        bytes32[] memory leaves;
        (leaves, context.specHashes, context.taskBytes, context.variableBytes) = _leaves(tasks);
        // The leaves are folded into the root in place: a task that needs its leaf again (an offence) recomputes it.
        context.root = BatchDigest.merkleRootInPlace(leaves);
        digest =
            BatchDigest.taskBatchDigest(_domainSeparator(), referenceBlock, header.referenceBlockHash, context.root);
        if (_batchRecords[digest] != bytes32(0)) revert BatchAlreadyResponded(digest);
        (context.signedWeight, context.totalWeight, context.nonSignerHashes) =
            _checkSignature(referenceBlock, digest, nonSignerKeys, signatureG2, config);
    }

    /// @dev The price every task's gas is charged at, min(tx.gasprice, basefee + the priority fee cap), and each
    /// task's share of the batch's fixed cost: the gas spent so far (the signature check and the leaves), the
    /// transaction's and the record's (`BATCH_BASE_GAS`) and the calldata no task owns (the header, the
    /// non-signers, the signature: at the non-zero byte price), split evenly over the batch's tasks, plus
    /// `TASK_GAS`; `_overheadGas` adds what is the task's own. Skipped tasks pay nothing: their share falls to the
    /// submitter, who chose to include them.
    function _priceTasks(BatchContext memory context, uint256 config, uint256 gasAtStart, uint256 count) private view {
        // Unchecked: a base fee, a capped priority fee, gas counts and calldata sizes are far from overflowing, and
        // `count` is not zero (an empty batch reverted).
        unchecked {
            // casting to a narrower type is safe: it takes one field out of a packed word, as the layout above defines it
            // forge-lint: disable-next-line(unsafe-typecast)
            uint256 price = block.basefee + uint256(uint24(config >> PRIORITY_FEE_SHIFT)) * PRIORITY_FEE_UNIT;
            if (tx.gasprice < price) price = tx.gasprice;
            // The job manager's `pricing` word packs the price into 128 bits; no real base fee comes near 2^64.
            if (price > type(uint64).max) price = type(uint64).max;
            context.gasPrice = price;
            uint256 taskBytes = count * TASK_ENCODING_BYTES + context.variableBytes;
            uint256 sharedBytes = msg.data.length > taskBytes ? msg.data.length - taskBytes : 0;
            uint256 fixedGas = gasAtStart - gasleft() + BATCH_BASE_GAS + CALLDATA_GAS_PER_BYTE * sharedBytes;
            context.overheadGas = fixedGas / count + TASK_GAS;
            // casting to a narrower type is safe: it takes one field out of a packed word, as the layout above defines it
            // forge-lint: disable-next-line(unsafe-typecast)
            context.premium = uint256(uint24(config >> PREMIUM_SHIFT)) * PREMIUM_UNIT;
        }
    }

    /// @dev Builds the record of an accepted batch, stores its hash in place of the mark, counts the batch and its
    /// credit, and emits `BatchResponded`. The event's data is laid out once in memory, by hand: its head holds the
    /// record's ten words inline (a static struct), which are also `abi.encode(record)`, hashed where they lie.
    function _recordBatch(
        bytes32 digest,
        BatchHeader calldata header,
        uint256 taskCount,
        BatchContext memory context,
        uint24 challengeWindow
    ) private {
        // The settings word, read and written once: the batch is counted and its fees added to the ledger.
        uint256 word;
        assembly ("memory-safe") {
            word := sload(_config.slot)
        }
        // casting to a narrower type is safe: it takes one field out of a packed word, as the layout above defines it
        // forge-lint: disable-next-line(unsafe-typecast)
        uint256 batchIndex = uint32(word >> BATCH_COUNT_SHIFT);
        uint256 credited = (word >> CREDITED_SHIFT) + context.submitterReward + context.signerReward;
        if (batchIndex == type(uint32).max) revert SafeCast.SafeCastOverflowedUintDowncast(32, batchIndex + 1);
        if (credited > type(uint88).max) revert SafeCast.SafeCastOverflowedUintDowncast(88, credited);
        bytes32[] memory hashes = context.nonSignerHashes;
        bytes32 topic = BatchResponded.selector;
        bytes32 recordHash;
        assembly ("memory-safe") {
            let count := mload(hashes)
            let data := mload(0x40)
            // root, referenceBlockHash, taskCount, the list's offset (after 4 + 10 head words).
            mstore(data, mload(context))
            mstore(add(data, 0x20), calldataload(add(header, 0x20)))
            mstore(add(data, 0x40), taskCount)
            mstore(add(data, 0x60), 0x1c0)
            // The record: BatchRecord's fields in order. Each reward is a sum of charges out of one batch's
            // escrows, far below 2^128 wei; they are masked to their type as a cast would.
            let record := add(data, 0x80)
            mstore(record, batchIndex)
            mstore(add(record, 0x20), and(calldataload(header), 0xffffffff))
            // The challenge deadline: this block plus the window in force now.
            mstore(add(record, 0x40), and(add(number(), and(challengeWindow, 0xffffff)), 0xffffffff))
            mstore(add(record, 0x60), caller())
            mstore(add(record, 0x80), and(mload(add(context, 0x80)), 0xffffffffffffffffffffffffffffffff))
            mstore(add(record, 0xa0), and(mload(add(context, 0xa0)), 0xffffffffffffffffffffffffffffffff))
            mstore(add(record, 0xc0), mload(add(context, 0x40)))
            mstore(add(record, 0xe0), mload(add(context, 0x60)))
            mstore(add(record, 0x100), keccak256(add(hashes, 0x20), shl(5, count)))
            mstore(add(record, 0x120), mload(add(context, 0xc0)))
            recordHash := keccak256(record, 0x140)
            let listSize := add(0x20, shl(5, count))
            mcopy(add(data, 0x1c0), hashes, listSize)
            log2(data, add(0x1c0, listSize), topic, digest)
        }
        _batchRecords[digest] = recordHash;
        word = (word & ((uint256(1) << BATCH_COUNT_SHIFT) - 1)) | ((batchIndex + 1) << BATCH_COUNT_SHIFT)
            | (credited << CREDITED_SHIFT);
        assembly ("memory-safe") {
            sstore(_config.slot, word)
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Internals: tasks
    // ---------------------------------------------------------------------------------------------------------

    /// @dev Runs one task of an accepted batch with one job manager call: performs and charges it, completes it, or
    /// skips it with an event. A provably wrong leaf is remembered in `context.invalidLeaf` (the first one).
    /// The skip reasons are judged in this order: the offences (not due, impossible call data) first, since they
    /// depend only on what the signers signed (the spec in the leaf, which the submitter hands in, and the reference
    /// block); then whether that spec is still the job's (the owner may have updated it since: no offence), the job's
    /// status, expiry, completion and balance, which may have changed since.
    function _runTask(
        TaskInput calldata task,
        uint256 index,
        uint32 referenceBlock,
        bytes32 digest,
        BatchContext memory context
    ) private {
        SkipReason own = _ownSkipReason(task, _specOf(task), referenceBlock);
        bool execute = _executes(task);
        TaskMode mode = own != SkipReason.SpecMismatch ? TaskMode.Check : execute ? TaskMode.Perform : TaskMode.Consume;
        uint256 overheadGas = _overheadGas(task, context.taskBytes[index], context);
        (TaskOutcome outcome, bool success, uint256 gasUsed, uint256 fee) =
            _callRunTask(task, context.specHashes[index], mode, _pricing(context, overheadGas));
        if (own == SkipReason.SpecMismatch && outcome == TaskOutcome.Done) {
            if (execute) {
                uint256 gasCost = (gasUsed + overheadGas) * context.gasPrice;
                uint256 reimbursement = fee < gasCost ? fee : gasCost;
                context.submitterReward += reimbursement;
                context.signerReward += fee - reimbursement;
                _emitTaskPerformed(task, digest, success, gasUsed, fee);
            } else {
                emit TaskNotExecuted(task.jobId, task.sequence, digest);
            }
        } else {
            _skip(task, context.specHashes[index], digest, own, outcome, context);
        }
    }

    /// @dev The gas a task is charged for besides its call: its share of the batch and `TASK_GAS`, its own variable
    /// calldata at the non-zero byte price, and for an event task `EVENT_TASK_GAS` (its completion bit). The
    /// trigger kind is read at its canonical offset (the spec's hash is the signed one).
    function _overheadGas(TaskInput calldata task, uint256 taskBytes, BatchContext memory context)
        private
        pure
        returns (uint256 gas)
    {
        // Unchecked: gas counts and capped calldata sizes.
        unchecked {
            gas = context.overheadGas + CALLDATA_GAS_PER_BYTE * taskBytes;
            if (JobSpecHash.word(_specOf(task), JobSpecHash.FIELD_TRIGGER_KIND) == 2) gas += EVENT_TASK_GAS;
        }
    }

    /// @dev The job manager's `pricing` word for a task: `gasPrice << 128 | (overheadGas * gasPrice + premium)`. Both
    /// parts are below 2^128: a gas price, and a few million gas at it plus at most `MAX_PREMIUM`.
    function _pricing(BatchContext memory context, uint256 overheadGas) private pure returns (uint256) {
        uint256 gasPrice = context.gasPrice;
        // Unchecked: a gas price below 2^64 (`_priceTasks` caps it) times a gas count, plus at most MAX_PREMIUM.
        unchecked {
            return (gasPrice << 128) | (overheadGas * gasPrice + context.premium);
        }
    }

    /// @dev `jobManager.runTask(jobId, specHash, sequence, mode, target, callData, gasLimit, pricing)`, encoded by
    /// hand in scratch memory (the task's hot path; Solidity's encoder copies and allocates). Target and
    /// gas limit are read at the spec's canonical offsets: the spec's hash is the signed one, so the bytes are the
    /// canonical encoding of a spec (or of nothing the job manager knows, which then does nothing with them). A
    /// revert of the job manager (a gas shortfall for the target) is passed on.
    function _callRunTask(TaskInput calldata task, bytes32 specHash, TaskMode mode, uint256 pricing)
        private
        returns (TaskOutcome outcome, bool success, uint256 gasUsed, uint256 fee)
    {
        JobSpec calldata spec = _specOf(task);
        bytes calldata callData = task.callData;
        // Nothing to send unless the call is made.
        if (mode != TaskMode.Perform) callData = callData[:0];
        address manager = address(jobManager);
        bytes4 selector = IJobManager.runTask.selector;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, selector)
            // jobId and sequence: the task's first two words (the sequence was checked to fit uint64 when the
            // leaves were computed).
            mstore(add(ptr, 0x04), calldataload(task))
            mstore(add(ptr, 0x24), specHash)
            mstore(add(ptr, 0x44), calldataload(add(task, 0x20)))
            mstore(add(ptr, 0x64), mode)
            // target and gasLimit at their canonical offsets (JobSpecHash.FIELD_ACTION_TARGET, FIELD_GAS_LIMIT).
            mstore(add(ptr, 0x84), and(calldataload(add(spec, 0x1c0)), 0xffffffffffffffffffffffffffffffffffffffff))
            // The data's offset: after the 8 head words.
            mstore(add(ptr, 0xa4), 0x100)
            mstore(add(ptr, 0xc4), and(calldataload(add(spec, 0x140)), 0xffffffff))
            mstore(add(ptr, 0xe4), pricing)
            mstore(add(ptr, 0x104), callData.length)
            calldatacopy(add(ptr, 0x124), callData.offset, callData.length)
            mstore(add(add(ptr, 0x124), callData.length), 0)
            if iszero(call(gas(), manager, 0, ptr, add(0x124, and(add(callData.length, 31), not(31))), ptr, 0x80)) {
                returndatacopy(ptr, 0, returndatasize())
                revert(ptr, returndatasize())
            }
            // The job manager is ours and returns four words; anything shorter is refused.
            if lt(returndatasize(), 0x80) { revert(0, 0) }
            outcome := mload(ptr)
            success := mload(add(ptr, 0x20))
            gasUsed := mload(add(ptr, 0x40))
            fee := mload(add(ptr, 0x60))
        }
        // The job manager is ours: an outcome or flag out of range cannot come back; refuse it if it does.
        if (uint8(outcome) > uint8(TaskOutcome.Done)) revert();
    }

    /// @dev `emit TaskPerformed(...)`, written directly: the one event of every performed task.
    /// The task's jobId and sequence are its first two words (checked when its leaf was computed).
    function _emitTaskPerformed(TaskInput calldata task, bytes32 digest, bool success, uint256 gasUsed, uint256 fee)
        private
    {
        bytes32 topic = TaskPerformed.selector;
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, success)
            mstore(add(ptr, 0x20), gasUsed)
            mstore(add(ptr, 0x40), fee)
            log4(ptr, 0x60, topic, calldataload(task), calldataload(add(task, 0x20)), digest)
        }
    }

    /// @dev `task.spec`, located without the decoder's checks, which `_leaves` already made (through `task.spec`).
    function _specOf(TaskInput calldata task) private pure returns (JobSpec calldata spec) {
        assembly ("memory-safe") {
            spec := add(task, calldataload(add(task, 0x40)))
        }
    }

    /// @dev `task.execute`, read without the decoder's checks, which `_leafOf` already made.
    function _executes(TaskInput calldata task) private pure returns (bool execute) {
        assembly ("memory-safe") {
            execute := calldataload(add(task, 0x60))
        }
    }

    /// @dev Emits why a task was skipped, from the spec's own reason and the job manager's outcome, in the order
    /// of `_runTask`; a slashable reason keeps the leaf.
    function _skip(
        TaskInput calldata task,
        bytes32 specHash,
        bytes32 digest,
        SkipReason own,
        TaskOutcome outcome,
        BatchContext memory context
    ) private {
        SkipReason reason;
        if (own == SkipReason.NotDue || own == SkipReason.InvalidCallData) {
            reason = own;
            if (context.invalidLeaf == bytes32(0)) context.invalidLeaf = _leafOf(task, specHash);
        } else if (outcome == TaskOutcome.SpecMismatch) {
            reason = SkipReason.SpecMismatch;
        } else if (outcome == TaskOutcome.JobNotActive) {
            reason = SkipReason.JobNotActive;
        } else if (own == SkipReason.Expired) {
            reason = SkipReason.Expired;
        } else if (outcome == TaskOutcome.AlreadyPerformed) {
            reason = SkipReason.AlreadyPerformed;
        } else {
            reason = SkipReason.Unfunded;
        }
        emit TaskSkipped(task.jobId, task.sequence, digest, reason);
    }

    /// @dev Why the spec given says the task must be skipped: `NotDue`, `InvalidCallData` or `Expired`, in that
    /// order; `SpecMismatch` stands for "no reason". Fields are read at the spec's canonical offsets and masked to
    /// their types: for a spec that is not canonical the answer is meaningless, and ignored, since the job manager
    /// then reports a mismatch.
    /// Due, ignoring expiry: an interval task's time has come by now (the reference block's time is not known on
    /// chain, and it is at most now); a block task's block is at most the reference block; an event task's log is
    /// in a block from the trigger's start to the reference block. Each "no" proves the signers wrong. The largest
    /// uint64 is never due (its due time or log block is past any real one). Expiry is not an offence: the owner may
    /// move it. (An interval task due after the expiry needs no check of its own: it is due, so its due time is at
    /// most now.)
    /// A Call job always sends its static data; a Chainlink-style job either does nothing or calls `performUpkeep`.
    /// Gelato-style and script jobs may send anything the keepers computed.
    /// @dev Assembly: it runs for every task. The task's own fields were checked by the ABI decoder's rules when
    /// its leaf was computed (`_leafOf`); the spec's are read at the canonical offsets (`JobSpecHash.FIELD_*`:
    /// trigger kind 0x00, start 0x20, period 0x40, expiry 0x180, action kind 0x1a0, data length 0x260, data 0x280).
    function _ownSkipReason(TaskInput calldata task, JobSpec calldata spec, uint32 referenceBlock)
        private
        view
        returns (SkipReason)
    {
        bytes4 performUpkeep = PERFORM_UPKEEP_SELECTOR;
        uint256 reason;
        assembly ("memory-safe") {
            let sequence := calldataload(add(task, 0x20))
            let kind := calldataload(spec)
            let start := and(calldataload(add(spec, 0x20)), 0xffffffffffffffff)
            let notDue
            switch kind
            // Event: the log's block (the sequence's top 40 bits) is in [start, reference block].
            case 2 {
                let logBlock := shr(24, sequence)
                notDue := or(lt(logBlock, start), gt(logBlock, referenceBlock))
            }
            // Interval (0): start + sequence * period is at most now; block (1): at most the reference block.
            default {
                let due := add(start, mul(sequence, and(calldataload(add(spec, 0x40)), 0xffffffffffffffff)))
                let now_ := referenceBlock
                if iszero(kind) { now_ := timestamp() }
                notDue := gt(due, now_)
            }
            switch notDue
            case 1 { reason := 5 } // SkipReason.NotDue
            default {
                let execute := calldataload(add(task, 0x60))
                let data := add(task, calldataload(add(task, 0x80)))
                let length := calldataload(data)
                let valid := 1
                switch calldataload(add(spec, 0x1a0))
                // Call: execute, with exactly the spec's data.
                case 0 {
                    valid := 0
                    if and(execute, eq(length, calldataload(add(spec, 0x260)))) {
                        let ptr := mload(0x40)
                        calldatacopy(ptr, add(spec, 0x280), length)
                        let expected := keccak256(ptr, length)
                        calldatacopy(ptr, add(data, 0x20), length)
                        valid := eq(expected, keccak256(ptr, length))
                    }
                }
                // ChainlinkUpkeep: nothing, or performUpkeep(bytes).
                case 1 {
                    if execute {
                        valid := and(
                            gt(length, 3),
                            eq(shr(224, calldataload(add(data, 0x20))), shr(224, performUpkeep))
                        )
                    }
                }
                switch valid
                case 0 { reason := 6 } // SkipReason.InvalidCallData
                default {
                    let expiry := and(calldataload(add(spec, 0x180)), 0xffffffffff)
                    if and(gt(expiry, 0), gt(timestamp(), expiry)) { reason := 2 } // SkipReason.Expired
                }
            }
        }
        return SkipReason(reason);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Internals: rewards and challenges
    // ---------------------------------------------------------------------------------------------------------

    function _signerShare(BatchClaim calldata claim, bytes32 ownPubkeyHash) private view returns (uint256) {
        return _signerShareOf(msg.sender, claim, ownPubkeyHash);
    }

    /// @dev `claimant`'s share of a batch's signer reward; zero if it did not sign it.
    function _signerShareOf(address claimant, BatchClaim calldata claim, bytes32 ownPubkeyHash)
        private
        view
        returns (uint256)
    {
        BatchRecord calldata record = claim.record;
        uint256 weight = registry.getOperatorWeightAtBlock(claimant, record.referenceBlockNumber);
        if (weight == 0) return 0;
        if (keccak256(abi.encodePacked(claim.nonSignerPubkeyHashes)) != record.nonSignersHash) {
            revert NonSignersMismatch(claim.digest);
        }
        if (_contains(claim.nonSignerPubkeyHashes, ownPubkeyHash)) return 0;
        return uint256(record.signerReward) * weight / record.signedWeight;
    }

    /// @dev Whether `operator` signed a batch with reference block `referenceBlock` and these non-signers.
    function _signed(address operator, uint32 referenceBlock, bytes32[] calldata nonSignerPubkeyHashes)
        private
        view
        returns (bool)
    {
        bytes32 pubkeyHash = registry.pubkeyHashOf(operator);
        if (pubkeyHash == bytes32(0)) return false;
        if (registry.getOperatorWeightAtBlock(operator, referenceBlock) == 0) return false;
        return !_contains(nonSignerPubkeyHashes, pubkeyHash);
    }

    function _contains(bytes32[] calldata list, bytes32 value) private pure returns (bool) {
        for (uint256 i; i < list.length; ++i) {
            if (list[i] == value) return true;
        }
        return false;
    }

    /// @dev Folds the batch root from `leaf` and the signed leaf's proof, and checks the operator's own signature over
    /// the batch digest. Returns the digest.
    function _checkSignedLeaf(
        address operator,
        BLS12381.G1Point memory pubkey,
        bytes32 leaf,
        SignedLeaf calldata signed
    ) private view returns (bytes32 digest) {
        bytes32 node = leaf;
        for (uint256 i; i < signed.proof.length; ++i) {
            node = BatchDigest.hashPair(node, signed.proof[i]);
        }
        digest = BatchDigest.taskBatchDigest(
            _domainSeparator(), signed.header.referenceBlockNumber, signed.header.referenceBlockHash, node
        );
        bool valid = BLS12381.verify(
            pubkey, BLS12381.g2FromCalldata(signed.signatureG2), abi.encode(digest), BatchDigest.BATCH_DST
        );
        if (!valid) revert InvalidOperatorSignature(operator, digest);
    }

    /// @dev `emit EquivocationProven(...)`, in a frame of its own (the challenge's stack is full).
    function _emitEquivocation(
        address operator,
        uint256 jobId,
        uint64 sequence,
        bytes32 specHash,
        bytes32 digestA,
        bytes32 digestB,
        bytes32 responseA,
        bytes32 responseB
    ) private {
        emit EquivocationProven(
            operator,
            jobId,
            sequence,
            specHash,
            digestA,
            digestB,
            responseA,
            responseB,
            EQUIVOCATION_SLASH_WAD,
            msg.sender
        );
    }

    function _equivocationId(uint256 jobId, uint64 sequence, bytes32 specHash) private pure returns (bytes32) {
        return keccak256(abi.encode(EQUIVOCATION_TAG, jobId, sequence, specHash));
    }

    // ---------------------------------------------------------------------------------------------------------
    // Internals: settings
    // ---------------------------------------------------------------------------------------------------------

    function _domainSeparator() private view returns (bytes32) {
        if (block.chainid == _cachedChainId) return _cachedDomainSeparator;
        return BatchDigest.domainSeparator(block.chainid, address(this));
    }

    /// @dev Reverts unless weight age + reference age + challenge window fit the registry's slashable horizon (read
    /// from chain now): then every weight that signs an accepted batch stays slashable through its deadline.
    function _checkHorizon() private view {
        Config memory config = _config;
        uint256 used = uint256(config.maxWeightAge) + config.maxReferenceAge + config.challengeWindowBlocks;
        uint256 horizon = registry.slashableHorizon();
        if (used > horizon) revert ExceedsSlashableHorizon(used, horizon);
    }

    function _setQuorumBps(uint16 quorumBps_) private {
        if (quorumBps_ < MIN_QUORUM_BPS || quorumBps_ > MAX_QUORUM_BPS) revert InvalidQuorumBps(quorumBps_);
        emit QuorumBpsSet(_config.quorumBps, quorumBps_);
        _config.quorumBps = quorumBps_;
    }

    function _setMaxReferenceAge(uint16 maxReferenceAge_) private {
        if (maxReferenceAge_ == 0 || maxReferenceAge_ > MAX_REFERENCE_AGE) {
            revert InvalidMaxReferenceAge(maxReferenceAge_);
        }
        emit MaxReferenceAgeSet(_config.maxReferenceAge, maxReferenceAge_);
        _config.maxReferenceAge = maxReferenceAge_;
    }

    function _setChallengeWindow(uint32 window) private {
        if (window < MIN_CHALLENGE_WINDOW || window > MAX_CHALLENGE_WINDOW) revert InvalidChallengeWindow(window);
        emit ChallengeWindowSet(_config.challengeWindowBlocks, window);
        // casting to 'uint24' is safe because MAX_CHALLENGE_WINDOW fits
        // forge-lint: disable-next-line(unsafe-typecast)
        _config.challengeWindowBlocks = uint24(window);
    }

    function _setMaxWeightAge(uint32 age) private {
        if (age == 0 || age > MAX_WEIGHT_AGE) revert InvalidMaxWeightAge(age);
        emit MaxWeightAgeSet(_config.maxWeightAge, age);
        // casting to 'uint24' is safe because MAX_WEIGHT_AGE fits
        // forge-lint: disable-next-line(unsafe-typecast)
        _config.maxWeightAge = uint24(age);
    }

    function _setMaxPriorityFee(uint256 fee) private {
        if (fee > MAX_PRIORITY_FEE || fee % PRIORITY_FEE_UNIT != 0) revert InvalidMaxPriorityFee(fee);
        emit MaxPriorityFeeSet(uint256(_config.maxPriorityFeeUnits) * PRIORITY_FEE_UNIT, fee);
        // casting to 'uint24' is safe because MAX_PRIORITY_FEE / PRIORITY_FEE_UNIT fits
        // forge-lint: disable-next-line(unsafe-typecast)
        _config.maxPriorityFeeUnits = uint24(fee / PRIORITY_FEE_UNIT);
    }

    function _setMinGasPrice(uint256 price) private {
        if (price < MIN_GAS_PRICE_LOW || price > MIN_GAS_PRICE_HIGH) revert InvalidMinGasPrice(price);
        emit MinGasPriceSet(minGasPrice, price);
        // casting to 'uint96' is safe because MIN_GAS_PRICE_HIGH fits
        // forge-lint: disable-next-line(unsafe-typecast)
        minGasPrice = uint96(price);
    }

    function _setGuardian(address guardian_) private {
        emit GuardianSet(guardian, guardian_);
        guardian = guardian_;
    }

    function _min(uint256 a, uint256 b) private pure returns (uint256) {
        return a < b ? a : b;
    }
}
