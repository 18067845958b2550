// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {IPauserRegistry} from "../interfaces/IPauserRegistry.sol";

/// @title PauserRegistry
/// @notice Who may pause and unpause the EigenLayer core on a devnet: any number of pausers, one unpauser. The
/// unpauser manages both roles, so unpausing (the riskier action) stays with one key.
contract PauserRegistry is IPauserRegistry {
    /// @notice The caller is not the unpauser.
    error OnlyUnpauser();
    /// @notice The zero address was given where an account is needed.
    error InputAddressZero();

    /// @inheritdoc IPauserRegistry
    mapping(address => bool) public isPauser;

    /// @inheritdoc IPauserRegistry
    address public unpauser;

    modifier onlyUnpauser() {
        if (msg.sender != unpauser) revert OnlyUnpauser();
        _;
    }

    /// @param pausers The initial pausers.
    /// @param initialUnpauser The unpauser; must not be zero (no one could ever unpause).
    constructor(address[] memory pausers, address initialUnpauser) {
        for (uint256 i; i < pausers.length; ++i) {
            _setIsPauser(pausers[i], true);
        }
        _setUnpauser(initialUnpauser);
    }

    /// @notice Grants or revokes the pauser role.
    /// @dev Only the unpauser.
    /// @param pauser The address.
    /// @param canPause Whether it may pause.
    function setIsPauser(address pauser, bool canPause) external onlyUnpauser {
        _setIsPauser(pauser, canPause);
    }

    /// @notice Hands the unpauser role to another address.
    /// @dev Only the unpauser. Single step: on a devnet the owner of every key is the operator of the network.
    /// @param newUnpauser The new unpauser; not zero.
    function setUnpauser(address newUnpauser) external onlyUnpauser {
        _setUnpauser(newUnpauser);
    }

    function _setIsPauser(address pauser, bool canPause) private {
        if (pauser == address(0)) revert InputAddressZero();
        isPauser[pauser] = canPause;
        emit PauserStatusChanged(pauser, canPause);
    }

    function _setUnpauser(address newUnpauser) private {
        if (newUnpauser == address(0)) revert InputAddressZero();
        emit UnpauserChanged(unpauser, newUnpauser);
        unpauser = newUnpauser;
    }
}
