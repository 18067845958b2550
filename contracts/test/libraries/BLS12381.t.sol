// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {BLS12381} from "../../src/libraries/BLS12381.sol";
import {BlsTestBase} from "../utils/BlsTestBase.sol";

/// @dev External wrappers so reverts from the internal library surface as calls `vm.expectRevert` can see.
contract BLS12381Harness {
    function g1FromBytes(bytes memory data) external pure returns (BLS12381.G1Point memory) {
        return BLS12381.g1FromBytes(data);
    }

    function g2FromBytes(bytes memory data) external pure returns (BLS12381.G2Point memory) {
        return BLS12381.g2FromBytes(data);
    }

    function g2FromCalldata(bytes calldata data) external pure returns (BLS12381.G2Point memory) {
        return BLS12381.g2FromCalldata(data);
    }

    function expandMessageXmd(bytes memory message, bytes memory dst, uint256 lenInBytes)
        external
        view
        returns (bytes memory)
    {
        return BLS12381.expandMessageXmd(message, dst, lenInBytes);
    }

    function hashToG2(bytes memory message, bytes memory dst) external view returns (BLS12381.G2Point memory) {
        return BLS12381.hashToG2(message, dst);
    }

    function addG1(BLS12381.G1Point memory a, BLS12381.G1Point memory b)
        external
        view
        returns (BLS12381.G1Point memory)
    {
        return BLS12381.addG1(a, b);
    }

    function addG2(BLS12381.G2Point memory a, BLS12381.G2Point memory b)
        external
        view
        returns (BLS12381.G2Point memory)
    {
        return BLS12381.addG2(a, b);
    }
}

contract BLS12381Test is BlsTestBase {
    bytes internal constant RFC_G2_DST = "QUUX-V01-CS02-with-BLS12381G2_XMD:SHA-256_SSWU_RO_";
    bytes internal constant RFC_EXPAND_DST = "QUUX-V01-CS02-with-expander-SHA256-128";
    bytes internal constant TEST_DST = "KEEPER-NETWORK-V1-BATCH_BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";

    BLS12381Harness internal harness;

    function setUp() public {
        harness = new BLS12381Harness();
    }

    // ---------------------------------------------------------------------------------------------------------
    // RFC 9380 vectors
    // ---------------------------------------------------------------------------------------------------------

    /// RFC 9380 appendix K.1, expand_message_xmd with SHA-256, DST "QUUX-V01-CS02-with-expander-SHA256-128".
    /// Values as published in the RFC and in cfrg/draft-irtf-cfrg-hash-to-curve poc/vectors/expand_message_xmd_SHA256_38.json.
    function test_expandMessageXmd_rfc9380_k1() public view {
        bytes[5] memory messages = _rfcMessages();
        bytes[5] memory short = [
            bytes(hex"68a985b87eb6b46952128911f2a4412bbc302a9d759667f87f7a21d803f07235"),
            hex"d8ccab23b5985ccea865c6c97b6e5b8350e794e603b4b97902f53a8a0d605615",
            hex"eff31487c770a893cfb36f912fbfcbff40d5661771ca4b2cb4eafe524333f5c1",
            hex"b23a1d2b4d97b2ef7785562a7e8bac7eed54ed6e97e29aa51bfe3f12ddad1ff9",
            hex"4623227bcc01293b8c130bf771da8c298dede7383243dc0993d2d94823958c4c"
        ];
        bytes[5] memory long = [
            bytes(
                hex"af84c27ccfd45d41914fdff5df25293e221afc53d8ad2ac06d5e3e29485dadbee0d121587713a3e0dd4d5e69e93eb7cd4f5df4cd103e188cf60cb02edc3edf18eda8576c412b18ffb658e3dd6ec849469b979d444cf7b26911a08e63cf31f9dcc541708d3491184472c2c29bb749d4286b004ceb5ee6b9a7fa5b646c993f0ced"
            ),
            hex"abba86a6129e366fc877aab32fc4ffc70120d8996c88aee2fe4b32d6c7b6437a647e6c3163d40b76a73cf6a5674ef1d890f95b664ee0afa5359a5c4e07985635bbecbac65d747d3d2da7ec2b8221b17b0ca9dc8a1ac1c07ea6a1e60583e2cb00058e77b7b72a298425cd1b941ad4ec65e8afc50303a22c0f99b0509b4c895f40",
            hex"ef904a29bffc4cf9ee82832451c946ac3c8f8058ae97d8d629831a74c6572bd9ebd0df635cd1f208e2038e760c4994984ce73f0d55ea9f22af83ba4734569d4bc95e18350f740c07eef653cbb9f87910d833751825f0ebefa1abe5420bb52be14cf489b37fe1a72f7de2d10be453b2c9d9eb20c7e3f6edc5a60629178d9478df",
            hex"80be107d0884f0d881bb460322f0443d38bd222db8bd0b0a5312a6fedb49c1bbd88fd75d8b9a09486c60123dfa1d73c1cc3169761b17476d3c6b7cbbd727acd0e2c942f4dd96ae3da5de368d26b32286e32de7e5a8cb2949f866a0b80c58116b29fa7fabb3ea7d520ee603e0c25bcaf0b9a5e92ec6a1fe4e0391d1cdbce8c68a",
            hex"546aff5444b5b79aa6148bd81728704c32decb73a3ba76e9e75885cad9def1d06d6792f8a7d12794e90efed817d96920d728896a4510864370c207f99bd4a608ea121700ef01ed879745ee3e4ceef777eda6d9e5e38b90c86ea6fb0b36504ba4a45d22e86f6db5dd43d98a294bebb9125d5b794e9d2a81181066eb954966a487"
        ];
        for (uint256 i; i < 5; ++i) {
            assertEq(BLS12381.expandMessageXmd(messages[i], RFC_EXPAND_DST, 0x20), short[i], "len 0x20");
            assertEq(BLS12381.expandMessageXmd(messages[i], RFC_EXPAND_DST, 0x80), long[i], "len 0x80");
        }
    }

    /// RFC 9380 appendix J.10.1, suite BLS12381G2_XMD:SHA-256_SSWU_RO_: P.x = (c0, c1), P.y = (c0, c1).
    /// Values as published in the RFC (cross-checked against the J.10.1 vectors in arkworks' and py_ecc's tests).
    function test_hashToG2_rfc9380_j10_1() public view {
        bytes[5] memory messages = _rfcMessages();
        BLS12381.G2Point[5] memory expected = [
            _g2(
                hex"0141ebfbdca40eb85b87142e130ab689c673cf60f1a3e98d69335266f30d9b8d4ac44c1038e9dcdd5393faf5c41fb78a",
                hex"05cb8437535e20ecffaef7752baddf98034139c38452458baeefab379ba13dff5bf5dd71b72418717047f5b0f37da03d",
                hex"0503921d7f6a12805e72940b963c0cf3471c7b2a524950ca195d11062ee75ec076daf2d4bc358c4b190c0c98064fdd92",
                hex"12424ac32561493f3fe3c260708a12b7c620e7be00099a974e259ddc7d1f6395c3c811cdd19f1e8dbf3e9ecfdcbab8d6"
            ),
            _g2(
                hex"02c2d18e033b960562aae3cab37a27ce00d80ccd5ba4b7fe0e7a210245129dbec7780ccc7954725f4168aff2787776e6",
                hex"139cddbccdc5e91b9623efd38c49f81a6f83f175e80b06fc374de9eb4b41dfe4ca3a230ed250fbe3a2acf73a41177fd8",
                hex"1787327b68159716a37440985269cf584bcb1e621d3a7202be6ea05c4cfe244aeb197642555a0645fb87bf7466b2ba48",
                hex"00aa65dae3c8d732d10ecd2c50f8a1baf3001578f71c694e03866e9f3d49ac1e1ce70dd94a733534f106d4cec0eddd16"
            ),
            _g2(
                hex"121982811d2491fde9ba7ed31ef9ca474f0e1501297f68c298e9f4c0028add35aea8bb83d53c08cfc007c1e005723cd0",
                hex"190d119345b94fbd15497bcba94ecf7db2cbfd1e1fe7da034d26cbba169fb3968288b3fafb265f9ebd380512a71c3f2c",
                hex"05571a0f8d3c08d094576981f4a3b8eda0a8e771fcdcc8ecceaf1356a6acf17574518acb506e435b639353c2e14827c8",
                hex"0bb5e7572275c567462d91807de765611490205a941a5a6af3b1691bfe596c31225d3aabdf15faff860cb4ef17c7c3be"
            ),
            _g2(
                hex"19a84dd7248a1066f737cc34502ee5555bd3c19f2ecdb3c7d9e24dc65d4e25e50d83f0f77105e955d78f4762d33c17da",
                hex"0934aba516a52d8ae479939a91998299c76d39cc0c035cd18813bec433f587e2d7a4fef038260eef0cef4d02aae3eb91",
                hex"14f81cd421617428bc3b9fe25afbb751d934a00493524bc4e065635b0555084dd54679df1536101b2c979c0152d09192",
                hex"09bcccfa036b4847c9950780733633f13619994394c23ff0b32fa6b795844f4a0673e20282d07bc69641cee04f5e5662"
            ),
            _g2(
                hex"01a6ba2f9a11fa5598b2d8ace0fbe0a0eacb65deceb476fbbcb64fd24557c2f4b18ecfc5663e54ae16a84f5ab7f62534",
                hex"11fca2ff525572795a801eed17eb12785887c7b63fb77a42be46ce4a34131d71f7a73e95fee3f812aea3de78b4d01569",
                hex"0b6798718c8aed24bc19cb27f866f1c9effcdbf92397ad6448b5c9db90d2b9da6cbabf48adc1adf59a1a28344e79d57e",
                hex"03a47f8e6d1763ba0cad63d6114c0accbef65707825a511b251a660a9b3994249ae4e63fac38b23da0c398689ee2ab52"
            )
        ];
        for (uint256 i; i < 5; ++i) {
            BLS12381.G2Point memory point = BLS12381.hashToG2(messages[i], RFC_G2_DST);
            assertEq(abi.encode(point), abi.encode(expected[i]), string.concat("J.10.1 vector ", vm.toString(i)));
            assertTrue(BLS12381.isValidG2(point), "hash output is in G2");
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Encoding
    // ---------------------------------------------------------------------------------------------------------

    function test_g1_roundTrip() public pure {
        BLS12381.G1Point memory generator = BLS12381.g1Generator();
        bytes memory encoded = BLS12381.toBytes(generator);
        assertEq(encoded.length, 128);
        assertEq(abi.encode(BLS12381.g1FromBytes(encoded)), encoded);
    }

    function test_g2_roundTrip() public pure {
        bytes memory encoded = abi.encode(_g2Generator());
        assertEq(BLS12381.toBytes(BLS12381.g2FromBytes(encoded)), encoded);
    }

    function test_g1FromBytes_revertsOnWrongLength() public {
        vm.expectRevert(abi.encodeWithSelector(BLS12381.InvalidEncodingLength.selector, 128, 127));
        harness.g1FromBytes(new bytes(127));
        vm.expectRevert(abi.encodeWithSelector(BLS12381.InvalidEncodingLength.selector, 128, 129));
        harness.g1FromBytes(new bytes(129));
        vm.expectRevert(abi.encodeWithSelector(BLS12381.InvalidEncodingLength.selector, 128, 48));
        harness.g1FromBytes(new bytes(48)); // a compressed key is not accepted
        vm.expectRevert(abi.encodeWithSelector(BLS12381.InvalidEncodingLength.selector, 128, 256));
        harness.g1FromBytes(abi.encode(_g2Generator()));
    }

    function test_g2FromBytes_revertsOnWrongLength() public {
        vm.expectRevert(abi.encodeWithSelector(BLS12381.InvalidEncodingLength.selector, 256, 255));
        harness.g2FromBytes(new bytes(255));
        vm.expectRevert(abi.encodeWithSelector(BLS12381.InvalidEncodingLength.selector, 256, 96));
        harness.g2FromBytes(new bytes(96));
        vm.expectRevert(abi.encodeWithSelector(BLS12381.InvalidEncodingLength.selector, 256, 0));
        harness.g2FromBytes("");
    }

    function test_g2FromCalldata_roundTripAndWrongLength() public {
        bytes memory encoded = abi.encode(_g2Generator());
        assertEq(BLS12381.toBytes(harness.g2FromCalldata(encoded)), encoded);
        vm.expectRevert(abi.encodeWithSelector(BLS12381.InvalidEncodingLength.selector, 256, 255));
        harness.g2FromCalldata(new bytes(255));
        vm.expectRevert(abi.encodeWithSelector(BLS12381.InvalidEncodingLength.selector, 256, 257));
        harness.g2FromCalldata(new bytes(257));
        vm.expectRevert(abi.encodeWithSelector(BLS12381.InvalidEncodingLength.selector, 256, 0));
        harness.g2FromCalldata("");
    }

    /// The calldata decoder accepts and refuses exactly what the memory one does, with the same error and result.
    function testFuzz_g2FromCalldata_matchesG2FromBytes(bytes32[8] memory words, uint8 shape) public view {
        // Shape each coordinate's high word so that valid, out-of-range and badly padded coordinates all occur.
        for (uint256 i; i < 8; i += 2) {
            uint256 mode = (shape >> i) & 3;
            if (mode == 0) words[i] = bytes32(uint256(words[i]) % (BLS12381.P_HI + 1));
            else if (mode == 1) words[i] = bytes32(BLS12381.P_HI); // the low word decides
            else if (mode == 2) words[i] = bytes32(uint256(words[i]) >> 128); // often above p's high word
            // mode 3: as drawn, padding almost surely not zero
        }
        bytes memory encoded = abi.encodePacked(words);
        (bool memoryOk, bytes memory memoryOut) =
            address(harness).staticcall(abi.encodeCall(harness.g2FromBytes, (encoded)));
        (bool calldataOk, bytes memory calldataOut) =
            address(harness).staticcall(abi.encodeCall(harness.g2FromCalldata, (encoded)));
        assertEq(calldataOk, memoryOk);
        assertEq(calldataOut, memoryOut);
    }

    function test_fromBytes_revertsOnNonZeroPadding() public {
        // Set one of the 16 padding bytes of each coordinate in turn.
        for (uint256 word; word < 4; word += 2) {
            bytes memory encoded = BLS12381.toBytes(BLS12381.g1Generator());
            encoded[word * 32 + 15] = 0x01;
            vm.expectRevert(BLS12381.NonZeroPadding.selector);
            harness.g1FromBytes(encoded);
        }
        for (uint256 word; word < 8; word += 2) {
            bytes memory encoded = abi.encode(_g2Generator());
            encoded[word * 32] = 0x80;
            vm.expectRevert(BLS12381.NonZeroPadding.selector);
            harness.g2FromBytes(encoded);
            vm.expectRevert(BLS12381.NonZeroPadding.selector);
            harness.g2FromCalldata(encoded);
        }
    }

    function test_fromBytes_revertsOnFieldElementNotBelowP() public {
        BLS12381.G1Point memory point = BLS12381.g1Generator();
        // x = p
        point.xHi = bytes32(BLS12381.P_HI);
        point.xLo = bytes32(BLS12381.P_LO);
        vm.expectRevert(BLS12381.FieldElementNotInField.selector);
        harness.g1FromBytes(abi.encode(point));
        // y = p + 2^256 (high word above p's high word, low word 0)
        point = BLS12381.g1Generator();
        point.yHi = bytes32(BLS12381.P_HI + 1);
        point.yLo = 0;
        vm.expectRevert(BLS12381.FieldElementNotInField.selector);
        harness.g1FromBytes(abi.encode(point));
        // the largest 384-bit value (passes the padding check, fails the range check)
        BLS12381.G2Point memory g2 = _g2Generator();
        g2.yc1Hi = bytes32(type(uint256).max >> 128);
        g2.yc1Lo = bytes32(type(uint256).max);
        vm.expectRevert(BLS12381.FieldElementNotInField.selector);
        harness.g2FromBytes(abi.encode(g2));
        vm.expectRevert(BLS12381.FieldElementNotInField.selector);
        harness.g2FromCalldata(abi.encode(g2));
        // x.c0 = p exactly
        g2 = _g2Generator();
        g2.xc0Hi = bytes32(BLS12381.P_HI);
        g2.xc0Lo = bytes32(BLS12381.P_LO);
        vm.expectRevert(BLS12381.FieldElementNotInField.selector);
        harness.g2FromCalldata(abi.encode(g2));
        // p - 1 is a valid field element
        point = BLS12381.g1Generator();
        point.xHi = bytes32(BLS12381.P_HI);
        point.xLo = bytes32(BLS12381.P_LO - 1);
        harness.g1FromBytes(abi.encode(point));
    }

    // ---------------------------------------------------------------------------------------------------------
    // Sign and verify (keys and signatures made here with the MSM precompiles)
    // ---------------------------------------------------------------------------------------------------------

    function testFuzz_verify_acceptsValidSignature(uint256 secret, bytes memory message) public view {
        secret = bound(secret, 1, R - 1);
        BLS12381.G1Point memory pubkey = _publicKey(secret);
        BLS12381.G2Point memory signature = _sign(secret, message, TEST_DST);
        assertTrue(BLS12381.verify(pubkey, signature, message, TEST_DST));
    }

    function testFuzz_verify_rejectsTamperedMessage(uint256 secret, bytes memory message, uint256 flip) public view {
        vm.assume(message.length > 0);
        secret = bound(secret, 1, R - 1);
        BLS12381.G1Point memory pubkey = _publicKey(secret);
        BLS12381.G2Point memory signature = _sign(secret, message, TEST_DST);
        message[flip % message.length] ^= bytes1(0x01);
        assertFalse(BLS12381.verify(pubkey, signature, message, TEST_DST));
    }

    function test_verify_rejectsAppendedByte() public view {
        BLS12381.G1Point memory pubkey = _publicKey(7);
        BLS12381.G2Point memory signature = _sign(7, "abc", TEST_DST);
        assertTrue(BLS12381.verify(pubkey, signature, "abc", TEST_DST));
        assertFalse(BLS12381.verify(pubkey, signature, "abc\x00", TEST_DST));
        assertFalse(BLS12381.verify(pubkey, signature, "", TEST_DST));
    }

    function testFuzz_verify_rejectsWrongKey(uint256 secret, uint256 other) public view {
        secret = bound(secret, 1, R - 1);
        other = bound(other, 1, R - 1);
        vm.assume(secret != other);
        BLS12381.G2Point memory signature = _sign(secret, "message", TEST_DST);
        assertFalse(BLS12381.verify(_publicKey(other), signature, "message", TEST_DST));
    }

    function test_verify_rejectsOtherDst() public view {
        BLS12381.G2Point memory signature = _sign(42, "message", TEST_DST);
        assertFalse(BLS12381.verify(_publicKey(42), signature, "message", RFC_G2_DST));
    }

    function test_verify_rejectsNegatedSignature() public view {
        // -sig with -pk verifies mathematically; -sig with pk must not.
        BLS12381.G2Point memory signature = _sign(42, "message", TEST_DST);
        BLS12381.G2Point memory negated = _mulG2(signature, R - 1);
        assertFalse(BLS12381.verify(_publicKey(42), negated, "message", TEST_DST));
        assertTrue(BLS12381.verify(BLS12381.negateG1(_publicKey(42)), negated, "message", TEST_DST));
    }

    function test_verify_rejectsInfinity() public view {
        BLS12381.G1Point memory pubkey = _publicKey(42);
        BLS12381.G2Point memory signature = _sign(42, "message", TEST_DST);
        BLS12381.G1Point memory zeroKey;
        BLS12381.G2Point memory zeroSignature;
        // (0, 0) would pass the bare pairing check for every message: e(0, H) * e(-G1, 0) = 1.
        assertFalse(BLS12381.verify(zeroKey, zeroSignature, "message", TEST_DST));
        assertFalse(BLS12381.verify(zeroKey, signature, "message", TEST_DST));
        assertFalse(BLS12381.verify(pubkey, zeroSignature, "message", TEST_DST));
        assertFalse(BLS12381.isValidG1(zeroKey));
        assertFalse(BLS12381.isValidG2(zeroSignature));
    }

    function test_verify_rejectsKeyOffCurve() public view {
        BLS12381.G1Point memory pubkey = _publicKey(42);
        BLS12381.G2Point memory signature = _sign(42, "message", TEST_DST);
        pubkey.yLo = bytes32(uint256(pubkey.yLo) ^ 1);
        assertFalse(BLS12381.verify(pubkey, signature, "message", TEST_DST));
        assertFalse(BLS12381.isValidG1(pubkey));
    }

    function test_verify_rejectsSignatureOffCurve() public view {
        BLS12381.G1Point memory pubkey = _publicKey(42);
        BLS12381.G2Point memory signature = _sign(42, "message", TEST_DST);
        signature.xc1Lo = bytes32(uint256(signature.xc1Lo) ^ 1);
        assertFalse(BLS12381.verify(pubkey, signature, "message", TEST_DST));
        assertFalse(BLS12381.isValidG2(signature));
    }

    function test_verify_rejectsKeyOutsideSubgroup() public {
        BLS12381.G1Point memory outside = _g1OutsideSubgroup();
        assertFalse(BLS12381.isValidG1(outside));
        // On the curve: G1ADD accepts it (it does not check the subgroup), the pairing does not.
        harness.addG1(outside, BLS12381.g1Generator());
        BLS12381.G2Point memory signature = _sign(42, "message", TEST_DST);
        assertFalse(BLS12381.verify(outside, signature, "message", TEST_DST));
        // Also through the external path, to see that the failed precompile call does not revert.
        (bool ok, bytes memory result) =
            address(this).call(abi.encodeCall(this.externalVerify, (outside, signature, bytes("message"), TEST_DST)));
        assertTrue(ok);
        assertFalse(abi.decode(result, (bool)));
    }

    function test_verify_rejectsSignatureOutsideSubgroup() public view {
        BLS12381.G2Point memory outside = _g2OutsideSubgroup();
        assertFalse(BLS12381.isValidG2(outside));
        harness.addG2(outside, _g2Generator());
        assertFalse(BLS12381.verify(_publicKey(42), outside, "message", TEST_DST));
    }

    function test_verify_falseWhenPairingPrecompileAnswersNothing() public {
        // On a chain without EIP-2537 a call to 0x0f succeeds with empty output; that must not read as valid.
        BLS12381.G1Point memory pubkey = _publicKey(42);
        BLS12381.G2Point memory signature = _sign(42, "message", TEST_DST);
        vm.mockCall(address(0x0f), bytes(""), bytes(""));
        assertFalse(BLS12381.verify(pubkey, signature, "message", TEST_DST));
    }

    function test_hashToG2_revertsWhenMapPrecompileAnswersNothing() public {
        vm.mockCall(address(0x11), bytes(""), bytes(""));
        vm.expectRevert(abi.encodeWithSelector(BLS12381.PrecompileCallFailed.selector, 0x11));
        harness.hashToG2("message", TEST_DST);
    }

    function test_expandMessageXmd_dstLimits() public {
        bytes memory longest = new bytes(255);
        harness.expandMessageXmd("m", longest, 32);
        vm.expectRevert(abi.encodeWithSelector(BLS12381.InvalidDstLength.selector, 256));
        harness.expandMessageXmd("m", new bytes(256), 32);
        vm.expectRevert(abi.encodeWithSelector(BLS12381.InvalidDstLength.selector, 0));
        harness.hashToG2("m", "");
    }

    function test_expandMessageXmd_lengthLimits() public {
        assertEq(harness.expandMessageXmd("m", TEST_DST, 8160).length, 8160);
        assertEq(harness.expandMessageXmd("m", TEST_DST, 33).length, 33);
        vm.expectRevert(abi.encodeWithSelector(BLS12381.InvalidExpandLength.selector, 8161));
        harness.expandMessageXmd("m", TEST_DST, 8161);
    }

    function test_expandMessageXmd_lengthIsBoundIn() public view {
        // len_in_bytes is hashed into b_0, so a shorter output is not a prefix of a longer one.
        bytes memory short = BLS12381.expandMessageXmd("abc", TEST_DST, 32);
        bytes memory long = BLS12381.expandMessageXmd("abc", TEST_DST, 64);
        bytes32 shortHead;
        bytes32 longHead;
        assembly {
            shortHead := mload(add(short, 0x20))
            longHead := mload(add(long, 0x20))
        }
        assertTrue(shortHead != longHead);
    }

    function test_expandMessageXmd_oddLengthHasCleanTail() public view {
        bytes memory odd = BLS12381.expandMessageXmd("abc", TEST_DST, 33);
        uint256 tail;
        assembly {
            // The second data word holds byte 32 then 31 bytes past the end, which must be zero.
            tail := and(mload(add(odd, 0x40)), shr(8, not(0)))
        }
        assertEq(tail, 0);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Aggregation
    // ---------------------------------------------------------------------------------------------------------

    function test_negateG1() public view {
        BLS12381.G1Point memory negated = BLS12381.negateG1(BLS12381.g1Generator());
        assertEq(negated.xHi, BLS12381.G1_X_HI);
        assertEq(negated.xLo, BLS12381.G1_X_LO);
        assertEq(negated.yHi, BLS12381.NEG_G1_Y_HI);
        assertEq(negated.yLo, BLS12381.NEG_G1_Y_LO);
        assertTrue(BLS12381.isInfinity(BLS12381.addG1(negated, BLS12381.g1Generator())));
        BLS12381.G1Point memory zero;
        assertTrue(BLS12381.isInfinity(BLS12381.negateG1(zero)));
    }

    function testFuzz_negateG1(uint256 secret) public view {
        secret = bound(secret, 1, R - 1);
        BLS12381.G1Point memory negated = BLS12381.negateG1(_publicKey(secret));
        assertEq(abi.encode(negated), abi.encode(_publicKey(R - secret)));
        assertEq(abi.encode(BLS12381.negateG1(negated)), abi.encode(_publicKey(secret)));
    }

    function testFuzz_aggregate_signAndSubtract(uint256 seed, uint8 signerCount, uint8 nonSignerMask) public view {
        uint256 count = bound(signerCount, 1, 8);
        BLS12381.G1Point[] memory keys = new BLS12381.G1Point[](count);
        BLS12381.G2Point[] memory signatures = new BLS12381.G2Point[](count);
        uint256 nonSigners;
        for (uint256 i; i < count; ++i) {
            if ((nonSignerMask >> i) & 1 == 1) ++nonSigners;
        }
        vm.assume(nonSigners < count);
        BLS12381.G1Point[] memory absent = new BLS12381.G1Point[](nonSigners);
        BLS12381.G2Point[] memory present = new BLS12381.G2Point[](count - nonSigners);
        uint256 secretSum;
        uint256 a;
        uint256 p;
        for (uint256 i; i < count; ++i) {
            uint256 secret = uint256(keccak256(abi.encode(seed, i))) % (R - 1) + 1;
            keys[i] = _publicKey(secret);
            signatures[i] = _sign(secret, "batch", TEST_DST);
            if ((nonSignerMask >> i) & 1 == 1) {
                absent[a++] = keys[i];
            } else {
                present[p++] = signatures[i];
                secretSum = addmod(secretSum, secret, R);
            }
        }
        BLS12381.G1Point memory aggregateKey = BLS12381.aggregateG1(keys);
        assertTrue(BLS12381.verify(aggregateKey, BLS12381.aggregateG2(signatures), "batch", TEST_DST));

        BLS12381.G1Point memory signersKey = BLS12381.subtractG1(aggregateKey, absent);
        assertEq(abi.encode(signersKey), abi.encode(_publicKey(secretSum)));
        BLS12381.G2Point memory signersSignature = BLS12381.aggregateG2(present);
        assertTrue(BLS12381.verify(signersKey, signersSignature, "batch", TEST_DST));
        if (nonSigners > 0) {
            assertFalse(BLS12381.verify(aggregateKey, signersSignature, "batch", TEST_DST));
        }
    }

    function test_aggregate_emptyIsInfinity() public view {
        assertTrue(BLS12381.isInfinity(BLS12381.aggregateG1(new BLS12381.G1Point[](0))));
        assertTrue(BLS12381.isInfinity(BLS12381.aggregateG2(new BLS12381.G2Point[](0))));
        BLS12381.G1Point memory key = _publicKey(5);
        assertEq(abi.encode(BLS12381.subtractG1(key, new BLS12381.G1Point[](0))), abi.encode(key));
    }

    function test_addG1_revertsOffCurve() public {
        BLS12381.G1Point memory bad = BLS12381.g1Generator();
        bad.yLo = bytes32(uint256(bad.yLo) ^ 1);
        vm.expectRevert(abi.encodeWithSelector(BLS12381.PrecompileCallFailed.selector, 0x0b));
        harness.addG1(bad, BLS12381.g1Generator());
    }

    function test_addG2_revertsOffCurve() public {
        BLS12381.G2Point memory bad = _g2Generator();
        bad.yc0Lo = bytes32(uint256(bad.yc0Lo) ^ 1);
        vm.expectRevert(abi.encodeWithSelector(BLS12381.PrecompileCallFailed.selector, 0x0d));
        harness.addG2(_g2Generator(), bad);
    }

    function test_addG1_doesNotAliasInputs() public view {
        BLS12381.G1Point memory a = _publicKey(2);
        BLS12381.G1Point memory b = _publicKey(3);
        BLS12381.G1Point memory sum = BLS12381.addG1(a, b);
        assertEq(abi.encode(sum), abi.encode(_publicKey(5)));
        assertEq(abi.encode(a), abi.encode(_publicKey(2)));
        assertEq(abi.encode(b), abi.encode(_publicKey(3)));
    }

    // ---------------------------------------------------------------------------------------------------------
    // Gas
    // ---------------------------------------------------------------------------------------------------------

    /// One verification of a 32-byte message (a batch digest) with the 68-byte batch DST, hash-to-G2 included.
    /// The precompile fees are fixed by EIP-2537/EIP-198/the SHA-256 schedule; the rest is our own code.
    function test_gas_verify() public {
        BLS12381.G1Point memory pubkey = _publicKey(0x1234);
        bytes memory message = abi.encode(keccak256("digest"));
        BLS12381.G2Point memory signature = _sign(0x1234, message, TEST_DST);

        uint256 before = gasleft();
        bytes memory uniform = BLS12381.expandMessageXmd(message, TEST_DST, 256);
        uint256 expandGas = before - gasleft();

        before = gasleft();
        BLS12381.hashToG2(message, TEST_DST);
        uint256 hashGas = before - gasleft();

        before = gasleft();
        bool valid = BLS12381.verify(pubkey, signature, message, TEST_DST);
        uint256 verifyGas = before - gasleft();
        assertTrue(valid);
        assertEq(uniform.length, 256);

        // SHA-256: 60 + 12 per word. b_0 hashes 64 + 32 + 3 + 68 + 1 = 168 bytes (6 words); b_1..b_8 hash
        // 32 + 1 + 68 + 1 = 102 bytes (4 words) each.
        uint256 sha256Fees = (60 + 12 * 6) + 8 * (60 + 12 * 4);
        uint256 modexpFees = 4 * 200; // EIP-2565 minimum for 64-byte operands and exponent 1
        uint256 eip2537Fees = 2 * 23_800 + 600 + (32_600 * 2 + 37_700);
        uint256 precompileFees = sha256Fees + modexpFees + eip2537Fees;
        emit log_named_uint("expand_message_xmd (256 bytes)", expandGas);
        emit log_named_uint("hashToG2", hashGas);
        emit log_named_uint("verify (hashToG2 + pairing), total", verifyGas);
        emit log_named_uint("  precompile fees: EIP-2537 (2 maps, G2ADD, 2-pair pairing)", eip2537Fees);
        emit log_named_uint("  precompile fees: SHA-256 x9 + MODEXP x4", sha256Fees + modexpFees);
        emit log_named_uint("  everything else (calls, memory, Solidity)", verifyGas - precompileFees);
        assertLt(verifyGas, 170_000, "verification gas regression");
    }

    // ---------------------------------------------------------------------------------------------------------
    // Vectors generated by the Rust side (blst): test/vectors/bls_vectors.json
    // ---------------------------------------------------------------------------------------------------------

    function test_vectors_hashToG2() public view {
        string memory json = _vectors();
        uint256 count = _count(json, ".hashToG2");
        assertGe(count, 4, "expected at least 4 hashToG2 vectors");
        for (uint256 i; i < count; ++i) {
            string memory at = _at(".hashToG2", i);
            bytes memory dst = vm.parseJsonBytes(json, string.concat(at, ".dst"));
            bytes memory message = vm.parseJsonBytes(json, string.concat(at, ".msg"));
            bytes memory point = vm.parseJsonBytes(json, string.concat(at, ".point"));
            assertEq(abi.encode(BLS12381.hashToG2(message, dst)), point, string.concat("hashToG2", at));
        }
    }

    function test_vectors_signatures() public view {
        string memory json = _vectors();
        uint256 count = _count(json, ".signatures");
        assertGe(count, 4, "expected at least 4 signature vectors");
        for (uint256 i; i < count; ++i) {
            string memory at = _at(".signatures", i);
            bytes memory dst = vm.parseJsonBytes(json, string.concat(at, ".dst"));
            bytes memory message = vm.parseJsonBytes(json, string.concat(at, ".msg"));
            BLS12381.G1Point memory pubkey = BLS12381.g1FromBytes(vm.parseJsonBytes(json, string.concat(at, ".pubkey")));
            BLS12381.G2Point memory signature =
                BLS12381.g2FromBytes(vm.parseJsonBytes(json, string.concat(at, ".signature")));
            assertTrue(BLS12381.isValidG1(pubkey), string.concat("pubkey in G1", at));
            assertTrue(BLS12381.verify(pubkey, signature, message, dst), string.concat("verify", at));
            assertFalse(
                BLS12381.verify(pubkey, signature, bytes.concat(message, hex"00"), dst), string.concat("tampered", at)
            );
        }
    }

    function test_vectors_aggregates() public view {
        string memory json = _vectors();
        uint256 count = _count(json, ".aggregates");
        assertGe(count, 2, "expected at least 2 aggregate vectors");
        for (uint256 i; i < count; ++i) {
            string memory at = _at(".aggregates", i);
            bytes memory dst = vm.parseJsonBytes(json, string.concat(at, ".dst"));
            bytes memory message = vm.parseJsonBytes(json, string.concat(at, ".msg"));
            BLS12381.G1Point[] memory keys = _g1List(json, string.concat(at, ".pubkeys"));
            BLS12381.G1Point[] memory nonSigners = _g1List(json, string.concat(at, ".nonSigners"));

            BLS12381.G1Point memory aggregateKey = BLS12381.aggregateG1(keys);
            assertEq(
                abi.encode(aggregateKey),
                vm.parseJsonBytes(json, string.concat(at, ".aggregatePubkey")),
                string.concat("aggregatePubkey", at)
            );
            BLS12381.G2Point memory aggregateSignature =
                BLS12381.g2FromBytes(vm.parseJsonBytes(json, string.concat(at, ".aggregateSignature")));
            assertTrue(
                BLS12381.verify(aggregateKey, aggregateSignature, message, dst), string.concat("aggregate verify", at)
            );

            BLS12381.G1Point memory signersKey = BLS12381.subtractG1(aggregateKey, nonSigners);
            assertEq(
                abi.encode(signersKey),
                vm.parseJsonBytes(json, string.concat(at, ".signersAggregatePubkey")),
                string.concat("signersAggregatePubkey", at)
            );
            BLS12381.G2Point memory signersSignature =
                BLS12381.g2FromBytes(vm.parseJsonBytes(json, string.concat(at, ".signersAggregateSignature")));
            assertTrue(BLS12381.verify(signersKey, signersSignature, message, dst), string.concat("signers verify", at));
            if (nonSigners.length > 0) {
                assertFalse(
                    BLS12381.verify(aggregateKey, signersSignature, message, dst),
                    string.concat("signers' signature against all keys", at)
                );
            }
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Helpers
    // ---------------------------------------------------------------------------------------------------------

    /// @dev External entry so a test can call verify through a real call frame.
    function externalVerify(
        BLS12381.G1Point memory pubkey,
        BLS12381.G2Point memory signature,
        bytes memory message,
        bytes memory dst
    ) external view returns (bool) {
        return BLS12381.verify(pubkey, signature, message, dst);
    }

    function _rfcMessages() internal pure returns (bytes[5] memory messages) {
        messages[0] = "";
        messages[1] = "abc";
        messages[2] = "abcdef0123456789";
        messages[3] = bytes.concat("q128_", _repeat("q", 128));
        messages[4] = bytes.concat("a512_", _repeat("a", 512));
    }

    function _repeat(bytes1 character, uint256 count) internal pure returns (bytes memory out) {
        out = new bytes(count);
        for (uint256 i; i < count; ++i) {
            out[i] = character;
        }
    }

    /// @dev A G2 point from four 48-byte big-endian coordinates x.c0, x.c1, y.c0, y.c1.
    function _g2(bytes memory xc0, bytes memory xc1, bytes memory yc0, bytes memory yc1)
        internal
        pure
        returns (BLS12381.G2Point memory point)
    {
        (point.xc0Hi, point.xc0Lo) = _fp(xc0);
        (point.xc1Hi, point.xc1Lo) = _fp(xc1);
        (point.yc0Hi, point.yc0Lo) = _fp(yc0);
        (point.yc1Hi, point.yc1Lo) = _fp(yc1);
    }

    function _fp(bytes memory value) internal pure returns (bytes32 hi, bytes32 lo) {
        require(value.length == 48, "48-byte field element");
        assembly {
            hi := shr(128, mload(add(value, 0x20)))
            lo := mload(add(value, 0x30))
        }
    }

    /// @dev (4, sqrt(4^3 + 4)): on E(Fp) but not in the order-r subgroup (checked offline: r * P != 0).
    function _g1OutsideSubgroup() internal pure returns (BLS12381.G1Point memory) {
        return BLS12381.G1Point(
            0,
            bytes32(uint256(4)),
            0x000000000000000000000000000000000a989badd40d6212b33cffc3f3763e9b,
            0xc760f988c9926b26da9dd85e928483446346b8ed00e1de5d5ea93e354abe706c
        );
    }

    /// @dev x = 2 + 0u with y = sqrt(x^3 + 4(1 + u)) in Fp2: on the twist E'(Fp2) but not in G2 (r * P != 0).
    function _g2OutsideSubgroup() internal pure returns (BLS12381.G2Point memory) {
        return BLS12381.G2Point(
            0,
            bytes32(uint256(2)),
            0,
            0,
            0x0000000000000000000000000000000018c6b864ae17dc9da64203ffefb96630,
            0x6425a7bc6aeb7c75247438372716284a4173830420cd476ba1a365b95bfcec38,
            0x00000000000000000000000000000000172e93db764a8400a7d5071b6b6f5de0,
            0xda2f0f4a063119abca014006b7c40a2cfe291a1924e65db0d6d0fcfbf3bf3d5c
        );
    }

    function _g1List(string memory json, string memory key) internal pure returns (BLS12381.G1Point[] memory list) {
        bytes[] memory encoded = vm.parseJsonBytesArray(json, key);
        list = new BLS12381.G1Point[](encoded.length);
        for (uint256 i; i < encoded.length; ++i) {
            list[i] = BLS12381.g1FromBytes(encoded[i]);
        }
    }
}
