// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

/// @notice A USDT-like token (no return values) whose failing `transfer` and `transferFrom`
/// neither revert nor move anything: to a caller that accepts an empty return as success (solmate's
/// SafeTransferLib, inside Permit2) a failed transfer looks paid.
contract SilentFailToken {
    mapping(address account => uint256) public balanceOf;
    mapping(address holder => mapping(address spender => uint256)) public allowance;

    function mint(address to, uint256 value) external {
        balanceOf[to] += value;
    }

    function approve(address spender, uint256 value) external {
        allowance[msg.sender][spender] = value;
    }

    function transfer(address to, uint256 value) external {
        if (balanceOf[msg.sender] < value) return;
        balanceOf[msg.sender] -= value;
        balanceOf[to] += value;
    }

    function transferFrom(address from, address to, uint256 value) external {
        if (balanceOf[from] < value || allowance[from][msg.sender] < value) return;
        allowance[from][msg.sender] -= value;
        balanceOf[from] -= value;
        balanceOf[to] += value;
    }
}
