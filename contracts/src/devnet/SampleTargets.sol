// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

// Sample targets for devnets and demos: what existing automation users deploy, written the way they write them, so
// that the keeper network is shown performing them unchanged. The only keeper-network detail is who may call them:
// the forwarders their owner allowed.

/// @title ForwarderAllowList
/// @notice The senders a target accepts keeper calls from, set by the target's owner.
/// @dev Every call of a keeper job reaches its target from the job's forwarder, a contract the job manager deploys
/// with CREATE2 when the job is created; nobody else can send from it. Its address is deterministic:
/// `keccak256(0xff ++ jobManager ++ bytes32(jobId) ++ jobManager.forwarderInitCodeHash())[12:]`, which
/// `JobManager.forwarderOf(jobId)` returns for created and future ids alike. So an owner allows its job's forwarder
/// after `createJob` returned the id (`setForwarder(jobManager.forwarderOf(jobId), true)`), or before, from
/// `forwarderOf(jobManager.nextJobId())`, if nobody can create a job in between. Checking `msg.sender` against the
/// allowed set is then the whole check: a forwarder calls only for its own job.
abstract contract ForwarderAllowList is Ownable {
    /// @notice Whether `forwarder` may call this target's keeper functions.
    mapping(address forwarder => bool) public isForwarder;

    /// @notice The owner allowed (`allowed`) or disallowed a forwarder.
    event ForwarderSet(address indexed forwarder, bool allowed);

    /// @notice The caller is not an allowed forwarder.
    error ForwarderNotAllowed(address caller);
    /// @notice The zero address cannot be a forwarder.
    error ForwarderAddressZero();

    /// @param initialOwner Who manages the allow-list (and the target's owner-only functions).
    constructor(address initialOwner) Ownable(initialOwner) {}

    /// @notice Allows or disallows a forwarder.
    /// @dev Only the owner.
    /// @param forwarder The forwarder, typically `jobManager.forwarderOf(jobId)`.
    /// @param allowed Whether it may call.
    function setForwarder(address forwarder, bool allowed) external onlyOwner {
        if (forwarder == address(0)) revert ForwarderAddressZero();
        isForwarder[forwarder] = allowed;
        emit ForwarderSet(forwarder, allowed);
    }

    /// @dev Only an allowed forwarder.
    modifier onlyForwarder() {
        if (!isForwarder[msg.sender]) revert ForwarderNotAllowed(msg.sender);
        _;
    }
}

// ---------------------------------------------------------------------------------------------------------
// Interval and block jobs
// ---------------------------------------------------------------------------------------------------------

/// @title SampleCounter
/// @notice The target of interval and block jobs: counts increments, in total and per forwarder (so one counter can
/// serve several jobs and a test can tell them apart).
contract SampleCounter is ForwarderAllowList {
    /// @notice Increments so far.
    uint256 public count;
    /// @notice Increments made by each forwarder.
    mapping(address forwarder => uint256) public countOf;

    /// @notice `forwarder` incremented the counter to `count`.
    event Incremented(address indexed forwarder, uint256 count);

    /// @param initialOwner Who allows forwarders.
    constructor(address initialOwner) ForwarderAllowList(initialOwner) {}

    /// @notice Adds one.
    /// @dev Only an allowed forwarder.
    function increment() external onlyForwarder {
        uint256 next = count + 1;
        count = next;
        countOf[msg.sender] += 1;
        emit Incremented(msg.sender, next);
    }
}

// ---------------------------------------------------------------------------------------------------------
// Chainlink Automation style
// ---------------------------------------------------------------------------------------------------------

/// @notice Chainlink Automation's upkeep interface, as published in Chainlink's contracts npm package
/// (`AutomationCompatibleInterface`): the same two functions, so the same selectors.
interface AutomationCompatibleInterface {
    /// @notice Simulated off chain: whether the upkeep needs performing, and the data to perform it with.
    function checkUpkeep(bytes calldata checkData) external returns (bool upkeepNeeded, bytes memory performData);

    /// @notice Called on chain with the `performData` a check returned.
    function performUpkeep(bytes calldata performData) external;
}

/// @notice Chainlink's guard for functions that must only ever be simulated: like the `cannotExecute` modifier of
/// `AutomationBase` in Chainlink's contracts npm package, it reverts `OnlySimulatedBackend()` unless `tx.origin` is
/// the zero address, which no signed transaction can have and an `eth_call` from the zero address does.
abstract contract SimulationOnly {
    /// @notice Called outside an off-chain simulation.
    error OnlySimulatedBackend();

    /// @dev Only in a simulation (tx.origin is the zero address).
    modifier cannotExecute() {
        if (tx.origin != address(0)) revert OnlySimulatedBackend();
        _;
    }
}

/// @title SampleLiquidationBook
/// @notice A Chainlink-compatible upkeep: a book of collateralised positions, liquidated when under water at the price
/// the owner sets. `checkUpkeep` finds the first position under water; `performUpkeep` re-checks it (as an upkeep
/// must: the state may have changed since the simulation) and liquidates it.
/// @dev A position is under water when `collateral * price / 1e18 < debt` (price in debt units per collateral unit,
/// 18 decimals). Unchanged from what a Chainlink Automation user deploys, except that `performUpkeep` accepts the
/// allowed forwarders where Chainlink's would accept its registry's forwarder.
contract SampleLiquidationBook is ForwarderAllowList, SimulationOnly, AutomationCompatibleInterface {
    /// @notice One position.
    struct Position {
        uint128 collateral;
        uint128 debt;
        bool liquidated;
    }

    /// @notice Price of one unit of collateral in debt units, 18 decimals.
    uint256 public price;
    /// @notice Positions liquidated so far.
    uint256 public liquidations;
    Position[] internal _positions;

    /// @notice The owner set the price.
    event PriceSet(uint256 price);
    /// @notice The owner opened position `positionId`.
    event PositionOpened(uint256 indexed positionId, uint128 collateral, uint128 debt);
    /// @notice `forwarder` liquidated `positionId` at `price`.
    event Liquidated(uint256 indexed positionId, uint256 price, address indexed forwarder);

    /// @notice A position with zero collateral or zero debt.
    error EmptyPosition();
    /// @notice No position has this id.
    error UnknownPosition(uint256 positionId);
    /// @notice The position is not under water (or already liquidated).
    error NotUnderwater(uint256 positionId);
    /// @notice A `checkData` range with `from > to`.
    error InvalidRange(uint256 from, uint256 to);

    /// @param initialOwner Who sets the price, opens positions and allows forwarders.
    /// @param initialPrice The price to start with.
    constructor(address initialOwner, uint256 initialPrice) ForwarderAllowList(initialOwner) {
        price = initialPrice;
        emit PriceSet(initialPrice);
    }

    /// @notice Sets the price positions are valued at.
    /// @dev Only the owner.
    function setPrice(uint256 newPrice) external onlyOwner {
        price = newPrice;
        emit PriceSet(newPrice);
    }

    /// @notice Opens a position.
    /// @dev Only the owner.
    /// @return positionId The new position's id (from 0).
    function openPosition(uint128 collateral, uint128 debt) external onlyOwner returns (uint256 positionId) {
        if (collateral == 0 || debt == 0) revert EmptyPosition();
        positionId = _positions.length;
        _positions.push(Position({collateral: collateral, debt: debt, liquidated: false}));
        emit PositionOpened(positionId, collateral, debt);
    }

    /// @notice The number of positions ever opened.
    function positionCount() external view returns (uint256) {
        return _positions.length;
    }

    /// @notice A position.
    function position(uint256 positionId) external view returns (Position memory) {
        if (positionId >= _positions.length) revert UnknownPosition(positionId);
        return _positions[positionId];
    }

    /// @notice Whether a position is open and under water at the current price.
    function isUnderwater(uint256 positionId) public view returns (bool) {
        if (positionId >= _positions.length) revert UnknownPosition(positionId);
        Position memory p = _positions[positionId];
        return !p.liquidated && uint256(p.collateral) * price / 1e18 < p.debt;
    }

    /// @inheritdoc AutomationCompatibleInterface
    /// @dev `checkData` is empty (look at every position) or `abi.encode(uint256 from, uint256 to)`, the half-open
    /// id range to look at (clamped to the positions that exist), so that several upkeeps can share a large book.
    /// Returns the first position under water as `abi.encode(positionId)`.
    function checkUpkeep(bytes calldata checkData)
        external
        view
        override
        cannotExecute
        returns (bool upkeepNeeded, bytes memory performData)
    {
        uint256 from;
        uint256 to = _positions.length;
        if (checkData.length != 0) {
            (uint256 rangeFrom, uint256 rangeTo) = abi.decode(checkData, (uint256, uint256));
            if (rangeFrom > rangeTo) revert InvalidRange(rangeFrom, rangeTo);
            from = rangeFrom;
            if (rangeTo < to) to = rangeTo;
        }
        for (uint256 id = from; id < to; ++id) {
            if (isUnderwater(id)) return (true, abi.encode(id));
        }
        return (false, "");
    }

    /// @inheritdoc AutomationCompatibleInterface
    /// @dev Only an allowed forwarder. Reverts unless the position is still under water.
    function performUpkeep(bytes calldata performData) external override onlyForwarder {
        uint256 positionId = abi.decode(performData, (uint256));
        if (!isUnderwater(positionId)) revert NotUnderwater(positionId);
        _positions[positionId].liquidated = true;
        liquidations += 1;
        emit Liquidated(positionId, price, msg.sender);
    }
}

// ---------------------------------------------------------------------------------------------------------
// Gelato Automate style
// ---------------------------------------------------------------------------------------------------------

/// @title SampleVault
/// @notice A yield vault whose rewards are harvested by a Gelato-style task: `harvest(amount)` compounds pending
/// rewards, called only by the allowed forwarders (where a Gelato user checks its dedicated msg.sender).
contract SampleVault is ForwarderAllowList {
    /// @notice Rewards accrued and not yet harvested.
    uint256 public pendingRewards;
    /// @notice Rewards harvested so far.
    uint256 public totalHarvested;
    /// @notice Harvests so far.
    uint256 public harvests;

    /// @notice The owner credited `amount` of rewards (standing in for a strategy's yield).
    event RewardsAccrued(uint256 amount, uint256 pendingRewards);
    /// @notice `forwarder` harvested `amount`.
    event Harvested(uint256 amount, uint256 totalHarvested, address indexed forwarder);

    /// @notice A harvest of 0 or of more than is pending.
    error InvalidHarvest(uint256 amount, uint256 pendingRewards);

    /// @param initialOwner Who accrues rewards and allows forwarders.
    constructor(address initialOwner) ForwarderAllowList(initialOwner) {}

    /// @notice Credits rewards.
    /// @dev Only the owner.
    function accrue(uint256 amount) external onlyOwner {
        pendingRewards += amount;
        emit RewardsAccrued(amount, pendingRewards);
    }

    /// @notice Compounds `amount` of the pending rewards.
    /// @dev Only an allowed forwarder.
    function harvest(uint256 amount) external onlyForwarder {
        uint256 pending = pendingRewards;
        if (amount == 0 || amount > pending) revert InvalidHarvest(amount, pending);
        pendingRewards = pending - amount;
        totalHarvested += amount;
        harvests += 1;
        emit Harvested(amount, totalHarvested, msg.sender);
    }
}

/// @title SampleVaultResolver
/// @notice A Gelato resolver for `SampleVault`: `checker()` says whether enough rewards are pending and returns the
/// calldata that harvests them all. When there is nothing to do, `execPayload` carries the reason, as Gelato's
/// examples do.
contract SampleVaultResolver {
    /// @notice The vault.
    SampleVault public immutable vault;
    /// @notice The least pending reward worth a harvest.
    uint256 public immutable minHarvest;

    /// @param vault_ The vault.
    /// @param minHarvest_ The least pending reward worth a harvest (at least 1).
    constructor(SampleVault vault_, uint256 minHarvest_) {
        vault = vault_;
        minHarvest = minHarvest_ == 0 ? 1 : minHarvest_;
    }

    /// @notice Gelato's resolver function.
    /// @return canExec Whether to harvest now.
    /// @return execPayload The calldata for the vault, or the reason there is nothing to do.
    function checker() external view returns (bool canExec, bytes memory execPayload) {
        uint256 pending = vault.pendingRewards();
        if (pending < minHarvest) return (false, bytes("not enough rewards"));
        return (true, abi.encodeCall(SampleVault.harvest, (pending)));
    }
}

// ---------------------------------------------------------------------------------------------------------
// Event jobs
// ---------------------------------------------------------------------------------------------------------

/// @title SampleOracle
/// @notice An oracle-like feed: its owner reports answers, each emitting Chainlink's aggregator event
/// `AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt)`, which event jobs trigger on.
contract SampleOracle is Ownable {
    /// @notice The last answer reported.
    int256 public latestAnswer;
    /// @notice The last round (from 1; 0 = nothing reported).
    uint256 public latestRound;
    /// @notice When the last answer was reported.
    uint256 public latestTimestamp;

    /// @notice A new answer for round `roundId`.
    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);

    /// @param initialOwner The reporter.
    constructor(address initialOwner) Ownable(initialOwner) {}

    /// @notice Reports an answer as a new round.
    /// @dev Only the owner.
    function report(int256 answer) external onlyOwner {
        uint256 round = latestRound + 1;
        latestAnswer = answer;
        latestRound = round;
        latestTimestamp = block.timestamp;
        emit AnswerUpdated(answer, round, block.timestamp);
    }
}

/// @title SamplePriceMirror
/// @notice The reaction target of an event job on `SampleOracle.AnswerUpdated`: `sync()` copies the oracle's latest
/// round, called only by the allowed forwarders.
contract SamplePriceMirror is ForwarderAllowList {
    /// @notice The oracle mirrored.
    SampleOracle public immutable oracle;
    /// @notice The answer last copied.
    int256 public answer;
    /// @notice The round last copied.
    uint256 public round;
    /// @notice Syncs so far.
    uint256 public syncs;

    /// @notice `forwarder` copied round `round`.
    event Synced(uint256 indexed round, int256 answer, address indexed forwarder);

    /// @param initialOwner Who allows forwarders.
    /// @param oracle_ The oracle.
    constructor(address initialOwner, SampleOracle oracle_) ForwarderAllowList(initialOwner) {
        oracle = oracle_;
    }

    /// @notice Copies the oracle's latest answer and round.
    /// @dev Only an allowed forwarder.
    function sync() external onlyForwarder {
        int256 latest = oracle.latestAnswer();
        uint256 latestRound = oracle.latestRound();
        answer = latest;
        round = latestRound;
        syncs += 1;
        emit Synced(latestRound, latest, msg.sender);
    }
}
