// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice Accepts every EIP-3009 call and records the hash of the last one's call data, and every
/// `transfer`: shows exactly what the router parsed out of its packed items (one storage word per
/// call, so the call stays far below the router's per-item gas limit).
contract RecordingEIP3009Token {
    /// @notice keccak256 of the last EIP-3009 call's call data (selector included).
    bytes32 public lastCall;
    uint256 public calls;
    address[] public transferTo;
    uint256[] public transferValue;

    function transfers() external view returns (uint256) {
        return transferTo.length;
    }

    function _record() internal {
        lastCall = keccak256(msg.data);
        ++calls;
    }

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
    ) external {
        _record();
    }

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
    ) external {
        _record();
    }

    function transferWithAuthorization(
        address,
        address,
        uint256,
        uint256,
        uint256,
        bytes32,
        bytes calldata
    ) external {
        _record();
    }

    function receiveWithAuthorization(
        address,
        address,
        uint256,
        uint256,
        uint256,
        bytes32,
        bytes calldata
    ) external {
        _record();
    }

    function authorizationState(address, bytes32) external pure returns (bool) {
        return false;
    }

    function transfer(address to, uint256 value) external returns (bool) {
        transferTo.push(to);
        transferValue.push(value);
        return true;
    }
}
