// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {ISignatureTransfer} from "@uniswap/v4-periphery/lib/permit2/src/interfaces/ISignatureTransfer.sol";

import {ISettlementRouter} from "../interfaces/ISettlementRouter.sol";

/// @title SettlementRouter
/// @notice Batches EIP-3009 authorizations of one token into one transaction with per-item
/// isolation, netted payouts for routed items and per-item results. See {ISettlementRouter} for
/// the packed item layout and the batch failure policy.
/// @dev Note: the router does not check signatures, time windows, balances or nonces itself: the
/// token does, and a rejection is reported per item. It does not check that `token` is a genuine
/// EIP-3009 token (only that it has code), that direct items' payees differ from the router (a
/// direct authorization paying the router leaves its funds here: nobody can move them), that the
/// token moves exactly `value` in {settle} (fee-on-transfer or rebasing tokens break the netting;
/// {settlePermit2} compares its balance instead), nor that routed items of one payee are adjacent
/// (each run of equal payees is paid separately). The bounds of an EOA item are checked once after
/// its loop, so a truncated last item may reach the token (with zeros for its missing bytes)
/// before the whole call reverts. It keeps no storage besides the transient reentrancy lock.
/// {settlePermit2} (Permit2 items, any ERC-20) is plain Solidity but for its hot path (EOA items
/// without a permit, one assembly loop per group) and its run scan; it copies the whole return
/// data of a failed token call (the token is the submitter's choice, not a payment's), and trusts
/// Permit2 not to bomb it.
contract SettlementRouter is ISettlementRouter, ReentrancyGuardTransient {
    /// @inheritdoc ISettlementRouter
    uint256 public constant ITEM_GAS_LIMIT = 200_000;

    /// @inheritdoc ISettlementRouter
    uint256 public constant MAX_REASON_LENGTH = 256;

    /// @inheritdoc ISettlementRouter
    address public constant PERMIT2 = 0x000000000022D473030F116dDEE9F6B43aC78BA3;

    /// @inheritdoc ISettlementRouter
    string public constant PERMIT2_WITNESS_TYPE_STRING =
        "RouterPayment witness)"
        "RouterPayment(address payee,uint256 fee,address feeRecipient,uint256 validAfter)"
        "TokenPermissions(address token,uint256 amount)";

    /// @inheritdoc ISettlementRouter
    bytes32 public constant ROUTER_PAYMENT_TYPEHASH = keccak256(
        "RouterPayment(address payee,uint256 fee,address feeRecipient,uint256 validAfter)"
    );

    /// @inheritdoc ISettlementRouter
    uint256 public constant PERMIT_GAS_LIMIT = 100_000;

    /// @dev Permit2 item flags.
    uint8 private constant _P2_EIP2612_PERMIT = 1;
    uint8 private constant _P2_CONTRACT_SIGNATURE = 2;
    uint8 private constant _P2_FULL_NONCE = 4;

    /// @dev A Permit2 group header, an item's fixed part (with a 32-byte nonce), its compact
    /// signature, an EOA item without a permit, an EIP-2612 permit, the bytes an item without
    /// `FULL_NONCE` leaves out, and the shortest well-formed item (16-byte nonce, an empty contract
    /// signature).
    uint256 private constant _P2_HEADER_SIZE = 23;
    uint256 private constant _P2_FIXED_SIZE = 86;
    uint256 private constant _P2_COMPACT_SIGNATURE_SIZE = 64;
    uint256 private constant _P2_EOA_ITEM_SIZE = 150;
    uint256 private constant _P2_PERMIT_SIZE = 128;
    uint256 private constant _P2_SHORT_NONCE_CUT = 16;
    uint256 private constant _P2_MIN_ITEM_SIZE = 72;

    /// @dev Where {settlePermit2Group} keeps its `permitWitnessTransferFrom` call data for a
    /// 64-byte signature (selector, 8 head words, the type string's 6 words, the signature's 3)
    /// and its `RouterPayment` witness preimage (5 words): fixed addresses, so that the hot
    /// path's stores take constant offsets ({_writePermit2Call} allocates them first).
    uint256 private constant _P2_CALL = 0x80;
    uint256 private constant _P2_CALL_SIZE = 0x264;
    uint256 private constant _P2_WITNESS = 0x300;
    uint256 private constant _P2_MEMORY_END = 0x3a0;

    /// @dev Permit2's single `permitWitnessTransferFrom` (checked in test/router/selectors.test.ts).
    uint256 private constant _PERMIT_WITNESS_TRANSFER_FROM = 0x137c29fe;

    /// @dev Gas for the `nonceBitmap` and `allowance` reads after a failed call.
    uint256 private constant _READ_GAS = 30_000;

    /// @dev Reverts {settlePermit2Group} when its payout failed, with the payout's capped revert
    /// data: every item of the group is reported `PayoutFailed`.
    error SettlementRouterPermit2GroupUndone(bytes reason);

    /// @dev Reverts an unchecked {settlePermit2Group} when the router's balance rose by less than
    /// the amounts of the items it settled: the group is re-run checked.
    error SettlementRouterPermit2GroupShort();

    /// @dev Reverts a checked {settlePermit2Group} at item `index`, whose pull moved less than its
    /// amount to the router.
    error SettlementRouterPermit2ItemShort(uint256 index);

    /// @dev Gas for the `authorizationState` read after a failed token call.
    uint256 private constant _AUTH_STATE_GAS = 30_000;

    /// @dev The shortest well-formed item: direct, `CONTRACT_SIGNATURE`, empty signature.
    uint256 private constant _MIN_ITEM_SIZE = 103;

    /// @dev Where {settleRoutedGroup}'s raw items start in its calldata (selector + 4 words).
    uint256 private constant _GROUP_ITEMS_OFFSET = 0x84;

    /// @dev A direct item with an EIP-2098 signature, and a routed one.
    uint256 private constant _DIRECT_EOA_ITEM_SIZE = 165;
    uint256 private constant _ROUTED_EOA_ITEM_SIZE = 181;

    // Selectors and event topics, as literals for the assembly; `test/router/selectors.test.ts`
    // checks each one against the ABIs.
    uint256 private constant _TRANSFER_WITH_AUTHORIZATION_VRS = 0xe3ee160e;
    uint256 private constant _TRANSFER_WITH_AUTHORIZATION_BYTES = 0xcf092995;
    uint256 private constant _RECEIVE_WITH_AUTHORIZATION_VRS = 0xef55bec6;
    uint256 private constant _RECEIVE_WITH_AUTHORIZATION_BYTES = 0x88b7ab63;
    uint256 private constant _AUTHORIZATION_STATE = 0xe94a0102;
    uint256 private constant _TRANSFER = 0xa9059cbb;
    uint256 private constant _SETTLE_ROUTED_GROUP = 0xfebb35b7;
    uint256 private constant _MALFORMED_ITEMS_ERROR = 0x63ab2cbc;
    uint256 private constant _INSUFFICIENT_GAS_ERROR = 0xbf882fbb;
    /// @dev First 4 bytes of {settleRoutedGroup}'s revert data when its payout failed, followed
    /// by the payout's capped revert data: `bytes4(keccak256("SettlementRouterGroupUndone()"))`.
    uint256 private constant _GROUP_UNDONE = 0x0e0e8c7f;
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
        (results, fees, ) = _execute(start, end, false);
        if (fees != 0) _payFees(token, feeRecipient, fees);
        emit BatchSettled(token, results);
    }

    /// @inheritdoc ISettlementRouter
    /// @dev Calldata: the selector, the four arguments, then raw packed items from the group's first
    /// item to the end of `items` (the group ends at the first direct item or other payee). Returns
    /// raw bytes: the group's fee total (one word), the bytes it consumed (one word), then one
    /// status byte per item. When the payout fails it reverts with `_GROUP_UNDONE` followed by the
    /// payout's capped revert data.
    function settleRoutedGroup(address token, address, uint256 firstIndex, uint256) external {
        require(msg.sender == address(this), SettlementRouterUnauthorizedCaller(msg.sender));
        (bytes memory statuses, uint256 fees, uint256 credit) = _execute(
            _GROUP_ITEMS_OFFSET,
            msg.data.length,
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
                    // The payout may have failed only for want of gas (63/64 rule): revert all.
                    if lt(gas(), div(ITEM_GAS_LIMIT, 63)) {
                        mstore(0, shl(224, _INSUFFICIENT_GAS_ERROR))
                        mstore(4, firstIndex)
                        revert(0, 0x24)
                    }
                    let n := returndatasize()
                    if gt(n, MAX_REASON_LENGTH) {
                        n := MAX_REASON_LENGTH
                    }
                    mstore(p, shl(224, _GROUP_UNDONE))
                    returndatacopy(add(p, 4), 0, n)
                    revert(p, add(4, n))
                }
            }
            // [fees][consumed bytes][status bytes], in the two words before the status bytes
            // (`_execute` left the consumed byte count in the word before `statuses`).
            let count := mload(statuses)
            mstore(statuses, mload(sub(statuses, 0x20)))
            mstore(sub(statuses, 0x20), fees)
            return(sub(statuses, 0x20), add(0x40, count))
        }
    }

    /// @inheritdoc ISettlementRouter
    function settlePermit2(
        address token,
        address feeRecipient,
        bytes calldata items
    ) external nonReentrant returns (bytes memory results) {
        require(token.code.length != 0, SettlementRouterTokenHasNoCode(token));
        require(PERMIT2.code.length != 0, SettlementRouterPermit2HasNoCode(PERMIT2));
        // At most one item per shortest item size; trimmed to the item count at the end.
        Permit2Batch memory b = Permit2Batch(
            token,
            feeRecipient,
            new bytes(items.length / _P2_MIN_ITEM_SIZE + 1),
            0
        );
        uint256 itemsOffset;
        assembly ("memory-safe") {
            itemsOffset := items.offset
        }
        b.itemsOffset = itemsOffset;
        uint256 fees;
        uint256 index;
        for (uint256 pos = 0; pos < items.length;) {
            (address payee, uint256 start, uint256 end) = _permit2GroupHeader(items, pos);
            uint256 groupFees;
            (groupFees, index) = _settlePermit2Run(b, payee, items[start:end], index);
            fees += groupFees;
            pos = end;
        }
        results = b.results;
        assembly ("memory-safe") {
            mstore(results, index)
        }
        if (fees != 0) {
            // A payout that returns success but moves nothing must not count as paid.
            uint256 held = _balance(token);
            _payFees(token, feeRecipient, fees);
            require(
                _balance(token) + fees <= held,
                SettlementRouterFeePayoutFailed(feeRecipient, fees)
            );
        }
        emit BatchSettled(token, results);
    }

    /// @inheritdoc ISettlementRouter
    // solhint-disable-next-line function-max-lines
    function settlePermit2Group(
        address token,
        address feeRecipient,
        address payee,
        uint256 firstIndex,
        bool checked,
        bytes calldata items
    ) external returns (uint256 fees, bytes memory statuses) {
        require(msg.sender == address(this), SettlementRouterUnauthorizedCaller(msg.sender));
        // First, before any other allocation: the call data's fixed address.
        _writePermit2Call(token, feeRecipient, payee);
        Permit2Group memory g = Permit2Group(token, feeRecipient, payee, checked, 0, 0);
        uint256 held = _balance(token);
        statuses = new bytes(items.length / _P2_MIN_ITEM_SIZE + 1);
        uint256 count;
        for (uint256 pos = 0; pos < items.length; ++count) {
            if (!checked) {
                // The hot path: EOA items without a permit, in one assembly loop.
                bool failed;
                (pos, count, failed) = _pullPlainRun(g, items, pos, count);
                if (failed) {
                    uint256 failedSize = _permit2ItemSize(items, pos);
                    statuses[count] = bytes1(
                        uint8(
                            _pullFailed(
                                items[pos:pos + failedSize],
                                firstIndex + count,
                                _cappedReturnData()
                            )
                        )
                    );
                    pos += failedSize;
                    continue;
                }
                if (pos == items.length) break;
            }
            uint256 size = _permit2ItemSize(items, pos);
            statuses[count] = bytes1(
                uint8(_executePermit2(g, firstIndex + count, items[pos:pos + size]))
            );
            pos += size;
        }
        assembly ("memory-safe") {
            mstore(statuses, count)
        }
        fees = g.fees;
        // Unchecked pulls: the router's balance must have risen by every settled amount, or the
        // group is undone and re-run checked, item by item.
        uint256 afterPulls = _balance(token);
        if (!checked && afterPulls < held + g.credit + fees) {
            revert SettlementRouterPermit2GroupShort();
        }
        if (g.credit != 0) _payPermit2Group(token, payee, g.credit, firstIndex, afterPulls);
    }

    /// @dev Pays a group's `credit` to its `payee`; undoes the group when the transfer fails or
    /// the router's balance (`held` before) fell by less than `credit`.
    function _payPermit2Group(
        address token,
        address payee,
        uint256 credit,
        uint256 firstIndex,
        uint256 held
    ) private {
        // A payout to the router itself would leave the credit here: undo the group.
        if (payee == address(this)) revert SettlementRouterPermit2GroupUndone("");
        (bool ok, bytes memory reason) = _tryTransfer(token, payee, credit, firstIndex);
        if (!ok) revert SettlementRouterPermit2GroupUndone(reason);
        // A payout that returns success but moves nothing is a failed payout.
        if (_balance(token) + credit > held) revert SettlementRouterPermit2GroupUndone("");
    }

    /// @dev What {settlePermit2} shares with its groups.
    struct Permit2Batch {
        address token;
        address feeRecipient;
        /// One status byte per item, the batch's result.
        bytes results;
        /// The calldata offset of `items` (malformed offsets are reported relative to it).
        uint256 itemsOffset;
    }

    /// @dev What one group of Permit2 items shares, and what its settled items accumulate.
    struct Permit2Group {
        address token;
        address feeRecipient;
        address payee;
        /// Whether each pull is checked against the router's balance (the slow path after an
        /// unchecked group came up short).
        bool checked;
        uint256 credit;
        uint256 fees;
    }

    /// @dev Writes the group's `permitWitnessTransferFrom` call data for a 64-byte signature at
    /// {_P2_CALL} and its `RouterPayment` witness preimage at {_P2_WITNESS}, and allocates both:
    /// the same ABI encoding as {_pull}'s (the differential test in test/router/permit2.test.ts
    /// settles the same payments through both), with zero in every word an item writes.
    /// {_pullPlainRun} and {_pullCompact} write each item's fields over it. Reverts unless it is
    /// the first allocation of the call frame (the free memory pointer at 0x80).
    function _writePermit2Call(address token, address feeRecipient, address payee) private view {
        bytes32 typehash = ROUTER_PAYMENT_TYPEHASH;
        assembly ("memory-safe") {
            if iszero(eq(mload(0x40), _P2_CALL)) {
                revert(0, 0)
            }
            mstore(0x40, _P2_MEMORY_END)
            // Zero the region (memory past the free pointer may be dirty in principle).
            calldatacopy(_P2_CALL, calldatasize(), sub(_P2_MEMORY_END, _P2_CALL))
            // Selector, permitted.token, to, the two tail offsets, the signature's length.
            mstore(_P2_CALL, shl(224, _PERMIT_WITNESS_TRANSFER_FROM))
            mstore(add(_P2_CALL, 0x04), token)
            mstore(add(_P2_CALL, 0x84), address())
            mstore(add(_P2_CALL, 0x104), 0x140)
            mstore(add(_P2_CALL, 0x124), 0x200)
            mstore(add(_P2_CALL, 0x204), _P2_COMPACT_SIGNATURE_SIZE)
            // The witness preimage: typehash, payee, fee, feeRecipient, validAfter.
            mstore(_P2_WITNESS, typehash)
            mstore(add(_P2_WITNESS, 0x20), payee)
            mstore(add(_P2_WITNESS, 0x60), feeRecipient)
        }
        // The witness type string, length-prefixed, in the five words from offset 0x144.
        bytes memory typeString = bytes(PERMIT2_WITNESS_TYPE_STRING);
        assembly ("memory-safe") {
            mcopy(add(_P2_CALL, 0x144), typeString, add(0x20, mload(typeString)))
        }
    }

    /// @dev The group header at `pos`: its payee and the bounds of its items; reverts for a
    /// header that runs past the end of `items`, an empty group or one that does.
    function _permit2GroupHeader(
        bytes calldata items,
        uint256 pos
    ) private pure returns (address payee, uint256 start, uint256 end) {
        start = pos + _P2_HEADER_SIZE;
        require(start <= items.length, SettlementRouterMalformedItems(pos));
        payee = address(bytes20(items[pos:pos + 20]));
        end = start + uint24(bytes3(items[pos + 20:start]));
        require(end > start && end <= items.length, SettlementRouterMalformedItems(pos));
    }

    /// @dev Settles one group's items (`run`, the first at batch index `index`) through
    /// {settlePermit2Group}, writes their statuses into the batch's results and returns their
    /// fees and the index after them. The run goes first as one unchecked group; if the router's
    /// balance rose by less than its settled amounts, it is undone and re-run checked: a checked
    /// group stops at the first item whose pull moved less than its amount, the items before it
    /// are settled as a group of their own, that item is reported `AmountNotReceived` (undone:
    /// its nonce stays unused) and the rest of the run goes on checked. Every item of a group
    /// whose payout failed is reported `PayoutFailed`. A malformed item reverts the call with its
    /// offset in `items`.
    // solhint-disable-next-line function-max-lines
    function _settlePermit2Run(
        Permit2Batch memory b,
        address payee,
        bytes calldata run,
        uint256 index
    ) private returns (uint256 fees, uint256) {
        bool checked;
        uint256 pos;
        uint256 end = run.length;
        while (pos < run.length) {
            try
                this.settlePermit2Group(
                    b.token,
                    b.feeRecipient,
                    payee,
                    index,
                    checked,
                    run[pos:end]
                )
            returns (uint256 groupFees, bytes memory statuses) {
                bytes memory results = b.results;
                assembly ("memory-safe") {
                    mcopy(add(add(results, 0x20), index), add(statuses, 0x20), mload(statuses))
                }
                fees += groupFees;
                index += statuses.length;
                pos = end;
                end = run.length;
                continue;
            } catch (bytes memory err) {
                bytes4 selector = bytes4(err);
                if (selector == SettlementRouterPermit2GroupShort.selector) {
                    checked = true;
                    continue;
                }
                if (selector == SettlementRouterPermit2ItemShort.selector) {
                    uint256 short = abi.decode(_tail(err), (uint256));
                    if (short != index) {
                        // Settle the items before the short one first.
                        end = pos;
                        for (uint256 i = index; i < short; ++i) end += _permit2ItemSize(run, end);
                        continue;
                    }
                    uint256 shortSize = _permit2ItemSize(run, pos);
                    _fail(run[pos:pos + shortSize], index, ItemStatus.AmountNotReceived, "");
                    b.results[index] = bytes1(uint8(ItemStatus.AmountNotReceived));
                    pos += shortSize;
                    ++index;
                    end = run.length;
                    continue;
                }
                if (selector == SettlementRouterMalformedItems.selector) {
                    // The group's offset of the malformed item, as an offset in `items`.
                    uint256 at = abi.decode(_tail(err), (uint256));
                    uint256 runOffset;
                    assembly ("memory-safe") {
                        runOffset := run.offset
                    }
                    revert SettlementRouterMalformedItems(runOffset - b.itemsOffset + pos + at);
                }
                if (selector != SettlementRouterPermit2GroupUndone.selector) {
                    // Not a payout failure (too little gas, out of gas): the submitter's error.
                    Address.verifyCallResult(false, err);
                }
                bytes memory reason = abi.decode(_tail(err), (bytes));
                for (; pos < end; ++index) {
                    uint256 undoneSize = _permit2ItemSize(run, pos);
                    _fail(run[pos:pos + undoneSize], index, ItemStatus.PayoutFailed, reason);
                    b.results[index] = bytes1(uint8(ItemStatus.PayoutFailed));
                    pos += undoneSize;
                }
                end = run.length;
            }
        }
        return (fees, index);
    }

    /// @dev One Permit2 item (`item`: exactly its bytes): checks what the router checks itself,
    /// runs its EIP-2612 permit if it carries one, then pulls `amount` to the router through
    /// Permit2 and credits the group. Emits {PaymentFailed} when it fails.
    function _executePermit2(
        Permit2Group memory g,
        uint256 index,
        bytes calldata item
    ) private returns (ItemStatus) {
        uint256 amount = uint96(bytes12(item[21:33]));
        uint256 fee = uint96(bytes12(item[33:45]));
        if (fee > amount) return _fail(item, index, ItemStatus.FeeExceedsValue, "");
        // As EIP-3009's validAfter: valid only strictly after it.
        if (block.timestamp <= uint40(bytes5(item[45:50]))) {
            return _fail(item, index, ItemStatus.NotYetValid, "");
        }
        uint256 fixedSize = _permit2FixedSize(uint8(item[0]));
        uint256 sigStart = fixedSize;
        uint256 sigEnd = fixedSize + _P2_COMPACT_SIGNATURE_SIZE;
        if (uint8(item[0]) & _P2_CONTRACT_SIGNATURE != 0) {
            sigStart += 2;
            sigEnd = sigStart + uint16(bytes2(item[fixedSize:sigStart]));
            if (sigEnd == sigStart)
                return _fail(item, index, ItemStatus.InvalidSignatureLength, "");
        }
        if (uint8(item[0]) & _P2_EIP2612_PERMIT != 0) {
            bytes memory permitReason = _tryPermit(g.token, item, amount, index, item[sigEnd:]);
            if (permitReason.length != 0) {
                return _fail(item, index, ItemStatus.PermitFailed, permitReason);
            }
        }
        bool ok;
        bytes memory reason;
        uint256 held = g.checked ? _balance(g.token) : 0;
        if (sigStart == fixedSize) {
            (ok, reason) = _pullCompact(item, amount, fixedSize);
        } else {
            (ok, reason) = _pull(g, item, item[sigStart:sigEnd], amount);
        }
        if (ok) {
            // Checked: the pull must have moved all of `amount` to the router.
            if (g.checked && _balance(g.token) < held + amount) {
                revert SettlementRouterPermit2ItemShort(index);
            }
            // Amounts and fees are below 2^96 each and fee <= amount: no overflow.
            g.credit += amount - fee;
            g.fees += fee;
            return ItemStatus.Settled;
        }
        return _pullFailed(item, index, _capped(reason));
    }

    /// @dev Reports item `index`'s failed Permit2 call (`reason`: its capped revert data):
    /// `AuthorizationUsed` when Permit2 marks the nonce used, otherwise `TokenReverted`.
    function _pullFailed(
        bytes calldata item,
        uint256 index,
        bytes memory reason
    ) private returns (ItemStatus) {
        _checkGas(index, ITEM_GAS_LIMIT);
        ItemStatus status =
            _permit2NonceUsed(item, index)
                ? ItemStatus.AuthorizationUsed
                : ItemStatus.TokenReverted;
        return _fail(item, index, status, reason);
    }

    /// @dev Pulls the run of EOA items without a permit starting at `pos` (item number `count`
    /// of the group), the hot path: the same checks and the same Permit2 call data as
    /// {_executePermit2} with {_pullCompact} (the differential test in
    /// test/router/permit2.test.ts settles the same payments through the plain-Solidity
    /// {_pull}), in one loop that writes only each item's fields over the group's call data
    /// ({_writePermit2Call}) and credits the group once. Stops at the first item off the hot
    /// path (flags set, truncated, `fee > amount`, not yet valid), which the caller executes, or
    /// at the first failed Permit2 call (`failed`: the caller reports it from the return data).
    // solhint-disable-next-line function-max-lines
    function _pullPlainRun(
        Permit2Group memory g,
        bytes calldata items,
        uint256 pos,
        uint256 count
    ) private returns (uint256, uint256, bool failed) {
        assembly ("memory-safe") {
            let i := add(items.offset, pos)
            // The run's nonce width, from its first item's flags: every item of the run has the
            // same flags, 0 (a 16-byte nonce, shifted down from its word) or `FULL_NONCE`.
            let flags := byte(0, calldataload(i))
            // Any other flags leave the hot path at once (no flags byte equals 0x100).
            if and(flags, not(_P2_FULL_NONCE)) {
                flags := 0x100
            }
            let size := sub(_P2_EOA_ITEM_SIZE, _P2_SHORT_NONCE_CUT)
            let nonceShift := shl(3, _P2_SHORT_NONCE_CUT)
            if eq(flags, _P2_FULL_NONCE) {
                size := _P2_EOA_ITEM_SIZE
                nonceShift := 0
            }
            // The last offset a whole item fits at (`items` starts past the 6 head words).
            let last := sub(add(items.offset, items.length), size)
            // The run's amounts in the low 128 bits, its fees in the high ones (sums of fewer
            // than 2^17 values below 2^96 each: no carry between them).
            let sums := 0
            for {} iszero(gt(i, last)) {} {
                // fee (12 bytes), validAfter (5), the deadline's offset (4), then the nonce.
                let v := calldataload(add(i, 33))
                let amount := shr(160, calldataload(add(i, 21)))
                let fee := shr(160, v)
                let validAfter := and(shr(120, v), 0xffffffffff)
                if or(
                    or(xor(byte(0, calldataload(i)), flags), gt(fee, amount)),
                    iszero(gt(timestamp(), validAfter))
                ) {
                    break
                }
                mstore(add(_P2_WITNESS, 0x40), fee)
                mstore(add(_P2_WITNESS, 0x80), validAfter)
                // permitted.amount, nonce, deadline; requestedAmount, owner, witness (the token
                // and `to` are the group's); the signature.
                mstore(add(_P2_CALL, 0x24), amount)
                mstore(add(_P2_CALL, 0x44), shr(nonceShift, calldataload(add(i, 54))))
                // deadline = validAfter + its uint32 offset: below 2^41, no overflow.
                mstore(add(_P2_CALL, 0x64), add(validAfter, and(shr(88, v), 0xffffffff)))
                mstore(add(_P2_CALL, 0xa4), amount)
                mstore(add(_P2_CALL, 0xc4), shr(96, calldataload(add(i, 1))))
                mstore(add(_P2_CALL, 0xe4), keccak256(_P2_WITNESS, 0xa0))
                calldatacopy(add(_P2_CALL, 0x224), sub(add(i, size), 64), 64)
                if iszero(call(ITEM_GAS_LIMIT, PERMIT2, 0, _P2_CALL, _P2_CALL_SIZE, 0, 0)) {
                    failed := 1
                    break
                }
                sums := add(sums, add(amount, shl(128, fee)))
                i := add(i, size)
            }
            i := sub(i, items.offset)
            count := add(count, div(sub(i, pos), size))
            pos := i
            // Each fee is at most its amount: the run's fees are at most its amounts.
            let fees := shr(128, sums)
            // g: token, feeRecipient, payee, checked, credit (0x80), fees (0xa0).
            mstore(
                add(g, 0x80),
                add(mload(add(g, 0x80)), sub(and(sums, sub(shl(128, 1), 1)), fees))
            )
            mstore(add(g, 0xa0), add(mload(add(g, 0xa0)), fees))
        }
        return (pos, count, failed);
    }

    /// @dev The item's `permitWitnessTransferFrom`, pulling `amount` to the router, with at most
    /// {ITEM_GAS_LIMIT} gas; returns Permit2's revert data when it fails.
    function _pull(
        Permit2Group memory g,
        bytes calldata item,
        bytes calldata signature,
        uint256 amount
    ) private returns (bool, bytes memory) {
        ISignatureTransfer.PermitTransferFrom memory permit = ISignatureTransfer
            .PermitTransferFrom({
                permitted: ISignatureTransfer.TokenPermissions({token: g.token, amount: amount}),
                nonce: _permit2Nonce(item),
                deadline: _permit2Deadline(item)
            });
        bytes32 witness = _routerPaymentHash(g.payee, item, g.feeRecipient);
        try
            ISignatureTransfer(PERMIT2).permitWitnessTransferFrom{gas: ITEM_GAS_LIMIT}(
                permit,
                ISignatureTransfer.SignatureTransferDetails({
                    to: address(this),
                    requestedAmount: amount
                }),
                address(bytes20(item[1:21])),
                witness,
                PERMIT2_WITNESS_TYPE_STRING,
                signature
            )
        {
            return (true, "");
        } catch (bytes memory reason) {
            return (false, reason);
        }
    }

    /// @dev {_pull} for an item with a 64-byte signature: writes the item's fields over the
    /// group's call data ({_writePermit2Call}, as {_pullPlainRun} does) and calls Permit2 with at
    /// most {ITEM_GAS_LIMIT} gas.
    function _pullCompact(
        bytes calldata item,
        uint256 amount,
        uint256 fixedSize
    ) private returns (bool ok, bytes memory reason) {
        uint256 nonce = _permit2Nonce(item);
        assembly ("memory-safe") {
            let i := item.offset
            mstore(add(_P2_WITNESS, 0x40), shr(160, calldataload(add(i, 33))))
            mstore(add(_P2_WITNESS, 0x80), shr(216, calldataload(add(i, 45))))
            mstore(add(_P2_CALL, 0x24), amount)
            mstore(add(_P2_CALL, 0x44), nonce)
            mstore(
                add(_P2_CALL, 0x64),
                add(shr(216, calldataload(add(i, 45))), shr(224, calldataload(add(i, 50))))
            )
            mstore(add(_P2_CALL, 0xa4), amount)
            mstore(add(_P2_CALL, 0xc4), shr(96, calldataload(add(i, 1))))
            mstore(add(_P2_CALL, 0xe4), keccak256(_P2_WITNESS, 0xa0))
            calldatacopy(add(_P2_CALL, 0x224), add(i, fixedSize), 64)
            ok := call(ITEM_GAS_LIMIT, PERMIT2, 0, _P2_CALL, _P2_CALL_SIZE, 0, 0)
        }
        if (!ok) reason = _cappedReturnData();
    }

    /// @dev The first {MAX_REASON_LENGTH} bytes of the last call's return data.
    function _cappedReturnData() private pure returns (bytes memory reason) {
        reason = new bytes(
            _returnDataSize() > MAX_REASON_LENGTH ? MAX_REASON_LENGTH : _returnDataSize()
        );
        assembly ("memory-safe") {
            returndatacopy(add(reason, 0x20), 0, mload(reason))
        }
    }

    /// @dev The router's balance of `token` (a failing `balanceOf` reverts the whole call: the
    /// token is the submitter's choice).
    function _balance(address token) private view returns (uint256) {
        return IERC20(token).balanceOf(address(this));
    }

    /// @dev The size of the last call's return data.
    function _returnDataSize() private pure returns (uint256 size) {
        assembly ("memory-safe") {
            size := returndatasize()
        }
    }

    /// @dev The EIP-712 struct hash of the `RouterPayment` witness of `payee`'s item.
    function _routerPaymentHash(
        address payee,
        bytes calldata item,
        address feeRecipient
    ) private pure returns (bytes32) {
        return
            keccak256(
                abi.encode(
                    ROUTER_PAYMENT_TYPEHASH,
                    payee,
                    uint96(bytes12(item[33:45])),
                    feeRecipient,
                    uint40(bytes5(item[45:50]))
                )
            );
    }

    /// @dev Runs an item's EIP-2612 permit (`permit`: value, deadline, r, yParityAndS) approving
    /// Permit2 for the item's owner. Returns empty bytes when Permit2 may pull `amount`
    /// afterwards (the permit succeeded, or failed but the allowance suffices: front-run or
    /// already approved), otherwise the permit's capped revert data (one zero byte when it
    /// reverted without data).
    function _tryPermit(
        address token,
        bytes calldata item,
        uint256 amount,
        uint256 index,
        bytes calldata permit
    ) private returns (bytes memory) {
        address owner = address(bytes20(item[1:21]));
        uint256 vs = uint256(bytes32(permit[96:128]));
        try
            IERC20Permit(token).permit{gas: PERMIT_GAS_LIMIT}(
                owner,
                PERMIT2,
                uint256(bytes32(permit[0:32])),
                uint256(bytes32(permit[32:64])),
                uint8(27 + (vs >> 255)),
                bytes32(permit[64:96]),
                bytes32(vs & ((1 << 255) - 1))
            )
        {
            return "";
        } catch (bytes memory reason) {
            _checkGas(index, PERMIT_GAS_LIMIT);
            try IERC20(token).allowance{gas: _READ_GAS}(owner, PERMIT2) returns (uint256 allowed) {
                if (allowed >= amount) return "";
            } catch {
                _checkGas(index, _READ_GAS);
            }
            return reason.length == 0 ? new bytes(1) : _capped(reason);
        }
    }

    /// @dev Whether Permit2 marks the item's nonce used by its owner (a bounded read; false if
    /// it fails).
    function _permit2NonceUsed(bytes calldata item, uint256 index) private view returns (bool) {
        uint256 nonce = _permit2Nonce(item);
        try
            ISignatureTransfer(PERMIT2).nonceBitmap{gas: _READ_GAS}(
                address(bytes20(item[1:21])),
                nonce >> 8
            )
        returns (uint256 bitmap) {
            return (bitmap >> (nonce & 0xff)) & 1 == 1;
        } catch {
            _checkGas(index, _READ_GAS);
            return false;
        }
    }

    /// @dev Transfers `amount` of `token` to `to` with at most {ITEM_GAS_LIMIT} gas. Success is a
    /// call that did not revert and returned nothing (USDT) or `true`; `token` has code (checked
    /// on entry), so an empty return is never a call to nothing.
    function _tryTransfer(
        address token,
        address to,
        uint256 amount,
        uint256 index
    ) private returns (bool ok, bytes memory reason) {
        bytes memory ret;
        (ok, ret) = token.call{gas: ITEM_GAS_LIMIT}(abi.encodeCall(IERC20.transfer, (to, amount)));
        if (!ok) {
            _checkGas(index, ITEM_GAS_LIMIT);
            return (false, _capped(ret));
        }
        if (ret.length != 0 && (ret.length < 32 || abi.decode(ret, (uint256)) != 1)) {
            return (false, _capped(ret));
        }
        return (true, "");
    }

    /// @dev Reports item `index` failed (`item`: its bytes) and returns `status`.
    function _fail(
        bytes calldata item,
        uint256 index,
        ItemStatus status,
        bytes memory reason
    ) private returns (ItemStatus) {
        // {_tryPermit}'s marker for a permit that reverted without data.
        if (reason.length == 1 && reason[0] == 0) reason = "";
        emit PaymentFailed(
            index,
            address(bytes20(item[1:21])),
            bytes32(_permit2Nonce(item)),
            status,
            reason
        );
        return status;
    }

    /// @dev After a call with a gas limit of `callGas` failed: if less than `callGas / 63` is
    /// left, it may have failed only for want of gas (the 63/64 rule): revert the whole call.
    function _checkGas(uint256 index, uint256 callGas) private view {
        if (gasleft() < callGas / 63) revert SettlementRouterInsufficientGas(index);
    }

    /// @dev The size of the Permit2 item at `pos`; reverts if it runs past the end of `items` or
    /// its flags set unknown bits.
    function _permit2ItemSize(bytes calldata items, uint256 pos) private pure returns (uint256) {
        require(pos < items.length, SettlementRouterMalformedItems(pos));
        uint8 flags = uint8(items[pos]);
        require(flags <= 7, SettlementRouterMalformedItems(pos));
        uint256 size = _permit2FixedSize(flags);
        require(pos + size <= items.length, SettlementRouterMalformedItems(pos));
        if (flags & _P2_CONTRACT_SIGNATURE == 0) {
            size += _P2_COMPACT_SIGNATURE_SIZE;
        } else {
            require(pos + size + 2 <= items.length, SettlementRouterMalformedItems(pos));
            size += 2 + uint16(bytes2(items[pos + size:pos + size + 2]));
        }
        if (flags & _P2_EIP2612_PERMIT != 0) size += _P2_PERMIT_SIZE;
        require(pos + size <= items.length, SettlementRouterMalformedItems(pos));
        return size;
    }

    /// @dev The size of a Permit2 item's fixed part, through its nonce, for its `flags`.
    function _permit2FixedSize(uint8 flags) private pure returns (uint256) {
        return flags & _P2_FULL_NONCE != 0 ? _P2_FIXED_SIZE : _P2_FIXED_SIZE - _P2_SHORT_NONCE_CUT;
    }

    /// @dev A Permit2 item's nonce: 32 bytes for a `FULL_NONCE` item, 16 (below 2^128) otherwise.
    function _permit2Nonce(bytes calldata item) private pure returns (uint256) {
        if (uint8(item[0]) & _P2_FULL_NONCE != 0) return uint256(bytes32(item[54:86]));
        return uint128(bytes16(item[54:70]));
    }

    /// @dev A Permit2 item's deadline: its `validAfter` plus the uint32 offset after it.
    function _permit2Deadline(bytes calldata item) private pure returns (uint256) {
        return uint256(uint40(bytes5(item[45:50]))) + uint32(bytes4(item[50:54]));
    }

    /// @dev The first `MAX_REASON_LENGTH` bytes of `data`.
    function _capped(bytes memory data) private pure returns (bytes memory) {
        if (data.length <= MAX_REASON_LENGTH) return data;
        bytes memory capped = new bytes(MAX_REASON_LENGTH);
        for (uint256 i = 0; i < MAX_REASON_LENGTH; ++i) capped[i] = data[i];
        return capped;
    }

    /// @dev `data` without its first 4 bytes (an error's arguments).
    function _tail(bytes memory data) private pure returns (bytes memory tail) {
        tail = new bytes(data.length - 4);
        for (uint256 i = 0; i < tail.length; ++i) tail[i] = data[i + 4];
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

    /// @dev Executes the packed items in calldata `[cursor, limit)`. Both entry points take `token`
    /// and `feeRecipient` as their first two arguments, read here from calldata. Outside a group
    /// (`group == false`, numbering from 0) direct items are executed here and each run of routed
    /// items with one payee is handed to {settleRoutedGroup} through a self-call; inside a group
    /// (numbering from {settleRoutedGroup}'s `firstIndex`) every item is routed to the same payee
    /// and was bounds-checked by the caller.
    /// @return statuses One status byte per item.
    /// @return fees The fees of the settled routed items.
    /// @return credit Inside a group: what the settled items owe the payee.
    // solhint-disable-next-line function-max-lines
    function _execute(
        uint256 cursor,
        uint256 limit,
        bool group
    ) private returns (bytes memory statuses, uint256 fees, uint256 credit) {
        assembly ("memory-safe") {
            // ---- memory ----------------------------------------------------------------------
            // ctx + 0x00   where the items start (offsets in SettlementRouterMalformedItems)
            // ctx + 0x20   res: item `index`'s status byte lives at `res + index`
            // ctx + 0x40   routed-nonce preimage: payee, fee, feeRecipient, salt (4 words)
            // ctx + 0xc0   buf
            // ctx + 0xe0   in a group: credit and fee accumulators of the items off the inlined
            //              path; outside: where the copy of the items for self-calls starts (0:
            //              none yet), and the position and index after the last group
            // ctx + 0x160  statuses: length word, then one byte per item (zeroed)
            // buf - 0x20   32 free bytes, so a selector is written with one mstore at buf - 28
            // buf          call data of the inlined paths: selector, 6 fixed arguments, v, r, s
            // buf + 0x140  ev: PaymentFailed data (0x80 + reason), then authorizationState input
            // buf + 0x360  big: call data of `bytes signature` calls; outside a group, the copy
            //              of the items from the first routed one, which group self-calls use as
            //              call data (each writes its 0x84-byte header over the items before it).
            //              A direct contract-signature item's call data (0x124 + its signature)
            //              is shorter than the copy up to its own end (0x84 + at least one routed
            //              item + itself), so it only overwrites items already executed.

            /// Reverts the whole call: `items` is malformed at calldata position `pos`.
            function malformed(ctx, pos) {
                mstore(0, shl(224, _MALFORMED_ITEMS_ERROR))
                mstore(4, sub(pos, mload(ctx)))
                revert(0, 0x24)
            }

            /// After a call with a gas limit of `callGas` failed: if less than `callGas / 63` is left,
            /// the call may have failed only because it got less than that (the 63/64
            /// rule), so revert the whole call rather than report item `index` failed.
            function checkForwardedGas(index, callGas) {
                if lt(gas(), div(callGas, 63)) {
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
            /// flags set unknown bits.
            function itemSize(ctx, pos, flags, end) -> size {
                if gt(flags, 3) {
                    malformed(ctx, pos)
                }
                size := rawItemSize(pos, flags)
                if gt(add(pos, size), end) {
                    malformed(ctx, pos)
                }
            }

            /// Emits PaymentFailed for item `index` at `pos`, with the `rlen` reason bytes already
            /// at `ev + 0x80`, and records `status` for it.
            function emitFailed(ctx, index, pos, nonce, status, rlen) {
                let ev := add(mload(add(ctx, 0xc0)), 0x140)
                mstore(ev, nonce)
                mstore(add(ev, 0x20), status)
                mstore(add(ev, 0x40), 0x60)
                mstore(add(ev, 0x60), rlen)
                log3(
                    ev,
                    add(0x80, and(add(rlen, 31), not(31))),
                    _PAYMENT_FAILED_EVENT,
                    index,
                    shr(96, calldataload(add(pos, 1)))
                )
                mstore8(add(mload(add(ctx, 0x20)), index), status)
            }

            /// Reports the token call of item `index` at `pos` that just failed: copies the capped
            /// revert data, then asks the token whether the authorization is used.
            function reportCallFailure(ctx, index, pos, nonce) {
                checkForwardedGas(index, ITEM_GAS_LIMIT)
                let ev := add(mload(add(ctx, 0xc0)), 0x140)
                let rlen := returndatasize()
                if gt(rlen, MAX_REASON_LENGTH) {
                    rlen := MAX_REASON_LENGTH
                }
                returndatacopy(add(ev, 0x80), 0, rlen)
                mstore(add(add(ev, 0x80), rlen), 0)
                let q := add(ev, add(0xa0, MAX_REASON_LENGTH))
                mstore(q, shl(224, _AUTHORIZATION_STATE))
                mstore(add(q, 4), shr(96, calldataload(add(pos, 1))))
                mstore(add(q, 0x24), nonce)
                mstore(0, 0)
                q := staticcall(_AUTH_STATE_GAS, calldataload(4), q, 0x44, 0, 0x20)
                if iszero(q) {
                    checkForwardedGas(index, _AUTH_STATE_GAS)
                }
                // TokenReverted (2), or AuthorizationUsed (1) when the token says so.
                q := and(q, and(gt(returndatasize(), 31), eq(mload(0), 1)))
                emitFailed(ctx, index, pos, nonce, sub(2, q), rlen)
            }

            /// Writes the six fixed authorization arguments of the item at `pos` at `b`:
            /// `from`, `to`, value, validAfter, validBefore, nonce.
            function encodeFixed(b, pos, to, nonce) {
                mstore(add(b, 0x04), shr(96, calldataload(add(pos, 1))))
                mstore(add(b, 0x24), to)
                let w := calldataload(add(pos, 41))
                mstore(add(b, 0x44), shr(128, w))
                mstore(add(b, 0x64), and(shr(80, w), 0xffffffffffff))
                mstore(add(b, 0x84), and(shr(32, w), 0xffffffffffff))
                mstore(add(b, 0xa4), nonce)
            }

            /// Writes a `bytes signature` overload's selector and signature argument at `b`
            /// (after the six fixed arguments) from the contract signature at `sig`; returns the
            /// call data length, or 0 for an empty signature.
            function encodeBytesSignature(b, sig, selector) -> len {
                let n := shr(240, calldataload(sig))
                if n {
                    mstore(sub(b, 28), selector)
                    mstore(add(b, 0xc4), 0xe0)
                    mstore(add(b, 0xe4), n)
                    calldatacopy(add(b, 0x104), add(sig, 2), n)
                    // Zero the padding after the signature.
                    mstore(add(add(b, 0x104), n), 0)
                    len := add(0x104, and(add(n, 31), not(31)))
                }
            }

            /// A direct item with a contract signature at `pos`.
            function executeDirect(ctx, pos, index) {
                let big := add(mload(add(ctx, 0xc0)), 0x360)
                let nonce := calldataload(add(pos, 69))
                encodeFixed(big, pos, shr(96, calldataload(add(pos, 21))), nonce)
                let len := encodeBytesSignature(
                    big,
                    add(pos, 101),
                    _TRANSFER_WITH_AUTHORIZATION_BYTES
                )
                switch len
                case 0 {
                    emitFailed(ctx, index, pos, nonce, 5, 0) // InvalidSignatureLength
                }
                default {
                    if iszero(call(ITEM_GAS_LIMIT, calldataload(4), 0, big, len, 0, 0)) {
                        reportCallFailure(ctx, index, pos, nonce)
                    }
                }
            }

            /// A routed item with a contract signature at `pos`, inside a group; adds what it
            /// owes to the accumulators at `ctx + 0xe0` (credit) and `ctx + 0x100` (fees).
            function executeRouted(ctx, pos, index) {
                let fee := shr(128, calldataload(add(pos, 101)))
                mstore(add(ctx, 0x60), fee)
                mstore(add(ctx, 0xa0), calldataload(add(pos, 69)))
                let nonce := keccak256(add(ctx, 0x40), 0x80)
                let value := shr(128, calldataload(add(pos, 41)))
                switch gt(fee, value)
                case 1 {
                    emitFailed(ctx, index, pos, nonce, 3, 0) // FeeExceedsValue
                }
                default {
                    let big := add(mload(add(ctx, 0xc0)), 0x360)
                    encodeFixed(big, pos, address(), nonce)
                    let len := encodeBytesSignature(
                        big,
                        add(pos, 117),
                        _RECEIVE_WITH_AUTHORIZATION_BYTES
                    )
                    switch len
                    case 0 {
                        emitFailed(ctx, index, pos, nonce, 5, 0) // InvalidSignatureLength
                    }
                    default {
                        switch call(ITEM_GAS_LIMIT, calldataload(4), 0, big, len, 0, 0)
                        case 0 {
                            reportCallFailure(ctx, index, pos, nonce)
                        }
                        default {
                            // Values and fees are below 2^128 each: the sums cannot overflow.
                            mstore(add(ctx, 0xe0), add(mload(add(ctx, 0xe0)), sub(value, fee)))
                            mstore(add(ctx, 0x100), add(mload(add(ctx, 0x100)), fee))
                        }
                    }
                }
            }

            /// Outside a group: executes the run of routed items starting at `pos` (up to the
            /// first direct item or other payee) through a self-call, records their statuses and
            /// leaves the position and index after the run at `ctx + 0x120` and `ctx + 0x140`.
            /// Returns the run's fees.
            function executeGroup(ctx, pos, end, index) -> groupFees {
                let big := add(mload(add(ctx, 0xc0)), 0x360)
                let copyStart := mload(add(ctx, 0xe0))
                if iszero(copyStart) {
                    copyStart := pos
                    mstore(add(ctx, 0xe0), pos)
                    calldatacopy(add(big, _GROUP_ITEMS_OFFSET), pos, sub(end, pos))
                }
                // The header goes over the copies of the items before `pos`, already executed.
                let hdr := add(big, sub(pos, copyStart))
                mstore(sub(hdr, 28), _SETTLE_ROUTED_GROUP)
                // token, feeRecipient: the same first two arguments as settle's.
                calldatacopy(add(hdr, 0x04), 4, 0x40)
                mstore(add(hdr, 0x44), index)
                mstore(add(hdr, 0x64), sub(pos, mload(ctx)))
                switch call(gas(), address(), 0, hdr, add(_GROUP_ITEMS_OFFSET, sub(end, pos)), 0, 0)
                case 1 {
                    let count := sub(returndatasize(), 0x40)
                    returndatacopy(0, 0, 0x40)
                    groupFees := mload(0)
                    mstore(add(ctx, 0x120), add(pos, mload(0x20)))
                    mstore(add(ctx, 0x140), add(index, count))
                    returndatacopy(add(mload(add(ctx, 0x20)), index), 0x40, count)
                }
                default {
                    reportGroupUndone(ctx, pos, end, index)
                }
            }

            /// The self-call for the run of routed items starting at `pos` (item `index`)
            /// reverted: bubble the revert up unless it is the run's payout failure, then report
            /// every item of the run `PayoutFailed` with the payout's revert data.
            function reportGroupUndone(ctx, pos, end, index) {
                let rlen := returndatasize()
                returndatacopy(0, 0, 4)
                // Any other revert (gas, malformed items) is not a payout failure: bubble it up.
                if or(lt(rlen, 4), iszero(eq(shr(224, mload(0)), _GROUP_UNDONE))) {
                    let big := add(mload(add(ctx, 0xc0)), 0x360)
                    returndatacopy(big, 0, rlen)
                    revert(big, rlen)
                }
                rlen := sub(rlen, 4)
                if gt(rlen, MAX_REASON_LENGTH) {
                    rlen := MAX_REASON_LENGTH
                }
                let ev := add(mload(add(ctx, 0xc0)), 0x140)
                returndatacopy(add(ev, 0x80), 4, rlen)
                mstore(add(add(ev, 0x80), rlen), 0)
                let payee := shr(96, calldataload(add(pos, 21)))
                mstore(add(ctx, 0x40), payee)
                // The run, as the self-call delimited it (and bounds-checked).
                for {} and(lt(pos, end), and(byte(0, calldataload(pos)), 1)) {} {
                    if iszero(eq(shr(96, calldataload(add(pos, 21))), payee)) {
                        break
                    }
                    mstore(add(ctx, 0x60), shr(128, calldataload(add(pos, 101))))
                    mstore(add(ctx, 0xa0), calldataload(add(pos, 69)))
                    let nonce := keccak256(add(ctx, 0x40), 0x80)
                    emitFailed(ctx, index, pos, nonce, 4, rlen) // PayoutFailed
                    pos := add(pos, rawItemSize(pos, byte(0, calldataload(pos))))
                    index := add(index, 1)
                }
                mstore(add(ctx, 0x120), pos)
                mstore(add(ctx, 0x140), index)
            }

            // ---- set-up ------------------------------------------------------------------------
            // Shallow copies: the function's own slots lie too deep in the stack for the loops.
            let cur := cursor
            let lim := limit
            let ctx := mload(0x40)
            let index := 0
            if group {
                index := calldataload(0x44)
            }
            // Offsets in SettlementRouterMalformedItems count from the start of `items`; a group
            // self-call gets its first item's offset as its fourth argument.
            switch group
            case 0 {
                mstore(ctx, cur)
            }
            default {
                mstore(ctx, sub(cur, calldataload(0x64)))
            }
            mstore(add(ctx, 0x80), calldataload(0x24))
            mstore(add(ctx, 0xe0), 0)
            mstore(add(ctx, 0x100), 0)
            statuses := add(ctx, 0x160)
            // Statuses are indexed by the global item index: shift the base by the first index.
            mstore(add(ctx, 0x20), sub(add(statuses, 0x20), index))
            let buf
            {
                let resSize := and(add(add(div(sub(lim, cur), _MIN_ITEM_SIZE), 1), 31), not(31))
                for {
                    let p := add(statuses, 0x20)
                    let pEnd := add(p, resSize)
                } lt(p, pEnd) {
                    p := add(p, 0x20)
                } {
                    mstore(p, 0)
                }
                buf := add(add(statuses, 0x40), resSize)
            }
            mstore(add(ctx, 0xc0), buf)

            // ---- the items ---------------------------------------------------------------------
            switch group
            case 0 {
                mstore(sub(buf, 28), _TRANSFER_WITH_AUTHORIZATION_VRS)
                for {} lt(cur, lim) {} {
                    let w := calldataload(cur)
                    switch shr(248, w)
                    case 0 {
                        // Direct item with an EIP-2098 signature, inlined: the hot path. Its bounds
                        // are checked once after the loop: a truncated last item reads zeros and
                        // the whole call reverts before it ends.
                        mstore(add(buf, 0x04), shr(96, shl(8, w)))
                        mstore(add(buf, 0x24), shr(96, calldataload(add(cur, 21))))
                        w := calldataload(add(cur, 41))
                        mstore(add(buf, 0x44), shr(128, w))
                        mstore(add(buf, 0x64), and(shr(80, w), 0xffffffffffff))
                        mstore(add(buf, 0x84), and(shr(32, w), 0xffffffffffff))
                        mstore(add(buf, 0xa4), calldataload(add(cur, 69)))
                        mstore(add(buf, 0xe4), calldataload(add(cur, 101)))
                        w := calldataload(add(cur, 133))
                        mstore(add(buf, 0xc4), add(27, shr(255, w)))
                        mstore(add(buf, 0x104), shr(1, shl(1, w)))
                        if iszero(call(ITEM_GAS_LIMIT, calldataload(4), 0, buf, 0x124, 0, 0)) {
                            reportCallFailure(ctx, index, cur, calldataload(add(cur, 69)))
                        }
                        cur := add(cur, _DIRECT_EOA_ITEM_SIZE)
                        index := add(index, 1)
                    }
                    default {
                        switch and(shr(248, w), 1)
                        case 0 {
                            let size := itemSize(ctx, cur, shr(248, w), lim)
                            executeDirect(ctx, cur, index)
                            cur := add(cur, size)
                            index := add(index, 1)
                        }
                        default {
                            // Each fee is below 2^128 and the items fit in calldata: no overflow.
                            fees := add(fees, executeGroup(ctx, cur, lim, index))
                            cur := mload(add(ctx, 0x120))
                            index := mload(add(ctx, 0x140))
                        }
                    }
                }
                // Only an inlined last item can overrun: the other paths check their bounds.
                if gt(cur, lim) {
                    malformed(ctx, sub(cur, _DIRECT_EOA_ITEM_SIZE))
                }
            }
            default {
                // One payee for the whole group; the router is every authorization's `to`.
                mstore(add(ctx, 0x40), shr(96, calldataload(add(cur, 21))))
                mstore(sub(buf, 28), _RECEIVE_WITH_AUTHORIZATION_VRS)
                mstore(add(buf, 0x24), address())
                for {} lt(cur, lim) {} {
                    let w := calldataload(cur)
                    // A direct item or another payee ends the group.
                    if iszero(
                        and(
                            and(shr(248, w), 1),
                            eq(shr(96, calldataload(add(cur, 21))), mload(add(ctx, 0x40)))
                        )
                    ) {
                        break
                    }
                    switch shr(248, w)
                    case 1 {
                        // Routed item with an EIP-2098 signature, inlined: the hot path. Its
                        // bounds are checked once after the loop, as in the direct loop.
                        let fee := shr(128, calldataload(add(cur, 101)))
                        mstore(add(ctx, 0x60), fee)
                        mstore(add(ctx, 0xa0), calldataload(add(cur, 69)))
                        mstore(add(buf, 0xa4), keccak256(add(ctx, 0x40), 0x80))
                        mstore(add(buf, 0x04), shr(96, shl(8, w)))
                        w := calldataload(add(cur, 41))
                        mstore(add(buf, 0x44), shr(128, w))
                        mstore(add(buf, 0x64), and(shr(80, w), 0xffffffffffff))
                        mstore(add(buf, 0x84), and(shr(32, w), 0xffffffffffff))
                        w := shr(128, w)
                        switch gt(fee, w)
                        case 0 {
                            mstore(add(buf, 0xe4), calldataload(add(cur, 117)))
                            let vs := calldataload(add(cur, 149))
                            mstore(add(buf, 0xc4), add(27, shr(255, vs)))
                            mstore(add(buf, 0x104), shr(1, shl(1, vs)))
                            switch call(ITEM_GAS_LIMIT, calldataload(4), 0, buf, 0x124, 0, 0)
                            case 0 {
                                reportCallFailure(ctx, index, cur, mload(add(buf, 0xa4)))
                            }
                            default {
                                // Values and fees are below 2^128 each: the sums cannot overflow.
                                credit := add(credit, sub(w, fee))
                                fees := add(fees, fee)
                            }
                        }
                        default {
                            emitFailed(ctx, index, cur, mload(add(buf, 0xa4)), 3, 0) // FeeExceedsValue
                        }
                        cur := add(cur, _ROUTED_EOA_ITEM_SIZE)
                        index := add(index, 1)
                    }
                    default {
                        let size := itemSize(ctx, cur, shr(248, w), lim)
                        executeRouted(ctx, cur, index)
                        cur := add(cur, size)
                        index := add(index, 1)
                    }
                }
                if gt(cur, lim) {
                    malformed(ctx, sub(cur, _ROUTED_EOA_ITEM_SIZE))
                }
                // How many bytes the group consumed, for settleRoutedGroup's return data.
                mstore(add(ctx, 0x140), sub(cur, _GROUP_ITEMS_OFFSET))
            }
            // Add what the items off the inlined paths accumulated.
            credit := add(credit, mload(add(ctx, 0xe0)))
            fees := add(fees, mload(add(ctx, 0x100)))
            mstore(statuses, sub(index, sub(add(statuses, 0x20), mload(add(ctx, 0x20)))))
            // The statuses end where the gap before `buf` begins.
            mstore(0x40, sub(buf, 0x20))
        }
    }
}
