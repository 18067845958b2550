// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {
    CreateSetParams,
    CreateSetParamsV2,
    DeregisterParams,
    OperatorSet,
    SlashingParams
} from "../../src/interfaces/IAllocationManager.sol";
import {IAVSRegistrar} from "../../src/interfaces/IAVSRegistrar.sol";
import {IStrategy} from "../../src/interfaces/IStrategy.sol";

// Test doubles of the newer EigenLayer core (v1.5 to v1.12) as the service manager meets it: only the behaviour that
// changed since the v1.3 core the other tests deploy for real, written from EigenLayer's sources
// (`AllocationManager.sol`, `StrategyManager.sol`, `IAllocationManager.sol` at tags v1.5.0, v1.9.0 and v1.12.0).
// They are not a core: no permissions, allocations or stake, just what the service manager calls, recorded.

/// @dev Stands in for the newer StrategyManager: `clearBurnOrRedistributableShares` (v1.5+), recorded, or refused
/// on demand; `burnShares` counted (a v1.5+ slash must not rely on it).
contract NewerStrategyManagerDouble {
    struct Cleared {
        address avs;
        uint32 operatorSetId;
        uint256 slashId;
    }

    Cleared[] public cleared;
    uint256 public burnSharesCalls;
    bool public refuse;

    error ClearRefused();

    function setRefuse(bool refuse_) external {
        refuse = refuse_;
    }

    function clearBurnOrRedistributableShares(OperatorSet calldata operatorSet, uint256 slashId)
        external
        returns (uint256[] memory amounts)
    {
        if (refuse) revert ClearRefused();
        cleared.push(Cleared(operatorSet.avs, operatorSet.id, slashId));
        return amounts;
    }

    function burnShares(IStrategy) external {
        ++burnSharesCalls;
    }

    function clearedCount() external view returns (uint256) {
        return cleared.length;
    }
}

/// @dev Stands in for the DelegationManager only to name the StrategyManager.
contract DelegationManagerDouble {
    address public immutable strategyManager;

    constructor(address strategyManager_) {
        strategyManager = strategyManager_;
    }
}

/// @dev Stands in for the newer AllocationManager. `slashOperator` returns `(slashId, shares)` (v1.5+) and, with
/// `slasherOverload` on, only the set's slasher may call it and `createOperatorSets` has the `CreateSetParamsV2`
/// overload (v1.9+); with it off, that overload is missing (v1.5 to v1.8: a call reverts with no data, as a
/// proxy whose implementation lacks the function does).
contract NewerAllocationManagerDouble {
    DelegationManagerDouble public immutable delegation;
    bool public immutable slasherOverload;

    mapping(address avs => bool) public metadataSet;
    mapping(address avs => address) public registrars;
    mapping(bytes32 set => address) private _slashers;
    mapping(bytes32 set => IStrategy[]) private _strategies;
    mapping(bytes32 set => uint256) public slashCount;
    uint256 public legacyCreateCalls;
    address public lastSlashedOperator;
    uint256 public lastWadToSlash;
    /// When set, `createOperatorSets` (V2) reverts with this data, as a core that refuses does.
    bytes public createRevertData;

    error InvalidCaller();
    error InvalidOperatorSet();
    error NonexistentAVSMetadata();
    error InvalidAVSRegistrar();

    constructor(address strategyManager_, bool slasherOverload_) {
        delegation = new DelegationManagerDouble(strategyManager_);
        slasherOverload = slasherOverload_;
    }

    function setCreateRevertData(bytes calldata data) external {
        createRevertData = data;
    }

    /// Stands in for `updateSlasher` (whose delay is not modelled).
    function setSlasher(OperatorSet calldata operatorSet, address slasher) external {
        _slashers[_key(operatorSet)] = slasher;
    }

    function updateAVSMetadataURI(address avs, string calldata) external {
        metadataSet[avs] = true;
    }

    function createOperatorSets(address avs, CreateSetParams[] calldata params) external {
        ++legacyCreateCalls;
        for (uint256 i; i < params.length; ++i) {
            _create(avs, params[i].operatorSetId, params[i].strategies, avs);
        }
    }

    function createOperatorSets(address avs, CreateSetParamsV2[] calldata params) external {
        if (!slasherOverload) {
            assembly ("memory-safe") {
                revert(0, 0)
            }
        }
        bytes memory refusal = createRevertData;
        if (refusal.length != 0) {
            assembly ("memory-safe") {
                revert(add(refusal, 32), mload(refusal))
            }
        }
        for (uint256 i; i < params.length; ++i) {
            _create(avs, params[i].operatorSetId, params[i].strategies, params[i].slasher);
        }
    }

    function setAVSRegistrar(address avs, address registrar) external {
        if (!IAVSRegistrar(registrar).supportsAVS(avs)) revert InvalidAVSRegistrar();
        registrars[avs] = registrar;
    }

    function getStrategiesInOperatorSet(OperatorSet calldata operatorSet) external view returns (IStrategy[] memory) {
        return _strategies[_key(operatorSet)];
    }

    function getSlasher(OperatorSet calldata operatorSet) external view returns (address) {
        return _slashers[_key(operatorSet)];
    }

    function slashOperator(address avs, SlashingParams calldata params)
        external
        returns (uint256 slashId, uint256[] memory shares)
    {
        bytes32 key = _key(OperatorSet(avs, params.operatorSetId));
        if (_strategies[key].length == 0) revert InvalidOperatorSet();
        if (slasherOverload && msg.sender != _slashers[key]) revert InvalidCaller();
        lastSlashedOperator = params.operator;
        lastWadToSlash = params.wadsToSlash[0];
        slashId = ++slashCount[key];
        shares = new uint256[](params.strategies.length);
        for (uint256 i; i < shares.length; ++i) {
            shares[i] = params.wadsToSlash[i];
        }
    }

    function deregisterFromOperatorSets(DeregisterParams calldata) external {}

    function _create(address avs, uint32 id, IStrategy[] calldata strategies, address slasher) private {
        if (!metadataSet[avs]) revert NonexistentAVSMetadata();
        bytes32 key = _key(OperatorSet(avs, id));
        if (_strategies[key].length != 0) revert InvalidOperatorSet();
        _strategies[key] = strategies;
        _slashers[key] = slasher;
    }

    function _key(OperatorSet memory operatorSet) private pure returns (bytes32) {
        return keccak256(abi.encode(operatorSet.avs, operatorSet.id));
    }
}

/// @dev Stands in for the key registry: names its service manager and counts weight refreshes.
contract KeyRegistryDouble {
    address public serviceManager;
    uint256 public updateWeightsCalls;

    function setServiceManager(address serviceManager_) external {
        serviceManager = serviceManager_;
    }

    function updateWeights(address[] calldata) external {
        ++updateWeightsCalls;
    }
}
