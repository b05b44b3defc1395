// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {IEIP3009Token} from "./IERC3009.sol";

/**
 * @title IX402TestToken
 * @notice The project's EIP-3009 test token: an ERC-20 with 6 decimals, EIP-2612 `permit`, the EIP-3009
 * functions of USDC v2.2 ({IEIP3009Token}) and role-gated minting for tests and benchmarks.
 */
interface IX402TestToken is IEIP3009Token, IERC20Permit {
    /**
     * @notice A `permit` was submitted after its deadline.
     * @param deadline The permit's deadline (inclusive).
     */
    error ERC2612ExpiredSignature(uint256 deadline);

    /**
     * @notice A `permit` signature recovers to someone other than the owner.
     * @param signer The recovered address.
     * @param owner The owner named in the permit.
     */
    error ERC2612InvalidSigner(address signer, address owner);

    /**
     * @notice Mints `value` tokens to `to`. Only accounts with the minter role may call it.
     * @param to The recipient.
     * @param value The amount, in the token's smallest unit.
     */
    function mint(address to, uint256 value) external;
}
