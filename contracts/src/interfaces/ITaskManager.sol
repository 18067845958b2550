// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {BLS12381} from "../libraries/BLS12381.sol";
import {JobSpec} from "./IJobManager.sol";

/// @notice The block a batch was computed against. Its hash is part of the signed digest and must still be the
/// chain's hash for that number when the batch is submitted (reorg guard).
struct BatchHeader {
    uint32 referenceBlockNumber;
    bytes32 referenceBlockHash;
}

/// @notice One task of a batch as submitted: which task, the job spec the keepers executed and the keepers' response.
/// The signed leaf is `leafHash(jobId, sequence, keccak256(abi.encode(spec)), keccak256(abi.encode(execute,
/// callData)))`, so the spec given must be the one signed; the task runs only if it is also the job's current spec.
struct TaskInput {
    uint256 jobId;
    uint64 sequence;
    JobSpec spec;
    /// False: the keepers checked the task and there is nothing to do (a condition was false).
    bool execute;
    /// Exactly what the job's forwarder sends to `spec.action.target` when `execute` is true.
    bytes callData;
}

/// @notice The operators of the set at the reference block whose signatures are not in the aggregate.
struct NonSigners {
    /// Their G1 keys, 128-byte EIP-2537 encodings as four words, in strictly ascending order of
    /// `keccak256(abi.encode(pubkey))` (the registry's pubkey hash), so that none is listed twice.
    BLS12381.G1Point[] pubkeys;
}

/// @notice What the task manager keeps of an accepted batch: only `keccak256(abi.encode(record))` is stored (one
/// slot, keyed by the batch digest); the record itself is in the `BatchResponded` event, and claims and challenges
/// supply it back.
struct BatchRecord {
    /// Position of the batch among all accepted batches, from 0; reward claims walk batches in this order.
    uint64 batchIndex;
    uint32 referenceBlockNumber;
    /// The last block in which `challengeInvalidResponse` accepts the batch: the block it was accepted in plus the
    /// challenge window in force then (a later change of the window does not move it).
    uint32 challengeDeadline;
    /// Who submitted the batch (paid the gas): it is reimbursed `submitterReward`.
    address submitter;
    /// Sum over performed tasks of min(charged, gasUsed * tx.gasprice): the target gas the submitter paid for.
    uint128 submitterReward;
    /// The rest of the fees charged (the premiums): split among the signers by their weight at the reference block.
    uint128 signerReward;
    /// Total weight at the reference block minus the non-signers' weight.
    uint256 signedWeight;
    /// Total weight of the set at the reference block.
    uint256 totalWeight;
    /// keccak256(abi.encodePacked(the non-signers' pubkey hashes, ascending)).
    bytes32 nonSignersHash;
    /// The leaf of the first task of the batch that was provably wrong to sign (not due at the reference block, or a
    /// response that cannot be right for the action of the spec in the leaf), or zero. Non-zero makes every signer
    /// slashable.
    bytes32 invalidLeaf;
}

/// @notice Why a signed task of a batch was not performed.
enum SkipReason {
    /// The spec the keepers signed is not the job's current spec (the owner updated it since), or the job does not
    /// exist. Not an offence.
    SpecMismatch,
    /// The job is paused or cancelled.
    JobNotActive,
    /// The job's expiry has passed, or the task's due time is after it.
    Expired,
    /// The task was already performed (or, for an interval or block job, a later one: exactly-once watermark).
    AlreadyPerformed,
    /// The escrow cannot pay the most this task may cost.
    Unfunded,
    /// Not due at the reference block by the signed spec's trigger (slashable: see `BatchRecord.invalidLeaf`).
    NotDue,
    /// The call data cannot be the response for the signed spec's action (slashable).
    InvalidCallData
}

/// @notice One side of an equivocation proof: a leaf of a batch that `operator` signed, with its own signature. The
/// leaf's task and spec hash are the challenge's own arguments.
struct SignedLeaf {
    BatchHeader header;
    /// The response this batch gives the task.
    bytes32 responseHash;
    /// Merkle proof of the leaf in the batch (siblings bottom-up); the batch root is folded from it.
    bytes32[] proof;
    /// The operator's own (not aggregated) G2 signature over the batch digest, 256-byte EIP-2537.
    bytes signatureG2;
}

/// @notice A batch whose rewards are claimed: its digest, its record, and (for a signer's share) its non-signers.
struct BatchClaim {
    bytes32 digest;
    BatchRecord record;
    /// The non-signers' pubkey hashes, ascending, as in `BatchResponded`; may be empty if the claimant has no key.
    bytes32[] nonSignerPubkeyHashes;
}

/// @title ITaskManager
/// @notice Accepts batches of task responses signed by the keeper set with one BLS aggregate signature, performs each
/// task once through its job's forwarder, charges the job's escrow, and accounts rewards for the signers and the
/// submitter. Signing a provably wrong response is slashable through challenges.
interface ITaskManager {
    // ---------------------------------------------------------------------------------------------------------
    // Events
    // ---------------------------------------------------------------------------------------------------------

    /// @notice A batch was accepted. Everything claims and challenges need is here: `record` (whose hash is stored
    /// under `digest`) and the non-signers' pubkey hashes.
    /// @param digest The signed batch digest (the batch id).
    /// @param root The batch's Merkle root.
    /// @param referenceBlockHash The reference block's hash.
    /// @param taskCount The number of tasks in the batch.
    /// @param nonSignerPubkeyHashes The non-signers' pubkey hashes, ascending.
    /// @param record The batch record.
    event BatchResponded(
        bytes32 indexed digest,
        bytes32 root,
        bytes32 referenceBlockHash,
        uint256 taskCount,
        bytes32[] nonSignerPubkeyHashes,
        BatchRecord record
    );
    /// @notice A task's call was made through the job's forwarder and the job charged.
    /// @param jobId The job.
    /// @param sequence The task.
    /// @param digest The batch.
    /// @param success Whether the target returned without reverting.
    /// @param gasUsed The gas the forwarded call took.
    /// @param fee The wei charged to the job's escrow.
    event TaskPerformed(
        uint256 indexed jobId,
        uint64 indexed sequence,
        bytes32 indexed digest,
        bool success,
        uint256 gasUsed,
        uint256 fee
    );
    /// @notice A task was signed with `execute = false`: nothing was called, the sequence is consumed, nothing
    /// charged.
    /// @param jobId The job.
    /// @param sequence The task.
    /// @param digest The batch.
    event TaskNotExecuted(uint256 indexed jobId, uint64 indexed sequence, bytes32 indexed digest);
    /// @notice A task of the batch was neither performed nor consumed.
    /// @param jobId The job.
    /// @param sequence The task.
    /// @param digest The batch.
    /// @param reason Why.
    event TaskSkipped(uint256 indexed jobId, uint64 indexed sequence, bytes32 indexed digest, SkipReason reason);
    /// @notice `claimant` took its rewards for batches `fromIndex`..`toIndex` (inclusive) and sent them to `to`.
    event RewardsClaimed(
        address indexed claimant, address indexed to, uint256 amount, uint64 fromIndex, uint64 toIndex
    );
    /// @notice The owner set the quorum.
    event QuorumBpsSet(uint16 previous, uint16 quorumBps);
    /// @notice The owner set the premium charged per performed task.
    event PremiumSet(uint96 previous, uint96 premium);
    /// @notice The owner set how old a reference block may be, in blocks.
    event MaxReferenceAgeSet(uint16 previous, uint16 maxReferenceAge);
    /// @notice The owner set the challenge window, in blocks (for batches accepted from now on).
    event ChallengeWindowSet(uint32 previous, uint32 challengeWindowBlocks);
    /// @notice The owner set how many blocks before a batch's reference block the set's weights must have been
    /// confirmed (`BlsKeyRegistry.updateAllWeights`).
    event MaxWeightAgeSet(uint32 previous, uint32 maxWeightAge);
    /// @notice The owner set the most priority fee per gas a task's charge reimburses above the block's base fee.
    event MaxPriorityFeeSet(uint256 previous, uint256 maxPriorityFee);
    /// @notice The owner set the gas price at which a job's `maxFee` must pay for its gas and a batch's fixed cost.
    event MinGasPriceSet(uint256 previous, uint256 minGasPrice);
    /// @notice The owner named the guardian (who may pause and resume batches).
    event GuardianSet(address indexed previous, address indexed guardian);
    /// @notice The guardian paused (`true`) or resumed (`false`) the acceptance of batches.
    event BatchesPaused(bool paused);
    /// @notice `operator` signed two responses for one task under one spec; it was slashed `wad` and ejected for
    /// good.
    event EquivocationProven(
        address indexed operator,
        uint256 indexed jobId,
        uint64 indexed sequence,
        bytes32 specHash,
        bytes32 digestA,
        bytes32 digestB,
        bytes32 responseA,
        bytes32 responseB,
        uint256 wad,
        address challenger
    );
    /// @notice `operator` signed batch `digest`, which held the provably wrong leaf `invalidLeaf`; it was slashed and
    /// ejected for good.
    event InvalidResponseProven(
        address indexed operator, bytes32 indexed digest, bytes32 invalidLeaf, uint256 wad, address challenger
    );

    // ---------------------------------------------------------------------------------------------------------
    // Errors
    // ---------------------------------------------------------------------------------------------------------

    /// @notice The zero address was given where an account is needed.
    error InputAddressZero();
    /// @notice A batch without tasks.
    error EmptyBatch();
    /// @notice The reference block is not on this chain with that hash (reorged, not yet mined, or older than 256).
    error UnknownReferenceBlock(uint32 referenceBlockNumber, bytes32 referenceBlockHash);
    /// @notice The reference block is more than `maxReferenceAge` blocks old.
    error ReferenceBlockTooOld(uint32 referenceBlockNumber, uint256 currentBlock, uint16 maxReferenceAge);
    /// @notice The set's weights in force at the reference block were last confirmed at `confirmedAt` (0: never),
    /// more than `maxWeightAge` blocks before it: they may count stake that is no longer slashable.
    error StaleWeights(uint32 referenceBlockNumber, uint32 confirmedAt, uint32 maxWeightAge);
    /// @notice The guardian paused the acceptance of batches.
    error Paused();
    /// @notice The caller is not the guardian.
    error NotGuardian(address caller);
    /// @notice A batch with this digest was already accepted.
    error BatchAlreadyResponded(bytes32 digest);
    /// @notice The non-signers' keys are not in strictly ascending pubkey-hash order (index of the first offender).
    error NonSignersNotSorted(uint256 index);
    /// @notice A non-signer key is not bound to any operator in the key registry.
    error UnknownNonSigner(bytes32 pubkeyHash);
    /// @notice The set had no weight at the reference block.
    error NoWeightAtReferenceBlock(uint32 referenceBlockNumber);
    /// @notice The signers' weight is below the quorum.
    error QuorumNotReached(uint256 signedWeight, uint256 totalWeight, uint16 quorumBps);
    /// @notice The aggregate signature does not verify against the signers' aggregate key and the batch digest.
    error InvalidSignature();
    /// @notice A quorum outside `MIN_QUORUM_BPS`..`MAX_QUORUM_BPS`.
    error InvalidQuorumBps(uint16 quorumBps);
    /// @notice A premium above `MAX_PREMIUM`.
    error InvalidPremium(uint96 premium);
    /// @notice A maximum reference age outside 1..`MAX_REFERENCE_AGE`.
    error InvalidMaxReferenceAge(uint16 maxReferenceAge);
    /// @notice A challenge window outside `MIN_CHALLENGE_WINDOW`..`MAX_CHALLENGE_WINDOW`.
    error InvalidChallengeWindow(uint32 challengeWindowBlocks);
    /// @notice A maximum weight age outside 1..`MAX_WEIGHT_AGE`.
    error InvalidMaxWeightAge(uint32 maxWeightAge);
    /// @notice A priority fee cap above `MAX_PRIORITY_FEE` or not a multiple of `PRIORITY_FEE_UNIT`.
    error InvalidMaxPriorityFee(uint256 maxPriorityFee);
    /// @notice A floor gas price outside `MIN_GAS_PRICE_LOW`..`MIN_GAS_PRICE_HIGH`.
    error InvalidMinGasPrice(uint256 minGasPrice);
    /// @notice Weight age + reference age + challenge window (`sum` blocks) exceed the blocks stake stays slashable
    /// after the registry reads it (`horizon`: EigenLayer's deallocation and withdrawal delays, read from chain).
    error ExceedsSlashableHorizon(uint256 sum, uint256 horizon);
    /// @notice The record given is not the one stored for the digest (or no batch has that digest).
    error BatchRecordMismatch(bytes32 digest);
    /// @notice The non-signer list given does not hash to the record's `nonSignersHash`.
    error NonSignersMismatch(bytes32 digest);
    /// @notice Claims must name batches in strictly ascending index order, from the claimant's cursor on.
    error ClaimOutOfOrder(uint64 batchIndex, uint64 nextClaimable);
    /// @notice The batch's challenge window has closed.
    error ChallengeWindowClosed(bytes32 digest, uint256 closedAfterBlock);
    /// @notice The batch holds no provably wrong leaf.
    error NoInvalidResponse(bytes32 digest);
    /// @notice The operator did not sign the batch (no weight at the reference block, or a non-signer).
    error NotASigner(address operator, bytes32 digest);
    /// @notice The two leaves give the task the same response: no equivocation.
    error SameResponse(bytes32 responseHash);
    /// @notice The operator has no key in the registry.
    error UnknownOperator(address operator);
    /// @notice The operator's signature does not verify over the batch digest folded from the leaf and proof.
    error InvalidOperatorSignature(address operator, bytes32 digest);

    // ---------------------------------------------------------------------------------------------------------
    // Batches
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Accepts a batch of task responses signed by a quorum of the keeper set and performs its tasks.
    /// @dev Reverts if the reference block is unknown or too old, the batch is empty or was accepted before, a
    /// non-signer is unknown or out of order, the quorum is not met or the signature is invalid. A task that cannot
    /// run is skipped with `TaskSkipped`; a failing target never reverts the batch.
    /// @param header The reference block.
    /// @param tasks The tasks, in leaf order.
    /// @param nonSigners The set's operators whose signatures are not aggregated.
    /// @param signatureG2 The aggregate signature over the batch digest, 256-byte EIP-2537 G2.
    /// @return digest The batch digest.
    function respondToBatch(
        BatchHeader calldata header,
        TaskInput[] calldata tasks,
        NonSigners calldata nonSigners,
        bytes calldata signatureG2
    ) external returns (bytes32 digest);

    // ---------------------------------------------------------------------------------------------------------
    // Rewards
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Pays the caller its rewards for the batches given: as submitter, the gas reimbursement; as a signer,
    /// its weight's share of the premiums. Batches must be in ascending index order from the caller's cursor;
    /// batches passed over can no longer be claimed by the caller.
    /// @param claims The batches, with their records and non-signer lists.
    /// @param to Where the rewards are sent.
    /// @return amount The wei sent.
    function claimRewards(BatchClaim[] calldata claims, address to) external returns (uint256 amount);

    // ---------------------------------------------------------------------------------------------------------
    // Challenges
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Proves that `operator` signed two leaves giving task (`jobId`, `sequence`) different responses under
    /// the same job spec (`specHash`), slashes it `EQUIVOCATION_SLASH_WAD` and ejects it for good. The batches need
    /// not have been submitted. Responses under different specs are not an offence (the owner may update a job
    /// between two batches). Each (task, spec) is one offence: an operator is slashed for it at most once.
    /// @param operator The operator.
    /// @param jobId The job.
    /// @param sequence The task.
    /// @param specHash The spec hash both leaves carry.
    /// @param a One signed leaf.
    /// @param b The other.
    function challengeEquivocation(
        address operator,
        uint256 jobId,
        uint64 sequence,
        bytes32 specHash,
        SignedLeaf calldata a,
        SignedLeaf calldata b
    ) external;

    /// @notice Slashes signers of an accepted batch that held a provably wrong leaf (`record.invalidLeaf`), up to
    /// the record's challenge deadline, and ejects them for good. The batch is the offence: each signer is slashed
    /// for it at most once.
    /// @param digest The batch.
    /// @param record Its record.
    /// @param nonSignerPubkeyHashes Its non-signers, as in `BatchResponded`.
    /// @param operators Signers to slash.
    function challengeInvalidResponse(
        bytes32 digest,
        BatchRecord calldata record,
        bytes32[] calldata nonSignerPubkeyHashes,
        address[] calldata operators
    ) external;

    // ---------------------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------------------

    /// @notice The digest keepers sign for a batch: EIP-712 `TaskBatch` with this contract as verifying contract.
    /// @param header The reference block.
    /// @param root The batch root.
    /// @return The digest.
    function batchDigest(BatchHeader calldata header, bytes32 root) external view returns (bytes32);

    /// @notice keccak256 of the record of the batch with this digest; zero if none was accepted.
    /// @param digest The batch digest.
    /// @return The record hash.
    function batchRecordHash(bytes32 digest) external view returns (bytes32);

    /// @notice The least `maxFee` a job whose target gets `gasLimit` may have: `(gasLimit + SOLO_BATCH_GAS) *
    /// minGasPrice`, the gas of a batch holding only its task, at the floor gas price. The job manager checks it when
    /// a job is created or updated.
    /// @param gasLimit The job's gas limit.
    /// @return The least max fee, in wei.
    function minJobFee(uint32 gasLimit) external view returns (uint256);

    /// @notice The first batch index `claimant` may still claim.
    /// @param claimant The account.
    /// @return The index.
    function nextClaimableBatch(address claimant) external view returns (uint64);

    /// @notice Every fee the job manager charged for this contract's batches (submitter and signer parts), in wei,
    /// counted as each batch ends: the job manager's fee pool is this minus what was withdrawn from it.
    /// @return The total.
    function totalCredited() external view returns (uint256);
}
