// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {IStrategy} from "../interfaces/IStrategy.sol";
import {IStrategyManager} from "../interfaces/IStrategyManager.sol";
import {ERC20Strategy} from "./ERC20Strategy.sol";

/// @title DevnetStrategyFactory
/// @notice The devnet's stand-in for EigenLayer's StrategyFactory (whose bytecode no registry ships): anyone may
/// create the strategy of an ERC20 that has none, and the factory, as the StrategyManager's strategy whitelister,
/// whitelists it for deposits. The two functions an AVS deployer calls have EigenLayer's signatures
/// (`IStrategyFactory.deployNewStrategy(IERC20)` and the public `tokenStrategies` mapping of
/// `StrategyFactoryStorage`), so `keeperd deploy --new-strategy-token` runs the same calls here as on a testnet.
contract DevnetStrategyFactory {
    /// @notice The StrategyManager whose whitelister this factory must be.
    IStrategyManager public immutable strategyManager;

    /// @notice The strategy created for each token (zero: none yet).
    mapping(IERC20Metadata token => IStrategy strategy) public tokenStrategies;

    /// @notice Emitted when a token's strategy is created (EigenLayer's event of the same name).
    event StrategySetForToken(IERC20Metadata token, IStrategy strategy);

    /// @notice The token has a strategy already.
    error StrategyAlreadyExists(IERC20Metadata token);
    /// @notice The zero address was given where a contract is needed.
    error InputAddressZero();

    /// @param strategyManager_ The EigenLayer StrategyManager (its proxy).
    constructor(IStrategyManager strategyManager_) {
        if (address(strategyManager_) == address(0)) revert InputAddressZero();
        strategyManager = strategyManager_;
    }

    /// @notice Creates `token`'s strategy and whitelists it for deposits.
    /// @param token The ERC20 (must implement `decimals()`).
    /// @return newStrategy The strategy.
    function deployNewStrategy(IERC20Metadata token) external returns (IStrategy newStrategy) {
        if (address(tokenStrategies[token]) != address(0)) revert StrategyAlreadyExists(token);
        newStrategy = new ERC20Strategy(strategyManager, token);
        tokenStrategies[token] = newStrategy;
        emit StrategySetForToken(token, newStrategy);
        IStrategy[] memory strategies = new IStrategy[](1);
        strategies[0] = newStrategy;
        strategyManager.addStrategiesToDepositWhitelist(strategies);
    }
}
