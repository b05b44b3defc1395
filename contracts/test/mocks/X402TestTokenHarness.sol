// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {X402TestToken} from "../../token/X402TestToken.sol";

/**
 * @title X402TestTokenHarness
 * @notice The test token with its inherited (internal) EIP-3009 type hashes exposed, so tests can compare
 * them with FiatTokenV2_2's public constants.
 */
contract X402TestTokenHarness is X402TestToken {
    constructor(
        string memory name_,
        string memory symbol_,
        string memory version_,
        address admin
    ) X402TestToken(name_, symbol_, version_, admin) {}

    function TRANSFER_WITH_AUTHORIZATION_TYPEHASH_() external pure returns (bytes32) {
        return TRANSFER_WITH_AUTHORIZATION_TYPEHASH;
    }

    function RECEIVE_WITH_AUTHORIZATION_TYPEHASH_() external pure returns (bytes32) {
        return RECEIVE_WITH_AUTHORIZATION_TYPEHASH;
    }

    function CANCEL_AUTHORIZATION_TYPEHASH_() external pure returns (bytes32) {
        return CANCEL_AUTHORIZATION_TYPEHASH;
    }
}
