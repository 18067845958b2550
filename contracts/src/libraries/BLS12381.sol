// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

/// @title BLS12381
/// @notice BLS signatures over BLS12-381 in the minimal-public-key variant (keys in G1, signatures in G2),
/// built on the EIP-2537 precompiles, with hash-to-G2 per RFC 9380 suite BLS12381G2_XMD:SHA-256_SSWU_RO_.
/// @dev Points use the EIP-2537 encoding: an Fp element is 64 bytes (16 zero bytes, then the 48-byte big-endian
/// value), G1 = x || y (128 bytes), G2 = x.c0 || x.c1 || y.c0 || y.c1 (256 bytes). The structs below hold those
/// bytes as 32-byte words in the same order, so a struct in memory *is* the precompile encoding and is handed to
/// the precompiles without re-packing.
///
/// Error policy:
/// - Bytes that are not an EIP-2537 encoding (wrong length, non-zero padding, a coordinate >= p) revert in
///   `g1FromBytes`/`g2FromBytes`/`g2FromCalldata` with `InvalidEncodingLength`, `NonZeroPadding` or `FieldElementNotInField`.
/// - A well-encoded point that is not a usable key or signature (the point at infinity, off the curve, outside
///   the prime-order subgroup) makes `verify`, `isValidG1` and `isValidG2` return false; they never revert on it.
/// - Group arithmetic (`addG1`, `aggregateG1`, `subtractG1`, `addG2`, `aggregateG2`) and hashing revert with
///   `PrecompileCallFailed(precompile)` when a precompile rejects its input (a point off the curve) or runs out
///   of gas. They do not check subgroup membership (EIP-2537 addition does not); keys must be validated when
///   they are registered (proof of possession).
/// - Every precompile answer is checked for length as well as success: on a chain without EIP-2537 a call to
///   these addresses succeeds with no output, which must never read as a valid result.
/// - An EIP-2537 precompile that rejects its input consumes all the gas forwarded to it, so each call is forwarded
///   exactly its price (`*_GAS`, EIP-2537's final prices): a point off the curve or outside the subgroup then
///   costs the caller that price, not the rest of its transaction. A chain that raised these prices would fail
///   every call (repricing would need a new release); SHA-256 and MODEXP get all gas, as they cannot reject
///   their fixed-size inputs.
library BLS12381 {
    /// @notice A G1 point in EIP-2537 encoding: each coordinate is a high word (16 zero bytes and the top 16
    /// bytes of the value) followed by a low word (the bottom 32 bytes).
    struct G1Point {
        bytes32 xHi;
        bytes32 xLo;
        bytes32 yHi;
        bytes32 yLo;
    }

    /// @notice A G2 point in EIP-2537 encoding: x = x.c0 + x.c1 * u and y likewise, each Fp as (high, low) words.
    struct G2Point {
        bytes32 xc0Hi;
        bytes32 xc0Lo;
        bytes32 xc1Hi;
        bytes32 xc1Lo;
        bytes32 yc0Hi;
        bytes32 yc0Lo;
        bytes32 yc1Hi;
        bytes32 yc1Lo;
    }

    /// @notice The encoded input is not the expected number of bytes.
    error InvalidEncodingLength(uint256 expected, uint256 actual);
    /// @notice One of the 16 leading bytes of a 64-byte field element is not zero.
    error NonZeroPadding();
    /// @notice A coordinate is not reduced: its value is at least the field modulus p.
    error FieldElementNotInField();
    /// @notice The domain separation tag is empty or longer than 255 bytes (RFC 9380 section 5.3.1).
    error InvalidDstLength(uint256 length);
    /// @notice expand_message_xmd cannot produce this many bytes (at most 255 SHA-256 blocks).
    error InvalidExpandLength(uint256 lenInBytes);
    /// @notice The precompile at this address rejected its input or ran out of gas.
    error PrecompileCallFailed(uint256 precompile);

    // Precompile addresses (EIP-2537 and the two older ones hashing needs); numbers so assembly can use them.
    uint256 private constant SHA256 = 0x02;
    uint256 private constant MODEXP = 0x05;
    uint256 private constant G1ADD = 0x0b;
    uint256 private constant G1MSM = 0x0c;
    uint256 private constant G2ADD = 0x0d;
    uint256 private constant G2MSM = 0x0e;
    uint256 private constant PAIRING_CHECK = 0x0f;
    uint256 private constant MAP_FP2_TO_G2 = 0x11;

    /// @notice EIP-2537's price of one G1 addition.
    uint256 internal constant G1ADD_GAS = 375;
    /// @notice EIP-2537's price of one G2 addition.
    uint256 internal constant G2ADD_GAS = 600;
    /// @notice EIP-2537's price of a one-point G1 multiplication (k = 1: 12000 * 1000 / 1000).
    uint256 internal constant G1MSM_ONE_GAS = 12_000;
    /// @notice EIP-2537's price of a one-point G2 multiplication (k = 1: 22500 * 1000 / 1000).
    uint256 internal constant G2MSM_ONE_GAS = 22_500;
    /// @notice EIP-2537's price of a pairing check of two pairs (32600 * 2 + 37700).
    uint256 internal constant PAIRING_TWO_GAS = 102_900;
    /// @notice EIP-2537's price of mapping an Fp2 element to G2.
    uint256 internal constant MAP_FP2_TO_G2_GAS = 23_800;

    /// @dev The base field modulus p as the two words of its 64-byte encoding.
    uint256 internal constant P_HI = 0x000000000000000000000000000000001a0111ea397fe69a4b1ba7b6434bacd7;
    uint256 internal constant P_LO = 0x64774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaab;

    /// @dev The standard G1 generator.
    bytes32 internal constant G1_X_HI = 0x0000000000000000000000000000000017f1d3a73197d7942695638c4fa9ac0f;
    bytes32 internal constant G1_X_LO = 0xc3688c4f9774b905a14e3a3f171bac586c55e83ff97a1aeffb3af00adb22c6bb;
    bytes32 internal constant G1_Y_HI = 0x0000000000000000000000000000000008b3f481e3aaa0f1a09e30ed741d8ae4;
    bytes32 internal constant G1_Y_LO = 0xfcf5e095d5d00af600db18cb2c04b3edd03cc744a2888ae40caa232946c5e7e1;

    /// @dev y of the negated G1 generator (p - y); x is the generator's. A constant so `verify` negates nothing.
    bytes32 internal constant NEG_G1_Y_HI = 0x00000000000000000000000000000000114d1d6855d545a8aa7d76c8cf2e21f2;
    bytes32 internal constant NEG_G1_Y_LO = 0x67816aef1db507c96655b9d5caac42364e6f38ba0ecb751bad54dcd6b939c2ca;

    /// @dev expand_message_xmd output for hash_to_field with count 2, m 2, L 64 (RFC 9380 section 8.8.2).
    uint256 private constant HASH_TO_G2_BYTES = 256;

    // ---------------------------------------------------------------------------------------------------------
    // Encoding
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Decodes a 128-byte EIP-2537 G1 encoding, checking the length, the padding and that both
    /// coordinates are below p.
    /// @dev Does not check the curve, the subgroup or infinity: `verify` and `isValidG1` do.
    /// @param data The 128-byte encoding x || y.
    /// @return point The decoded point.
    function g1FromBytes(bytes memory data) internal pure returns (G1Point memory point) {
        if (data.length != 128) revert InvalidEncodingLength(128, data.length);
        assembly ("memory-safe") {
            mcopy(point, add(data, 0x20), 128)
        }
        _checkFieldElement(point.xHi, point.xLo);
        _checkFieldElement(point.yHi, point.yLo);
    }

    /// @notice Decodes a 256-byte EIP-2537 G2 encoding, checking the length, the padding and that all four
    /// coordinates are below p.
    /// @dev Does not check the curve, the subgroup or infinity: `verify` and `isValidG2` do.
    /// @param data The 256-byte encoding x.c0 || x.c1 || y.c0 || y.c1.
    /// @return point The decoded point.
    function g2FromBytes(bytes memory data) internal pure returns (G2Point memory point) {
        if (data.length != 256) revert InvalidEncodingLength(256, data.length);
        assembly ("memory-safe") {
            mcopy(point, add(data, 0x20), 256)
        }
        _checkFieldElement(point.xc0Hi, point.xc0Lo);
        _checkFieldElement(point.xc1Hi, point.xc1Lo);
        _checkFieldElement(point.yc0Hi, point.yc0Lo);
        _checkFieldElement(point.yc1Hi, point.yc1Lo);
    }

    /// @notice `g2FromBytes` for bytes in calldata: the same checks and errors, in the same order, with one copy
    /// (a batch's signature is decoded on every batch).
    /// @param data The 256-byte encoding x.c0 || x.c1 || y.c0 || y.c1.
    /// @return point The decoded point.
    function g2FromCalldata(bytes calldata data) internal pure returns (G2Point memory point) {
        if (data.length != 256) revert InvalidEncodingLength(256, data.length);
        uint256 fault;
        assembly ("memory-safe") {
            calldatacopy(point, data.offset, 256)
            // Each coordinate: 16 zero bytes, then a value below p (as `_checkFieldElement`).
            for { let i := 0 } lt(i, 256) { i := add(i, 0x40) } {
                let high := mload(add(point, i))
                if shr(128, high) {
                    fault := 1
                    break
                }
                if or(gt(high, P_HI), and(eq(high, P_HI), iszero(lt(mload(add(point, add(i, 0x20))), P_LO)))) {
                    fault := 2
                    break
                }
            }
        }
        if (fault == 1) revert NonZeroPadding();
        if (fault == 2) revert FieldElementNotInField();
    }

    /// @notice Encodes a G1 point as its 128 EIP-2537 bytes (the form whose keccak256 is a `pubkeyHash`).
    /// @param point The point.
    /// @return The 128-byte encoding.
    function toBytes(G1Point memory point) internal pure returns (bytes memory) {
        return abi.encode(point);
    }

    /// @notice Encodes a G2 point as its 256 EIP-2537 bytes.
    /// @param point The point.
    /// @return The 256-byte encoding.
    function toBytes(G2Point memory point) internal pure returns (bytes memory) {
        return abi.encode(point);
    }

    /// @notice The standard generator of G1.
    /// @return The generator point.
    function g1Generator() internal pure returns (G1Point memory) {
        return G1Point(G1_X_HI, G1_X_LO, G1_Y_HI, G1_Y_LO);
    }

    /// @notice Whether a G1 point is the point at infinity (all-zero encoding).
    /// @param point The point.
    /// @return True for the point at infinity.
    function isInfinity(G1Point memory point) internal pure returns (bool) {
        return (point.xHi | point.xLo | point.yHi | point.yLo) == 0;
    }

    /// @notice Whether a G2 point is the point at infinity (all-zero encoding).
    /// @param point The point.
    /// @return True for the point at infinity.
    function isInfinity(G2Point memory point) internal pure returns (bool) {
        return (point.xc0Hi | point.xc0Lo | point.xc1Hi | point.xc1Lo | point.yc0Hi | point.yc0Lo | point.yc1Hi
                    | point.yc1Lo) == 0;
    }

    // ---------------------------------------------------------------------------------------------------------
    // Validation
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Whether a G1 point is usable as a public key: not infinity, on the curve, in the prime-order
    /// subgroup.
    /// @dev A one-point G1MSM by scalar 1 is the cheapest precompile that checks the subgroup (12,000 gas, all a
    /// rejected point costs).
    /// @param point The point (coordinates already checked by `g1FromBytes`).
    /// @return valid True if the point is a valid non-identity element of G1.
    function isValidG1(G1Point memory point) internal view returns (bool valid) {
        if (isInfinity(point)) return false;
        assembly ("memory-safe") {
            let input := mload(0x40)
            mcopy(input, point, 128)
            mstore(add(input, 128), 1)
            let ok := staticcall(G1MSM_ONE_GAS, G1MSM, input, 160, input, 128)
            valid := and(ok, eq(returndatasize(), 128))
        }
    }

    /// @notice Whether a G2 point is usable as a signature: not infinity, on the curve, in the prime-order
    /// subgroup.
    /// @dev A one-point G2MSM by scalar 1 (22,500 gas). `verify` does not need this: the pairing checks too.
    /// @param point The point (coordinates already checked by `g2FromBytes`).
    /// @return valid True if the point is a valid non-identity element of G2.
    function isValidG2(G2Point memory point) internal view returns (bool valid) {
        if (isInfinity(point)) return false;
        assembly ("memory-safe") {
            let input := mload(0x40)
            mcopy(input, point, 256)
            mstore(add(input, 256), 1)
            let ok := staticcall(G2MSM_ONE_GAS, G2MSM, input, 288, input, 256)
            valid := and(ok, eq(returndatasize(), 256))
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Group arithmetic
    // ---------------------------------------------------------------------------------------------------------

    /// @notice a + b in G1.
    /// @dev Reverts `PrecompileCallFailed` if a point is off the curve; no subgroup check.
    /// @param a First point.
    /// @param b Second point.
    /// @return sum The sum, in newly allocated memory.
    function addG1(G1Point memory a, G1Point memory b) internal view returns (G1Point memory sum) {
        sum = G1Point(a.xHi, a.xLo, a.yHi, a.yLo);
        _addG1Into(sum, b);
    }

    /// @notice The sum of a list of G1 points (the aggregate public key of a set of signers).
    /// @dev An empty list sums to the point at infinity. One G1ADD (375 gas) per point; cheaper than G1MSM.
    /// @param points The points.
    /// @return sum The sum.
    function aggregateG1(G1Point[] memory points) internal view returns (G1Point memory sum) {
        for (uint256 i; i < points.length; ++i) {
            _addG1Into(sum, points[i]);
        }
    }

    /// @notice -point in G1.
    /// @dev Pure field arithmetic: y becomes p - y. Infinity (and any y = 0) maps to itself.
    /// @param point A point with coordinates below p.
    /// @return negated The negated point.
    function negateG1(G1Point memory point) internal pure returns (G1Point memory negated) {
        negated.xHi = point.xHi;
        negated.xLo = point.xLo;
        uint256 yHi = uint256(point.yHi);
        uint256 yLo = uint256(point.yLo);
        if ((yHi | yLo) == 0) return negated;
        unchecked {
            // 384-bit p - y over two words; y < p so the high word cannot underflow.
            uint256 borrow = yLo > P_LO ? 1 : 0;
            negated.yLo = bytes32(P_LO - yLo);
            negated.yHi = bytes32(P_HI - yHi - borrow);
        }
    }

    /// @notice aggregate - (sum of points): the aggregate key of the signers when `points` are the non-signers.
    /// @dev The non-signers are summed first so only one negation is computed.
    /// @param aggregate The aggregate of all keys.
    /// @param points The keys to remove.
    /// @return difference The remaining aggregate.
    function subtractG1(G1Point memory aggregate, G1Point[] memory points)
        internal
        view
        returns (G1Point memory difference)
    {
        difference = negateG1(aggregateG1(points));
        _addG1Into(difference, aggregate);
    }

    /// @notice a + b in G2 (aggregating signatures).
    /// @dev Reverts `PrecompileCallFailed` if a point is off the curve; no subgroup check.
    /// @param a First point.
    /// @param b Second point.
    /// @return sum The sum, in newly allocated memory.
    function addG2(G2Point memory a, G2Point memory b) internal view returns (G2Point memory sum) {
        sum = G2Point(a.xc0Hi, a.xc0Lo, a.xc1Hi, a.xc1Lo, a.yc0Hi, a.yc0Lo, a.yc1Hi, a.yc1Lo);
        _addG2Into(sum, b);
    }

    /// @notice The sum of a list of G2 points (an aggregate signature).
    /// @dev An empty list sums to the point at infinity.
    /// @param points The points.
    /// @return sum The sum.
    function aggregateG2(G2Point[] memory points) internal view returns (G2Point memory sum) {
        for (uint256 i; i < points.length; ++i) {
            _addG2Into(sum, points[i]);
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Hashing (RFC 9380)
    // ---------------------------------------------------------------------------------------------------------

    /// @notice expand_message_xmd with SHA-256 (RFC 9380 section 5.3.1).
    /// @param message The message.
    /// @param dst The domain separation tag, 1 to 255 bytes.
    /// @param lenInBytes The output length, at most 8160 (255 SHA-256 blocks).
    /// @return uniform The `lenInBytes` pseudo-random bytes.
    function expandMessageXmd(bytes memory message, bytes memory dst, uint256 lenInBytes)
        internal
        view
        returns (bytes memory uniform)
    {
        uint256 dstLength = dst.length;
        if (dstLength == 0 || dstLength > 255) revert InvalidDstLength(dstLength);
        if (lenInBytes > 255 * 32) revert InvalidExpandLength(lenInBytes);
        bool ok;
        assembly ("memory-safe") {
            let messageLength := mload(message)
            let blocks := shr(5, add(lenInBytes, 31))
            uniform := mload(0x40)
            mstore(uniform, lenInBytes)
            let out := add(uniform, 0x20)
            mstore(0x40, add(out, shl(5, blocks)))
            // Unallocated scratch after the output for the SHA-256 inputs.
            let buf := mload(0x40)

            // b_0 = H(Z_pad(64) || msg || I2OSP(len_in_bytes, 2) || I2OSP(0, 1) || DST || I2OSP(len(DST), 1))
            mstore(buf, 0)
            mstore(add(buf, 0x20), 0)
            mcopy(add(buf, 0x40), add(message, 0x20), messageLength)
            let cursor := add(add(buf, 0x40), messageLength)
            // Two length bytes, then the zero byte that the next 29 zero bytes of this word supply.
            mstore(cursor, shl(240, lenInBytes))
            mcopy(add(cursor, 3), add(dst, 0x20), dstLength)
            mstore8(add(add(cursor, 3), dstLength), dstLength)
            ok := staticcall(gas(), SHA256, buf, add(add(0x40, messageLength), add(4, dstLength)), 0x00, 0x20)
            ok := and(ok, eq(returndatasize(), 0x20))
            let b0 := mload(0x00)

            // b_i = H(strxor(b_0, b_(i-1)) || I2OSP(i, 1) || DST_prime); b_1 uses b_0 alone (b_0 xor 0).
            // DST_prime is written once after the 33 bytes that change per block.
            mcopy(add(buf, 0x21), add(dst, 0x20), dstLength)
            mstore8(add(add(buf, 0x21), dstLength), dstLength)
            let inputLength := add(0x22, dstLength)
            let previous := 0
            for { let i := 1 } iszero(gt(i, blocks)) { i := add(i, 1) } {
                mstore(buf, xor(b0, previous))
                mstore8(add(buf, 0x20), i)
                let target := add(out, shl(5, sub(i, 1)))
                ok := and(ok, staticcall(gas(), SHA256, buf, inputLength, target, 0x20))
                ok := and(ok, eq(returndatasize(), 0x20))
                previous := mload(target)
            }
            // Zero the bytes past lenInBytes in the last word so the bytes value is clean.
            mstore(add(out, lenInBytes), 0)
        }
        if (!ok) revert PrecompileCallFailed(SHA256);
    }

    /// @notice hash_to_curve for G2 per RFC 9380 suite BLS12381G2_XMD:SHA-256_SSWU_RO_.
    /// @dev expand_message_xmd to 256 bytes; four 64-byte chunks reduced mod p with MODEXP (x^1 mod p) give
    /// u0 = (e0, e1) and u1 = (e2, e3); MAP_FP2_TO_G2 maps each (and clears the cofactor); G2ADD sums them.
    /// Clearing the cofactor is linear, so clear(Q0) + clear(Q1) = clear(Q0 + Q1) as the RFC computes it.
    /// @param message The message.
    /// @param dst The domain separation tag, 1 to 255 bytes.
    /// @return point H(message), in G2.
    function hashToG2(bytes memory message, bytes memory dst) internal view returns (G2Point memory point) {
        bytes memory uniform = expandMessageXmd(message, dst, HASH_TO_G2_BYTES);
        uint256 failed;
        assembly ("memory-safe") {
            // Unallocated scratch: four reduced field elements (256), the MODEXP input (225), two G2 points (512).
            let elements := mload(0x40)
            let modexpInput := add(elements, 256)
            let mapped := add(modexpInput, 256)

            // MODEXP(base 64 bytes, exponent 1 byte = 1, modulus 64 bytes = 16 zero bytes || p): the result is
            // base mod p, already in the 64-byte EIP-2537 field element layout since the modulus length is 64.
            mstore(modexpInput, 64)
            mstore(add(modexpInput, 0x20), 1)
            mstore(add(modexpInput, 0x40), 64)
            mstore(add(modexpInput, 0xa1), P_HI)
            mstore(add(modexpInput, 0xc1), P_LO)
            mstore8(add(modexpInput, 0xa0), 1)
            let ok := 1
            for { let i := 0 } lt(i, 4) { i := add(i, 1) } {
                mcopy(add(modexpInput, 0x60), add(add(uniform, 0x20), shl(6, i)), 64)
                ok := and(ok, staticcall(gas(), MODEXP, modexpInput, 225, add(elements, shl(6, i)), 64))
                ok := and(ok, eq(returndatasize(), 64))
            }
            if iszero(ok) { failed := MODEXP }

            // Q0 = map(u0), Q1 = map(u1), written next to each other as the G2ADD input.
            ok := staticcall(MAP_FP2_TO_G2_GAS, MAP_FP2_TO_G2, elements, 128, mapped, 256)
            ok := and(ok, eq(returndatasize(), 256))
            ok := and(ok, staticcall(MAP_FP2_TO_G2_GAS, MAP_FP2_TO_G2, add(elements, 128), 128, add(mapped, 256), 256))
            ok := and(ok, eq(returndatasize(), 256))
            if and(iszero(ok), iszero(failed)) { failed := MAP_FP2_TO_G2 }

            ok := staticcall(G2ADD_GAS, G2ADD, mapped, 512, point, 256)
            ok := and(ok, eq(returndatasize(), 256))
            if and(iszero(ok), iszero(failed)) { failed := G2ADD }
        }
        if (failed != 0) revert PrecompileCallFailed(failed);
    }

    // ---------------------------------------------------------------------------------------------------------
    // Verification
    // ---------------------------------------------------------------------------------------------------------

    /// @notice Verifies a BLS signature: e(pubkey, H(message)) == e(G1, signature), checked as the single
    /// pairing product e(pubkey, H(message)) * e(-G1, signature) == 1.
    /// @dev Returns false (never reverts) when the key or signature is the point at infinity (a pairing with
    /// infinity is 1, so (0, 0) would otherwise verify anything), off the curve or outside the subgroup (the
    /// pairing precompile rejects those), or when the signature does not match. Reverts only on an invalid DST
    /// or if hashing runs out of gas.
    /// @param pubkey The public key (for an aggregate signature, the aggregate key).
    /// @param signature The signature.
    /// @param message The signed message.
    /// @param dst The domain separation tag of the signing scheme.
    /// @return valid Whether the signature is valid.
    function verify(G1Point memory pubkey, G2Point memory signature, bytes memory message, bytes memory dst)
        internal
        view
        returns (bool valid)
    {
        if (isInfinity(pubkey) || isInfinity(signature)) return false;
        G2Point memory hashed = hashToG2(message, dst);
        assembly ("memory-safe") {
            // (pubkey, H(m)) then (-G1, signature): 2 x (128 + 256) bytes.
            let input := mload(0x40)
            mcopy(input, pubkey, 128)
            mcopy(add(input, 128), hashed, 256)
            mstore(add(input, 384), G1_X_HI)
            mstore(add(input, 416), G1_X_LO)
            mstore(add(input, 448), NEG_G1_Y_HI)
            mstore(add(input, 480), NEG_G1_Y_LO)
            mcopy(add(input, 512), signature, 256)
            // Clear the output word: a call that returns nothing must not leave a stale 1 behind.
            mstore(0x00, 0)
            let ok := staticcall(PAIRING_TWO_GAS, PAIRING_CHECK, input, 768, 0x00, 0x20)
            valid := and(and(ok, eq(returndatasize(), 0x20)), eq(mload(0x00), 1))
        }
    }

    // ---------------------------------------------------------------------------------------------------------
    // Internals
    // ---------------------------------------------------------------------------------------------------------

    /// @dev Reverts unless (hi, lo) is a canonical 64-byte field element: 16 zero bytes, then a value below p.
    function _checkFieldElement(bytes32 hi, bytes32 lo) private pure {
        uint256 high = uint256(hi);
        if (high >> 128 != 0) revert NonZeroPadding();
        if (high > P_HI || (high == P_HI && uint256(lo) >= P_LO)) revert FieldElementNotInField();
    }

    /// @dev accumulator += point, writing the precompile output straight over the accumulator.
    function _addG1Into(G1Point memory accumulator, G1Point memory point) private view {
        bool ok;
        assembly ("memory-safe") {
            let input := mload(0x40)
            mcopy(input, accumulator, 128)
            mcopy(add(input, 128), point, 128)
            ok := staticcall(G1ADD_GAS, G1ADD, input, 256, accumulator, 128)
            ok := and(ok, eq(returndatasize(), 128))
        }
        if (!ok) revert PrecompileCallFailed(G1ADD);
    }

    /// @dev accumulator += point in G2, writing the precompile output straight over the accumulator.
    function _addG2Into(G2Point memory accumulator, G2Point memory point) private view {
        bool ok;
        assembly ("memory-safe") {
            let input := mload(0x40)
            mcopy(input, accumulator, 256)
            mcopy(add(input, 256), point, 256)
            ok := staticcall(G2ADD_GAS, G2ADD, input, 512, accumulator, 256)
            ok := and(ok, eq(returndatasize(), 256))
        }
        if (!ok) revert PrecompileCallFailed(G2ADD);
    }
}
