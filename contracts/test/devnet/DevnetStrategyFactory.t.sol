// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {DevnetStrategyFactory} from "../../src/devnet/DevnetStrategyFactory.sol";
import {ERC20Strategy} from "../../src/devnet/ERC20Strategy.sol";
import {StakeToken} from "../../src/devnet/StakeToken.sol";
import {IStrategy} from "../../src/interfaces/IStrategy.sol";
import {IStrategyManager} from "../../src/interfaces/IStrategyManager.sol";
import {EigenLayerFixture} from "../utils/EigenLayerFixture.sol";

/// @dev Against EigenLayer's real StrategyManager (the fixture's core), with the factory as its whitelister.
contract DevnetStrategyFactoryTest is EigenLayerFixture {
    DevnetStrategyFactory internal factory;
    StakeToken internal token;
    address internal staker = makeAddr("staker");

    event StrategySetForToken(IERC20Metadata token, IStrategy strategy);

    function setUp() public {
        _deployCore();
        factory = new DevnetStrategyFactory(strategyManager);
        vm.prank(coreOwner);
        strategyManager.setStrategyWhitelister(address(factory));
        token = new StakeToken("Other", "OTH", address(this));
    }

    function test_constructor_revertsOnZero() public {
        vm.expectRevert(DevnetStrategyFactory.InputAddressZero.selector);
        new DevnetStrategyFactory(IStrategyManager(address(0)));
    }

    function test_deployNewStrategy_createsWhitelistsAndTakesDeposits() public {
        vm.prank(staker); // anyone
        IStrategy created = factory.deployNewStrategy(token);
        assertEq(address(factory.tokenStrategies(token)), address(created));
        assertEq(address(created.underlyingToken()), address(token));
        assertEq(address(ERC20Strategy(address(created)).strategyManager()), address(strategyManager));
        assertTrue(strategyManager.strategyIsWhitelistedForDeposit(created));

        token.mint(staker, 5e18);
        vm.startPrank(staker);
        token.approve(address(strategyManager), 5e18);
        strategyManager.depositIntoStrategy(created, token, 5e18);
        vm.stopPrank();
        assertEq(strategyManager.stakerDepositShares(staker, created), 5e18);
    }

    function test_deployNewStrategy_emits() public {
        vm.expectEmit(false, false, false, false);
        emit StrategySetForToken(token, IStrategy(address(0)));
        factory.deployNewStrategy(token);
    }

    function test_deployNewStrategy_oncePerToken() public {
        IStrategy first = factory.deployNewStrategy(token);
        vm.expectRevert(abi.encodeWithSelector(DevnetStrategyFactory.StrategyAlreadyExists.selector, token));
        factory.deployNewStrategy(token);
        assertEq(address(factory.tokenStrategies(token)), address(first));
    }

    function test_deployNewStrategy_revertsUnlessWhitelister() public {
        vm.prank(coreOwner);
        strategyManager.setStrategyWhitelister(coreOwner);
        vm.expectRevert();
        factory.deployNewStrategy(token);
    }
}
