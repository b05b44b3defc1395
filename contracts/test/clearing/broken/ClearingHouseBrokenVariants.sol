// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {ClearingHouseReference} from "../ClearingHouseReference.sol";

/*
 * Deliberately broken ClearingHouses (plain ClearingHouseReference with one rule broken), to show
 * that each invariant of ClearingHouseInvariants.t.sol fires. On demand only (they fail by design):
 *
 *   CLEARING_BROKEN_VARIANT=<n> npx hardhat test solidity contracts/test/clearing/ClearingHouseInvariants.t.sol
 *
 * with n = 1 BrokenSkipsSignature, 2 BrokenRecordsLowerCumulative, 3 BrokenWithdrawKeepsBalance,
 * 4 BrokenOverdraft; unset or 0 runs the real ClearingHouse. Which invariant fires for which
 * variant (64 runs, depth 64):
 *
 * | variant                      | holdsExactly… | clearedNeverDecreases… | noAccountPaysMore… | outcomesMatch… |
 * |------------------------------|:-------------:|:----------------------:|:------------------:|:--------------:|
 * | BrokenSkipsSignature         |               | fires (above signed)   |                    | fires          |
 * | BrokenRecordsLowerCumulative |               | fires (decreased)      |                    | fires          |
 * | BrokenWithdrawKeepsBalance   | fires         |                        | fires              | fires          |
 * | BrokenOverdraft              | fires         | fires (above signed)   | fires              | fires          |
 */

/// @dev Accepts every voucher signature.
contract BrokenSkipsSignature is ClearingHouseReference {
    function _isValidVoucherSignature(
        address,
        address,
        bytes32,
        bytes calldata
    ) internal pure override returns (bool) {
        return true;
    }
}

/// @dev Records a lower cumulative instead of rejecting it (moving nothing).
contract BrokenRecordsLowerCumulative is ClearingHouseReference {
    function _clearOne(
        address token,
        Voucher memory voucher,
        bytes calldata item,
        Applied memory applied
    ) internal override returns (ClearStatus status) {
        status = super._clearOne(token, voucher, item, applied);
        if (status != ClearStatus.CumulativeDecreased) return status;
        _pairs[applied.pairKey] = PairSlot(voucher.value, voucher.fee);
        return ClearStatus.Cleared;
    }
}

/// @dev Pays withdrawals and releases out without debiting the account.
contract BrokenWithdrawKeepsBalance is ClearingHouseReference {
    function _debit(AccountSlot storage, uint256) internal override {}
}

/// @dev Clears an increase larger than the balance by taking the whole balance.
contract BrokenOverdraft is ClearingHouseReference {
    function _clearOne(
        address token,
        Voucher memory voucher,
        bytes calldata item,
        Applied memory applied
    ) internal override returns (ClearStatus status) {
        status = super._clearOne(token, voucher, item, applied);
        if (status != ClearStatus.InsufficientBalance) return status;
        _accounts[applied.accountKey].balance = 0;
        _pairs[applied.pairKey] = PairSlot(voucher.value, voucher.fee);
        return ClearStatus.Cleared;
    }
}

/// @dev Trusts a successful Permit2 transfer: credits the permitted amount, whatever arrived
/// (a token whose failed transfer returns nothing then credits an account with nothing behind it).
/// Used by the replay suite's measurement test, not by the invariant suite.
contract BrokenPermit2TrustsTransfer is ClearingHouseReference {
    function _permit2Received(
        address,
        uint256,
        uint256 amount
    ) internal pure override returns (uint256) {
        return amount;
    }
}
