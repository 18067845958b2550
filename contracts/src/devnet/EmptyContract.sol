// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

/// @title EmptyContract
/// @notice The implementation every EigenLayer core proxy points at before the real implementations exist:
/// core implementations take the other proxies' addresses as constructor arguments, so the proxies come first.
/// @dev Any call to a proxy that has not been upgraded yet reverts, except `noop`. OpenZeppelin 5.6+ proxies refuse
/// to be constructed with empty initialisation data, so deployers pass `abi.encodeCall(EmptyContract.noop, ())`.
contract EmptyContract {
    /// @notice Does nothing; the initialisation call of a proxy that has no implementation yet.
    function noop() external pure {}
}
