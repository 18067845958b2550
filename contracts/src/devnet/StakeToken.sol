// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title StakeToken
/// @notice An ERC20 that devnet operators restake through an ERC20Strategy. The owner mints at will: it has no
/// value and exists only so the EigenLayer stake flow runs end to end without a real token.
contract StakeToken is ERC20, Ownable {
    /// @param name_ The token name.
    /// @param symbol_ The token symbol.
    /// @param initialOwner Who may mint.
    constructor(string memory name_, string memory symbol_, address initialOwner)
        ERC20(name_, symbol_)
        Ownable(initialOwner)
    {}

    /// @notice Mints `amount` to `to`.
    /// @dev Only the owner. ERC20 emits `Transfer(0, to, amount)`.
    /// @param to The recipient.
    /// @param amount The amount (18 decimals).
    function mint(address to, uint256 amount) external onlyOwner {
        _mint(to, amount);
    }
}
