// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice Helpers for fuzz tests. A library rather than free functions, so every build of this file
/// carries a contract (tools that read build outputs expect one).
library TestUtils {
    /// @dev The secp256k1 group order n.
    uint256 internal constant SECP256K1_N =
        0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;

    /**
     * @notice Maps `x` into `[min, max]` (inclusive) so fuzzed inputs keep their spread instead of being discarded.
     * @dev Requires `min <= max`.
     */
    function bound(uint256 x, uint256 min, uint256 max) internal pure returns (uint256) {
        require(min <= max, "bound: min > max");
        if (min == 0 && max == type(uint256).max) return x;
        // Cannot overflow: max - min < type(uint256).max here, so the range fits.
        unchecked {
            return min + (x % (max - min + 1));
        }
    }

    /**
     * @notice A valid secp256k1 private key derived from fuzz input: in `[1, n - 1]`.
     */
    function boundPrivateKey(uint256 x) internal pure returns (uint256) {
        return bound(x, 1, SECP256K1_N - 1);
    }
}
