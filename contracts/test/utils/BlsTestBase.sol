// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.30;

import {Test} from "forge-std/Test.sol";
import {BLS12381} from "../../src/libraries/BLS12381.sol";
import {TaskLeaf} from "../../src/libraries/BatchDigest.sol";

/// @dev Shared by the BLS tests: keys and signatures made with the MSM precompiles (sk * G1, sk * H(m)), and
/// access to the vectors the Rust side generates with blst.
abstract contract BlsTestBase is Test {
    /// @dev Order r of G1 and G2: valid secret keys are 1..r-1.
    uint256 internal constant R = 0x73eda753299d7d483339d80809a1d80553bda402fffe5bfeffffffff00000001;

    string internal constant VECTORS_PATH = "/test/vectors/bls_vectors.json";

    function _publicKey(uint256 secret) internal view returns (BLS12381.G1Point memory) {
        return _mulG1(BLS12381.g1Generator(), secret);
    }

    function _sign(uint256 secret, bytes memory message, bytes memory dst)
        internal
        view
        returns (BLS12381.G2Point memory)
    {
        return _mulG2(BLS12381.hashToG2(message, dst), secret);
    }

    function _mulG1(BLS12381.G1Point memory point, uint256 scalar)
        internal
        view
        returns (BLS12381.G1Point memory result)
    {
        (bool ok, bytes memory out) = address(0x0c).staticcall(abi.encode(point, scalar));
        require(ok && out.length == 128, "G1MSM");
        result = abi.decode(out, (BLS12381.G1Point));
    }

    function _mulG2(BLS12381.G2Point memory point, uint256 scalar)
        internal
        view
        returns (BLS12381.G2Point memory result)
    {
        (bool ok, bytes memory out) = address(0x0e).staticcall(abi.encode(point, scalar));
        require(ok && out.length == 256, "G2MSM");
        result = abi.decode(out, (BLS12381.G2Point));
    }

    function _g2Generator() internal pure returns (BLS12381.G2Point memory) {
        return BLS12381.G2Point(
            0x00000000000000000000000000000000024aa2b2f08f0a91260805272dc51051,
            0xc6e47ad4fa403b02b4510b647ae3d1770bac0326a805bbefd48056c8c121bdb8,
            0x0000000000000000000000000000000013e02b6052719f607dacd3a088274f65,
            0x596bd0d09920b61ab5da61bbdc7f5049334cf11213945d57e5ac7d055d042b7e,
            0x000000000000000000000000000000000ce5d527727d6e118cc9cdc6da2e351a,
            0xadfd9baa8cbdd3a76d429a695160d12c923ac9cc3baca289e193548608b82801,
            0x000000000000000000000000000000000606c4a02ea734cc32acd2b02bc28b99,
            0xcb3e287e85a763af267492ab572e99ab3f370d275cec1da1aaa9075ff05f79be
        );
    }

    function _vectors() internal view returns (string memory) {
        return vm.readFile(string.concat(vm.projectRoot(), VECTORS_PATH));
    }

    /// @dev Length of a JSON array: parseJson* on a missing path reverts, so probe with keyExistsJson.
    function _count(string memory json, string memory array) internal view returns (uint256 count) {
        while (vm.keyExistsJson(json, string.concat(array, "[", vm.toString(count), "]"))) {
            ++count;
        }
    }

    /// @dev `prefix[index]`, e.g. `.batches[2]`.
    function _at(string memory prefix, uint256 index) internal pure returns (string memory) {
        return string.concat(prefix, "[", vm.toString(index), "]");
    }

    /// @dev The task responses of a batch vector, e.g. at `.batches[1]`.
    function _parseLeaves(string memory json, string memory at) internal view returns (TaskLeaf[] memory leaves) {
        string memory array = string.concat(at, ".leaves");
        leaves = new TaskLeaf[](_count(json, array));
        for (uint256 j; j < leaves.length; ++j) {
            string memory leaf = _at(array, j);
            leaves[j] = TaskLeaf({
                jobId: uint256(vm.parseJsonBytes32(json, string.concat(leaf, ".jobId"))),
                sequence: uint64(vm.parseJsonUint(json, string.concat(leaf, ".sequence"))),
                specHash: vm.parseJsonBytes32(json, string.concat(leaf, ".specHash")),
                responseHash: vm.parseJsonBytes32(json, string.concat(leaf, ".responseHash"))
            });
        }
    }
}
