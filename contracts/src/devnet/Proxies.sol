// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

// Imported only so forge emits artifacts (bytecode and ABI) for the OpenZeppelin proxies that devnet
// deployments put in front of the EigenLayer core: a TransparentUpgradeableProxy per core contract (each creates
// its own ProxyAdmin, owned by the proxy's initial owner) and an UpgradeableBeacon for EigenPod.
import {TransparentUpgradeableProxy} from "@openzeppelin/contracts/proxy/transparent/TransparentUpgradeableProxy.sol";
import {ProxyAdmin} from "@openzeppelin/contracts/proxy/transparent/ProxyAdmin.sol";
import {UpgradeableBeacon} from "@openzeppelin/contracts/proxy/beacon/UpgradeableBeacon.sol";

/// @title Proxies
/// @notice Names the proxy contracts a devnet deployment uses, so their artifacts are built with this project.
/// @dev Never deployed.
abstract contract Proxies {}
