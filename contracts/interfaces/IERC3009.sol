// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC3009, IERC3009Cancel} from "@openzeppelin/contracts/interfaces/draft-IERC3009.sol";

/**
 * @title IERC3009Signature
 * @notice The `bytes signature` overloads of the EIP-3009 functions, as Circle's FiatTokenV2_2 (USDC v2.2)
 * exposes them. The signature is either a 65-byte ECDSA signature packed as `r ‖ s ‖ v` (when the authorizer
 * has no code) or whatever the authorizer's ERC-1271 `isValidSignature` accepts (when it has code).
 * @dev Kept apart from the `(v, r, s)` overloads so that `IERC3009Signature.transferWithAuthorization.selector`
 * is unambiguous for callers that build calldata by selector.
 */
interface IERC3009Signature {
    /**
     * @notice Executes a transfer from `from` to `to` authorized by `from`'s signature over the EIP-712
     * `TransferWithAuthorization(from, to, value, validAfter, validBefore, nonce)` message.
     * @param from The payer, who signed the authorization.
     * @param to The payee.
     * @param value The amount, in the token's smallest unit.
     * @param validAfter The authorization is valid strictly after this unix time.
     * @param validBefore The authorization is valid strictly before this unix time.
     * @param nonce A 32-byte value unique to `from`; consumed by this call.
     * @param signature `r ‖ s ‖ v` (65 bytes) for an EOA, or an ERC-1271 signature for a contract.
     */
    function transferWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        bytes calldata signature
    ) external;

    /**
     * @notice Like {transferWithAuthorization} over the `ReceiveWithAuthorization` message, callable only by
     * the payee `to`, so a relayer that sees the authorization cannot front-run its execution.
     * @param from The payer, who signed the authorization.
     * @param to The payee, who must be the caller.
     * @param value The amount, in the token's smallest unit.
     * @param validAfter The authorization is valid strictly after this unix time.
     * @param validBefore The authorization is valid strictly before this unix time.
     * @param nonce A 32-byte value unique to `from`; consumed by this call.
     * @param signature `r ‖ s ‖ v` (65 bytes) for an EOA, or an ERC-1271 signature for a contract.
     */
    function receiveWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        bytes calldata signature
    ) external;

    /**
     * @notice Consumes `nonce` of `authorizer` without moving funds, authorized by the EIP-712
     * `CancelAuthorization(authorizer, nonce)` message.
     * @param authorizer The account whose nonce is cancelled.
     * @param nonce The nonce to cancel.
     * @param signature `r ‖ s ‖ v` (65 bytes) for an EOA, or an ERC-1271 signature for a contract.
     */
    function cancelAuthorization(
        address authorizer,
        bytes32 nonce,
        bytes calldata signature
    ) external;
}

/**
 * @title IEIP3009Token
 * @notice The EIP-3009 surface that Circle's FiatTokenV2_2 (USDC) and the project's test token share: the
 * `(v, r, s)` overloads and `authorizationState` (OpenZeppelin's `IERC3009`), `cancelAuthorization`
 * (`IERC3009Cancel`), and the `bytes signature` overloads ({IERC3009Signature}). Selectors, EIP-712 type
 * hashes and events are identical to USDC's.
 * @dev Checks happen in USDC's order: (receive: caller is the payee), `validAfter < block.timestamp`,
 * `block.timestamp < validBefore`, nonce unused, signature, then the nonce is marked used
 * ({IERC3009-AuthorizationUsed} or {IERC3009Cancel-AuthorizationCanceled}) and the funds move.
 */
interface IEIP3009Token is IERC3009, IERC3009Cancel, IERC3009Signature {
    /**
     * @notice The authorization is not valid yet: `block.timestamp <= validAfter`.
     * @param validAfter The authorization's lower time bound (exclusive).
     * @param timestamp The current block timestamp.
     */
    error ERC3009AuthorizationNotYetValid(uint256 validAfter, uint256 timestamp);

    /**
     * @notice The authorization has expired: `block.timestamp >= validBefore`.
     * @param validBefore The authorization's upper time bound (exclusive).
     * @param timestamp The current block timestamp.
     */
    error ERC3009AuthorizationExpired(uint256 validBefore, uint256 timestamp);

    /**
     * @notice `receiveWithAuthorization` was called by someone other than the payee.
     * @param caller The account that called.
     * @param payee The authorization's `to`.
     */
    error ERC3009CallerNotPayee(address caller, address payee);
}
