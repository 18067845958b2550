// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {
    IJobManager,
    JobSpec,
    JobState,
    JobStatus,
    Trigger,
    TriggerKind,
    Action,
    ActionKind,
    SpecField,
    SpecFault,
    TaskMode,
    TaskOutcome
} from "../interfaces/IJobManager.sol";
import {JobForwarder} from "./JobForwarder.sol";
import {ITaskManager} from "../interfaces/ITaskManager.sol";

/// @title JobManager
/// @notice Keeper jobs: create, update, pause, resume, cancel (with refund) and top up, each by the job's owner
/// (top-ups by anyone); fees escrowed in the native token; one `JobForwarder` per job, the only sender of the
/// job's target calls. The task manager runs each task with one call, `runTask` (check, perform, charge, mark done),
/// and withdraws charged fees from the pool.
/// @dev Storage per job: `JobState` (balance, max fee, exactly-once watermark, status, whether tasks complete one by
/// one) in one slot, keyed by the job id and the hash of the job's current spec; the owner, the spec hash and the
/// trigger hash in three more slots that a task never reads; for event jobs, a bitmap of completed tasks (one bit per
/// log, 256 sequences per word), keyed by the job id alone so that a spec update keeps it. The spec itself lives in calldata and events only: the task manager is given it in calldata
/// and hands its hash to `runTask`, which finds the job's state only under the current spec's hash. So one slot read
/// checks the spec and loads the state, and one write records the charge and the watermark.
/// The trigger is fixed at creation: changing it would renumber the job's tasks, and a sequence must always name
/// the same task (keepers sign it, and exactly-once is per sequence). To change a schedule, cancel and re-create.
/// The task manager creates this contract in its constructor and is its only privileged caller, fixed for good (an
/// immutable, so that `runTask` checks its caller without a storage read on every batch); there is no owner.
contract JobManager is IJobManager, ReentrancyGuardTransient {
    /// @notice Smallest gas limit a spec may give its target.
    uint32 public constant MIN_GAS_LIMIT = 21_000;
    /// @notice Largest gas limit a spec may give its target.
    uint32 public constant MAX_GAS_LIMIT = 5_000_000;
    /// @notice Longest `action.data` in bytes.
    uint256 public constant MAX_ACTION_DATA_LENGTH = 4_096;
    /// @notice Longest `action.codeUrl` in bytes.
    uint256 public constant MAX_CODE_URL_LENGTH = 512;

    /// @notice keccak256 of `JobForwarder`'s creation code: with this contract's address and the job id as salt,
    /// it fixes every forwarder's address.
    bytes32 public immutable forwarderInitCodeHash;

    /// @dev A job's cold storage, never read by a task.
    struct Job {
        address owner;
        bytes32 specHash;
        bytes32 triggerHash;
    }

    /// @dev The jobs by id.
    mapping(uint256 jobId => Job) private _jobs;

    /// @dev A job's hot state under its current spec hash; all zero (status `None`) under any other hash. An update
    /// that changes the spec moves the state to the new hash and clears the old entry.
    mapping(uint256 jobId => mapping(bytes32 specHash => JobState)) private _states;

    /// @dev Event jobs' completed tasks: bit `sequence & 0xff` of word `sequence >> 8` (the logs of one block with
    /// indices below 256 share a word). Event tasks are not ordered (anyone may submit any signed batch first), so
    /// each one is marked on its own instead of moving a watermark past the others.
    mapping(uint256 jobId => mapping(uint256 word => uint256 bits)) private _done;

    /// @inheritdoc IJobManager
    /// @dev The fee pool is not kept here: the task manager counts every fee charged (`totalCredited`, in the slot
    /// it writes once per batch anyway), and the pool is that minus `_withdrawn`, so a charge writes no slot here.
    address public immutable taskManager;

    /// @inheritdoc IJobManager
    uint256 public nextJobId = 1;

    /// @dev Deposits minus refunds, and fees withdrawn: with the task manager's count of fees charged they give the
    /// pool and the total escrow without a write per task.
    uint128 private _netDeposits;
    uint128 private _withdrawn;

    modifier onlyTaskManager() {
        if (msg.sender != taskManager) revert NotTaskManager(msg.sender);
        _;
    }

    /// @dev The deployer is the task manager (its constructor creates this contract).
    constructor() {
        taskManager = msg.sender;
        forwarderInitCodeHash = keccak256(type(JobForwarder).creationCode);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Job owners
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IJobManager
    function createJob(JobSpec calldata spec) external payable returns (uint256 jobId) {
        _validate(spec);
        jobId = nextJobId++;
        bytes32 specHash = keccak256(abi.encode(spec));
        uint96 deposit = _toBalance(jobId, msg.value);

        Job storage job = _jobs[jobId];
        _states[jobId][specHash] = JobState({
            balance: deposit,
            maxFee: spec.maxFee,
            nextSequence: 0,
            status: JobStatus.Active,
            unordered: spec.trigger.kind == TriggerKind.Event
        });
        job.owner = msg.sender;
        job.specHash = specHash;
        job.triggerHash = keccak256(abi.encode(spec.trigger));
        _netDeposits += deposit;

        // CREATE2 with salt = jobId: the address is `forwarderOf(jobId)`. Only this contract can deploy at it, and
        // each id is used once, so the deployment cannot collide.
        address forwarder = address(new JobForwarder{salt: bytes32(jobId)}());
        emit JobCreated(jobId, msg.sender, forwarder, specHash, deposit, spec);
    }

    /// @inheritdoc IJobManager
    function updateJob(uint256 jobId, JobSpec calldata spec) external nonReentrant {
        Job storage job = _ownedJob(jobId);
        bytes32 previousHash = job.specHash;
        JobState memory state = _states[jobId][previousHash];
        if (state.status == JobStatus.Cancelled) revert InvalidJobStatus(jobId, state.status);
        if (keccak256(abi.encode(spec.trigger)) != job.triggerHash) revert TriggerImmutable(jobId);
        _validate(spec);

        bytes32 specHash = keccak256(abi.encode(spec));
        state.maxFee = spec.maxFee;
        if (specHash != previousHash) {
            // A task signed under the previous spec now finds no state: a spec mismatch.
            delete _states[jobId][previousHash];
            job.specHash = specHash;
        }
        _states[jobId][specHash] = state;
        emit JobUpdated(jobId, specHash, spec);
    }

    /// @inheritdoc IJobManager
    function pauseJob(uint256 jobId) external nonReentrant {
        JobState storage state = _ownedState(jobId);
        JobStatus status = state.status;
        if (status != JobStatus.Active) revert InvalidJobStatus(jobId, status);
        state.status = JobStatus.Paused;
        emit JobPaused(jobId);
    }

    /// @inheritdoc IJobManager
    function resumeJob(uint256 jobId) external nonReentrant {
        JobState storage state = _ownedState(jobId);
        JobStatus status = state.status;
        if (status != JobStatus.Paused) revert InvalidJobStatus(jobId, status);
        state.status = JobStatus.Active;
        emit JobResumed(jobId);
    }

    /// @inheritdoc IJobManager
    function cancelJob(uint256 jobId) external nonReentrant returns (uint256 refund) {
        JobState storage slot = _ownedState(jobId);
        JobState memory state = slot;
        if (state.status == JobStatus.Cancelled) revert InvalidJobStatus(jobId, state.status);

        refund = state.balance;
        slot.balance = 0;
        slot.status = JobStatus.Cancelled;
        _netDeposits -= state.balance;
        emit JobCancelled(jobId, msg.sender, refund);

        if (refund != 0) _send(msg.sender, refund);
    }

    /// @inheritdoc IJobManager
    function topUp(uint256 jobId) external payable {
        if (msg.value == 0) revert ZeroDeposit();
        JobState storage state = _stateOf(jobId);
        JobStatus status = state.status;
        if (status == JobStatus.None) revert JobNotFound(jobId);
        if (status == JobStatus.Cancelled) revert InvalidJobStatus(jobId, status);

        uint96 balance = _toBalance(jobId, uint256(state.balance) + msg.value);
        state.balance = balance;
        // msg.value <= balance, checked to fit uint96 just above.
        // forge-lint: disable-next-line(unsafe-typecast)
        _netDeposits += uint128(msg.value);
        emit JobToppedUp(jobId, msg.sender, msg.value, balance);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Task manager
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IJobManager
    function runTask(
        uint256 jobId,
        bytes32 specHash,
        uint64 sequence,
        TaskMode mode,
        address target,
        bytes calldata data,
        uint256 gasLimit,
        uint256 pricing
    ) external onlyTaskManager returns (TaskOutcome, bool, uint256, uint256) {
        // No `nonReentrant` around all of it: only the task manager calls this, from its guarded `respondToBatch`,
        // so it is never re-entered. The one call it makes out, the target's, is guarded in `_perform`.
        // The one slot a task reads: a state exists only under the current spec's hash.
        JobState storage slot = _states[jobId][specHash];
        TaskOutcome outcome = _taskGate(jobId, _loadWord(slot), sequence, mode, _fee(gasLimit, pricing));
        if (outcome != TaskOutcome.Done || mode == TaskMode.Check) return (outcome, false, 0, 0);
        if (mode == TaskMode.Consume) return _consume(jobId, slot, sequence);
        return _perform(jobId, slot, sequence, target, data, gasLimit, pricing);
    }

    /// @inheritdoc IJobManager
    function withdrawFees(address to, uint256 amount) external onlyTaskManager nonReentrant {
        if (to == address(0)) revert InputAddressZero();
        uint256 available = _accruedFees();
        if (amount > available) revert InsufficientFees(amount, available);
        // amount <= the pool, part of the deposits, a uint128.
        // forge-lint: disable-next-line(unsafe-typecast)
        _withdrawn += uint128(amount);
        emit FeesWithdrawn(to, amount);
        _send(to, amount);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------------------------

    /// @inheritdoc IJobManager
    function jobState(uint256 jobId) external view returns (JobState memory) {
        return _stateOf(jobId);
    }

    /// @inheritdoc IJobManager
    function jobOwner(uint256 jobId) external view returns (address) {
        return _jobs[jobId].owner;
    }

    /// @inheritdoc IJobManager
    function isTaskDone(uint256 jobId, uint64 sequence) external view returns (bool) {
        return _isMarked(jobId, sequence);
    }

    /// @inheritdoc IJobManager
    function specHashOf(uint256 jobId) external view returns (bytes32) {
        return _jobs[jobId].specHash;
    }

    /// @inheritdoc IJobManager
    function isCurrentSpec(uint256 jobId, JobSpec calldata spec) external view returns (bool) {
        bytes32 stored = _jobs[jobId].specHash;
        return stored != bytes32(0) && keccak256(abi.encode(spec)) == stored;
    }

    /// @inheritdoc IJobManager
    function forwarderOf(uint256 jobId) external view returns (address) {
        return _forwarderOf(jobId);
    }

    /// @inheritdoc IJobManager
    function accruedFees() external view returns (uint256) {
        return _accruedFees();
    }

    /// @inheritdoc IJobManager
    function totalEscrow() external view returns (uint256) {
        // Every charge moved escrow into the pool, and every withdrawal took from the pool.
        return _netDeposits - _credited();
    }

    // ---------------------------------------------------------------------------------------------------------
    // Internals
    // ---------------------------------------------------------------------------------------------------------

    /// @dev Every fee charged so far, as the task manager counts them. Its count lags while a batch runs (it adds
    /// a batch's fees when the batch ends), so mid-batch the views overstate the escrow.
    function _credited() private view returns (uint256) {
        return ITaskManager(taskManager).totalCredited();
    }

    /// @dev The fee pool: charged and not withdrawn.
    function _accruedFees() private view returns (uint256) {
        return _credited() - _withdrawn;
    }

    /// @dev The job, after checking it exists and the caller owns it.
    function _ownedJob(uint256 jobId) private view returns (Job storage job) {
        job = _jobs[jobId];
        address owner_ = job.owner;
        if (owner_ == address(0)) revert JobNotFound(jobId);
        if (owner_ != msg.sender) revert NotJobOwner(jobId, msg.sender);
    }

    /// @dev The job's state, after checking it exists and the caller owns it.
    function _ownedState(uint256 jobId) private view returns (JobState storage) {
        return _states[jobId][_ownedJob(jobId).specHash];
    }

    /// @dev The job's state under its current spec (all zero for an unknown id).
    function _stateOf(uint256 jobId) private view returns (JobState storage) {
        return _states[jobId][_jobs[jobId].specHash];
    }

    /// @dev `JobState`'s packed layout in its slot: balance | maxFee << 96 | nextSequence << 176 | status << 240 |
    /// unordered << 248 (pinned by test_jobStateIsOneSlot). A task works on the word, with one load and one store.
    uint256 private constant BALANCE_MASK = (1 << 96) - 1;
    uint256 private constant MAX_FEE_SHIFT = 96;
    uint256 private constant SEQUENCE_SHIFT = 176;
    uint256 private constant STATUS_SHIFT = 240;
    uint256 private constant UNORDERED_SHIFT = 248;

    /// @dev Whether a task may run as `mode` asks: `Done` if so, else why not. The order is the interface's: spec,
    /// status, (for `Check`, nothing more) completion (the watermark, or an event task's own mark), (for `Perform`)
    /// funds: the escrow must be non-empty and hold the most the task may be charged, min(maxFee, `worst`).
    function _taskGate(uint256 jobId, uint256 word, uint64 sequence, TaskMode mode, uint256 worst)
        private
        view
        returns (TaskOutcome)
    {
        // casting to a narrower type is safe: it takes one field out of a packed word, as the layout above defines it
        // forge-lint: disable-next-line(unsafe-typecast)
        uint256 status = uint8(word >> STATUS_SHIFT);
        if (status == uint256(JobStatus.None)) return TaskOutcome.SpecMismatch;
        if (status != uint256(JobStatus.Active)) return TaskOutcome.JobNotActive;
        if (mode == TaskMode.Check) return TaskOutcome.Done;
        // The largest uint64 is refused so that the watermark never wraps (and for event jobs, alike).
        if (sequence == type(uint64).max) return TaskOutcome.AlreadyPerformed;
        if (word >> UNORDERED_SHIFT != 0) {
            if (_isMarked(jobId, sequence)) return TaskOutcome.AlreadyPerformed;
            // casting to a narrower type is safe: it takes one field out of a packed word, as the layout above defines it
            // forge-lint: disable-next-line(unsafe-typecast)
        } else if (sequence < uint64(word >> SEQUENCE_SHIFT)) {
            return TaskOutcome.AlreadyPerformed;
        }
        if (mode == TaskMode.Perform) {
            uint256 balance = word & BALANCE_MASK;
            // casting to a narrower type is safe: it takes one field out of a packed word, as the layout above defines it
            // forge-lint: disable-next-line(unsafe-typecast)
            uint256 maxFee = uint80(word >> MAX_FEE_SHIFT);
            if (worst > maxFee) worst = maxFee;
            if (balance == 0 || balance < worst) return TaskOutcome.Unfunded;
        }
        return TaskOutcome.Done;
    }

    /// @dev Whether an event job's task is marked done.
    function _isMarked(uint256 jobId, uint64 sequence) private view returns (bool) {
        return (_done[jobId][sequence >> 8] >> (sequence & 0xff)) & 1 != 0;
    }

    /// @dev The job's word with task `sequence` completed: an event task is marked in the bitmap (the word comes back
    /// unchanged), any other moves the watermark to `sequence + 1`.
    function _complete(uint256 jobId, uint256 word, uint64 sequence) private returns (uint256) {
        if (word >> UNORDERED_SHIFT != 0) {
            _done[jobId][sequence >> 8] |= uint256(1) << (sequence & 0xff);
            return word;
        }
        return (word & ~(uint256(type(uint64).max) << SEQUENCE_SHIFT)) | (uint256(sequence + 1) << SEQUENCE_SHIFT);
    }

    /// @dev `gas * gasPrice + overheadFee` for `pricing = gasPrice << 128 | overheadFee`.
    function _fee(uint256 gas, uint256 pricing) private pure returns (uint256) {
        // Unchecked: a gas count (at most the block's) times a price below 2^128, plus a part below 2^128.
        unchecked {
            // casting to a narrower type is safe: it takes one field out of a packed word, as the layout above defines it
            // forge-lint: disable-next-line(unsafe-typecast)
            return gas * (pricing >> 128) + uint128(pricing);
        }
    }

    /// @dev Calls the target through the job's forwarder, then charges the job gasUsed * gasPrice + overheadFee.
    /// While the target runs, this contract's reentrancy guard is entered, so that the job's owner operations (and
    /// the guarded entry points) cannot run from inside the call: an update moving the job's state to a new spec
    /// hash between the call and the charge would leave the charge writing the old entry back to life.
    /// The call is `JobForwarder.forward(target, data, gasLimit)`, encoded by hand in scratch memory (the task's hot
    /// path; Solidity's encoder allocates and copies). A revert of the forwarder (too little gas for the target) is
    /// passed on.
    function _perform(
        uint256 jobId,
        JobState storage slot,
        uint64 sequence,
        address target,
        bytes calldata data,
        uint256 gasLimit,
        uint256 pricing
    ) private returns (TaskOutcome, bool success, uint256 gasUsed, uint256 charged) {
        // A block of its own: its locals leave the stack before the charge.
        {
            address forwarder = _forwarderOf(jobId);
            bytes32 guard = _reentrancyGuardStorageSlot();
            bytes4 selector = JobForwarder.forward.selector;
            bytes4 reentrantCall = ReentrancyGuardReentrantCall.selector;
            assembly ("memory-safe") {
                // The guard, as `nonReentrant` sets it.
                if tload(guard) {
                    mstore(0x00, reentrantCall)
                    revert(0x00, 0x04)
                }
                tstore(guard, 1)
                let ptr := mload(0x40)
                mstore(ptr, selector)
                mstore(add(ptr, 0x04), target)
                // The data's offset: after the 3 head words.
                mstore(add(ptr, 0x24), 0x60)
                mstore(add(ptr, 0x44), gasLimit)
                mstore(add(ptr, 0x64), data.length)
                calldatacopy(add(ptr, 0x84), data.offset, data.length)
                mstore(add(add(ptr, 0x84), data.length), 0)
                if iszero(call(gas(), forwarder, 0, ptr, add(0x84, and(add(data.length, 31), not(31))), ptr, 0x40)) {
                    returndatacopy(ptr, 0, returndatasize())
                    revert(ptr, returndatasize())
                }
                // The forwarder is ours and returns two words; anything shorter is refused.
                if lt(returndatasize(), 0x40) { revert(0, 0) }
                success := iszero(iszero(mload(ptr)))
                gasUsed := mload(add(ptr, 0x20))
                tstore(guard, 0)
            }
        }
        charged = _chargeTask(jobId, slot, sequence, _fee(gasUsed, pricing));
        return (TaskOutcome.Done, success, gasUsed, charged);
    }

    /// @dev Moves min(fee, maxFee, balance) from the job's escrow to the fee pool and completes the task, in one
    /// write of the job's slot (and, for an event task, one of its bitmap word).
    function _chargeTask(uint256 jobId, JobState storage slot, uint64 sequence, uint256 fee)
        private
        returns (uint256 charged)
    {
        // Read again (warm): `topUp` may have raised the balance during the call. Nothing else can change the slot
        // meanwhile: the owner operations are refused while the guard is entered around the call.
        uint256 word = _loadWord(slot);
        uint256 balance = word & BALANCE_MASK;
        // casting to a narrower type is safe: it takes one field out of a packed word, as the layout above defines it
        // forge-lint: disable-next-line(unsafe-typecast)
        uint256 maxFee = uint80(word >> MAX_FEE_SHIFT);
        charged = fee;
        if (charged > maxFee) charged = maxFee;
        if (charged > balance) charged = balance;
        // The task manager adds `charged` to its count of fees (`totalCredited`) when the batch ends.
        // charged <= balance, the word's low bits: subtracting it takes it from the balance alone.
        _storeWord(slot, _complete(jobId, word - charged, sequence));
    }

    /// @dev Marks the task done without a call or a charge. Reads the slot again (warm): the caller's stack is full.
    function _consume(uint256 jobId, JobState storage slot, uint64 sequence)
        private
        returns (TaskOutcome, bool, uint256, uint256)
    {
        uint256 word = _loadWord(slot);
        uint256 completed = _complete(jobId, word, sequence);
        if (completed != word) _storeWord(slot, completed);
        return (TaskOutcome.Done, false, 0, 0);
    }

    function _loadWord(JobState storage slot) private view returns (uint256 word) {
        assembly ("memory-safe") {
            word := sload(slot.slot)
        }
    }

    function _storeWord(JobState storage slot, uint256 word) private {
        assembly ("memory-safe") {
            sstore(slot.slot, word)
        }
    }

    function _toBalance(uint256 jobId, uint256 amount) private pure returns (uint96) {
        if (amount > type(uint96).max) revert BalanceOverflow(jobId, amount);
        // Checked just above.
        // forge-lint: disable-next-line(unsafe-typecast)
        return uint96(amount);
    }

    function _send(address to, uint256 amount) private {
        (bool ok,) = payable(to).call{value: amount}("");
        if (!ok) revert TransferFailed(to, amount);
    }

    /// @dev CREATE2 address: keccak256(0xff ++ this ++ bytes32(jobId) ++ forwarderInitCodeHash)[12:].
    function _forwarderOf(uint256 jobId) private view returns (address forwarder) {
        bytes32 initCodeHash = forwarderInitCodeHash;
        assembly ("memory-safe") {
            // 85 bytes from ptr + 11: 0xff, this address, salt, init code hash.
            let ptr := mload(0x40)
            mstore(add(ptr, 0x40), initCodeHash)
            mstore(add(ptr, 0x20), jobId)
            mstore(ptr, address())
            mstore8(add(ptr, 0x0b), 0xff)
            forwarder := and(keccak256(add(ptr, 0x0b), 85), 0xffffffffffffffffffffffffffffffffffffffff)
        }
    }

    /// @dev Reverts `InvalidSpec(field, fault)` at the first invalid field: trigger, action, gas limit, fee,
    /// expiry, in that order.
    function _validate(JobSpec calldata spec) private view {
        _validateTrigger(spec.trigger);
        _validateAction(spec.action);
        if (spec.gasLimit < MIN_GAS_LIMIT) revert InvalidSpec(SpecField.GasLimit, SpecFault.TooSmall);
        if (spec.gasLimit > MAX_GAS_LIMIT) revert InvalidSpec(SpecField.GasLimit, SpecFault.TooLarge);
        if (spec.maxFee == 0) revert InvalidSpec(SpecField.MaxFee, SpecFault.Missing);
        // A task must be able to pay for itself: its gas and a whole batch's fixed cost at the floor price.
        if (spec.maxFee < ITaskManager(taskManager).minJobFee(spec.gasLimit)) {
            revert InvalidSpec(SpecField.MaxFee, SpecFault.TooSmall);
        }
        uint40 expiry = spec.expiry;
        if (expiry != 0) {
            // An expiry in the past, or before an interval job's first task, would make the job do nothing.
            // forge-lint: disable-next-line(block-timestamp)
            if (expiry <= block.timestamp) revert InvalidSpec(SpecField.Expiry, SpecFault.TooSmall);
            if (spec.trigger.kind == TriggerKind.Interval && expiry < spec.trigger.start) {
                revert InvalidSpec(SpecField.Expiry, SpecFault.TooSmall);
            }
        }
    }

    function _validateTrigger(Trigger calldata trigger) private pure {
        bool isEvent = trigger.kind == TriggerKind.Event;
        if (isEvent) {
            if (trigger.period != 0) revert InvalidSpec(SpecField.TriggerPeriod, SpecFault.NotAllowed);
            if (trigger.emitter == address(0)) revert InvalidSpec(SpecField.TriggerEmitter, SpecFault.Missing);
            uint8 mask = trigger.topicMask;
            if (mask > 0x0f) revert InvalidSpec(SpecField.TriggerTopics, SpecFault.Malformed);
            if (mask & 1 == 0) revert InvalidSpec(SpecField.TriggerTopics, SpecFault.Missing);
            for (uint256 i = 1; i < 4; ++i) {
                // One spec, one hash: a topic that is not filtered on must be zero.
                if ((mask >> i) & 1 == 0 && trigger.topics[i] != bytes32(0)) {
                    revert InvalidSpec(SpecField.TriggerTopics, SpecFault.Malformed);
                }
            }
        } else {
            if (trigger.period == 0) revert InvalidSpec(SpecField.TriggerPeriod, SpecFault.Missing);
            if (trigger.emitter != address(0)) revert InvalidSpec(SpecField.TriggerEmitter, SpecFault.NotAllowed);
            if (
                trigger.topicMask != 0 || trigger.topics[0] != bytes32(0) || trigger.topics[1] != bytes32(0)
                    || trigger.topics[2] != bytes32(0) || trigger.topics[3] != bytes32(0)
            ) revert InvalidSpec(SpecField.TriggerTopics, SpecFault.NotAllowed);
        }
    }

    function _validateAction(Action calldata action) private view {
        ActionKind kind = action.kind;
        if (action.target == address(0)) revert InvalidSpec(SpecField.ActionTarget, SpecFault.Missing);
        // The forwarder must not act on the job manager itself.
        if (action.target == address(this)) revert InvalidSpec(SpecField.ActionTarget, SpecFault.NotAllowed);

        uint256 dataLength = action.data.length;
        if (dataLength > MAX_ACTION_DATA_LENGTH) revert InvalidSpec(SpecField.ActionData, SpecFault.TooLarge);
        bool isResolver = kind == ActionKind.GelatoResolver;
        // A resolver call needs at least a selector.
        if (isResolver && dataLength < 4) revert InvalidSpec(SpecField.ActionData, SpecFault.TooSmall);
        if (isResolver != (action.resolver != address(0))) {
            revert InvalidSpec(SpecField.ActionResolver, isResolver ? SpecFault.Missing : SpecFault.NotAllowed);
        }

        bool isScript = kind == ActionKind.Script;
        uint256 urlLength = bytes(action.codeUrl).length;
        if (isScript != (urlLength != 0)) {
            revert InvalidSpec(SpecField.ActionCodeUrl, isScript ? SpecFault.Missing : SpecFault.NotAllowed);
        }
        if (urlLength > MAX_CODE_URL_LENGTH) revert InvalidSpec(SpecField.ActionCodeUrl, SpecFault.TooLarge);
        if (isScript != (action.codeHash != bytes32(0))) {
            revert InvalidSpec(SpecField.ActionCodeHash, isScript ? SpecFault.Missing : SpecFault.NotAllowed);
        }
    }
}
