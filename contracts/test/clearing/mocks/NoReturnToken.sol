// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice An ERC-20 whose `transfer` and `transferFrom` return nothing (as USDT on Ethereum),
/// for the ClearingHouse's plain deposits and withdrawals through SafeERC20.
contract NoReturnToken {
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    function mint(address to, uint256 value) external {
        balanceOf[to] += value;
    }

    function approve(address spender, uint256 value) external {
        allowance[msg.sender][spender] = value;
    }

    function transfer(address to, uint256 value) external {
        balanceOf[msg.sender] -= value;
        balanceOf[to] += value;
    }

    function transferFrom(address from, address to, uint256 value) external {
        allowance[from][msg.sender] -= value;
        balanceOf[from] -= value;
        balanceOf[to] += value;
    }
}

/// @notice Accepts every EIP-3009 `receiveWithAuthorization` without moving anything, and reports
/// no balance: a token that lies about transfers.
contract LyingEIP3009Token {
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

    function balanceOf(address) external pure returns (uint256) {
        return 0;
    }
}
