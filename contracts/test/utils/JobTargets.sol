// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

/// @dev Counts calls, accepting them only from one job's forwarder (set once by whoever deploys it).
contract ForwarderGuardedTarget {
    address public immutable forwarder;
    uint256 public count;
    address public lastCaller;

    error NotMyForwarder(address caller);

    constructor(address forwarder_) {
        forwarder = forwarder_;
    }

    function work() external {
        if (msg.sender != forwarder) revert NotMyForwarder(msg.sender);
        count += 1;
        lastCaller = msg.sender;
    }
}

/// @dev Always reverts, with a reason.
contract RevertingTarget {
    error Nope();

    fallback() external {
        revert Nope();
    }
}

/// @dev Burns every unit of gas it is given.
contract GasGuzzlerTarget {
    uint256 public sink;

    fallback() external {
        while (true) {
            sink += 1;
        }
    }
}

/// @dev Returns (or reverts with) `size` bytes of return data, chosen by the calldata `abi.encode(bool, uint256)`.
contract HugeReturnTarget {
    fallback() external {
        (bool fail, uint256 size) = abi.decode(msg.data, (bool, uint256));
        assembly {
            if fail { revert(0, size) }
            return(0, size)
        }
    }
}

/// @dev Records the gas left on entry, to check that a forwarded call really got its gas limit.
contract GasRecorderTarget {
    uint256 public gasAtEntry;

    fallback() external {
        gasAtEntry = gasleft();
    }
}

/// @dev A Chainlink Automation-compatible upkeep: a counter due every `interval` seconds. `checkUpkeep` is run
/// off chain from the zero address; `performUpkeep` accepts only its job's forwarder and re-checks the condition,
/// as a Chainlink upkeep must.
contract ChainlinkStyleUpkeep {
    uint256 public immutable interval;
    address public forwarder;
    uint256 public lastPerformed;
    uint256 public counter;

    error NotForwarder(address caller);
    error NotNeeded();
    error ForwarderAlreadySet();

    constructor(uint256 interval_) {
        interval = interval_;
    }

    /// @dev Set once, after the job is created (or before, from `forwarderOf(nextJobId)`).
    function setForwarder(address forwarder_) external {
        if (forwarder != address(0)) revert ForwarderAlreadySet();
        forwarder = forwarder_;
    }

    function checkUpkeep(bytes calldata checkData) external view returns (bool upkeepNeeded, bytes memory performData) {
        // forge-lint: disable-next-line(block-timestamp)
        upkeepNeeded = block.timestamp >= lastPerformed + interval;
        // The increment comes from checkData; performData carries it and the counter it expects.
        uint256 step = abi.decode(checkData, (uint256));
        performData = abi.encode(counter, step);
    }

    function performUpkeep(bytes calldata performData) external {
        if (msg.sender != forwarder) revert NotForwarder(msg.sender);
        // forge-lint: disable-next-line(block-timestamp)
        if (block.timestamp < lastPerformed + interval) revert NotNeeded();
        (uint256 expected, uint256 step) = abi.decode(performData, (uint256, uint256));
        if (expected != counter) revert NotNeeded();
        lastPerformed = block.timestamp;
        counter += step;
    }
}

/// @dev The target of a Gelato-style job: sets a value, only from its job's forwarder.
contract GelatoStyleTarget {
    address public forwarder;
    uint256 public value;

    error NotForwarder(address caller);

    function setForwarder(address forwarder_) external {
        forwarder = forwarder_;
    }

    function setValue(uint256 value_) external {
        if (msg.sender != forwarder) revert NotForwarder(msg.sender);
        value = value_;
    }
}

/// @dev A Gelato-style resolver: `checker(uint256 wanted)` says whether the target's value differs from `wanted`
/// and, if so, returns the calldata that sets it.
contract GelatoStyleResolver {
    GelatoStyleTarget public immutable target;

    constructor(GelatoStyleTarget target_) {
        target = target_;
    }

    function checker(uint256 wanted) external view returns (bool canExec, bytes memory execPayload) {
        if (target.value() == wanted) return (false, bytes("already set"));
        return (true, abi.encodeCall(GelatoStyleTarget.setValue, (wanted)));
    }
}

/// @dev Tries to pause or cancel its own job while it is being executed (it owns the job).
contract ReentrantOwnerTarget {
    address public immutable jobManager;
    uint256 public jobId;
    bool public attackFailed;

    constructor(address jobManager_) {
        jobManager = jobManager_;
    }

    function setJob(uint256 jobId_) external {
        jobId = jobId_;
    }

    function create(bytes calldata createCall) external payable {
        (bool ok, bytes memory ret) = jobManager.call{value: msg.value}(createCall);
        require(ok, "create failed");
        jobId = abi.decode(ret, (uint256));
    }

    /// @dev Called through the forwarder: tries to cancel (which would refund the escrow to this contract).
    function attack() external {
        (bool ok,) = jobManager.call(abi.encodeWithSignature("cancelJob(uint256)", jobId));
        attackFailed = !ok;
        require(ok, "cancel blocked");
    }

    receive() external payable {}
}

/// @dev An owner that refuses ether, so a refund to it fails.
contract EtherRefuser {
    function exec(address to, bytes calldata data) external payable returns (bytes memory) {
        (bool ok, bytes memory ret) = to.call{value: msg.value}(data);
        if (!ok) {
            assembly {
                revert(add(ret, 0x20), mload(ret))
            }
        }
        return ret;
    }
}

/// @dev Does nothing, to measure the cost of the forwarding path alone.
contract NoopTarget {
    fallback() external {}
}
