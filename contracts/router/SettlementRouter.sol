// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {ISettlementRouter} from "../interfaces/ISettlementRouter.sol";

/// @title SettlementRouter
/// @notice Batches EIP-3009 authorizations of one token into one transaction with per-item
/// isolation, netted payouts for routed items and per-item results. See {ISettlementRouter} for
/// the packed item layout and the batch failure policy.
/// @dev Note: the router does not check signatures, time windows, balances or nonces itself: the
/// token does, and a rejection is reported per item. It does not check that `token` is a genuine
/// EIP-3009 token (only that it has code), that direct items' payees differ from the router (a
/// direct authorization paying the router leaves its funds here: nobody can move them), that the
/// token moves exactly `value` (fee-on-transfer or rebasing tokens break the netting), nor that
/// routed items of one payee are adjacent (each run of equal payees is paid separately). It keeps
/// no storage besides the transient reentrancy lock.
contract SettlementRouter is ISettlementRouter, ReentrancyGuardTransient {
    /// @inheritdoc ISettlementRouter
    uint256 public constant ITEM_GAS_LIMIT = 200_000;

    /// @inheritdoc ISettlementRouter
    uint256 public constant MAX_REASON_LENGTH = 256;

    /// @dev Gas that must be left before a token call: its limit (200,000), the 1/64 a call keeps
    /// back (3,175) and a reserve of 50,000 for reporting a failure (reason copy,
    /// `authorizationState` check, event). A literal, since assembly cannot read expressions.
    uint256 private constant _MIN_GAS_PER_CALL = 253_175;

    /// @dev Gas for the `authorizationState` read after a failed token call.
    uint256 private constant _AUTH_STATE_GAS = 30_000;

    /// @dev The shortest well-formed item: direct, `CONTRACT_SIGNATURE`, empty signature.
    uint256 private constant _MIN_ITEM_SIZE = 103;

    /// @dev Where {settleRoutedGroup}'s raw items start in its calldata (selector + 3 words).
    uint256 private constant _GROUP_ITEMS_OFFSET = 0x64;

    // Selectors and event topics, as literals for the assembly; `test/router` checks each one
    // against the ABI.
    uint256 private constant _TRANSFER_WITH_AUTHORIZATION_VRS = 0xe3ee160e;
    uint256 private constant _TRANSFER_WITH_AUTHORIZATION_BYTES = 0xcf092995;
    uint256 private constant _RECEIVE_WITH_AUTHORIZATION_VRS = 0xef55bec6;
    uint256 private constant _RECEIVE_WITH_AUTHORIZATION_BYTES = 0x88b7ab63;
    uint256 private constant _AUTHORIZATION_STATE = 0xe94a0102;
    uint256 private constant _TRANSFER = 0xa9059cbb;
    uint256 private constant _SETTLE_ROUTED_GROUP = 0xdc62ede0;
    uint256 private constant _MALFORMED_ITEMS_ERROR = 0x63ab2cbc;
    uint256 private constant _INSUFFICIENT_GAS_ERROR = 0xbf882fbb;
    /// @dev First 4 bytes of {settleRoutedGroup}'s revert data when its payout failed, followed
    /// by the payout's capped revert data: `bytes4(keccak256("SettlementRouterGroupUndone()"))`.
    uint256 private constant _GROUP_UNDONE = 0x0e0e8c7f;
    bytes32 private constant _PAYMENT_SETTLED_EVENT =
        0x84ac0536c7f5700f2c24ea6e8cd6d24cdfbbab5f7604373a794ac075264fc5ce;
    bytes32 private constant _PAYMENT_FAILED_EVENT =
        0x327c5467bee0ddf4d85267cd228c3e53e2a15db7257aa454aaac53be7c8e9953;

    /// @inheritdoc ISettlementRouter
    function settle(
        address token,
        address feeRecipient,
        bytes calldata items
    ) external nonReentrant returns (bytes memory results) {
        require(token.code.length != 0, SettlementRouterTokenHasNoCode(token));
        uint256 fees;
        uint256 start;
        uint256 end;
        assembly ("memory-safe") {
            start := items.offset
            end := add(items.offset, items.length)
        }
        (results, fees, ) = _execute(token, feeRecipient, start, end, 0, false);
        if (fees != 0) _payFees(token, feeRecipient, fees);
    }

    /// @inheritdoc ISettlementRouter
    /// @dev Calldata: the selector, the three arguments, then the group's raw packed items (all
    /// routed, one payee, already bounds-checked by {settle}). Returns raw bytes: the group's fee
    /// total (one word) followed by one status byte per item. When the payout fails it reverts with
    /// `_GROUP_UNDONE` followed by the payout's capped revert data.
    function settleRoutedGroup(address token, address feeRecipient, uint256 firstIndex) external {
        require(msg.sender == address(this), SettlementRouterUnauthorizedCaller(msg.sender));
        (bytes memory statuses, uint256 fees, uint256 credit) = _execute(
            token,
            feeRecipient,
            _GROUP_ITEMS_OFFSET,
            msg.data.length,
            firstIndex,
            true
        );
        assembly ("memory-safe") {
            if credit {
                let payee := shr(96, calldataload(add(_GROUP_ITEMS_OFFSET, 21)))
                // A payout to the router itself would leave the credit here: undo the group.
                if eq(payee, address()) {
                    mstore(0, shl(224, _GROUP_UNDONE))
                    revert(0, 4)
                }
                if lt(gas(), _MIN_GAS_PER_CALL) {
                    mstore(0, shl(224, _INSUFFICIENT_GAS_ERROR))
                    mstore(4, firstIndex)
                    revert(0, 0x24)
                }
                let p := mload(0x40)
                mstore(p, shl(224, _TRANSFER))
                mstore(add(p, 4), payee)
                mstore(add(p, 0x24), credit)
                let ok := call(ITEM_GAS_LIMIT, token, 0, p, 0x44, 0, 0x20)
                // Accept tokens that return nothing as well as those returning `true`.
                ok := and(
                    ok,
                    or(iszero(returndatasize()), and(gt(returndatasize(), 31), eq(mload(0), 1)))
                )
                if iszero(ok) {
                    let n := returndatasize()
                    if gt(n, MAX_REASON_LENGTH) {
                        n := MAX_REASON_LENGTH
                    }
                    mstore(p, shl(224, _GROUP_UNDONE))
                    returndatacopy(add(p, 4), 0, n)
                    revert(p, add(4, n))
                }
            }
            // Reuse the statuses' length word for the fee total: [fees][status bytes].
            let count := mload(statuses)
            mstore(statuses, fees)
            return(statuses, add(0x20, count))
        }
    }

    /// @inheritdoc ISettlementRouter
    function routedNonce(
        address payee,
        uint256 fee,
        address feeRecipient,
        bytes32 salt
    ) external pure returns (bytes32) {
        return keccak256(abi.encode(payee, fee, feeRecipient, salt));
    }

    /// @dev Pays the call's accumulated routed fees to `feeRecipient`, reverting the whole call
    /// when that fails: the fee recipient is the submitter's choice, not a payment's.
    function _payFees(address token, address feeRecipient, uint256 fees) private {
        bool ok = feeRecipient != address(this);
        assembly ("memory-safe") {
            if ok {
                let p := mload(0x40)
                mstore(p, shl(224, _TRANSFER))
                mstore(add(p, 4), feeRecipient)
                mstore(add(p, 0x24), fees)
                ok := call(gas(), token, 0, p, 0x44, 0, 0x20)
                ok := and(
                    ok,
                    or(iszero(returndatasize()), and(gt(returndatasize(), 31), eq(mload(0), 1)))
                )
            }
        }
        require(ok, SettlementRouterFeePayoutFailed(feeRecipient, fees));
    }

    /// @dev Executes the packed items in calldata `[itemsStart, itemsEnd)`, numbering them from
    /// `firstIndex`. Outside a group (`group == false`) direct items are executed here and each run
    /// of routed items with one payee is handed to {settleRoutedGroup} through a self-call; inside
    /// a group every item is routed to the same payee and is executed here.
    /// @return statuses One status byte per item.
    /// @return fees The fees of the settled routed items.
    /// @return credit Inside a group: what the settled items owe the payee.
    // solhint-disable-next-line function-max-lines
    function _execute(
        address token,
        address feeRecipient,
        uint256 itemsStart,
        uint256 itemsEnd,
        uint256 firstIndex,
        bool group
    ) private returns (bytes memory statuses, uint256 fees, uint256 credit) {
        assembly ("memory-safe") {
            // ---- memory ----------------------------------------------------------------------
            // ctx + 0x00  token
            // ctx + 0x20  group flag
            // ctx + 0x40  routed-nonce preimage: payee, fee, feeRecipient, salt (4 words)
            // ctx + 0xc0  credit accumulator
            // ctx + 0xe0  fee accumulator
            // ctx + 0x100 res: where item `index`'s status byte lives is `res + index`
            // ctx + 0x120 buf
            // ctx + 0x140 statuses (length word, then one byte per item, zeroed)
            // buf         call data of the token calls and self-calls, then event data; 32 free
            //             bytes before it let a selector be written with one mstore.

            /// Reverts the whole call: `items` is malformed at `offset`.
            function malformed(offset) {
                mstore(0, shl(224, _MALFORMED_ITEMS_ERROR))
                mstore(4, offset)
                revert(0, 0x24)
            }

            /// Reverts the whole call unless a token call before item `index` can get its
            /// full gas limit and its failure can still be reported.
            function requireGas(index) {
                if lt(gas(), _MIN_GAS_PER_CALL) {
                    mstore(0, shl(224, _INSUFFICIENT_GAS_ERROR))
                    mstore(4, index)
                    revert(0, 0x24)
                }
            }

            /// The size of the item at `pos` with `flags`, unchecked.
            function rawItemSize(pos, flags) -> size {
                // 101 for direct items, 117 for routed ones (16 fee bytes).
                size := add(101, shl(4, and(flags, 1)))
                switch and(flags, 2)
                case 0 {
                    size := add(size, 64)
                }
                default {
                    size := add(add(size, 2), shr(240, calldataload(add(pos, size))))
                }
            }

            /// The size of the item at `pos` with `flags`; reverts if it runs past `end` or its
            /// flags set unknown bits. `first` is where offsets in the error count from.
            function itemSize(pos, flags, end, first) -> size {
                if gt(flags, 3) {
                    malformed(sub(pos, first))
                }
                size := rawItemSize(pos, flags)
                if gt(add(pos, size), end) {
                    malformed(sub(pos, first))
                }
            }

            /// Writes the signature arguments after the six fixed ones at `buf` (whose selector
            /// word is written here too) and returns the call data length, or 0 for an empty
            /// contract signature.
            function encodeSignature(buf, sig, flags, selectorVrs, selectorBytes) -> len {
                switch and(flags, 2)
                case 0 {
                    mstore(sub(buf, 28), selectorVrs)
                    let vs := calldataload(add(sig, 32))
                    mstore(add(buf, 0xc4), add(27, shr(255, vs)))
                    mstore(add(buf, 0xe4), calldataload(sig))
                    mstore(add(buf, 0x104), shr(1, shl(1, vs)))
                    len := 0x124
                }
                default {
                    let n := shr(240, calldataload(sig))
                    if n {
                        mstore(sub(buf, 28), selectorBytes)
                        mstore(add(buf, 0xc4), 0xe0)
                        mstore(add(buf, 0xe4), n)
                        calldatacopy(add(buf, 0x104), add(sig, 2), n)
                        // Zero the padding after the signature.
                        mstore(add(add(buf, 0x104), n), 0)
                        len := add(0x104, and(add(n, 31), not(31)))
                    }
                }
            }

            function emitSettled(buf, index, from, nonce) {
                mstore(buf, nonce)
                log3(buf, 0x20, _PAYMENT_SETTLED_EVENT, index, from)
            }

            /// Emits PaymentFailed with the `rlen` reason bytes already at `buf + 0x80` and
            /// records `status` for item `index`.
            function emitFailed(ctx, index, from, nonce, status, rlen) {
                let buf := mload(add(ctx, 0x120))
                mstore(buf, nonce)
                mstore(add(buf, 0x20), status)
                mstore(add(buf, 0x40), 0x60)
                mstore(add(buf, 0x60), rlen)
                log3(
                    buf,
                    add(0x80, and(add(rlen, 31), not(31))),
                    _PAYMENT_FAILED_EVENT,
                    index,
                    from
                )
                mstore8(add(mload(add(ctx, 0x100)), index), status)
            }

            /// Reports the token call of item `index` that just failed: copies the capped revert
            /// data, then asks the token whether the authorization is used.
            function reportCallFailure(ctx, index, from, nonce) {
                let buf := mload(add(ctx, 0x120))
                let rlen := returndatasize()
                if gt(rlen, MAX_REASON_LENGTH) {
                    rlen := MAX_REASON_LENGTH
                }
                returndatacopy(add(buf, 0x80), 0, rlen)
                mstore(add(add(buf, 0x80), rlen), 0)
                let q := add(buf, add(0xa0, MAX_REASON_LENGTH))
                mstore(q, shl(224, _AUTHORIZATION_STATE))
                mstore(add(q, 4), from)
                mstore(add(q, 0x24), nonce)
                mstore(0, 0)
                let status := 2 // TokenReverted
                if staticcall(_AUTH_STATE_GAS, mload(ctx), q, 0x44, 0, 0x20) {
                    if and(gt(returndatasize(), 31), eq(mload(0), 1)) {
                        status := 1 // AuthorizationUsed
                    }
                }
                emitFailed(ctx, index, from, nonce, status, rlen)
            }

            /// Direct item: transferWithAuthorization(from, payee, value, validAfter,
            /// validBefore, nonce, signature).
            function executeDirect(ctx, pos, index, flags) {
                let buf := mload(add(ctx, 0x120))
                let from := shr(96, calldataload(add(pos, 1)))
                let nonce := calldataload(add(pos, 69))
                mstore(add(buf, 0x04), from)
                mstore(add(buf, 0x24), shr(96, calldataload(add(pos, 21))))
                let w := calldataload(add(pos, 41))
                mstore(add(buf, 0x44), shr(128, w))
                mstore(add(buf, 0x64), and(shr(80, w), 0xffffffffffff))
                mstore(add(buf, 0x84), and(shr(32, w), 0xffffffffffff))
                mstore(add(buf, 0xa4), nonce)
                let len := encodeSignature(
                    buf,
                    add(pos, 101),
                    flags,
                    _TRANSFER_WITH_AUTHORIZATION_VRS,
                    _TRANSFER_WITH_AUTHORIZATION_BYTES
                )
                switch len
                case 0 {
                    emitFailed(ctx, index, from, nonce, 5, 0) // InvalidSignatureLength
                }
                default {
                    requireGas(index)
                    switch call(ITEM_GAS_LIMIT, mload(ctx), 0, buf, len, 0, 0)
                    case 0 {
                        reportCallFailure(ctx, index, from, nonce)
                    }
                    default {
                        emitSettled(buf, index, from, nonce)
                    }
                }
            }

            /// Routed item (inside a group): receiveWithAuthorization(from, router, value,
            /// validAfter, validBefore, routedNonce(payee, fee, feeRecipient, salt), signature).
            function executeRouted(ctx, pos, index, flags) {
                let buf := mload(add(ctx, 0x120))
                let from := shr(96, calldataload(add(pos, 1)))
                let w := calldataload(add(pos, 41))
                let fee := shr(128, calldataload(add(pos, 101)))
                mstore(add(ctx, 0x40), shr(96, calldataload(add(pos, 21))))
                mstore(add(ctx, 0x60), fee)
                mstore(add(ctx, 0xa0), calldataload(add(pos, 69)))
                let nonce := keccak256(add(ctx, 0x40), 0x80)
                switch gt(fee, shr(128, w))
                case 1 {
                    emitFailed(ctx, index, from, nonce, 3, 0) // FeeExceedsValue
                }
                default {
                    mstore(add(buf, 0x04), from)
                    mstore(add(buf, 0x24), address())
                    mstore(add(buf, 0x44), shr(128, w))
                    mstore(add(buf, 0x64), and(shr(80, w), 0xffffffffffff))
                    mstore(add(buf, 0x84), and(shr(32, w), 0xffffffffffff))
                    mstore(add(buf, 0xa4), nonce)
                    let len := encodeSignature(
                        buf,
                        add(pos, 117),
                        flags,
                        _RECEIVE_WITH_AUTHORIZATION_VRS,
                        _RECEIVE_WITH_AUTHORIZATION_BYTES
                    )
                    switch len
                    case 0 {
                        emitFailed(ctx, index, from, nonce, 5, 0) // InvalidSignatureLength
                    }
                    default {
                        requireGas(index)
                        switch call(ITEM_GAS_LIMIT, mload(ctx), 0, buf, len, 0, 0)
                        case 0 {
                            reportCallFailure(ctx, index, from, nonce)
                        }
                        default {
                            // Both sums stay far below 2^256: each term is below 2^128.
                            mstore(
                                add(ctx, 0xc0),
                                add(mload(add(ctx, 0xc0)), sub(shr(128, w), fee))
                            )
                            mstore(add(ctx, 0xe0), add(mload(add(ctx, 0xe0)), fee))
                            emitSettled(buf, index, from, nonce)
                        }
                    }
                }
            }

            /// Outside a group: finds the run of routed items with the payee of the item at
            /// `pos`, executes it through a self-call and records its statuses and fees.
            /// Returns the position and index after the run.
            function executeGroup(ctx, pos, end, index, first) -> next, nextIndex {
                let payee := shr(96, calldataload(add(pos, 21)))
                next := pos
                nextIndex := index
                for {} 1 {} {
                    next := add(next, itemSize(next, byte(0, calldataload(next)), end, first))
                    nextIndex := add(nextIndex, 1)
                    if iszero(lt(next, end)) {
                        break
                    }
                    if iszero(and(byte(0, calldataload(next)), 1)) {
                        break
                    }
                    if iszero(eq(shr(96, calldataload(add(next, 21))), payee)) {
                        break
                    }
                }
                let size := sub(next, pos)
                let buf := mload(add(ctx, 0x120))
                mstore(sub(buf, 28), _SETTLE_ROUTED_GROUP)
                mstore(add(buf, 0x04), mload(ctx))
                mstore(add(buf, 0x24), mload(add(ctx, 0x80)))
                mstore(add(buf, 0x44), index)
                calldatacopy(add(buf, 0x64), pos, size)
                switch call(gas(), address(), 0, buf, add(0x64, size), 0, 0)
                case 1 {
                    returndatacopy(0, 0, 0x20)
                    mstore(add(ctx, 0xe0), add(mload(add(ctx, 0xe0)), mload(0)))
                    returndatacopy(add(mload(add(ctx, 0x100)), index), 0x20, sub(nextIndex, index))
                }
                default {
                    reportGroupUndone(ctx, pos, next, index)
                }
            }

            /// The self-call for the group `[pos, next)` starting at item `index` reverted: bubble
            /// the revert up unless it is the group's payout failure, then report every item of
            /// the group `PayoutFailed` with the payout's revert data.
            function reportGroupUndone(ctx, pos, next, index) {
                let buf := mload(add(ctx, 0x120))
                let rlen := returndatasize()
                returndatacopy(buf, 0, rlen)
                // Any other revert (gas, a bug) is not a payout failure: bubble it up.
                if or(lt(rlen, 4), iszero(eq(shr(224, mload(buf)), _GROUP_UNDONE))) {
                    revert(buf, rlen)
                }
                rlen := sub(rlen, 4)
                returndatacopy(add(buf, 0x80), 4, rlen)
                mstore(add(add(buf, 0x80), rlen), 0)
                for {} lt(pos, next) {} {
                    let from := shr(96, calldataload(add(pos, 1)))
                    mstore(add(ctx, 0x60), shr(128, calldataload(add(pos, 101))))
                    mstore(add(ctx, 0xa0), calldataload(add(pos, 69)))
                    emitFailed(ctx, index, from, keccak256(add(ctx, 0x40), 0x80), 4, rlen) // PayoutFailed
                    pos := add(pos, rawItemSize(pos, byte(0, calldataload(pos))))
                    index := add(index, 1)
                }
            }

            // ---- set-up ------------------------------------------------------------------------
            let ctx := mload(0x40)
            mstore(ctx, token)
            mstore(add(ctx, 0x20), group)
            mstore(add(ctx, 0x80), feeRecipient)
            mstore(add(ctx, 0xc0), 0)
            mstore(add(ctx, 0xe0), 0)
            statuses := add(ctx, 0x140)
            // Statuses are indexed by the global item index: shift the base by `firstIndex`.
            mstore(add(ctx, 0x100), sub(add(statuses, 0x20), firstIndex))
            let resSize := and(
                add(add(div(sub(itemsEnd, itemsStart), _MIN_ITEM_SIZE), 1), 31),
                not(31)
            )
            for {
                let p := add(statuses, 0x20)
                let pEnd := add(p, resSize)
            } lt(p, pEnd) {
                p := add(p, 0x20)
            } {
                mstore(p, 0)
            }
            mstore(add(ctx, 0x120), add(add(statuses, 0x40), resSize))

            // ---- the items ---------------------------------------------------------------------
            let pos := itemsStart
            let index := firstIndex
            for {} lt(pos, itemsEnd) {} {
                let flags := byte(0, calldataload(pos))
                switch and(flags, 1)
                case 0 {
                    let size := itemSize(pos, flags, itemsEnd, itemsStart)
                    executeDirect(ctx, pos, index, flags)
                    pos := add(pos, size)
                    index := add(index, 1)
                }
                default {
                    switch mload(add(ctx, 0x20))
                    case 0 {
                        mstore(add(ctx, 0x40), shr(96, calldataload(add(pos, 21))))
                        pos, index := executeGroup(ctx, pos, itemsEnd, index, itemsStart)
                    }
                    default {
                        let size := itemSize(pos, flags, itemsEnd, itemsStart)
                        executeRouted(ctx, pos, index, flags)
                        pos := add(pos, size)
                        index := add(index, 1)
                    }
                }
            }

            let count := sub(index, firstIndex)
            mstore(statuses, count)
            mstore(0x40, add(add(statuses, 0x20), resSize))
            credit := mload(add(ctx, 0xc0))
            fees := mload(add(ctx, 0xe0))
        }
    }
}
