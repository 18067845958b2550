// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

/// @title IPauserRegistry
/// @notice Who may pause and unpause EigenLayer core contracts (core v1.3 reads only these two functions).
interface IPauserRegistry {
    /// @notice Emitted when an address gains or loses the pauser role.
    event PauserStatusChanged(address pauser, bool canPause);
    /// @notice Emitted when the unpauser changes.
    event UnpauserChanged(address previousUnpauser, address newUnpauser);

    /// @notice Whether `pauser` may pause.
    /// @param pauser The address.
    /// @return True if it is a pauser.
    function isPauser(address pauser) external view returns (bool);

    /// @notice The one address that may unpause.
    /// @return The unpauser.
    function unpauser() external view returns (address);
}
