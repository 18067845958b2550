// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {KeeperServiceManager} from "../../src/avs/KeeperServiceManager.sol";

/// @dev Stands in for the task manager in service manager and registry tests: it names the service manager it
/// slashes through (so `setTaskManager` accepts it) and passes slashes and ejections on as the task manager would
/// after a proof.
contract SlasherStub {
    KeeperServiceManager public immutable serviceManager;

    constructor(KeeperServiceManager serviceManager_) {
        serviceManager = serviceManager_;
    }

    function slash(address operator, uint256 wad, bytes32 offence) external {
        serviceManager.slashOperator(operator, wad, offence, "test offence");
    }

    function eject(address operator) external {
        serviceManager.ejectForOffence(operator);
    }
}
