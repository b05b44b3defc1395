// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice Accepts every EIP-3009 call without doing anything: isolates the router's own gas.
contract NoopEIP3009Token {
    function transferWithAuthorization(
        address,
        address,
        uint256,
        uint256,
        uint256,
        bytes32,
        uint8,
        bytes32,
        bytes32
    ) external {}

    function receiveWithAuthorization(
        address,
        address,
        uint256,
        uint256,
        uint256,
        bytes32,
        uint8,
        bytes32,
        bytes32
    ) external {}

    function transfer(address, uint256) external pure returns (bool) {
        return true;
    }
}
