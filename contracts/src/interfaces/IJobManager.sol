// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

/// @notice Where a job is in its life. `None` is the default of a job id that was never created.
enum JobStatus {
    None,
    Active,
    Paused,
    Cancelled
}

/// @notice What makes a task of a job due.
enum TriggerKind {
    /// Every `period` seconds from the unix time `start`: task `sequence` is due at `start + sequence * period`.
    Interval,
    /// Every `period` blocks from block `start`: task `sequence` is due at block `start + sequence * period`.
    Block,
    /// Once per log of `emitter` matching the topic filter, from block `start` on; the task's sequence names the
    /// log (see `JobSchedule.eventSequence`).
    Event
}

/// @notice What a task of a job does.
enum ActionKind {
    /// Send `data` to `target`.
    Call,
    /// Chainlink-style: keepers simulate `target.checkUpkeep(data)` off chain from the zero address; if it returns
    /// `(true, performData)`, `target.performUpkeep(performData)` is called.
    ChainlinkUpkeep,
    /// Gelato-style: keepers call `resolver` with `data` (selector and arguments) off chain; if it returns
    /// `(true, execPayload)`, `execPayload` is sent to `target` as calldata.
    GelatoResolver,
    /// Off-chain code: keepers fetch `codeUrl`, check it against `codeHash`, run it with `data` as arguments, and the
    /// calldata it returns is sent to `target`.
    Script
}

/// @notice When a job's tasks are due. Fields a kind does not use must be zero.
struct Trigger {
    TriggerKind kind;
    /// Interval: unix time of sequence 0. Block: block number of sequence 0. Event: first block whose logs count.
    uint64 start;
    /// Interval: seconds between tasks. Block: blocks between tasks. Event: 0.
    uint64 period;
    /// Event: the contract whose logs trigger the job.
    address emitter;
    /// Event: bit i set means topics[i] must equal the log's topic i. Bit 0 (topic0) is required.
    uint8 topicMask;
    /// Event: the topic values; an entry whose mask bit is clear must be zero.
    bytes32[4] topics;
}

/// @notice What a job's task does. Fields a kind does not use must be zero or empty.
struct Action {
    ActionKind kind;
    /// The contract the job's forwarder calls (every kind).
    address target;
    /// Call: the calldata. ChainlinkUpkeep: `checkData`. GelatoResolver: the resolver calldata (selector and
    /// arguments). Script: the script's arguments.
    bytes data;
    /// GelatoResolver: the resolver contract.
    address resolver;
    /// Script: where the code is fetched from.
    string codeUrl;
    /// Script: keccak256 of the code.
    bytes32 codeHash;
}

/// @notice Everything a job's owner sets. Its hash, `keccak256(abi.encode(spec))`, is what the job manager stores.
struct JobSpec {
    Trigger trigger;
    Action action;
    /// The gas the target gets per execution.
    uint32 gasLimit;
    /// The most one execution may charge, in wei. At least `ITaskManager.minJobFee(gasLimit)` when the job is
    /// created or updated: the gas limit and a whole batch's fixed cost at the task manager's floor gas price.
    uint80 maxFee;
    /// Unix time after which no task is due; 0 = never.
    uint40 expiry;
}

/// @notice The per-job state a task reads and writes: one storage slot (96 + 80 + 64 + 8 + 8 bits).
struct JobState {
    /// Escrowed fees in wei.
    uint96 balance;
    /// The spec's `maxFee`, kept here so that charging reads no other slot.
    uint80 maxFee;
    /// Exactly-once watermark of interval and block jobs: every task below it was performed, consumed or skipped
    /// over for good (a later task supersedes an earlier one). Always 0 for event jobs.
    uint64 nextSequence;
    JobStatus status;
    /// Event jobs: each task (one per log) completes on its own, in any order, and is marked in `isTaskDone`; the
    /// watermark is not used. Fixed at creation (the trigger never changes).
    bool unordered;
}

/// @notice What `runTask` is asked to do with a task whose spec hash the task manager computed.
enum TaskMode {
    /// Only report whether the spec is the job's current one and the job is active (for a task the task manager
    /// will skip for a reason of its own: not due, impossible call data, expired). Writes nothing.
    Check,
    /// Consume the task without a call or a charge ("checked, nothing to do"): advance the watermark past it.
    Consume,
    /// Call the target through the job's forwarder, charge the job, and advance the watermark past the task.
    Perform
}

/// @notice What `runTask` did.
enum TaskOutcome {
    /// The spec hash is not the current spec's of the job (or the job does not exist). Nothing done.
    SpecMismatch,
    /// The job is paused or cancelled. Nothing done.
    JobNotActive,
    /// The task (or, for an interval or block job, a later one) was already performed or consumed (or the sequence is
    /// the largest uint64).
    AlreadyPerformed,
    /// The escrow cannot pay the most this task may be charged, or it is empty. Nothing done.
    Unfunded,
    /// Done as asked (for `Check`: the spec is current and the job active).
    Done
}

/// @notice Which spec field `InvalidSpec` is about.
enum SpecField {
    TriggerPeriod,
    TriggerEmitter,
    TriggerTopics,
    ActionTarget,
    ActionData,
    ActionResolver,
    ActionCodeUrl,
    ActionCodeHash,
    GasLimit,
    MaxFee,
    Expiry
}

/// @notice What is wrong with the field named by `InvalidSpec`.
enum SpecFault {
    /// Required by the kind but zero or empty.
    Missing,
    /// Must be zero or empty for the kind.
    NotAllowed,
    /// Below the lower bound (for expiry: not in the future, or before an interval job's start; for the max fee:
    /// below `ITaskManager.minJobFee(gasLimit)`).
    TooSmall,
    /// Above the upper bound (for bytes and strings: too long).
    TooLarge,
    /// Inconsistent (topic mask bits out of range, or a topic set whose mask bit is clear).
    Malformed
}

/// @title IJobManager
/// @notice Keeper jobs: their specs, escrowed fees in the native token, and one forwarder contract per job through
/// which every target call of the job is made.
/// @dev For the task manager, the spec is not stored field by field: the job manager keeps `specHash =
/// keccak256(abi.encode(spec))`, and the task manager receives the spec in calldata, hashes it and hands the hash
/// to `runTask`. A job's hot state (`JobState`) is stored under the pair (job id, current spec hash), so a task
/// reads one storage slot to learn both that its spec is current and the job's state, and writes that slot once.
/// Every spec is in the `JobCreated` and `JobUpdated` events.
interface IJobManager {
    // ---------------------------------------------------------------------------------------------------------
    // Events
    // ---------------------------------------------------------------------------------------------------------

    /// @notice A job was created with `deposit` wei of escrow; `forwarder` is the only sender of its calls.
    event JobCreated(
        uint256 indexed jobId, address indexed owner, address forwarder, bytes32 specHash, uint256 deposit, JobSpec spec
    );
    /// @notice The owner replaced a job's spec (the trigger stays).
    event JobUpdated(uint256 indexed jobId, bytes32 specHash, JobSpec spec);
    /// @notice The owner paused a job: no task of it may run until it is resumed.
    event JobPaused(uint256 indexed jobId);
    /// @notice The owner resumed a paused job.
    event JobResumed(uint256 indexed jobId);
    /// @notice The owner cancelled a job and received `refund` wei, the escrow left.
    event JobCancelled(uint256 indexed jobId, address indexed owner, uint256 refund);
    /// @notice `from` added `amount` wei to a job's escrow, which now holds `balance`.
    event JobToppedUp(uint256 indexed jobId, address indexed from, uint256 amount, uint256 balance);
    /// @notice The task manager withdrew `amount` wei of charged fees to `to`.
    event FeesWithdrawn(address indexed to, uint256 amount);

    // ---------------------------------------------------------------------------------------------------------
    // Errors
    // ---------------------------------------------------------------------------------------------------------

    /// @notice A spec field is invalid for the reason given.
    error InvalidSpec(SpecField field, SpecFault fault);
    /// @notice `updateJob` tried to change the trigger, which is fixed at creation.
    error TriggerImmutable(uint256 jobId);
    /// @notice No job has this id.
    error JobNotFound(uint256 jobId);
    /// @notice The job's status does not allow the operation.
    error InvalidJobStatus(uint256 jobId, JobStatus status);
    /// @notice The caller is not the job's owner.
    error NotJobOwner(uint256 jobId, address caller);
    /// @notice The caller is not the task manager.
    error NotTaskManager(address caller);
    /// @notice The zero address was given where an account is needed.
    error InputAddressZero();
    /// @notice A top-up of 0 wei.
    error ZeroDeposit();
    /// @notice The escrow would exceed 2^96 - 1 wei.
    error BalanceOverflow(uint256 jobId, uint256 balance);
    /// @notice `withdrawFees` asked for more than was charged and not withdrawn.
    error InsufficientFees(uint256 requested, uint256 available);
    /// @notice A native-token transfer failed.
    error TransferFailed(address to, uint256 amount);

    // ---------------------------------------------------------------------------------------------------------
    // Job owners
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Creates a job owned by the caller, escrows `msg.value`, and deploys the job's forwarder.
    /// @param spec The job's spec; see `InvalidSpec` for the rules.
    /// @return jobId The new job's id (ids start at 1).
    function createJob(JobSpec calldata spec) external payable returns (uint256 jobId);

    /// @notice Replaces an active or paused job's spec. The trigger must be the one the job was created with.
    /// @dev Only the job's owner.
    /// @param jobId The job.
    /// @param spec The new spec.
    function updateJob(uint256 jobId, JobSpec calldata spec) external;

    /// @notice Pauses an active job.
    /// @dev Only the job's owner.
    /// @param jobId The job.
    function pauseJob(uint256 jobId) external;

    /// @notice Resumes a paused job.
    /// @dev Only the job's owner.
    /// @param jobId The job.
    function resumeJob(uint256 jobId) external;

    /// @notice Cancels an active or paused job for good and refunds its escrow to the owner.
    /// @dev Only the job's owner.
    /// @param jobId The job.
    /// @return refund The wei sent to the owner.
    function cancelJob(uint256 jobId) external returns (uint256 refund);

    /// @notice Adds `msg.value` to an active or paused job's escrow. Anyone may top up any job.
    /// @param jobId The job.
    function topUp(uint256 jobId) external payable;

    // ---------------------------------------------------------------------------------------------------------
    // Task manager
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Runs task `sequence` of job `jobId` as `mode` asks, if `specHash` is the hash of the job's current
    /// spec and the job is active. `Perform` calls `target` with `data` and exactly `gasLimit` gas from the job's
    /// forwarder, then moves min(gasUsed * gasPrice + overheadFee, maxFee, balance) of the job's escrow to the fee
    /// pool. `Perform` and `Consume` complete the task: an interval or block job's `nextSequence` becomes
    /// `sequence + 1` (tasks skipped over can never run), an event job's task is marked done on its own. Emits
    /// nothing (the task manager's events carry the outcome and the fee).
    /// @dev Only the task manager. Checks, in order: spec, status, (for `Check`, stop here) completion, (for
    /// `Perform`) funds: min(maxFee, gasLimit * gasPrice + overheadFee) must not exceed a non-zero balance. Never
    /// reverts because of the target: a failing target gives `success = false` and is charged. Reverts
    /// (`JobForwarder.InsufficientGas`) if too little gas is left to give the target `gasLimit`. Owner operations on
    /// jobs revert while the call is in flight.
    /// @param jobId The job.
    /// @param specHash keccak256(abi.encode(spec)) of the spec the task was signed under.
    /// @param sequence The task's sequence.
    /// @param mode What to do.
    /// @param target The contract to call (`Perform`).
    /// @param data The calldata (`Perform`).
    /// @param gasLimit The gas the target gets (`Perform`).
    /// @param pricing `gasPrice << 128 | overheadFee` (`Perform`), both below 2^128: the wei per gas the call is
    /// charged at (the task manager's capped price) and the wei charged on top of the call's gas (the task's share of
    /// the batch's cost and the premium). One word, so that the call's frame stays within the stack.
    /// @return outcome What was done, or why nothing was.
    /// @return success Whether the target returned without reverting (`Perform` done).
    /// @return gasUsed The gas the call took: target execution and the call itself (`Perform` done).
    /// @return charged The wei moved to the fee pool (`Perform` done).
    function runTask(
        uint256 jobId,
        bytes32 specHash,
        uint64 sequence,
        TaskMode mode,
        address target,
        bytes calldata data,
        uint256 gasLimit,
        uint256 pricing
    ) external returns (TaskOutcome outcome, bool success, uint256 gasUsed, uint256 charged);

    /// @notice Sends `amount` wei of charged fees to `to`.
    /// @dev Only the task manager.
    /// @param to The recipient.
    /// @param amount The wei.
    function withdrawFees(address to, uint256 amount) external;

    // ---------------------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------------------

    /// @notice A job's hot state.
    /// @param jobId The job.
    /// @return The state (all zero for an unknown id).
    function jobState(uint256 jobId) external view returns (JobState memory);

    /// @notice A job's owner.
    /// @param jobId The job.
    /// @return The owner (zero for an unknown id).
    function jobOwner(uint256 jobId) external view returns (address);

    /// @notice Whether an event job's task `sequence` was performed or consumed (an unknown job's: false).
    /// @param jobId The job.
    /// @param sequence The task.
    /// @return True if done.
    function isTaskDone(uint256 jobId, uint64 sequence) external view returns (bool);

    /// @notice keccak256(abi.encode(spec)) of a job's current spec.
    /// @param jobId The job.
    /// @return The hash (zero for an unknown id).
    function specHashOf(uint256 jobId) external view returns (bytes32);

    /// @notice Whether `spec` is a job's current spec.
    /// @param jobId The job.
    /// @param spec The spec to check.
    /// @return True if its hash is the stored one.
    function isCurrentSpec(uint256 jobId, JobSpec calldata spec) external view returns (bool);

    /// @notice The address of a job's forwarder: CREATE2 by this contract with salt `bytes32(jobId)` and the
    /// forwarder's creation code. Deterministic for ids not yet created too.
    /// @param jobId The job.
    /// @return The forwarder's address.
    function forwarderOf(uint256 jobId) external view returns (address);

    /// @notice The task manager: the contract that created this one, and the only caller of `runTask` and
    /// `withdrawFees`.
    /// @return The task manager.
    function taskManager() external view returns (address);

    /// @notice Fees charged and not yet withdrawn, in wei.
    /// @return The fee pool.
    function accruedFees() external view returns (uint256);

    /// @notice The sum of all jobs' escrow, in wei.
    /// @return The total escrow.
    function totalEscrow() external view returns (uint256);

    /// @notice The id the next job will get.
    /// @return The id.
    function nextJobId() external view returns (uint256);
}
