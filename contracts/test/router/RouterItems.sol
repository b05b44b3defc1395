// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice The router's packed item layout, written independently of the router with
/// `abi.encodePacked`, for Solidity tests.
library RouterItems {
    uint8 internal constant ROUTED = 1;
    uint8 internal constant CONTRACT_SIGNATURE = 2;

    /// @notice `r ‖ yParityAndS` from `(v, r, s)`.
    function compact(uint8 v, bytes32 r, bytes32 s) internal pure returns (bytes memory) {
        return abi.encodePacked(r, bytes32((uint256(v - 27) << 255) | uint256(s)));
    }

    function direct(
        address from,
        address to,
        uint128 value,
        uint48 validAfter,
        uint48 validBefore,
        bytes32 nonce,
        bytes memory compactSignature
    ) internal pure returns (bytes memory) {
        return
            abi.encodePacked(
                uint8(0),
                from,
                to,
                value,
                validAfter,
                validBefore,
                nonce,
                compactSignature
            );
    }

    function directWithContractSignature(
        address from,
        address to,
        uint128 value,
        uint48 validAfter,
        uint48 validBefore,
        bytes32 nonce,
        bytes memory signature
    ) internal pure returns (bytes memory) {
        return
            abi.encodePacked(
                CONTRACT_SIGNATURE,
                from,
                to,
                value,
                validAfter,
                validBefore,
                nonce,
                uint16(signature.length),
                signature
            );
    }

    function routed(
        address from,
        address payee,
        uint128 value,
        uint48 validAfter,
        uint48 validBefore,
        bytes32 salt,
        uint128 fee,
        bytes memory compactSignature
    ) internal pure returns (bytes memory) {
        return
            abi.encodePacked(
                ROUTED,
                from,
                payee,
                value,
                validAfter,
                validBefore,
                salt,
                fee,
                compactSignature
            );
    }
}
