// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title ISettlementRouter
/// @notice Settles many EIP-3009 authorizations of one token in one transaction, isolating every
/// payment from the others. Permissionless: anyone may submit; the payers' signatures bind
/// everything that matters.
///
/// ## Packed items
/// `items` is a concatenation of packed items, big-endian, without padding:
///
/// | offset | size | field                                                                  |
/// |-------:|-----:|------------------------------------------------------------------------|
/// |      0 |    1 | flags: bit 0 `ROUTED`, bit 1 `CONTRACT_SIGNATURE`; bits 2..7 zero       |
/// |      1 |   20 | `from`: the authorizer (payer)                                         |
/// |     21 |   20 | `payee`: direct: the EIP-3009 `to`; routed: the payee in the nonce      |
/// |     41 |   16 | `value` (uint128)                                                      |
/// |     57 |    6 | `validAfter` (uint48)                                                  |
/// |     63 |    6 | `validBefore` (uint48)                                                 |
/// |     69 |   32 | direct: the EIP-3009 `nonce`; routed: the `salt`                       |
/// |    101 |   16 | routed items only: `fee` (uint128)                                     |
/// |      p |   64 | `CONTRACT_SIGNATURE` unset: `r` ‖ `yParityAndS` (EIP-2098 compact)      |
/// |      p |  2+n | `CONTRACT_SIGNATURE` set: uint16 `n`, then `n` signature bytes          |
///
/// with `p` = 101 for direct items and 117 for routed items. A direct EOA item is 165 bytes, a
/// routed EOA item 181 bytes. In the compact signature the top bit of the second word is the y
/// parity (`v = 27 + parity`) and the remaining 255 bits are `s`. A contract signature's `n`
/// bytes are passed unchanged to the token's `bytes signature` overload (what an ERC-1271 wallet
/// expects, or a 65-byte ECDSA signature).
///
/// **Direct item**: `token.transferWithAuthorization(from, payee, value, validAfter, validBefore,
/// nonce, v, r, s)`: exactly what an unchanged x402 `exact` client signs.
///
/// **Routed item**: the payer signed `ReceiveWithAuthorization` with `to` = this router and
/// `nonce = routedNonce(payee, fee, feeRecipient, salt)`, where `feeRecipient` is the argument of
/// {settle}. The router recomputes that nonce, so the payee, the fee and the fee recipient cannot be
/// substituted, and only the router can execute the authorization (`receiveWithAuthorization`
/// requires the caller to be `to`). It credits `value - fee` to the payee and `fee` to
/// `feeRecipient`, and pays out netted: consecutive routed items with the same payee form a group,
/// paid with one transfer; all fees of the call are paid with one transfer at the end.
///
/// ## Batch failure policy
/// - A payment that fails never reverts the batch. Each item ends in exactly one {ItemStatus},
///   written at its index in the returned `results` (one byte per item) and in the call's one
///   {BatchSettled} event. Every failed item also gets one {PaymentFailed} event with the status
///   and the first {MAX_REASON_LENGTH} bytes of the failing call's revert data. A settled item gets
///   no event of the router's own: the token's `AuthorizationUsed(authorizer, nonce)` (and
///   `Transfer`) already announce it, and a router event per settled item would cost more gas
///   (about 1,000 to 1,750) than the whole budget left for the router on USDC.
/// - A token call that reverts is reported as `AuthorizationUsed` when `authorizationState(from,
///   nonce)` is true after the failure (spent, cancelled, front-run or duplicated), otherwise as
///   `TokenReverted`. The check runs only after a failure: a settled item costs no extra read.
/// - Routed items with `fee > value` are reported `FeeExceedsValue` without calling the token; a
///   `CONTRACT_SIGNATURE` item with an empty signature is reported `InvalidSignatureLength`.
/// - When the payout of a routed group fails (e.g. a blacklisted payee), the whole group is undone
///   (its items were executed inside a self-call that reverts as a whole): every item of the group
///   is reported `PayoutFailed` with the payout's revert data, its nonce stays unused and no funds
///   move.
/// - Every item's token call and every routed group's payout gets at most {ITEM_GAS_LIMIT} gas,
///   the `authorizationState` read after a failure at most 30,000, and at most
///   {MAX_REASON_LENGTH} bytes of any returndata are copied, so a token or an ERC-1271 wallet
///   cannot take the other items' gas. The one fee payout at the end forwards all the gas left:
///   if it fails the whole call reverts ({SettlementRouterFeePayoutFailed}), so it cannot cost
///   any payment its settlement.
/// - The whole call reverts, as a submitter error, only when: `items` is malformed
///   ({SettlementRouterMalformedItems}); `token` has no code ({SettlementRouterTokenHasNoCode});
///   a token call failed with less than `ITEM_GAS_LIMIT / 63` gas left, so it may have failed only
///   because the 63/64 rule gave it less than its limit ({SettlementRouterInsufficientGas}: a gas
///   estimate never silently fails a payment); or the accumulated fees cannot be paid to
///   `feeRecipient` ({SettlementRouterFeePayoutFailed}).
/// - The router holds no funds when a call ends.
///
/// ## Permit2 items ({settlePermit2})
/// For any ERC-20 (USDT included: `transfer`/`transferFrom` may return nothing), after the payer's
/// one-time approval of Permit2. The payer signs Permit2's `PermitWitnessTransferFrom` with
/// `spender` = this router, `permitted` = (`token`, `amount`), and the witness
/// `RouterPayment(address payee,uint256 fee,address feeRecipient,uint256 validAfter)`
/// ({PERMIT2_WITNESS_TYPE_STRING}), where `feeRecipient` is the argument of {settlePermit2}. The
/// router rebuilds the witness from the item and the call, so the payee, the fee and the fee
/// recipient cannot be substituted, and only the router can spend the signature (Permit2 hashes
/// `msg.sender` as the spender). Packed, big-endian, without padding: items come in groups, each
/// a header naming the group's payee, then the group's items, which do not repeat it:
///
/// | offset | size | group header                                                           |
/// |-------:|-----:|------------------------------------------------------------------------|
/// |      0 |   20 | `payee` of every item of the group                                     |
/// |     20 |    3 | `size` (uint24): the byte length of the group's items that follow, > 0 |
///
/// | offset | size | item                                                                   |
/// |-------:|-----:|------------------------------------------------------------------------|
/// |      0 |    1 | flags: bit 0 `EIP2612_PERMIT`, bit 1 `CONTRACT_SIGNATURE`, bit 2 `FULL_NONCE`; bits 3..7 zero |
/// |      1 |   20 | `owner`: the payer                                                     |
/// |     21 |   12 | `amount` (uint96): `permitted.amount`, all of it pulled                |
/// |     33 |   12 | `fee` (uint96), out of `amount`                                        |
/// |     45 |    5 | `validAfter` (uint40): valid only when `block.timestamp > validAfter`  |
/// |     50 |    4 | uint32 `deadline - validAfter`: Permit2's deadline, as an offset        |
/// |     54 | 16/32 | `nonce`: Permit2's unordered nonce; 16 bytes (below 2^128), 32 with `FULL_NONCE` |
/// |      p |   64 | `CONTRACT_SIGNATURE` unset: `r` ‖ `yParityAndS` (EIP-2098, 64 bytes)    |
/// |      p |  2+n | `CONTRACT_SIGNATURE` set: uint16 `n`, then `n` signature bytes          |
/// |      q |  128 | `EIP2612_PERMIT` set: `value`, `deadline` (uint256 each), `r` ‖ `yParityAndS` |
///
/// with `p` = 70, or 86 for a `FULL_NONCE` item. A group header is 23 bytes; an EOA item is 134
/// bytes (150 with a full nonce), 262 with a permit. The ranges: amounts and fees below 2^96
/// (79 billion whole units of an 18-decimal token), `validAfter` below 2^40 (the year 36812), the
/// deadline from `validAfter` to `validAfter + 2^32 - 1` (x402 windows are minutes); the witness
/// and Permit2 take them as uint256. The toolkit's payments carry 128-bit random nonces (16 bytes
/// instead of 32); any nonce the payer signed fits the 32-byte form. The hot path takes
/// a run of items of one nonce width; an item whose width differs from the one before it in its
/// group goes through the plain path. A malformed header or item (past
/// the end of `items` or of its group, unknown flags, an empty group) reverts the call with
/// {SettlementRouterMalformedItems} at its offset. The signature bytes go to Permit2 unchanged
/// (it takes 64- and 65-byte ECDSA signatures, or ERC-1271 bytes for a contract owner).
/// `EIP2612_PERMIT` carries the payer's EIP-2612 permit approving Permit2 (`spender` =
/// {PERMIT2}), the one-time approval riding with the payer's first payment: the router calls
/// `token.permit(owner, PERMIT2, value, deadline, v, r, s)` with at most {PERMIT_GAS_LIMIT} gas
/// before the transfer; if it reverts (front-run, already used) the item goes on when Permit2's
/// allowance covers `amount`, and is reported `PermitFailed` with the permit's revert data
/// otherwise. Each item pulls `amount` to the router (`permitWitnessTransferFrom` with at most
/// {ITEM_GAS_LIMIT} gas); each group is paid with one transfer of its items' `amount - fee`
/// (two groups of one payee are paid separately), the call's fees are paid with one transfer at
/// the end, and the policy above holds: `AuthorizationUsed` when Permit2's nonce bitmap marks the nonce used after a
/// failure, `TokenReverted` with Permit2's revert data (`InvalidSigner`, `SignatureExpired`,
/// `TRANSFER_FROM_FAILED` for the token's own refusal...) otherwise, `FeeExceedsValue`,
/// `NotYetValid` and `InvalidSignatureLength` without any call, `PayoutFailed` for the items of a
/// group whose payout failed (undone: their nonces stay unused). A payout succeeds only when the
/// token's `transfer` did not revert and returned nothing or `true`.
///
/// Permit2 (like any caller that accepts an empty return) takes a token's silent failure (a
/// `transferFrom` that returns nothing and moves nothing) for success, so the router checks its
/// own token balance: once before and once after each group's pulls; if it rose by less than the
/// group's settled amounts, the group is undone and re-run with a check around every pull, and each
/// item whose pull moved less than its `amount` is reported `AmountNotReceived` (undone: its nonce
/// stays unused) while the others settle. A payee payout that lowers the router's balance by less
/// than the payee's credit is a failed payout (`PayoutFailed`, empty reason), and a fee payout
/// that does so reverts the call ({SettlementRouterFeePayoutFailed}). A token whose
/// `balanceOf(router)` reverts or returns no word reverts the call (the token is the submitter's
/// choice).
interface ISettlementRouter {
    /// @notice The outcome of one item; `results[i]` is `uint8(ItemStatus)` of item `i`.
    enum ItemStatus {
        /// The token call succeeded (and, for a routed item, its group was paid out).
        Settled,
        /// The token call reverted and the authorization is used or cancelled on the token
        /// (spent before, front-run, or the same authorization earlier in this batch).
        AuthorizationUsed,
        /// The token call reverted for another reason (expired, not yet valid, bad signature,
        /// insufficient balance, blacklisted, paused, out of gas...): see the event's `reason`.
        TokenReverted,
        /// A routed item's fee is larger than its value; the token was not called.
        FeeExceedsValue,
        /// The netted payout of the item's routed group reverted; the group was undone.
        PayoutFailed,
        /// A `CONTRACT_SIGNATURE` item carries an empty signature; the token was not called.
        InvalidSignatureLength,
        /// A Permit2 item's `validAfter` is not yet past; Permit2 was not called.
        NotYetValid,
        /// A Permit2 item's EIP-2612 permit reverted and Permit2's allowance is below `amount`;
        /// Permit2 was not called. The event's `reason` is the permit's revert data.
        PermitFailed,
        /// A Permit2 item's pull succeeded but the router's balance rose by less than `amount`
        /// (a token whose failed `transferFrom` returns nothing and moves nothing, or one that
        /// takes a fee): the pull was undone, the item's nonce stays unused.
        AmountNotReceived
    }

    /// @notice One per {settle} call, after all items: `results[i]` is `uint8(ItemStatus)` of
    /// item `i`, exactly what {settle} returns. Each settled item's `(authorizer, nonce)` is also
    /// in the token's own `AuthorizationUsed` event; each failed item has its {PaymentFailed}.
    event BatchSettled(address indexed token, bytes results);

    /// @notice Item `index` failed with `status`; `reason` holds the first {MAX_REASON_LENGTH}
    /// bytes of the failing call's revert data (empty when no call was made).
    event PaymentFailed(
        uint256 indexed index,
        address indexed authorizer,
        bytes32 nonce,
        ItemStatus status,
        bytes reason
    );

    /// @notice `items` is truncated, an item's signature length runs past its end, or an item's
    /// flags set unknown bits; `offset` is the byte offset of the offending item in `items`.
    error SettlementRouterMalformedItems(uint256 offset);

    /// @notice `token` has no code, so calls to it would succeed without moving funds.
    error SettlementRouterTokenHasNoCode(address token);

    /// @notice Item `index`'s token call (or its group's payout) failed with too little gas left
    /// to tell a genuine failure from one caused by a gas limit below the call's
    /// {ITEM_GAS_LIMIT}: the submitter must raise the transaction's gas limit.
    error SettlementRouterInsufficientGas(uint256 index);

    /// @notice The accumulated fees `amount` could not be transferred to `feeRecipient`.
    error SettlementRouterFeePayoutFailed(address feeRecipient, uint256 amount);

    /// @notice {settlePermit2} was called on a chain without Permit2 at {PERMIT2}.
    error SettlementRouterPermit2HasNoCode(address permit2);

    /// @notice {settleRoutedGroup} or {settlePermit2Group} was called by `caller`, not by the router itself.
    error SettlementRouterUnauthorizedCaller(address caller);

    /// @notice Settles the packed `items` (see the layout above) on `token`, which must implement
    /// EIP-3009 (`transferWithAuthorization`, `receiveWithAuthorization`, `authorizationState`, and
    /// the `bytes signature` overloads for `CONTRACT_SIGNATURE` items) and `transfer`.
    /// @param token The EIP-3009 token all items are denominated in.
    /// @param feeRecipient Receives the fees of routed items; bound by every routed item's nonce.
    /// Ignored when the call settles no routed item with a non-zero fee.
    /// @param items The packed items.
    /// @return results One byte per item: `uint8(ItemStatus)`, in item order.
    function settle(
        address token,
        address feeRecipient,
        bytes calldata items
    ) external returns (bytes memory results);

    /// @notice Settles the packed Permit2 `items` (see "Permit2 items" above) of `token`, any
    /// ERC-20 the payers approved Permit2 for, with the same per-item isolation and results as
    /// {settle}. Emits {BatchSettled}.
    /// @param token The ERC-20 all items are denominated in (`permitted.token`).
    /// @param feeRecipient Receives the fees; bound by every item's witness.
    /// @param items The packed Permit2 items.
    /// @return results One byte per item: `uint8(ItemStatus)`, in item order.
    function settlePermit2(
        address token,
        address feeRecipient,
        bytes calldata items
    ) external returns (bytes memory results);

    /// @notice Executes one group of Permit2 items (one payee) inside the router's own self-call,
    /// so that a failed payout undoes the group. Reverts with
    /// {SettlementRouterUnauthorizedCaller} for any caller other than the router itself.
    /// @param payee The group's payee (its header's).
    /// @param firstIndex The index in the batch of the group's first item.
    /// @param checked Whether each pull is checked against the router's balance (otherwise the
    /// group's total is).
    /// @param items The group's packed items, without the header.
    /// @return fees The settled items' fees.
    /// @return statuses One status byte per item of the group.
    function settlePermit2Group(
        address token,
        address feeRecipient,
        address payee,
        uint256 firstIndex,
        bool checked,
        bytes calldata items
    ) external returns (uint256 fees, bytes memory statuses);

    /// @notice The canonical Permit2 address the router calls.
    function PERMIT2() external view returns (address);

    /// @notice The `witnessTypeString` the router passes to Permit2.
    function PERMIT2_WITNESS_TYPE_STRING() external view returns (string memory);

    /// @notice `keccak256("RouterPayment(address payee,uint256 fee,address feeRecipient,uint256 validAfter)")`.
    function ROUTER_PAYMENT_TYPEHASH() external view returns (bytes32);

    /// @notice The most gas an item's EIP-2612 permit may consume.
    function PERMIT_GAS_LIMIT() external view returns (uint256);

    /// @notice The nonce a payer signs for a routed item:
    /// `keccak256(abi.encode(payee, fee, feeRecipient, salt))`.
    function routedNonce(
        address payee,
        uint256 fee,
        address feeRecipient,
        bytes32 salt
    ) external pure returns (bytes32);

    /// @notice Executes one routed group inside the router's own self-call, so that a failed
    /// payout undoes the group. Reverts with {SettlementRouterUnauthorizedCaller} for any caller
    /// other than the router itself.
    /// @param token As in {settle}.
    /// @param feeRecipient As in {settle}.
    /// @param firstIndex The index in the batch of the group's first item.
    /// @param firstOffset The byte offset in `items` of the group's first item.
    function settleRoutedGroup(
        address token,
        address feeRecipient,
        uint256 firstIndex,
        uint256 firstOffset
    ) external;

    /// @notice The most gas an item's token call or a routed group's payout may consume (the
    /// call's fee payout, which reverts the whole call when it fails, is not limited).
    function ITEM_GAS_LIMIT() external view returns (uint256);

    /// @notice The most bytes of a failing call's revert data copied into {PaymentFailed}.
    function MAX_REASON_LENGTH() external view returns (uint256);
}
