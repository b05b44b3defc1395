// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice Accepts every EIP-3009 call and `transfer` and records them: the hash of the last
/// EIP-3009 call's data, every `transfer`, and a hash chain over every call in order
/// (`callChain = keccak256(callChain ‖ caller ‖ call data)`): shows exactly what the router parsed
/// out of its packed items and in which order it called (a few storage words per call, far below
/// the router's per-item gas limit).
contract RecordingEIP3009Token {
    /// @notice keccak256 of the last EIP-3009 call's call data (selector included).
    bytes32 public lastCall;
    /// @notice The chain of every call, `transfer` included.
    bytes32 public callChain;
    uint256 public calls;
    address[] public transferTo;
    uint256[] public transferValue;

    function transfers() external view returns (uint256) {
        return transferTo.length;
    }

    function _chain() internal {
        callChain = keccak256(abi.encodePacked(callChain, msg.sender, msg.data));
    }

    function _record() internal {
        lastCall = keccak256(msg.data);
        ++calls;
        _chain();
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
        _chain();
        transferTo.push(to);
        transferValue.push(value);
        return true;
    }
}
