// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {X402TestToken} from "../../../token/X402TestToken.sol";

/// @notice The test token with USDC's blacklist: a transfer from or to a blacklisted account
/// reverts, so routed payouts can fail on it as they do on USDC.
contract BlacklistingTestToken is X402TestToken {
    /// @notice Accounts that can neither send nor receive.
    mapping(address => bool) public isBlacklisted;

    /// @notice `account` is blacklisted.
    error BlacklistingTestTokenBlacklisted(address account);

    constructor(address admin) X402TestToken("X402 Test Token", "X402T", "1", admin) {}

    /// @notice Blacklists `account` (anyone may: a test token).
    function blacklist(address account) external {
        isBlacklisted[account] = true;
    }

    function _update(address from, address to, uint256 value) internal override {
        require(!isBlacklisted[from], BlacklistingTestTokenBlacklisted(from));
        require(!isBlacklisted[to], BlacklistingTestTokenBlacklisted(to));
        super._update(from, to, value);
    }
}
