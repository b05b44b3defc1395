// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {ISettlementRouter} from "../../../interfaces/ISettlementRouter.sol";
import {SettlementRouterReference} from "../SettlementRouterReference.sol";

// Deliberately broken routers, each the reference with one mistake, to show that the invariant
// suite (SettlementRouterInvariants.t.sol, `BROKEN_ROUTER=<n>`) and the differential suite fail
// on them. None is used by a passing test.

/// @notice 1: reports every settled item as failed (`TokenReverted`), without an event.
contract BrokenRouterReportsEveryItemFailed is SettlementRouterReference {
    function _callToken(
        address token,
        bytes memory data,
        uint256 index,
        address from,
        bytes32 nonce
    ) internal override returns (ISettlementRouter.ItemStatus status) {
        status = super._callToken(token, data, index, from, nonce);
        if (status == ISettlementRouter.ItemStatus.Settled) {
            status = ISettlementRouter.ItemStatus.TokenReverted;
        }
    }
}

/// @notice 2: never pays the batch's fees.
contract BrokenRouterSkipsFeePayout is SettlementRouterReference {
    function _payFees(address, address, uint256) internal override {}
}

/// @notice 3: pays each routed group's payee twice.
contract BrokenRouterPaysPayeeTwice is SettlementRouterReference {
    function _payPayee(
        address token,
        address payee,
        uint256 credit,
        uint256 firstIndex
    ) internal override {
        super._payPayee(token, payee, credit, firstIndex);
        super._payPayee(token, payee, credit, firstIndex);
    }
}

/// @notice 4: never asks the token whether a failed item's nonce is spent, so it never reports
/// `AuthorizationUsed`.
contract BrokenRouterIgnoresSpentNonce is SettlementRouterReference {
    function _authorizationUsed(
        address,
        uint256,
        address,
        bytes32
    ) internal pure override returns (bool) {
        return false;
    }
}

/// @notice 5: when a group's payout fails it keeps the group (nonces used, funds in the router)
/// instead of undoing it.
contract BrokenRouterKeepsUnpaidGroup is SettlementRouterReference {
    function _payPayee(
        address token,
        address payee,
        uint256 credit,
        uint256 firstIndex
    ) internal override {
        try this.payPayeeOnce(token, payee, credit, firstIndex) {} catch {}
    }

    /// @dev The payout in a frame of its own, so its failure can be swallowed.
    function payPayeeOnce(
        address token,
        address payee,
        uint256 credit,
        uint256 firstIndex
    ) external {
        require(msg.sender == address(this), "self only");
        super._payPayee(token, payee, credit, firstIndex);
    }
}

/// @notice 6: emits no `PaymentFailed` events.
contract BrokenRouterSilentFailures is SettlementRouterReference {
    function _fail(
        uint256,
        address,
        bytes32,
        ISettlementRouter.ItemStatus status,
        bytes memory
    ) internal pure override returns (ISettlementRouter.ItemStatus) {
        return status;
    }
}

/// @notice 7: ignores a malformed tail instead of reverting: settles the items before it.
contract BrokenRouterIgnoresMalformedTail is SettlementRouterReference {
    function _itemEnd(
        bytes calldata items,
        uint256 pos,
        uint256 base
    ) internal pure override returns (uint256) {
        uint8 flags = uint8(items[pos]);
        if (flags > 3) return type(uint256).max;
        uint256 sig = pos + (flags & 1 != 0 ? 117 : 101);
        uint256 end = sig + 64;
        if (flags & 2 != 0) {
            if (sig + 2 > items.length) return type(uint256).max;
            end = sig + 2 + uint16(bytes2(items[sig:sig + 2]));
        }
        base;
        return end > items.length ? type(uint256).max : end;
    }
}
