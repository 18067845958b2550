// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

/// @title IAVSRegistrar
/// @notice The callbacks EigenLayer's AllocationManager (core v1.3) makes to an AVS's registrar when an operator
/// joins or leaves its operator sets. Written from the v1.3 ABI.
interface IAVSRegistrar {
    /// @notice Called by the AllocationManager after `operator` was added to `operatorSetIds` of `avs`.
    /// @dev Reverting undoes the registration.
    /// @param operator The operator.
    /// @param avs The AVS whose sets the operator joined.
    /// @param operatorSetIds The sets joined.
    /// @param data Opaque data the operator passed to `registerForOperatorSets`.
    function registerOperator(address operator, address avs, uint32[] calldata operatorSetIds, bytes calldata data)
        external;

    /// @notice Called by the AllocationManager after `operator` was removed from `operatorSetIds` of `avs`.
    /// @dev Reverting undoes the deregistration.
    /// @param operator The operator.
    /// @param avs The AVS whose sets the operator left.
    /// @param operatorSetIds The sets left.
    function deregisterOperator(address operator, address avs, uint32[] calldata operatorSetIds) external;

    /// @notice Whether this registrar serves `avs`; `setAVSRegistrar` requires it to be true.
    /// @param avs The AVS.
    /// @return True if this registrar accepts callbacks for `avs`.
    function supportsAVS(address avs) external view returns (bool);
}
