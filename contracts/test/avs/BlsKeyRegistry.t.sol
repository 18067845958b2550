// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {Vm} from "forge-std/Vm.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {BLS12381} from "../../src/libraries/BLS12381.sol";
import {BatchDigest} from "../../src/libraries/BatchDigest.sol";
import {BlsKeyRegistry} from "../../src/avs/BlsKeyRegistry.sol";
import {IAllocationManager, OperatorSet, RegisterParams} from "../../src/interfaces/IAllocationManager.sol";
import {EigenLayerFixture} from "../utils/EigenLayerFixture.sol";
import {SlasherStub} from "../utils/SlasherStub.sol";

contract BlsKeyRegistryTest is EigenLayerFixture {
    address internal alice = makeAddr("alice");
    address internal bob = makeAddr("bob");
    address internal carol = makeAddr("carol");
    address internal stranger = makeAddr("stranger");
    uint256 internal constant ALICE_KEY = 0xa11ce;
    uint256 internal constant BOB_KEY = 0xb0b;
    uint256 internal constant CAROL_KEY = 0xca201;
    uint256 internal constant STAKE = 1000e18;
    uint64 internal constant MAGNITUDE = 0.5e18;

    event PubkeyRegistered(address indexed operator, bytes32 indexed pubkeyHash, BLS12381.G1Point pubkey);
    event OperatorRegistered(address indexed operator, bytes32 indexed pubkeyHash);
    event OperatorDeregistered(address indexed operator, bytes32 indexed pubkeyHash);
    event AggregatePubkeyUpdated(uint32 indexed blockNumber, BLS12381.G1Point apk);
    event OperatorWeightUpdated(address indexed operator, uint32 indexed blockNumber, uint256 previous, uint256 weight);
    event TotalWeightUpdated(uint32 indexed blockNumber, uint256 previous, uint256 total);
    event MinimumStakeSet(uint256 previous, uint256 minimum);
    event WeightsConfirmed(uint32 indexed blockNumber, uint256 operators, uint256 totalWeight);
    event OperatorBanned(address indexed operator, bytes32 indexed pubkeyHash);

    function setUp() public {
        _deployCore();
        _deployAvs(MINIMUM_STAKE);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Construction and settings
    // ---------------------------------------------------------------------------------------------------------

    function test_constructor_setsState() public {
        assertEq(address(registry.allocationManager()), address(allocationManager));
        assertEq(registry.serviceManager(), address(serviceManager));
        assertEq(registry.owner(), avsOwner);
        assertEq(registry.minimumStake(), MINIMUM_STAKE);
        assertEq(registry.weightsConfirmedAt(), 0);
        OperatorSet memory set = registry.operatorSet();
        assertEq(set.avs, address(serviceManager));
        assertEq(set.id, 0);

        vm.expectEmit();
        emit MinimumStakeSet(0, 5);
        new BlsKeyRegistry(allocationManager, address(serviceManager), avsOwner, 5);
    }

    function test_constructor_reverts() public {
        vm.expectRevert(BlsKeyRegistry.InputAddressZero.selector);
        new BlsKeyRegistry(IAllocationManager(address(0)), address(serviceManager), avsOwner, 1);
        vm.expectRevert(BlsKeyRegistry.InputAddressZero.selector);
        new BlsKeyRegistry(allocationManager, address(0), avsOwner, 1);
        vm.expectRevert(abi.encodeWithSelector(BlsKeyRegistry.InvalidMinimumStake.selector, 0, 0));
        new BlsKeyRegistry(allocationManager, address(serviceManager), avsOwner, 0);
    }

    /// The horizon is the shorter of EigenLayer's deallocation and withdrawal delays, read from chain.
    function test_slashableHorizon_readFromChain() public view {
        assertEq(registry.slashableHorizon(), DEALLOCATION_DELAY);
        assertEq(allocationManager.DEALLOCATION_DELAY(), DEALLOCATION_DELAY);
        assertEq(allocationManager.delegation().minWithdrawalDelayBlocks(), MIN_WITHDRAWAL_DELAY_BLOCKS);
    }

    /// The minimum stake can only be lowered, to at least 1, by the owner: raising it would let anyone eject
    /// operators that met it when they joined.
    function test_setMinimumStake_lowerOnly() public {
        vm.expectEmit(address(registry));
        emit MinimumStakeSet(MINIMUM_STAKE, MINIMUM_STAKE / 2);
        vm.prank(avsOwner);
        registry.setMinimumStake(MINIMUM_STAKE / 2);
        assertEq(registry.minimumStake(), MINIMUM_STAKE / 2);

        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        vm.prank(stranger);
        registry.setMinimumStake(1);
        vm.expectRevert(
            abi.encodeWithSelector(BlsKeyRegistry.InvalidMinimumStake.selector, MINIMUM_STAKE, MINIMUM_STAKE / 2)
        );
        vm.prank(avsOwner);
        registry.setMinimumStake(MINIMUM_STAKE);
        vm.expectRevert(abi.encodeWithSelector(BlsKeyRegistry.InvalidMinimumStake.selector, 0, MINIMUM_STAKE / 2));
        vm.prank(avsOwner);
        registry.setMinimumStake(0);
    }

    function test_domainSeparatorAndDigest_matchProtocol() public view {
        bytes32 separator = BatchDigest.domainSeparator(block.chainid, address(registry));
        assertEq(registry.domainSeparator(), separator);
        assertEq(
            registry.keyRegistrationDigest(alice, bytes32(uint256(7))),
            BatchDigest.keyRegistrationDigest(separator, alice, bytes32(uint256(7)))
        );
    }

    // ---------------------------------------------------------------------------------------------------------
    // Registration
    // ---------------------------------------------------------------------------------------------------------

    function test_register_recordsKeyApkAndWeight() public {
        _prepareOperator(alice, STAKE, MAGNITUDE);
        BLS12381.G1Point memory pubkey = _publicKey(ALICE_KEY);
        bytes32 pubkeyHash = keccak256(BLS12381.toBytes(pubkey));
        uint32 blockNumber = uint32(block.number);

        vm.expectEmit(address(registry));
        emit PubkeyRegistered(alice, pubkeyHash, pubkey);
        vm.expectEmit(address(registry));
        emit OperatorRegistered(alice, pubkeyHash);
        vm.expectEmit(address(registry));
        emit AggregatePubkeyUpdated(blockNumber, pubkey);
        vm.expectEmit(address(registry));
        emit OperatorWeightUpdated(alice, blockNumber, 0, 500e18);
        vm.expectEmit(address(registry));
        emit TotalWeightUpdated(blockNumber, 0, 500e18);
        _joinSet(alice, _registrationData(alice, ALICE_KEY));

        assertTrue(registry.isRegistered(alice));
        assertEq(registry.pubkeyHashOf(alice), pubkeyHash);
        assertEq(registry.operatorOfPubkeyHash(pubkeyHash), alice);
        _assertPoint(registry.pubkeyOf(alice), pubkey);
        _assertPoint(registry.currentApk(), pubkey);
        _assertPoint(registry.getApkAtBlock(blockNumber), pubkey);
        _assertPoint(registry.getApkAtBlock(blockNumber - 1), BLS12381.G1Point(0, 0, 0, 0));
        assertEq(registry.getOperatorWeight(alice), 500e18);
        assertEq(registry.getOperatorWeightAtBlock(alice, blockNumber), 500e18);
        assertEq(registry.getOperatorWeightAtBlock(alice, blockNumber - 1), 0);
        assertEq(registry.getTotalWeight(), 500e18);
        assertEq(registry.getTotalWeightAtBlock(blockNumber), 500e18);
        assertEq(registry.currentStake(alice), 500e18);
    }

    function test_register_revertsOnBadProofOfPossession() public {
        _prepareOperator(alice, STAKE, MAGNITUDE);
        bytes memory pubkey = BLS12381.toBytes(_publicKey(ALICE_KEY));
        // Signed by another key.
        bytes memory wrongSigner = _proofOfPossession(alice, BOB_KEY, pubkey);
        _expectJoinRevert(alice, abi.encode(pubkey, wrongSigner), BlsKeyRegistry.InvalidProofOfPossession.selector);
        // Signed with the batch DST instead of the proof-of-possession DST.
        bytes32 digest = registry.keyRegistrationDigest(alice, keccak256(pubkey));
        bytes memory wrongDst = BLS12381.toBytes(_sign(ALICE_KEY, abi.encode(digest), BatchDigest.BATCH_DST));
        _expectJoinRevert(alice, abi.encode(pubkey, wrongDst), BlsKeyRegistry.InvalidProofOfPossession.selector);
        // Signed over another key hash.
        bytes memory otherHash = BLS12381.toBytes(
            _sign(
                ALICE_KEY, abi.encode(registry.keyRegistrationDigest(alice, bytes32(uint256(1)))), BatchDigest.POP_DST
            )
        );
        _expectJoinRevert(alice, abi.encode(pubkey, otherHash), BlsKeyRegistry.InvalidProofOfPossession.selector);
        // The point at infinity as proof (a pairing with infinity would be 1).
        _expectJoinRevert(alice, abi.encode(pubkey, new bytes(256)), BlsKeyRegistry.InvalidProofOfPossession.selector);
        // A valid G2 point that is not the signature.
        _expectJoinRevert(
            alice,
            abi.encode(pubkey, BLS12381.toBytes(_g2Generator())),
            BlsKeyRegistry.InvalidProofOfPossession.selector
        );
    }

    function test_register_revertsOnProofForAnotherOperator() public {
        _prepareOperator(alice, STAKE, MAGNITUDE);
        // Bob's valid registration data, copied by Alice: the proof binds Bob's address.
        _expectJoinRevert(alice, _registrationData(bob, ALICE_KEY), BlsKeyRegistry.InvalidProofOfPossession.selector);
    }

    function test_register_revertsOnProofForAnotherRegistry() public {
        _prepareOperator(alice, STAKE, MAGNITUDE);
        bytes memory pubkey = BLS12381.toBytes(_publicKey(ALICE_KEY));
        bytes32 digest = BatchDigest.keyRegistrationDigest(
            BatchDigest.domainSeparator(block.chainid, address(serviceManager)), alice, keccak256(pubkey)
        );
        bytes memory proof = BLS12381.toBytes(_sign(ALICE_KEY, abi.encode(digest), BatchDigest.POP_DST));
        _expectJoinRevert(alice, abi.encode(pubkey, proof), BlsKeyRegistry.InvalidProofOfPossession.selector);
    }

    function test_register_revertsOnInfinityKey() public {
        _prepareOperator(alice, STAKE, MAGNITUDE);
        bytes memory proof = BLS12381.toBytes(_g2Generator());
        _expectJoinRevert(alice, abi.encode(new bytes(128), proof), BlsKeyRegistry.InvalidPublicKey.selector);
    }

    function test_register_revertsOnOffCurveKey() public {
        _prepareOperator(alice, STAKE, MAGNITUDE);
        bytes memory offCurve = BLS12381.toBytes(BLS12381.G1Point(0, bytes32(uint256(1)), 0, bytes32(uint256(1))));
        bytes memory proof = BLS12381.toBytes(_g2Generator());
        _expectJoinRevert(alice, abi.encode(offCurve, proof), BlsKeyRegistry.InvalidPublicKey.selector);
    }

    function test_register_revertsOnKeyOutsideSubgroup() public {
        _prepareOperator(alice, STAKE, MAGNITUDE);
        // (0, 2) is on y^2 = x^3 + 4 with order 3: on the curve, not in the prime-order subgroup.
        bytes memory lowOrder = BLS12381.toBytes(BLS12381.G1Point(0, 0, 0, bytes32(uint256(2))));
        bytes memory proof = BLS12381.toBytes(_g2Generator());
        _expectJoinRevert(alice, abi.encode(lowOrder, proof), BlsKeyRegistry.InvalidPublicKey.selector);
    }

    function test_register_revertsOnBadEncodings() public {
        _prepareOperator(alice, STAKE, MAGNITUDE);
        bytes memory pubkey = BLS12381.toBytes(_publicKey(ALICE_KEY));
        bytes memory proof = _proofOfPossession(alice, ALICE_KEY, pubkey);

        bytes memory shortKey = new bytes(127);
        _expectJoinRevert(
            alice,
            abi.encode(shortKey, proof),
            abi.encodeWithSelector(BLS12381.InvalidEncodingLength.selector, 128, 127)
        );
        bytes memory longKey = bytes.concat(pubkey, hex"00");
        _expectJoinRevert(
            alice, abi.encode(longKey, proof), abi.encodeWithSelector(BLS12381.InvalidEncodingLength.selector, 128, 129)
        );
        bytes memory shortProof = new bytes(255);
        _expectJoinRevert(
            alice,
            abi.encode(pubkey, shortProof),
            abi.encodeWithSelector(BLS12381.InvalidEncodingLength.selector, 256, 255)
        );
        bytes memory padded = bytes.concat(pubkey);
        padded[0] = 0x01;
        _expectJoinRevert(alice, abi.encode(padded, proof), abi.encodeWithSelector(BLS12381.NonZeroPadding.selector));
        bytes memory unreduced =
            BLS12381.toBytes(BLS12381.G1Point(bytes32(BLS12381.P_HI), bytes32(BLS12381.P_LO), 0, bytes32(uint256(2))));
        _expectJoinRevert(
            alice, abi.encode(unreduced, proof), abi.encodeWithSelector(BLS12381.FieldElementNotInField.selector)
        );
    }

    function test_register_revertsOnKeyReuse() public {
        _onboard(alice, ALICE_KEY, STAKE, MAGNITUDE);
        _prepareOperator(bob, STAKE, MAGNITUDE);
        bytes memory pubkey = BLS12381.toBytes(_publicKey(ALICE_KEY));
        bytes32 pubkeyHash = keccak256(pubkey);
        // Even with a valid proof made for Bob (the secret leaked), the key stays Alice's.
        bytes memory data = abi.encode(pubkey, _proofOfPossession(bob, ALICE_KEY, pubkey));
        bytes memory expected =
            abi.encodeWithSelector(BlsKeyRegistry.PubkeyAlreadyRegistered.selector, pubkeyHash, alice);
        _expectJoinRevert(bob, data, expected);

        // Still after Alice leaves.
        vm.roll(block.number + 1);
        _leaveSet(alice);
        assertEq(registry.operatorOfPubkeyHash(pubkeyHash), alice);
        _expectJoinRevert(bob, data, expected);
    }

    function test_reregister_sameKeyWithoutProof() public {
        _onboard(alice, ALICE_KEY, STAKE, MAGNITUDE);
        vm.roll(block.number + 1);
        _leaveSet(alice);
        // EigenLayer refuses a rejoin while the operator is still slashable from its last membership.
        vm.roll(block.number + DEALLOCATION_DELAY + 1);
        bytes memory pubkey = BLS12381.toBytes(_publicKey(ALICE_KEY));

        vm.recordLogs();
        _joinSet(alice, abi.encode(pubkey, bytes("")));
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertTrue(registry.isRegistered(alice));
        _assertPoint(registry.currentApk(), _publicKey(ALICE_KEY));
        assertEq(registry.getOperatorWeight(alice), 500e18);
        // No second PubkeyRegistered: the binding already existed.
        bytes32 topic = PubkeyRegistered.selector;
        for (uint256 i; i < logs.length; ++i) {
            assertTrue(logs[i].topics[0] != topic);
        }
    }

    function test_reregister_revertsWithAnotherKey() public {
        _onboard(alice, ALICE_KEY, STAKE, MAGNITUDE);
        vm.roll(block.number + 1);
        _leaveSet(alice);
        vm.roll(block.number + DEALLOCATION_DELAY + 1);
        bytes memory newKey = BLS12381.toBytes(_publicKey(BOB_KEY));
        bytes memory expected = abi.encodeWithSelector(
            BlsKeyRegistry.OperatorKeyMismatch.selector, alice, registry.pubkeyHashOf(alice), keccak256(newKey)
        );
        _expectJoinRevert(alice, abi.encode(newKey, _proofOfPossession(alice, BOB_KEY, newKey)), expected);
    }

    function test_registerOperator_revertsForNonServiceManager() public {
        bytes memory pubkey = BLS12381.toBytes(_publicKey(ALICE_KEY));
        bytes memory proof = _proofOfPossession(alice, ALICE_KEY, pubkey);
        vm.expectRevert(BlsKeyRegistry.OnlyServiceManager.selector);
        vm.prank(alice);
        registry.registerOperator(alice, pubkey, proof);
    }

    function test_registerOperator_revertsWhenAlreadyRegistered() public {
        _onboard(alice, ALICE_KEY, STAKE, MAGNITUDE);
        bytes memory pubkey = BLS12381.toBytes(_publicKey(ALICE_KEY));
        vm.expectRevert(abi.encodeWithSelector(BlsKeyRegistry.OperatorAlreadyRegistered.selector, alice));
        vm.prank(address(serviceManager));
        registry.registerOperator(alice, pubkey, "");
    }

    /// Attack 4 (zero-stake keys): an operator with no slashable stake, or less than the minimum, cannot join, so no
    /// batch must carry it as a non-signer.
    function test_register_revertsWithoutMinimumStake() public {
        // Registered in EigenLayer, nothing allocated: EigenLayer lets it join the set; the registrar refuses.
        vm.prank(alice);
        delegationManager.registerAsOperator(address(0), OPERATOR_ALLOCATION_DELAY, "https://operator.example");
        _expectJoinRevert(
            alice,
            _registrationData(alice, ALICE_KEY),
            abi.encodeWithSelector(BlsKeyRegistry.InsufficientStake.selector, alice, 0, MINIMUM_STAKE)
        );
        // Just below the minimum (half of 2e18 - 2 allocated is 1e18 - 1).
        _prepareOperator(bob, 2 * MINIMUM_STAKE - 2, MAGNITUDE);
        _expectJoinRevert(
            bob,
            _registrationData(bob, BOB_KEY),
            abi.encodeWithSelector(BlsKeyRegistry.InsufficientStake.selector, bob, MINIMUM_STAKE - 1, MINIMUM_STAKE)
        );
        // At the minimum it joins.
        _prepareOperator(carol, 2 * MINIMUM_STAKE, MAGNITUDE);
        _joinSet(carol, _registrationData(carol, CAROL_KEY));
        assertEq(registry.getOperatorWeight(carol), MINIMUM_STAKE);
        // Straight from the service manager, with no stake at all: refused too.
        bytes memory pubkey = BLS12381.toBytes(_publicKey(0xd00d));
        bytes memory proof = _proofOfPossession(stranger, 0xd00d, pubkey);
        vm.expectRevert(abi.encodeWithSelector(BlsKeyRegistry.InsufficientStake.selector, stranger, 0, MINIMUM_STAKE));
        vm.prank(address(serviceManager));
        registry.registerOperator(stranger, pubkey, proof);
    }

    /// A banned operator can never join again, with its key or any other; its key stays bound to it.
    function test_register_revertsWhenBanned() public {
        _onboard(alice, ALICE_KEY, STAKE, MAGNITUDE);
        bytes32 pubkeyHash = registry.pubkeyHashOf(alice);
        vm.expectRevert(BlsKeyRegistry.OnlyServiceManager.selector);
        registry.banOperator(alice);
        vm.expectEmit(address(registry));
        emit OperatorBanned(alice, pubkeyHash);
        vm.prank(address(serviceManager));
        registry.banOperator(alice);
        assertTrue(registry.isBanned(alice));
        _leaveSet(alice);
        vm.roll(block.number + DEALLOCATION_DELAY + 1);
        _expectJoinRevert(
            alice,
            abi.encode(BLS12381.toBytes(_publicKey(ALICE_KEY)), bytes("")),
            abi.encodeWithSelector(BlsKeyRegistry.OperatorIsBanned.selector, alice)
        );
        // Its key cannot be taken by anyone else.
        _prepareOperator(bob, STAKE, MAGNITUDE);
        bytes memory key = BLS12381.toBytes(_publicKey(ALICE_KEY));
        _expectJoinRevert(
            bob,
            abi.encode(key, _proofOfPossession(bob, ALICE_KEY, key)),
            abi.encodeWithSelector(BlsKeyRegistry.PubkeyAlreadyRegistered.selector, pubkeyHash, alice)
        );
    }

    // ---------------------------------------------------------------------------------------------------------
    // Deregistration and the aggregate key
    // ---------------------------------------------------------------------------------------------------------

    function test_nonSignerWeightsAtBlock() public {
        _onboard(alice, ALICE_KEY, STAKE, MAGNITUDE);
        _onboard(bob, BOB_KEY, 2 * STAKE, MAGNITUDE);
        uint32 both = uint32(block.number);
        bytes32[] memory hashes = new bytes32[](2);
        hashes[0] = registry.pubkeyHashOf(alice);
        hashes[1] = registry.pubkeyHashOf(bob);
        (uint256 weightSum, uint256 totalWeight, uint256 firstUnknown) = registry.nonSignerWeightsAtBlock(hashes, both);
        assertEq(
            weightSum, registry.getOperatorWeightAtBlock(alice, both) + registry.getOperatorWeightAtBlock(bob, both)
        );
        assertEq(totalWeight, registry.getTotalWeightAtBlock(both));
        assertEq(firstUnknown, 2);

        hashes[1] = keccak256("unbound");
        (weightSum, totalWeight, firstUnknown) = registry.nonSignerWeightsAtBlock(hashes, both);
        assertEq(weightSum, registry.getOperatorWeightAtBlock(alice, both));
        assertEq(totalWeight, 1500e18);
        assertEq(firstUnknown, 1);

        (weightSum, totalWeight, firstUnknown) = registry.nonSignerWeightsAtBlock(new bytes32[](0), both);
        assertEq(weightSum, 0);
        assertEq(totalWeight, 1500e18);
        assertEq(firstUnknown, 0);
    }

    /// The signing set at a block: latest state when nothing changed since, the histories when something did (a
    /// weight change, a departure), an unbound key stops the sum, and a future block is refused.
    function test_signingSetAtBlock() public {
        _onboard(alice, ALICE_KEY, STAKE, MAGNITUDE);
        _onboard(bob, BOB_KEY, 2 * STAKE, MAGNITUDE);
        uint32 both = uint32(block.number);
        bytes32[] memory hashes = new bytes32[](2);
        hashes[0] = registry.pubkeyHashOf(alice);
        hashes[1] = registry.pubkeyHashOf(bob);
        (BLS12381.G1Point memory apk, uint256 total, uint256 nonSignerWeight, uint256 firstUnknown,) =
            registry.signingSetAtBlock(hashes, both);
        _assertPoint(apk, _publicKey(ALICE_KEY + BOB_KEY));
        assertEq(total, 1500e18);
        assertEq(nonSignerWeight, 1500e18);
        assertEq(firstUnknown, 2);

        // Alice's stake doubles and is refreshed, then Bob leaves: `both` now reads from the histories.
        vm.roll(block.number + 1);
        _deposit(alice, STAKE);
        registry.updateWeights(_list(alice));
        uint32 refreshed = uint32(block.number);
        vm.roll(block.number + 1);
        _leaveSet(bob);
        uint32 left = uint32(block.number);
        (apk, total, nonSignerWeight, firstUnknown,) = registry.signingSetAtBlock(hashes, both);
        _assertPoint(apk, _publicKey(ALICE_KEY + BOB_KEY));
        assertEq(total, 1500e18);
        assertEq(nonSignerWeight, 1500e18);
        (apk, total, nonSignerWeight,,) = registry.signingSetAtBlock(hashes, refreshed);
        _assertPoint(apk, _publicKey(ALICE_KEY + BOB_KEY));
        assertEq(total, 2000e18);
        assertEq(nonSignerWeight, 2000e18);
        (apk, total, nonSignerWeight,,) = registry.signingSetAtBlock(hashes, left);
        _assertPoint(apk, _publicKey(ALICE_KEY));
        assertEq(total, 1000e18);
        // Bob's key stays bound, with weight 0.
        assertEq(nonSignerWeight, 1000e18);
        assertEq(firstUnknown, 2);

        hashes[0] = keccak256("unbound");
        (,, nonSignerWeight, firstUnknown,) = registry.signingSetAtBlock(hashes, left);
        assertEq(nonSignerWeight, 0);
        assertEq(firstUnknown, 0);

        vm.expectRevert(abi.encodeWithSelector(BlsKeyRegistry.FutureBlock.selector, left + 1, block.number));
        registry.signingSetAtBlock(hashes, left + 1);
    }

    function test_apk_beforeAndAfterDeregistration() public {
        _onboard(alice, ALICE_KEY, STAKE, MAGNITUDE);
        _onboard(bob, BOB_KEY, 2 * STAKE, MAGNITUDE);
        uint32 both = uint32(block.number);
        BLS12381.G1Point memory sum = _publicKey(ALICE_KEY + BOB_KEY);
        _assertPoint(registry.getApkAtBlock(both), sum);
        assertEq(registry.getTotalWeightAtBlock(both), 1500e18);

        vm.roll(block.number + 1);
        uint32 after_ = uint32(block.number);
        bytes32 aliceHash = registry.pubkeyHashOf(alice);
        vm.expectEmit(address(registry));
        emit OperatorDeregistered(alice, aliceHash);
        vm.expectEmit(address(registry));
        emit AggregatePubkeyUpdated(after_, _publicKey(BOB_KEY));
        vm.expectEmit(address(registry));
        emit OperatorWeightUpdated(alice, after_, 500e18, 0);
        vm.expectEmit(address(registry));
        emit TotalWeightUpdated(after_, 1500e18, 1000e18);
        _leaveSet(alice);

        _assertPoint(registry.getApkAtBlock(both), sum);
        _assertPoint(registry.getApkAtBlock(after_), _publicKey(BOB_KEY));
        assertEq(registry.getOperatorWeightAtBlock(alice, both), 500e18);
        assertEq(registry.getOperatorWeightAtBlock(alice, after_), 0);
        assertEq(registry.getTotalWeightAtBlock(after_), 1000e18);
        assertFalse(registry.isRegistered(alice));
        // The key stays bound.
        _assertPoint(registry.pubkeyOf(alice), _publicKey(ALICE_KEY));

        vm.roll(block.number + 1);
        _leaveSet(bob);
        _assertPoint(registry.currentApk(), BLS12381.G1Point(0, 0, 0, 0));
        assertEq(registry.getTotalWeight(), 0);
    }

    function test_sameBlockChangesOverwriteCheckpoints() public {
        _prepareOperator(alice, STAKE, MAGNITUDE);
        _prepareOperator(bob, STAKE, MAGNITUDE);
        uint256 apkLength = registry.apkHistoryLength();
        uint256 totalLength = registry.totalWeightHistoryLength();
        _joinSet(alice, _registrationData(alice, ALICE_KEY));
        _joinSet(bob, _registrationData(bob, BOB_KEY));
        assertEq(registry.apkHistoryLength(), apkLength + 1);
        assertEq(registry.totalWeightHistoryLength(), totalLength + 1);
        _assertPoint(registry.getApkAtBlock(uint32(block.number)), _publicKey(ALICE_KEY + BOB_KEY));
        assertEq(registry.getTotalWeightAtBlock(uint32(block.number)), 1000e18);
        // Leave in the same block: the checkpoint is overwritten again.
        _leaveSet(alice);
        assertEq(registry.apkHistoryLength(), apkLength + 1);
        assertEq(registry.operatorWeightHistoryLength(alice), 1);
        assertEq(registry.getOperatorWeightAtBlock(alice, uint32(block.number)), 0);
    }

    function test_deregisterOperator_reverts() public {
        vm.expectRevert(BlsKeyRegistry.OnlyServiceManager.selector);
        vm.prank(alice);
        registry.deregisterOperator(alice);
        vm.expectRevert(abi.encodeWithSelector(BlsKeyRegistry.OperatorNotRegistered.selector, alice));
        vm.prank(address(serviceManager));
        registry.deregisterOperator(alice);
    }

    function test_lookups_revertForFutureBlocks() public {
        uint32 next = uint32(block.number + 1);
        vm.expectRevert(abi.encodeWithSelector(BlsKeyRegistry.FutureBlock.selector, next, block.number));
        registry.getApkAtBlock(next);
        vm.expectRevert(abi.encodeWithSelector(BlsKeyRegistry.FutureBlock.selector, next, block.number));
        registry.getOperatorWeightAtBlock(alice, next);
        vm.expectRevert(abi.encodeWithSelector(BlsKeyRegistry.FutureBlock.selector, next, block.number));
        registry.getTotalWeightAtBlock(next);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Weights
    // ---------------------------------------------------------------------------------------------------------

    function test_updateWeights_afterStakeChange() public {
        _onboard(alice, ALICE_KEY, STAKE, MAGNITUDE);
        uint32 first = uint32(block.number);
        vm.roll(block.number + 1);

        // Alice restakes more: EigenLayer's slashable stake grows with the same magnitude, the registry only
        // when refreshed.
        _deposit(alice, STAKE);
        assertEq(registry.currentStake(alice), 1000e18);
        assertEq(registry.getOperatorWeight(alice), 500e18);

        uint32 second = uint32(block.number);
        vm.expectEmit(address(registry));
        emit OperatorWeightUpdated(alice, second, 500e18, 1000e18);
        vm.expectEmit(address(registry));
        emit TotalWeightUpdated(second, 500e18, 1000e18);
        registry.updateWeights(_list(alice));

        vm.roll(block.number + 1);
        assertEq(registry.getOperatorWeightAtBlock(alice, first), 500e18);
        assertEq(registry.getOperatorWeightAtBlock(alice, second), 1000e18);
        assertEq(registry.getTotalWeightAtBlock(first), 500e18);
        assertEq(registry.getTotalWeightAtBlock(second), 1000e18);
    }

    function test_updateWeights_afterSlash() public {
        _onboard(alice, ALICE_KEY, STAKE, MAGNITUDE);
        _onboard(bob, BOB_KEY, STAKE, MAGNITUDE);
        uint32 before = uint32(block.number);
        vm.roll(block.number + 1);
        SlasherStub slasher = new SlasherStub(serviceManager);
        vm.prank(avsOwner);
        serviceManager.setTaskManager(address(slasher));
        slasher.slash(alice, 0.5e18, keccak256("offence"));
        uint32 slashed = uint32(block.number);

        // EigenLayer reports the reduced stake; the service manager already refreshed Alice.
        uint256 reduced = registry.currentStake(alice);
        assertApproxEqAbs(reduced, 250e18, 1e6);
        assertEq(registry.getOperatorWeight(alice), reduced);

        // A second refresh by anyone is a no-op.
        uint256 length = registry.operatorWeightHistoryLength(alice);
        vm.prank(stranger);
        registry.updateWeights(_list(alice, bob));
        assertEq(registry.operatorWeightHistoryLength(alice), length);

        vm.roll(block.number + 1);
        assertEq(registry.getOperatorWeightAtBlock(alice, before), 500e18);
        assertEq(registry.getOperatorWeightAtBlock(alice, slashed), reduced);
        assertEq(registry.getTotalWeightAtBlock(before), 1000e18);
        assertEq(registry.getTotalWeightAtBlock(slashed), 500e18 + reduced);
    }

    function test_updateWeights_skipsUnregisteredAndDuplicates() public {
        _onboard(alice, ALICE_KEY, STAKE, MAGNITUDE);
        vm.roll(block.number + 1);
        _deposit(alice, STAKE);
        address[] memory operators = new address[](4);
        operators[0] = stranger;
        operators[1] = alice;
        operators[2] = alice;
        operators[3] = bob;
        registry.updateWeights(operators);
        assertEq(registry.getOperatorWeight(alice), 1000e18);
        assertEq(registry.getTotalWeight(), 1000e18);
        assertEq(registry.operatorWeightHistoryLength(stranger), 0);
        assertEq(registry.operatorWeightHistoryLength(bob), 0);
    }

    function test_updateWeights_noopWithoutChangeOrOperators() public {
        _onboard(alice, ALICE_KEY, STAKE, MAGNITUDE);
        vm.roll(block.number + 1);
        uint256 length = registry.totalWeightHistoryLength();
        registry.updateWeights(new address[](0));
        registry.updateWeights(_list(alice));
        registry.updateWeights(_list(stranger));
        assertEq(registry.totalWeightHistoryLength(), length);
        assertEq(registry.operatorWeightHistoryLength(alice), 1);
    }

    /// Attack 2: a weight counts only stake that stays slashable for the horizon. A deallocation stops counting at the
    /// next refresh, long before it completes (EigenLayer keeps it slashable until then).
    function test_weight_leavesOutStakeOnItsWayOut() public {
        _onboard(alice, ALICE_KEY, STAKE, MAGNITUDE);
        _onboard(bob, BOB_KEY, STAKE, MAGNITUDE);
        vm.roll(block.number + 1);
        _allocate(alice, 0);
        assertEq(registry.getOperatorWeight(alice), 500e18, "not refreshed yet");
        assertEq(registry.currentStake(alice), 0, "nothing stays slashable through the horizon");
        uint32 refreshed = uint32(block.number);
        registry.updateAllWeights();
        assertEq(registry.getOperatorWeight(alice), 0);
        assertEq(registry.getTotalWeight(), 500e18);
        assertEq(registry.weightsConfirmedAt(), refreshed);
        // EigenLayer's own view: slashable now, gone once the deallocation delay has passed.
        address[] memory ops = _list(alice);
        uint256[][] memory now_ =
            allocationManager.getMinimumSlashableStake(_keeperSet(), ops, _strategies(), uint32(block.number));
        assertEq(now_[0][0], 500e18);
        uint256[][] memory then = allocationManager.getMinimumSlashableStake(
            _keeperSet(), ops, _strategies(), uint32(block.number) + DEALLOCATION_DELAY
        );
        assertEq(then[0][0], 0);
    }

    /// `updateAllWeights` reads every member, writes what changed, and records its block as the set's confirmation,
    /// with a checkpoint even when nothing changed; `updateWeights` and registrations keep the confirmation.
    function test_updateAllWeights_confirmsTheSet() public {
        _onboard(alice, ALICE_KEY, STAKE, MAGNITUDE);
        _onboard(bob, BOB_KEY, STAKE, MAGNITUDE);
        uint32 joined = uint32(block.number);
        assertEq(registry.weightsConfirmedAtBlock(joined), 0, "never confirmed");

        vm.roll(block.number + 1);
        uint32 first = uint32(block.number);
        uint256 length = registry.totalWeightHistoryLength();
        vm.expectEmit(address(registry));
        emit WeightsConfirmed(first, 2, 1000e18);
        vm.prank(stranger);
        registry.updateAllWeights();
        assertEq(registry.totalWeightHistoryLength(), length + 1, "a checkpoint without a change");
        assertEq(registry.weightsConfirmedAt(), first);
        assertEq(registry.weightsConfirmedAtBlock(first), first);
        assertEq(registry.weightsConfirmedAtBlock(joined), 0);

        // A stake change, refreshed for Alice alone: the weights change, the confirmation stays.
        vm.roll(block.number + 1);
        _deposit(alice, STAKE);
        registry.updateWeights(_list(alice));
        uint32 partial_ = uint32(block.number);
        assertEq(registry.getTotalWeight(), 1500e18);
        assertEq(registry.weightsConfirmedAtBlock(partial_), first);

        // Carol joins: the confirmation stays `first`; her weight was read as she joined.
        _onboard(carol, CAROL_KEY, STAKE, MAGNITUDE);
        assertEq(registry.weightsConfirmedAt(), first);

        vm.roll(block.number + 1);
        _deposit(bob, STAKE);
        uint32 second = uint32(block.number);
        vm.expectEmit(address(registry));
        emit OperatorWeightUpdated(bob, second, 500e18, 1000e18);
        vm.expectEmit(address(registry));
        emit TotalWeightUpdated(second, 2000e18, 2500e18);
        vm.expectEmit(address(registry));
        emit WeightsConfirmed(second, 3, 2500e18);
        registry.updateAllWeights();
        assertEq(registry.weightsConfirmedAt(), second);

        // Read back through the signing set: the fast path now, the slow path for older blocks.
        vm.roll(block.number + 1);
        (,,,, uint256 confirmed) = registry.signingSetAtBlock(new bytes32[](0), second);
        assertEq(confirmed, second);
        (, uint256 total,,, uint256 confirmedThen) = registry.signingSetAtBlock(new bytes32[](0), partial_);
        assertEq(confirmedThen, first);
        assertEq(total, 1500e18);
        (,,,, confirmedThen) = registry.signingSetAtBlock(new bytes32[](0), joined);
        assertEq(confirmedThen, 0);
    }

    function test_updateAllWeights_withNoMembers() public {
        registry.updateAllWeights();
        assertEq(registry.weightsConfirmedAt(), block.number);
        assertEq(registry.getTotalWeight(), 0);
    }

    // ---------------------------------------------------------------------------------------------------------
    // History fuzz: the aggregate key and total weight as a random sequence of joins and leaves happens
    // ---------------------------------------------------------------------------------------------------------

    /// Operators join and leave in a random order at random block gaps (0 = same block); at the end, every block
    /// in the range must read back the state recorded when it was current.
    function testFuzz_historyMatchesRecordedStates(uint256 seed) public {
        address[3] memory operators = [alice, bob, carol];
        uint256[3] memory secrets = [ALICE_KEY, BOB_KEY, CAROL_KEY];
        for (uint256 i; i < 3; ++i) {
            _prepareOperator(operators[i], STAKE * (i + 1), MAGNITUDE);
        }
        uint32 start = uint32(block.number);
        uint256 steps = 6;
        uint32[] memory blocks = new uint32[](steps);
        uint256[] memory secretSums = new uint256[](steps);
        uint256[] memory totals = new uint256[](steps);
        bool[3] memory member;
        uint256 secretSum;
        uint256 total;
        for (uint256 s; s < steps; ++s) {
            uint256 r = uint256(keccak256(abi.encode(seed, s)));
            vm.roll(block.number + (r % 3));
            uint256 i = (r >> 8) % 3;
            if (member[i]) {
                _leaveSet(operators[i]);
                secretSum -= secrets[i];
                total -= 500e18 * (i + 1);
            } else if (registry.pubkeyHashOf(operators[i]) == 0) {
                _joinSet(operators[i], _registrationData(operators[i], secrets[i]));
                secretSum += secrets[i];
                total += 500e18 * (i + 1);
            } else {
                // A rejoin: EigenLayer requires the last membership's slashable window to be over.
                vm.roll(block.number + DEALLOCATION_DELAY + 1);
                _joinSet(operators[i], abi.encode(BLS12381.toBytes(_publicKey(secrets[i])), bytes("")));
                secretSum += secrets[i];
                total += 500e18 * (i + 1);
            }
            member[i] = !member[i];
            blocks[s] = uint32(block.number);
            secretSums[s] = secretSum;
            totals[s] = total;
        }
        for (uint32 b = start - 1; b <= block.number; ++b) {
            // The state at block b is the last one recorded at or before b.
            uint256 expectedSum;
            uint256 expectedTotal;
            for (uint256 s; s < steps; ++s) {
                if (blocks[s] <= b) {
                    expectedSum = secretSums[s];
                    expectedTotal = totals[s];
                }
            }
            BLS12381.G1Point memory expectedApk =
                expectedSum == 0 ? BLS12381.G1Point(0, 0, 0, 0) : _publicKey(expectedSum);
            _assertPoint(registry.getApkAtBlock(b), expectedApk);
            assertEq(registry.getTotalWeightAtBlock(b), expectedTotal);
            _assertSigningSet(operators, b, expectedApk, expectedTotal);
        }
    }

    /// `signingSetAtBlock` agrees with the histories at `b`, through its fast path (latest state) and its slow
    /// path (state changed after `b`), for the operators whose keys are bound by now.
    function _assertSigningSet(
        address[3] memory operators,
        uint32 b,
        BLS12381.G1Point memory expectedApk,
        uint256 expectedTotal
    ) internal view {
        uint256 bound;
        for (uint256 i; i < 3; ++i) {
            if (registry.pubkeyHashOf(operators[i]) != 0) ++bound;
        }
        bytes32[] memory hashes = new bytes32[](bound);
        uint256 expectedWeight;
        uint256 n;
        for (uint256 i; i < 3; ++i) {
            bytes32 pubkeyHash = registry.pubkeyHashOf(operators[i]);
            if (pubkeyHash == 0) continue;
            hashes[n++] = pubkeyHash;
            expectedWeight += registry.getOperatorWeightAtBlock(operators[i], b);
        }
        (BLS12381.G1Point memory apk, uint256 total, uint256 nonSignerWeight, uint256 firstUnknown,) =
            registry.signingSetAtBlock(hashes, b);
        _assertPoint(apk, expectedApk);
        assertEq(total, expectedTotal);
        assertEq(nonSignerWeight, expectedWeight);
        assertEq(firstUnknown, bound);
        (uint256 weightSum, uint256 totalWeight,) = registry.nonSignerWeightsAtBlock(hashes, b);
        assertEq(weightSum, expectedWeight);
        assertEq(totalWeight, expectedTotal);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Gas
    // ---------------------------------------------------------------------------------------------------------

    /// Run with `--isolate` for transaction-accurate numbers.
    function test_gas_updateWeights() public {
        _onboard(alice, ALICE_KEY, STAKE, MAGNITUDE);
        vm.roll(block.number + 1);
        _deposit(alice, STAKE);
        address[] memory operators = _list(alice);
        registry.updateWeights(operators);
        emit log_named_uint("updateWeights, one operator, weight changed", vm.lastCallGas().gasTotalUsed);
        vm.roll(block.number + 1);
        registry.updateWeights(operators);
        emit log_named_uint("updateWeights, one operator, unchanged", vm.lastCallGas().gasTotalUsed);
        registry.getApkAtBlock(uint32(block.number - 1));
        emit log_named_uint("getApkAtBlock", vm.lastCallGas().gasTotalUsed);
    }

    /// The refresh keepers run: `updateAllWeights` for 1, 16 and 64 members, with every weight unchanged and with
    /// every weight changed; storage cooled first, so each figure is a fresh transaction's execution gas.
    function test_gas_updateAllWeights() public {
        uint256[3] memory sizes = [uint256(1), 16, 64];
        uint256 joined;
        for (uint256 k; k < 3; ++k) {
            for (; joined < sizes[k]; ++joined) {
                _onboard(makeAddr(string.concat("member", vm.toString(joined))), 0x1000 + joined, STAKE, MAGNITUDE);
            }
            vm.roll(block.number + 1);
            _coolAll();
            registry.updateAllWeights();
            emit log_named_uint(
                string.concat("updateAllWeights, ", vm.toString(sizes[k]), " members, unchanged"),
                vm.lastCallGas().gasTotalUsed
            );
            for (uint256 i; i < joined; ++i) {
                _deposit(makeAddr(string.concat("member", vm.toString(i))), 1e18);
            }
            vm.roll(block.number + 1);
            _coolAll();
            registry.updateAllWeights();
            emit log_named_uint(
                string.concat("updateAllWeights, ", vm.toString(sizes[k]), " members, all changed"),
                vm.lastCallGas().gasTotalUsed
            );
        }
    }

    /// The refresh keeperd sends when EigenLayer reports a change of one member's stake (an allocation update, a
    /// slash): `updateWeights` of that member alone, in sets of 1, 16 and 64 members; storage cooled first.
    function test_gas_updateWeights_oneMemberOfASet() public {
        uint256[3] memory sizes = [uint256(1), 16, 64];
        uint256 joined;
        for (uint256 k; k < 3; ++k) {
            for (; joined < sizes[k]; ++joined) {
                _onboard(makeAddr(string.concat("member", vm.toString(joined))), 0x1000 + joined, STAKE, MAGNITUDE);
            }
            address changed = makeAddr("member0");
            _deposit(changed, 1e18);
            vm.roll(block.number + 1);
            _coolAll();
            registry.updateWeights(_list(changed));
            emit log_named_uint(
                string.concat("updateWeights of 1 changed member, ", vm.toString(sizes[k]), " members"),
                vm.lastCallGas().gasTotalUsed
            );
            assertEq(registry.getOperatorWeight(changed), registry.currentStake(changed));
            vm.roll(block.number + 1);
            _coolAll();
            registry.updateWeights(_list(changed));
            emit log_named_uint(
                string.concat("updateWeights of 1 unchanged member, ", vm.toString(sizes[k]), " members"),
                vm.lastCallGas().gasTotalUsed
            );
        }
    }

    function _coolAll() internal {
        vm.cool(address(registry));
        vm.cool(address(allocationManager));
        vm.cool(address(delegationManager));
        vm.cool(address(strategy));
    }

    // ---------------------------------------------------------------------------------------------------------
    // Helpers
    // ---------------------------------------------------------------------------------------------------------

    function _expectJoinRevert(address operator, bytes memory data, bytes4 selector) internal {
        _expectJoinRevert(operator, data, abi.encodeWithSelector(selector));
    }

    function _expectJoinRevert(address operator, bytes memory data, bytes memory revertData) internal {
        RegisterParams memory params = _registerParams(data);
        vm.expectRevert(revertData);
        vm.prank(operator);
        allocationManager.registerForOperatorSets(operator, params);
    }

    function _assertPoint(BLS12381.G1Point memory actual, BLS12381.G1Point memory expected) internal pure {
        assertEq(keccak256(abi.encode(actual)), keccak256(abi.encode(expected)), "G1 point");
    }

    function _list(address a) internal pure returns (address[] memory list) {
        list = new address[](1);
        list[0] = a;
    }

    function _list(address a, address b) internal pure returns (address[] memory list) {
        list = new address[](2);
        list[0] = a;
        list[1] = b;
    }
}
