// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

/// @title IPermissionController
/// @notice The subset of EigenLayer's PermissionController (core v1.3) this project reads or drives: who may act
/// for an account (an AVS or operator). An account with no admin is its own admin. Written from the v1.3 ABI.
interface IPermissionController {
    /// @notice Whether `caller` may call `selector` on `target` on behalf of `account`.
    /// @param account The account acted for.
    /// @param caller The caller.
    /// @param target The contract called.
    /// @param selector The function called.
    /// @return True if allowed.
    function canCall(address account, address caller, address target, bytes4 selector) external view returns (bool);

    /// @notice The admins of `account` (the account itself when none is set).
    /// @param account The account.
    /// @return The admins.
    function getAdmins(address account) external view returns (address[] memory);

    /// @notice Whether `caller` is an admin of `account`.
    /// @param account The account.
    /// @param caller The candidate.
    /// @return True if admin.
    function isAdmin(address account, address caller) external view returns (bool);

    /// @notice Lets `appointee` call `selector` on `target` for `account`; only an admin of `account`.
    /// @param account The account.
    /// @param appointee The address allowed.
    /// @param target The contract.
    /// @param selector The function.
    function setAppointee(address account, address appointee, address target, bytes4 selector) external;

    /// @notice Proposes `admin` as an admin of `account`; only an admin of `account`.
    /// @param account The account.
    /// @param admin The proposed admin.
    function addPendingAdmin(address account, address admin) external;

    /// @notice The contract's version string.
    /// @return The version.
    function version() external view returns (string memory);
}
