// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

/// @title JobForwarder
/// @notice The sender of every call a keeper job makes. The job manager deploys one per job, with CREATE2 and salt
/// `bytes32(jobId)`, so a target contract can accept calls only from its own job's forwarder:
/// `require(msg.sender == jobManager.forwarderOf(myJobId))`, or the same address stored once.
/// @dev The forwarder obeys only the job manager that deployed it, which in turn obeys only the task manager.
/// It has no constructor arguments, so its creation code, and with it every forwarder's address, depends only on the
/// job manager's address and the job id. It holds no ether and sends none.
contract JobForwarder {
    /// @dev Gas kept back on top of the target's gas limit for the call's own cost and the work after it. Not
    /// public: every byte of this contract is deployed once per job.
    uint256 internal constant CALL_RESERVE = 5_000;

    /// @notice The job manager that deployed this forwarder and alone may drive it.
    address public immutable jobManager;

    /// @notice The caller is not the job manager.
    error OnlyJobManager(address caller);
    /// @notice Too little gas is left to give the target `gasLimit` under EIP-150's 63/64 rule.
    error InsufficientGas(uint256 gasLimit, uint256 gasLeft);

    constructor() {
        jobManager = msg.sender;
    }

    /// @notice Calls `target` with `data` and exactly `gasLimit` gas, from this address.
    /// @dev Only the job manager. Never reverts because of the target: a revert, an out-of-gas or a target
    /// without code gives `success = false`. Return data is never copied, so a target returning huge data costs
    /// only its own gas. Reverts `InsufficientGas` when the gas left cannot give the target all of `gasLimit`
    /// (the CALL opcode passes at most 63/64 of what is left), so a caller cannot starve a target into failing.
    /// @param target The contract to call.
    /// @param data The calldata.
    /// @param gasLimit The gas the target gets.
    /// @return success Whether the target returned without reverting (false for a target without code).
    /// @return gasUsed The gas from just before the call to just after it: the target's execution and the call.
    function forward(address target, bytes calldata data, uint256 gasLimit)
        external
        returns (bool success, uint256 gasUsed)
    {
        if (msg.sender != jobManager) revert OnlyJobManager(msg.sender);
        // A call to an account without code "succeeds" without doing anything; report it as a failure instead.
        // EXTCODESIZE also warms the target, so the CALL below costs the same whatever the target's state.
        if (target.code.length == 0) return (false, 0);
        // No block holds 2^64 gas; bounding here keeps the check below free of overflow.
        if (gasLimit > type(uint64).max) revert InsufficientGas(gasLimit, gasleft());
        bytes4 insufficientGas = InsufficientGas.selector;
        assembly ("memory-safe") {
            // Copy first: memory expansion for large calldata is paid before the gas check, not after it.
            let ptr := mload(0x40)
            calldatacopy(ptr, data.offset, data.length)
            let available := gas()
            // The target gets min(gasLimit, a - a / 64) where `a` is the gas left at the CALL, a little below
            // `available`. Requiring available >= gasLimit + gasLimit / 63 + CALL_RESERVE makes a - a / 64 >=
            // gasLimit, and leaves at least gasLimit / 63 + ~CALL_RESERVE to finish after the call.
            if lt(available, add(add(gasLimit, div(gasLimit, 63)), CALL_RESERVE)) {
                mstore(ptr, insufficientGas)
                mstore(add(ptr, 0x04), gasLimit)
                mstore(add(ptr, 0x24), available)
                revert(ptr, 0x44)
            }
            let before := gas()
            // Output size 0: nothing of the return data is copied.
            success := call(gasLimit, target, 0, ptr, data.length, 0, 0)
            gasUsed := sub(before, gas())
        }
    }
}
