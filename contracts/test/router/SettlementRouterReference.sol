// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC3009} from "@openzeppelin/contracts/interfaces/draft-IERC3009.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {IERC3009Signature} from "../../interfaces/IERC3009.sol";
import {ISettlementRouter} from "../../interfaces/ISettlementRouter.sol";

/// @title SettlementRouterReference
/// @notice The SettlementRouter's external behaviour in plain Solidity, for differential tests:
/// the same statuses, `PaymentFailed` and `BatchSettled` events (same revert data), token calls
/// (same call data, same order, same gas stipends), netted payouts, group undo and reverts as
/// {SettlementRouter}, written to be read rather than to be cheap. See {ISettlementRouter} for
/// the packed layout and the batch failure policy this contract spells out step by step.
/// @dev Note: test-only. It validates the whole of `items` before it calls the token, where the
/// router executes items as it parses them and finds a truncated last item only after its token
/// call; every token call is reverted with the batch either way, so with enough gas both revert
/// with the same `SettlementRouterMalformedItems`. With too little gas for the batch the two may
/// run out at different items: only batches with enough gas are compared. Its self-call returns
/// ABI-encoded values (the router's returns raw bytes) and it copies whole returndata where the
/// router copies at most what it keeps: neither is observable from outside but in gas.
/// The token-call, payout, report and parsing steps are `internal virtual` only so that the
/// routers in `broken/` can each break one of them.
contract SettlementRouterReference is ReentrancyGuardTransient {
    /// @notice As {ISettlementRouter-ITEM_GAS_LIMIT}: the gas stipend of each item's token call
    /// and of each routed group's payout.
    uint256 public constant ITEM_GAS_LIMIT = 200_000;

    /// @notice As {ISettlementRouter-MAX_REASON_LENGTH}.
    uint256 public constant MAX_REASON_LENGTH = 256;

    /// @dev Gas for the `authorizationState` read after a failed token call.
    uint256 private constant _AUTH_STATE_GAS = 30_000;

    uint8 private constant _ROUTED = 1;
    uint8 private constant _CONTRACT_SIGNATURE = 2;

    /// @dev Where {settleRoutedGroup}'s raw items start in its calldata (selector + 4 words).
    uint256 private constant _GROUP_ITEMS_OFFSET = 0x84;

    /// @dev {settleRoutedGroup}'s revert when its payout failed: the payout's capped revert data.
    error ReferenceGroupUndone(bytes reason);

    /// @dev One packed item, decoded.
    struct Item {
        /// Byte offset of the item in `items`.
        uint256 offset;
        /// Byte offset just past the item.
        uint256 end;
        bool routed;
        bool contractSignature;
        address from;
        /// Direct: the EIP-3009 `to`; routed: the payee bound by the nonce.
        address payee;
        uint256 value;
        uint256 validAfter;
        uint256 validBefore;
        /// Direct: the EIP-3009 nonce; routed: the salt.
        bytes32 nonceOrSalt;
        /// Routed only.
        uint256 fee;
        /// `CONTRACT_SIGNATURE`: the raw signature bytes; otherwise `r ‖ yParityAndS`.
        bytes signature;
    }

    /// @notice As {ISettlementRouter-settle}.
    function settle(
        address token,
        address feeRecipient,
        bytes calldata items
    ) external nonReentrant returns (bytes memory results) {
        require(token.code.length != 0, ISettlementRouter.SettlementRouterTokenHasNoCode(token));
        Item[] memory parsed = _parse(items, 0);
        results = new bytes(parsed.length);
        uint256 fees;
        uint256 i = 0;
        while (i < parsed.length) {
            if (!parsed[i].routed) {
                results[i] = bytes1(uint8(_settleDirect(token, parsed[i], i)));
                ++i;
                continue;
            }
            // A group: the run of routed items with this payee.
            uint256 end = i + 1;
            while (
                end < parsed.length && parsed[end].routed && parsed[end].payee == parsed[i].payee
            ) {
                ++end;
            }
            fees += _settleGroup(token, feeRecipient, items, parsed, i, end, results);
            i = end;
        }
        if (fees != 0) _payFees(token, feeRecipient, fees);
        emit ISettlementRouter.BatchSettled(token, results);
    }

    /// @notice As {ISettlementRouter-settleRoutedGroup}: executes one group (the raw items after
    /// the four arguments) and pays its payee; reverts with {ReferenceGroupUndone} when that
    /// payout fails, so every token call of the group is undone.
    /// @return statuses One status per item of the group.
    /// @return fees The fees of the group's settled items.
    function settleRoutedGroup(
        address token,
        address feeRecipient,
        uint256 firstIndex,
        uint256 firstOffset
    ) external returns (bytes memory statuses, uint256 fees) {
        require(
            msg.sender == address(this),
            ISettlementRouter.SettlementRouterUnauthorizedCaller(msg.sender)
        );
        Item[] memory group = _parse(msg.data[_GROUP_ITEMS_OFFSET:], firstOffset);
        statuses = new bytes(group.length);
        uint256 credit;
        for (uint256 k = 0; k < group.length; ++k) {
            Item memory it = group[k];
            ISettlementRouter.ItemStatus status = _settleRouted(
                token,
                feeRecipient,
                it,
                firstIndex + k
            );
            statuses[k] = bytes1(uint8(status));
            if (status == ISettlementRouter.ItemStatus.Settled) {
                credit += it.value - it.fee;
                fees += it.fee;
            }
        }
        if (credit != 0) _payPayee(token, group[0].payee, credit, firstIndex);
    }

    /// @notice As {ISettlementRouter-routedNonce}.
    function routedNonce(
        address payee,
        uint256 fee,
        address feeRecipient,
        bytes32 salt
    ) public pure returns (bytes32) {
        return keccak256(abi.encode(payee, fee, feeRecipient, salt));
    }

    // ---------------------------------------------------------------------------------------------
    // Items
    // ---------------------------------------------------------------------------------------------

    /// @dev Decodes every item of `items`, reverting with `SettlementRouterMalformedItems` at the
    /// first one whose flags set unknown bits or that runs past the end. `base` is added to the
    /// offsets (a group's items start at `base` in the batch).
    function _parse(
        bytes calldata items,
        uint256 base
    ) private pure returns (Item[] memory parsed) {
        uint256 count;
        for (uint256 pos = 0; pos < items.length; pos = _itemEnd(items, pos, base)) ++count;
        parsed = new Item[](count);
        uint256 at = 0;
        for (uint256 k = 0; k < count; ++k) {
            Item memory it = parsed[k];
            uint8 flags = uint8(items[at]);
            uint256 end = _itemEnd(items, at, base);
            it.offset = base + at;
            it.end = base + end;
            it.routed = flags & _ROUTED != 0;
            it.contractSignature = flags & _CONTRACT_SIGNATURE != 0;
            it.from = address(bytes20(items[at + 1:at + 21]));
            it.payee = address(bytes20(items[at + 21:at + 41]));
            it.value = uint128(bytes16(items[at + 41:at + 57]));
            it.validAfter = uint48(bytes6(items[at + 57:at + 63]));
            it.validBefore = uint48(bytes6(items[at + 63:at + 69]));
            it.nonceOrSalt = bytes32(items[at + 69:at + 101]);
            uint256 sig = at + 101;
            if (it.routed) {
                it.fee = uint128(bytes16(items[at + 101:at + 117]));
                sig = at + 117;
            }
            if (it.contractSignature) sig += 2;
            it.signature = items[sig:end];
            at = end;
        }
    }

    /// @dev Where the item at `pos` ends; reverts if its flags are unknown or it runs past the end.
    function _itemEnd(
        bytes calldata items,
        uint256 pos,
        uint256 base
    ) internal pure virtual returns (uint256) {
        uint8 flags = uint8(items[pos]);
        require(flags <= 3, ISettlementRouter.SettlementRouterMalformedItems(base + pos));
        uint256 sig = pos + (flags & _ROUTED != 0 ? 117 : 101);
        uint256 end;
        if (flags & _CONTRACT_SIGNATURE == 0) {
            end = sig + 64;
        } else {
            require(
                sig + 2 <= items.length,
                ISettlementRouter.SettlementRouterMalformedItems(base + pos)
            );
            end = sig + 2 + uint16(bytes2(items[sig:sig + 2]));
        }
        require(end <= items.length, ISettlementRouter.SettlementRouterMalformedItems(base + pos));
        return end;
    }

    /// @dev `(v, r, s)` of a compact `r ‖ yParityAndS` signature.
    function _vrs(bytes memory compact) private pure returns (uint8 v, bytes32 r, bytes32 s) {
        (bytes32 first, uint256 second) = abi.decode(compact, (bytes32, uint256));
        r = first;
        v = uint8(27 + (second >> 255));
        s = bytes32(second & ((1 << 255) - 1));
    }

    /// @dev A direct item: `transferWithAuthorization` to its payee.
    function _settleDirect(
        address token,
        Item memory it,
        uint256 index
    ) private returns (ISettlementRouter.ItemStatus) {
        bytes memory data;
        if (it.contractSignature) {
            if (it.signature.length == 0) {
                return
                    _fail(
                        index,
                        it.from,
                        it.nonceOrSalt,
                        ISettlementRouter.ItemStatus.InvalidSignatureLength,
                        ""
                    );
            }
            data = abi.encodeCall(
                IERC3009Signature.transferWithAuthorization,
                (
                    it.from,
                    it.payee,
                    it.value,
                    it.validAfter,
                    it.validBefore,
                    it.nonceOrSalt,
                    it.signature
                )
            );
        } else {
            (uint8 v, bytes32 r, bytes32 s) = _vrs(it.signature);
            data = abi.encodeCall(
                IERC3009.transferWithAuthorization,
                (
                    it.from,
                    it.payee,
                    it.value,
                    it.validAfter,
                    it.validBefore,
                    it.nonceOrSalt,
                    v,
                    r,
                    s
                )
            );
        }
        return _callToken(token, data, index, it.from, it.nonceOrSalt);
    }

    /// @dev A routed item inside its group: `receiveWithAuthorization` to the router, with the
    /// nonce bound to its payee, fee and the batch's fee recipient.
    function _settleRouted(
        address token,
        address feeRecipient,
        Item memory it,
        uint256 index
    ) private returns (ISettlementRouter.ItemStatus) {
        bytes32 nonce = routedNonce(it.payee, it.fee, feeRecipient, it.nonceOrSalt);
        if (it.fee > it.value) {
            return _fail(index, it.from, nonce, ISettlementRouter.ItemStatus.FeeExceedsValue, "");
        }
        bytes memory data;
        if (it.contractSignature) {
            if (it.signature.length == 0) {
                return
                    _fail(
                        index,
                        it.from,
                        nonce,
                        ISettlementRouter.ItemStatus.InvalidSignatureLength,
                        ""
                    );
            }
            data = abi.encodeCall(
                IERC3009Signature.receiveWithAuthorization,
                (
                    it.from,
                    address(this),
                    it.value,
                    it.validAfter,
                    it.validBefore,
                    nonce,
                    it.signature
                )
            );
        } else {
            (uint8 v, bytes32 r, bytes32 s) = _vrs(it.signature);
            data = abi.encodeCall(
                IERC3009.receiveWithAuthorization,
                (it.from, address(this), it.value, it.validAfter, it.validBefore, nonce, v, r, s)
            );
        }
        return _callToken(token, data, index, it.from, nonce);
    }

    /// @dev Runs the group `parsed[first:end]` in a self-call and records its statuses; when its
    /// payout failed, reports every item of the group `PayoutFailed`. Returns the group's fees.
    function _settleGroup(
        address token,
        address feeRecipient,
        bytes calldata items,
        Item[] memory parsed,
        uint256 first,
        uint256 end,
        bytes memory results
    ) private returns (uint256 fees) {
        bytes memory data = abi.encodePacked(
            abi.encodeCall(
                this.settleRoutedGroup,
                (token, feeRecipient, first, parsed[first].offset)
            ),
            items[parsed[first].offset:parsed[end - 1].end]
        );
        (bool ok, bytes memory ret) = address(this).call(data);
        if (ok) {
            bytes memory statuses;
            (statuses, fees) = abi.decode(ret, (bytes, uint256));
            for (uint256 k = first; k < end; ++k) results[k] = statuses[k - first];
            return fees;
        }
        // Anything but the payout's failure (malformed items, too little gas) reverts the batch.
        if (ret.length < 4 || bytes4(ret) != ReferenceGroupUndone.selector) _bubble(ret);
        _reportGroupUndone(
            feeRecipient,
            parsed,
            first,
            end,
            abi.decode(_withoutSelector(ret), (bytes)),
            results
        );
        return 0;
    }

    /// @dev The payout of the group `parsed[first:end]` failed with `reason`: every item of the
    /// group is reported `PayoutFailed` (whatever its own call did: that was undone).
    function _reportGroupUndone(
        address feeRecipient,
        Item[] memory parsed,
        uint256 first,
        uint256 end,
        bytes memory reason,
        bytes memory results
    ) private {
        for (uint256 k = first; k < end; ++k) {
            Item memory it = parsed[k];
            results[k] = bytes1(uint8(ISettlementRouter.ItemStatus.PayoutFailed));
            _fail(
                k,
                it.from,
                routedNonce(it.payee, it.fee, feeRecipient, it.nonceOrSalt),
                ISettlementRouter.ItemStatus.PayoutFailed,
                reason
            );
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Token calls
    // ---------------------------------------------------------------------------------------------

    /// @dev Calls the token with the item stipend; on failure, reports `AuthorizationUsed` when the
    /// token says the authorization is used, `TokenReverted` otherwise, with the capped revert data.
    function _callToken(
        address token,
        bytes memory data,
        uint256 index,
        address from,
        bytes32 nonce
    ) internal virtual returns (ISettlementRouter.ItemStatus) {
        (bool ok, bytes memory ret) = token.call{gas: ITEM_GAS_LIMIT}(data);
        if (ok) return ISettlementRouter.ItemStatus.Settled;
        _requireGasLeft(index, ITEM_GAS_LIMIT);
        bytes memory reason = _capped(ret);
        ISettlementRouter.ItemStatus status =
            _authorizationUsed(token, index, from, nonce)
                ? ISettlementRouter.ItemStatus.AuthorizationUsed
                : ISettlementRouter.ItemStatus.TokenReverted;
        return _fail(index, from, nonce, status, reason);
    }

    /// @dev Whether `authorizationState(from, nonce)` answers exactly `true` (a 32-byte word of 1,
    /// extra bytes ignored) within its gas stipend.
    function _authorizationUsed(
        address token,
        uint256 index,
        address from,
        bytes32 nonce
    ) internal view virtual returns (bool) {
        (bool ok, bytes memory ret) = token.staticcall{gas: _AUTH_STATE_GAS}(
            abi.encodeCall(IERC3009.authorizationState, (from, nonce))
        );
        if (!ok) {
            _requireGasLeft(index, _AUTH_STATE_GAS);
            return false;
        }
        return ret.length >= 32 && uint256(bytes32(ret)) == 1;
    }

    /// @dev Pays a group's `credit` to its payee with the item stipend; reverts with
    /// {ReferenceGroupUndone} (undoing the group) when that fails.
    function _payPayee(
        address token,
        address payee,
        uint256 credit,
        uint256 firstIndex
    ) internal virtual {
        // Paying the router itself would leave the credit here.
        if (payee == address(this)) revert ReferenceGroupUndone("");
        (bool ok, bytes memory ret) = token.call{gas: ITEM_GAS_LIMIT}(
            abi.encodeCall(IERC20.transfer, (payee, credit))
        );
        if (!_transferSucceeded(ok, ret)) {
            _requireGasLeft(firstIndex, ITEM_GAS_LIMIT);
            revert ReferenceGroupUndone(_capped(ret));
        }
    }

    /// @dev Pays the batch's fees with all the gas left; the whole call reverts when that fails.
    function _payFees(address token, address feeRecipient, uint256 fees) internal virtual {
        bool ok = false;
        if (feeRecipient != address(this)) {
            (bool success, bytes memory ret) = token.call(
                abi.encodeCall(IERC20.transfer, (feeRecipient, fees))
            );
            ok = _transferSucceeded(success, ret);
        }
        require(ok, ISettlementRouter.SettlementRouterFeePayoutFailed(feeRecipient, fees));
    }

    /// @dev A `transfer` succeeded: it did not revert and returned nothing or a first word of 1.
    function _transferSucceeded(bool ok, bytes memory ret) private pure returns (bool) {
        return ok && (ret.length == 0 || (ret.length >= 32 && uint256(bytes32(ret)) == 1));
    }

    /// @dev After a call with `callGas` failed: with less than `callGas / 63` left it may have
    /// failed only for want of gas (the 63/64 rule), so the whole call reverts.
    function _requireGasLeft(uint256 index, uint256 callGas) private view {
        require(
            gasleft() >= callGas / 63,
            ISettlementRouter.SettlementRouterInsufficientGas(index)
        );
    }

    /// @dev Emits `PaymentFailed` and returns `status`.
    function _fail(
        uint256 index,
        address from,
        bytes32 nonce,
        ISettlementRouter.ItemStatus status,
        bytes memory reason
    ) internal virtual returns (ISettlementRouter.ItemStatus) {
        emit ISettlementRouter.PaymentFailed(index, from, nonce, status, reason);
        return status;
    }

    /// @dev The first {MAX_REASON_LENGTH} bytes of `data`.
    function _capped(bytes memory data) private pure returns (bytes memory out) {
        if (data.length <= MAX_REASON_LENGTH) return data;
        out = new bytes(MAX_REASON_LENGTH);
        for (uint256 k = 0; k < MAX_REASON_LENGTH; ++k) out[k] = data[k];
    }

    /// @dev `data` without its first four bytes.
    function _withoutSelector(bytes memory data) private pure returns (bytes memory out) {
        out = new bytes(data.length - 4);
        for (uint256 k = 0; k < out.length; ++k) out[k] = data[k + 4];
    }

    /// @dev Reverts with `data` as it is.
    function _bubble(bytes memory data) private pure {
        assembly ("memory-safe") {
            revert(add(data, 0x20), mload(data))
        }
    }
}
