// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/**
 * @title GasBurningEIP3009Token
 * @notice A fake EIP-3009 asset that passes every read a verifier makes and burns all the gas it is
 * given when asked to move funds: `name`, `version`, `decimals`, `balanceOf` (a large balance for
 * anyone) and `authorizationState` (always unused) answer like a healthy token; every other call,
 * `transferWithAuthorization` and `receiveWithAuthorization` (both overloads) included, loops until
 * its gas is spent.
 * @dev Note: it moves no funds and checks nothing. It models an attacker's own token used to make a
 * relayer pay for free "payments".
 */
contract GasBurningEIP3009Token {
    /// @notice The EIP-712 domain name a verifier reads.
    function name() external pure returns (string memory) {
        return "Fake Dollar";
    }

    /// @notice The EIP-712 domain version a verifier reads.
    function version() external pure returns (string memory) {
        return "2";
    }

    /// @notice Six decimals, like USDC.
    function decimals() external pure returns (uint8) {
        return 6;
    }

    /// @notice Every account holds a million "dollars".
    function balanceOf(address) external pure returns (uint256) {
        return 1e12;
    }

    /// @notice Always "unused", so a state check lets the payment through.
    function authorizationState(address, bytes32) external pure returns (bool) {
        return false;
    }

    fallback() external {
        // solhint-disable-next-line no-empty-blocks
        while (gasleft() > 0) {}
    }
}
