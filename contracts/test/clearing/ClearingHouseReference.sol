// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {ISignatureTransfer} from "@uniswap/v4-periphery/lib/permit2/src/interfaces/ISignatureTransfer.sol";

import {IClearingHouse} from "../../interfaces/IClearingHouse.sol";

/// @title ClearingHouseReference
/// @notice The plain-Solidity reference of {ClearingHouse}, test-only: the same external
/// behaviour (statuses, events, payouts, reverts, views), written to be read rather than to be
/// cheap. The differential suite runs both on the same inputs and requires identical outcomes.
/// @dev Note: it does not check that a token is honest: an account is bound to its token, so a
/// token that lies about transfers can only hurt the accounts denominated in it (an EIP-3009
/// batch that credits more than the contract's balance grew reverts). Rebasing tokens are not
/// supported (the contract's balance would drift from the accounts' sum). It does not check that
/// a payee can receive the token before clearing (a failed payout undoes the payee's items), that
/// an operator's fee recipient can (a failed fee payout reverts the call), nor anything the
/// operator promised off chain: the operator alone decides which vouchers to accept, and must
/// clear them before a requested withdrawal's delay ends. Vouchers carry no deadline: a pair's
/// latest voucher stays clearable while the account has funds. A voucher (or an operator's fee
/// recipient) paying this contract itself leaves its value here, outside every account: the
/// payer signed it away, nobody can move it. Balances are stored in 80 bits
/// ({MAX_BALANCE}); withdrawal delays in whole minutes.
contract ClearingHouseReference is IClearingHouse, EIP712, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @inheritdoc IClearingHouse
    uint256 public constant MAX_BALANCE = type(uint80).max;

    /// @inheritdoc IClearingHouse
    uint256 public constant ITEM_GAS_LIMIT = 200_000;

    /// @inheritdoc IClearingHouse
    uint256 public constant MAX_REASON_LENGTH = 256;

    /// @inheritdoc IClearingHouse
    address public constant PERMIT2 = 0x000000000022D473030F116dDEE9F6B43aC78BA3;

    /// @dev The Permit2 deposit witness type.
    bytes32 internal constant CLEARING_DEPOSIT_TYPEHASH = keccak256(
        "ClearingDeposit(address operator,address voucherSigner)"
    );

    /// @dev The EIP-712 type hashes.
    bytes32 internal constant VOUCHER_TYPEHASH = keccak256(
        "Voucher(address payer,address payee,address token,address operator,"
        "uint128 cumulativeValue,uint128 cumulativeFee)"
    );
    bytes32 internal constant RELEASE_TYPEHASH = keccak256(
        "Release(address payer,address operator,address token,uint128 amount,bytes32 salt,uint48 deadline)"
    );

    uint32 internal constant MIN_DELAY = 15 minutes;
    uint32 internal constant MAX_DELAY = 30 days;

    /// @dev Voucher flags and sizes.
    uint8 internal constant CONTRACT_SIGNATURE = 1;
    uint256 internal constant VOUCHER_HEADER = 93;
    uint256 internal constant VOUCHER_EOA_SIZE = 157;
    uint256 internal constant DEPOSIT_SIZE = 184;
    uint256 internal constant PERMIT2_DEPOSIT_SIZE = 178;

    /// @dev One storage word per account: what clearing reads and writes.
    struct AccountSlot {
        uint80 balance;
        uint16 delayMinutes;
        address signer;
    }

    struct WithdrawalSlot {
        uint128 amount;
        uint48 readyAt;
    }

    /// @dev A pair's cleared totals.
    struct PairSlot {
        uint128 value;
        uint128 fee;
    }

    /// @dev One decoded voucher.
    struct Voucher {
        address payer;
        address payee;
        address operator;
        uint128 value;
        uint128 fee;
    }

    /// @dev What a cleared voucher changed, kept to undo it when its payee's payout fails.
    struct Applied {
        bytes32 accountKey;
        bytes32 pairKey;
        PairSlot previous;
        uint256 valueIncrease;
        uint256 feeIncrease;
        uint256 payee;
        uint256 feeRecipient;
    }

    /// @dev Netted payouts of one call: recipients and amounts, `count` in use.
    struct Payouts {
        address[] recipients;
        uint256[] amounts;
        uint256 count;
    }

    mapping(address operator => Operator) internal _operators;
    mapping(bytes32 accountKey => AccountSlot) internal _accounts;
    mapping(bytes32 accountKey => WithdrawalSlot) internal _withdrawals;
    mapping(bytes32 pairKey => PairSlot) internal _pairs;
    mapping(bytes32 releaseHash => bool) internal _usedReleases;

    constructor() EIP712("x402 ClearingHouse", "1") {}

    // ---------------------------------------------------------------------------------------
    // Operators
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc IClearingHouse
    function registerOperator(address feeRecipient, uint32 withdrawalDelay) external {
        require(feeRecipient != address(0), ClearingHouseInvalidFeeRecipient());
        require(
            withdrawalDelay >= MIN_DELAY &&
                withdrawalDelay <= MAX_DELAY &&
                withdrawalDelay % 1 minutes == 0,
            ClearingHouseInvalidWithdrawalDelay(withdrawalDelay)
        );
        _operators[msg.sender] = Operator(feeRecipient, withdrawalDelay);
        emit OperatorRegistered(msg.sender, feeRecipient, withdrawalDelay);
    }

    // ---------------------------------------------------------------------------------------
    // Deposits
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc IClearingHouse
    function deposit(
        address operator,
        address token,
        uint256 amount,
        address voucherSigner
    ) external nonReentrant {
        require(token.code.length != 0, ClearingHouseTokenHasNoCode(token));
        bytes32 key = _accountKey(msg.sender, operator, token);
        (DepositStatus status, AccountSlot memory account) = _checkCredit(
            key,
            operator,
            voucherSigner,
            amount
        );
        if (status == DepositStatus.UnknownOperator) revert ClearingHouseUnknownOperator(operator);
        if (status == DepositStatus.SignerMismatch) {
            revert ClearingHouseSignerMismatch(account.signer, voucherSigner);
        }
        if (status == DepositStatus.BalanceOverflow) {
            revert ClearingHouseBalanceOverflow(account.balance, amount);
        }
        uint256 before = IERC20(token).balanceOf(address(this));
        IERC20(token).safeTransferFrom(msg.sender, address(this), amount);
        uint256 received = IERC20(token).balanceOf(address(this)) - before;
        require(
            account.balance + received <= MAX_BALANCE,
            ClearingHouseBalanceOverflow(account.balance, received)
        );
        _credit(key, account, voucherSigner, received);
        emit Deposited(msg.sender, operator, token, received, voucherSigner);
    }

    /// @inheritdoc IClearingHouse
    function depositWithAuthorizations(
        address token,
        bytes calldata items
    ) external nonReentrant returns (bytes memory results) {
        require(token.code.length != 0, ClearingHouseTokenHasNoCode(token));
        require(items.length % DEPOSIT_SIZE == 0, ClearingHouseMalformedItems(items.length));
        uint256 count = items.length / DEPOSIT_SIZE;
        results = new bytes(count);
        uint256 before = IERC20(token).balanceOf(address(this));
        uint256 credited;
        for (uint256 i = 0; i < count; ++i) {
            DepositStatus status;
            uint256 value;
            (status, value) = _depositOne(token, items[i * DEPOSIT_SIZE:(i + 1) * DEPOSIT_SIZE], i);
            results[i] = bytes1(uint8(status));
            credited += value;
        }
        uint256 received = IERC20(token).balanceOf(address(this)) - before;
        require(received == credited, ClearingHouseBalanceMismatch(credited, received));
        emit DepositsProcessed(token, results);
    }

    /// @dev Processes one packed deposit item: checks the credit, executes the authorization and
    /// credits the account, or emits {DepositFailed}. Returns the status and what was credited.
    function _depositOne(
        address token,
        bytes calldata item,
        uint256 index
    ) internal returns (DepositStatus status, uint256 credited) {
        address payer = address(bytes20(item[0:20]));
        address operator = address(bytes20(item[20:40]));
        address signer = address(bytes20(item[40:60]));
        uint256 value = uint128(bytes16(item[60:76]));
        bytes32 key = _accountKey(payer, operator, token);
        AccountSlot memory account;
        (status, account) = _checkCredit(key, operator, signer, value);
        bytes memory reason;
        if (status == DepositStatus.Deposited) {
            bool ok;
            (ok, reason) = _receiveWithAuthorization(token, item, value);
            if (ok) {
                _credit(key, account, signer, value);
                return (DepositStatus.Deposited, value);
            }
            require(gasleft() >= ITEM_GAS_LIMIT / 63, ClearingHouseInsufficientGas(index));
            status = DepositStatus.AuthorizationFailed;
        }
        emit DepositFailed(index, payer, status, reason);
        return (status, 0);
    }

    /// @inheritdoc IClearingHouse
    function depositWithPermit2(
        address token,
        bytes calldata items
    ) external nonReentrant returns (bytes memory results) {
        require(token.code.length != 0, ClearingHouseTokenHasNoCode(token));
        require(PERMIT2.code.length != 0, ClearingHouseNoPermit2());
        require(
            items.length % PERMIT2_DEPOSIT_SIZE == 0,
            ClearingHouseMalformedItems(items.length)
        );
        uint256 count = items.length / PERMIT2_DEPOSIT_SIZE;
        results = new bytes(count);
        for (uint256 i = 0; i < count; ++i) {
            DepositStatus status = _permit2DepositOne(
                token,
                items[i * PERMIT2_DEPOSIT_SIZE:(i + 1) * PERMIT2_DEPOSIT_SIZE],
                i
            );
            results[i] = bytes1(uint8(status));
        }
        emit DepositsProcessed(token, results);
    }

    /// @dev One packed Permit2 deposit: checks the credit, runs Permit2's transfer and credits
    /// what this contract's balance grew by, or emits {DepositFailed}.
    function _permit2DepositOne(
        address token,
        bytes calldata item,
        uint256 index
    ) internal returns (DepositStatus status) {
        address payer = address(bytes20(item[0:20]));
        address operator = address(bytes20(item[20:40]));
        address signer = address(bytes20(item[40:60]));
        uint256 amount = uint128(bytes16(item[60:76]));
        bytes32 key = _accountKey(payer, operator, token);
        AccountSlot memory account;
        (status, account) = _checkCredit(key, operator, signer, amount);
        bytes memory reason;
        if (status == DepositStatus.Deposited) {
            uint256 before = IERC20(token).balanceOf(address(this));
            bool ok;
            (ok, reason) = _permit2Transfer(token, item, amount);
            if (ok) {
                uint256 received = _permit2Received(token, before, amount);
                if (received != 0) {
                    require(
                        account.balance + received <= MAX_BALANCE,
                        ClearingHouseBalanceOverflow(account.balance, received)
                    );
                    _credit(key, account, signer, received);
                    return DepositStatus.Deposited;
                }
                status = DepositStatus.NothingReceived;
            } else {
                require(gasleft() >= ITEM_GAS_LIMIT / 63, ClearingHouseInsufficientGas(index));
                status = DepositStatus.AuthorizationFailed;
            }
        }
        emit DepositFailed(index, payer, status, reason);
    }

    /// @dev What a successful Permit2 transfer of `amount` brought in: this contract's balance
    /// growth since `before`.
    function _permit2Received(
        address token,
        uint256 before,
        uint256 amount
    ) internal view virtual returns (uint256) {
        amount;
        return IERC20(token).balanceOf(address(this)) - before;
    }

    /// @dev Permit2's `permitWitnessTransferFrom` for one packed Permit2 deposit, with at most
    /// {ITEM_GAS_LIMIT} gas; whether it succeeded and the first {MAX_REASON_LENGTH} bytes of its
    /// revert data.
    function _permit2Transfer(
        address token,
        bytes calldata item,
        uint256 amount
    ) internal returns (bool ok, bytes memory reason) {
        ISignatureTransfer.PermitTransferFrom memory permit = ISignatureTransfer
            .PermitTransferFrom({
                permitted: ISignatureTransfer.TokenPermissions(token, amount),
                nonce: uint256(bytes32(item[76:108])),
                deadline: uint48(bytes6(item[108:114]))
            });
        bytes32 witness = keccak256(
            abi.encode(
                CLEARING_DEPOSIT_TYPEHASH,
                address(bytes20(item[20:40])),
                address(bytes20(item[40:60]))
            )
        );
        try
            ISignatureTransfer(PERMIT2).permitWitnessTransferFrom{gas: ITEM_GAS_LIMIT}(
                permit,
                ISignatureTransfer.SignatureTransferDetails(address(this), amount),
                address(bytes20(item[0:20])),
                witness,
                "ClearingDeposit witness)ClearingDeposit(address operator,address voucherSigner)"
                "TokenPermissions(address token,uint256 amount)",
                item[114:178]
            )
        {
            return (true, "");
        } catch (bytes memory data) {
            uint256 size = data.length < MAX_REASON_LENGTH ? data.length : MAX_REASON_LENGTH;
            reason = new bytes(size);
            for (uint256 k = 0; k < size; ++k) reason[k] = data[k];
            return (false, reason);
        }
    }

    /// @dev Whether crediting `value` to the account under `signer` is allowed, and its state.
    function _checkCredit(
        bytes32 key,
        address operator,
        address signer,
        uint256 value
    ) internal view virtual returns (DepositStatus, AccountSlot memory account) {
        account = _accounts[key];
        if (_operators[operator].feeRecipient == address(0)) {
            return (DepositStatus.UnknownOperator, account);
        }
        if (account.balance + value > MAX_BALANCE) return (DepositStatus.BalanceOverflow, account);
        // A withdrawal can only be pending on an account that has received a deposit before.
        if (
            account.signer != signer &&
            (account.balance != 0 || (account.delayMinutes != 0 && _withdrawals[key].readyAt != 0))
        ) {
            return (DepositStatus.SignerMismatch, account);
        }
        if (account.delayMinutes == 0) {
            // Cannot truncate: registered delays are whole minutes of at most 30 days (43,200).
            account.delayMinutes = uint16(_operators[operator].withdrawalDelay / 1 minutes);
        }
        return (DepositStatus.Deposited, account);
    }

    /// @dev Writes the credit checked by {_checkCredit}.
    function _credit(
        bytes32 key,
        AccountSlot memory account,
        address signer,
        uint256 value
    ) internal virtual {
        // Cannot truncate: {_checkCredit} bounded balance + value by MAX_BALANCE (uint80).
        account.balance = uint80(account.balance + value);
        account.signer = signer;
        _accounts[key] = account;
    }

    /// @dev Calls `token.receiveWithAuthorization` for one packed deposit item, with at most
    /// {ITEM_GAS_LIMIT} gas; returns whether it succeeded and the first {MAX_REASON_LENGTH}
    /// bytes of its revert data.
    function _receiveWithAuthorization(
        address token,
        bytes calldata item,
        uint256 value
    ) internal returns (bool ok, bytes memory reason) {
        bytes32 vs = bytes32(item[152:184]);
        bytes memory data = abi.encodeWithSignature(
            "receiveWithAuthorization(address,address,uint256,uint256,uint256,bytes32,uint8,bytes32,bytes32)",
            address(bytes20(item[0:20])),
            address(this),
            value,
            uint256(uint48(bytes6(item[76:82]))),
            uint256(uint48(bytes6(item[82:88]))),
            keccak256(
                abi.encode(
                    address(bytes20(item[20:40])),
                    address(bytes20(item[40:60])),
                    bytes32(item[88:120])
                )
            ),
            uint8(uint256(vs >> 255) + 27),
            bytes32(item[120:152]),
            vs & bytes32(uint256(type(uint256).max >> 1))
        );
        uint256 gasLimit = ITEM_GAS_LIMIT;
        uint256 maxReason = MAX_REASON_LENGTH;
        assembly ("memory-safe") {
            ok := call(gasLimit, token, 0, add(data, 0x20), mload(data), 0, 0)
            if iszero(ok) {
                let size := returndatasize()
                if gt(size, maxReason) {
                    size := maxReason
                }
                reason := mload(0x40)
                mstore(reason, size)
                returndatacopy(add(reason, 0x20), 0, size)
                mstore(0x40, add(add(reason, 0x20), and(add(size, 31), not(31))))
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // Clearing
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc IClearingHouse
    function clear(
        address token,
        bytes calldata items
    ) external nonReentrant returns (bytes memory results) {
        require(token.code.length != 0, ClearingHouseTokenHasNoCode(token));
        uint256 count = _countVouchers(items);
        results = new bytes(count);
        Applied[] memory applied = new Applied[](count);
        Payouts memory payees = Payouts(new address[](count), new uint256[](count), 0);
        Payouts memory fees = Payouts(new address[](count), new uint256[](count), 0);
        uint256 o;
        for (uint256 i = 0; i < count; ++i) {
            Voucher memory voucher = _decodeVoucher(items, o);
            uint256 size = _voucherSize(items, o);
            ClearStatus status = _clearOne(token, voucher, items[o:o + size], applied[i]);
            o += size;
            if (status == ClearStatus.Cleared) {
                applied[i].payee = _add(payees, voucher.payee, applied[i].valueIncrease);
                applied[i].feeRecipient = _add(
                    fees,
                    _operators[voucher.operator].feeRecipient,
                    applied[i].feeIncrease
                );
            } else {
                results[i] = bytes1(uint8(status));
                emit VoucherRejected(i, voucher.payer, voucher.payee, status);
            }
        }
        _payPayees(token, items, results, applied, payees, fees);
        for (uint256 k = 0; k < fees.count; ++k) {
            if (fees.amounts[k] == 0) continue;
            require(
                IERC20(token).trySafeTransfer(fees.recipients[k], fees.amounts[k]),
                ClearingHouseFeePayoutFailed(fees.recipients[k], fees.amounts[k])
            );
        }
        emit VouchersCleared(token, results);
    }

    /// @dev Checks one voucher and, when it clears, moves its increase out of the payer's balance
    /// and records the pair's totals. Records in `applied` what it changed.
    function _clearOne(
        address token,
        Voucher memory voucher,
        bytes calldata item,
        Applied memory applied
    ) internal virtual returns (ClearStatus status) {
        if (_operators[voucher.operator].feeRecipient == address(0)) {
            return ClearStatus.UnknownOperator;
        }
        applied.pairKey = _pairKey(voucher.payer, voucher.payee, voucher.operator, token);
        applied.previous = _pairs[applied.pairKey];
        if (voucher.value < applied.previous.value || voucher.fee < applied.previous.fee) {
            return ClearStatus.CumulativeDecreased;
        }
        if (voucher.value == applied.previous.value && voucher.fee == applied.previous.fee) {
            return ClearStatus.AlreadyCleared;
        }
        // Cannot underflow: both cumulatives were checked to be at least the cleared totals.
        unchecked {
            applied.valueIncrease = voucher.value - applied.previous.value;
            applied.feeIncrease = voucher.fee - applied.previous.fee;
        }
        applied.accountKey = _accountKey(voucher.payer, voucher.operator, token);
        AccountSlot memory account = _accounts[applied.accountKey];
        uint256 debit = applied.valueIncrease + applied.feeIncrease;
        if (debit > account.balance) return ClearStatus.InsufficientBalance;
        bytes32 digest = _voucherDigest(
            voucher.payer,
            voucher.payee,
            token,
            voucher.operator,
            voucher.value,
            voucher.fee
        );
        if (!_isValidVoucherSignature(voucher.payer, account.signer, digest, item)) {
            return ClearStatus.InvalidSignature;
        }
        // Cannot underflow: the debit was checked against the balance above.
        unchecked {
            account.balance -= uint80(debit);
        }
        _accounts[applied.accountKey] = account;
        _pairs[applied.pairKey] = PairSlot(voucher.value, voucher.fee);
        return ClearStatus.Cleared;
    }

    /// @dev Whether `item`'s signature over `digest` is the payer's or the voucher signer's.
    function _isValidVoucherSignature(
        address payer,
        address signer,
        bytes32 digest,
        bytes calldata item
    ) internal view virtual returns (bool) {
        if (uint8(item[0]) & CONTRACT_SIGNATURE == 0) {
            (address recovered, ECDSA.RecoverError err, ) = ECDSA.tryRecover(
                digest,
                bytes32(item[VOUCHER_HEADER:VOUCHER_HEADER + 32]),
                bytes32(item[VOUCHER_HEADER + 32:VOUCHER_HEADER + 64])
            );
            return err == ECDSA.RecoverError.NoError && (recovered == payer || recovered == signer);
        }
        bytes calldata signature = item[VOUCHER_HEADER + 2:];
        return
            _isValidERC1271(payer, digest, signature) ||
            (signer != address(0) && _isValidERC1271(signer, digest, signature));
    }

    /// @dev An ERC-1271 check with at most {ITEM_GAS_LIMIT} gas, reading only 32 bytes back.
    function _isValidERC1271(
        address wallet,
        bytes32 digest,
        bytes calldata signature
    ) internal view returns (bool valid) {
        if (wallet.code.length == 0) return false;
        bytes memory data = abi.encodeCall(IERC1271.isValidSignature, (digest, signature));
        uint256 gasLimit = ITEM_GAS_LIMIT;
        bytes4 magic = IERC1271.isValidSignature.selector;
        assembly ("memory-safe") {
            mstore(0x00, 0)
            let ok := staticcall(gasLimit, wallet, add(data, 0x20), mload(data), 0x00, 0x20)
            valid := and(and(ok, gt(returndatasize(), 0x1f)), eq(mload(0x00), magic))
        }
    }

    /// @dev Pays each payee its netted credit; when a payout fails, undoes that payee's items
    /// (newest first, so a pair cleared twice in the call returns to its original totals).
    function _payPayees(
        address token,
        bytes calldata items,
        bytes memory results,
        Applied[] memory applied,
        Payouts memory payees,
        Payouts memory fees
    ) internal {
        for (uint256 p = 0; p < payees.count; ++p) {
            if (payees.amounts[p] == 0) continue;
            if (IERC20(token).trySafeTransfer(payees.recipients[p], payees.amounts[p])) continue;
            for (uint256 j = applied.length; j > 0; --j) {
                Applied memory a = applied[j - 1];
                if (uint8(results[j - 1]) != uint8(ClearStatus.Cleared) || a.pairKey == 0) {
                    continue;
                }
                if (a.payee != p) continue;
                _pairs[a.pairKey] = a.previous;
                // Cannot overflow: restores what this call took from the balance.
                unchecked {
                    _accounts[a.accountKey].balance += uint80(a.valueIncrease + a.feeIncrease);
                    fees.amounts[a.feeRecipient] -= a.feeIncrease;
                }
                results[j - 1] = bytes1(uint8(ClearStatus.PayoutFailed));
                Voucher memory voucher = _decodeVoucher(items, _offsetOf(items, j - 1));
                emit VoucherRejected(j - 1, voucher.payer, voucher.payee, ClearStatus.PayoutFailed);
            }
        }
    }

    /// @dev Adds `amount` for `recipient` to the netted payouts; returns the recipient's index.
    function _add(
        Payouts memory payouts,
        address recipient,
        uint256 amount
    ) internal pure returns (uint256 index) {
        uint256 n = payouts.count;
        for (index = 0; index < n; ++index) {
            if (payouts.recipients[index] == recipient) {
                payouts.amounts[index] += amount;
                return index;
            }
        }
        payouts.recipients[n] = recipient;
        payouts.amounts[n] = amount;
        payouts.count = n + 1;
    }

    /// @dev The number of vouchers in `items`; reverts when they are malformed.
    function _countVouchers(bytes calldata items) internal pure returns (uint256 count) {
        uint256 o;
        while (o < items.length) {
            o += _voucherSize(items, o);
            ++count;
        }
        require(o == items.length, ClearingHouseMalformedItems(o));
    }

    /// @dev The byte offset of voucher `index` (only called for a failed payout).
    function _offsetOf(bytes calldata items, uint256 index) internal pure returns (uint256 o) {
        for (uint256 i = 0; i < index; ++i) o += _voucherSize(items, o);
    }

    /// @dev The size of the voucher at offset `o`; reverts when its flags or length are malformed.
    function _voucherSize(bytes calldata items, uint256 o) internal pure returns (uint256) {
        require(items.length >= o + VOUCHER_HEADER, ClearingHouseMalformedItems(o));
        uint8 flags = uint8(items[o]);
        if (flags == 0) return VOUCHER_EOA_SIZE;
        require(flags == CONTRACT_SIGNATURE, ClearingHouseMalformedItems(o));
        require(items.length >= o + VOUCHER_HEADER + 2, ClearingHouseMalformedItems(o));
        return
            VOUCHER_HEADER + 2 + uint16(bytes2(items[o + VOUCHER_HEADER:o + VOUCHER_HEADER + 2]));
    }

    /// @dev Decodes the voucher fields at offset `o` (its bounds are checked by {_countVouchers}).
    function _decodeVoucher(
        bytes calldata items,
        uint256 o
    ) internal pure returns (Voucher memory voucher) {
        voucher.payer = address(bytes20(items[o + 1:o + 21]));
        voucher.payee = address(bytes20(items[o + 21:o + 41]));
        voucher.operator = address(bytes20(items[o + 41:o + 61]));
        voucher.value = uint128(bytes16(items[o + 61:o + 77]));
        voucher.fee = uint128(bytes16(items[o + 77:o + 93]));
    }

    // ---------------------------------------------------------------------------------------
    // Exits
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc IClearingHouse
    function requestWithdrawal(address operator, address token, uint128 amount) external {
        bytes32 key = _accountKey(msg.sender, operator, token);
        uint16 delayMinutes = _accounts[key].delayMinutes;
        require(delayMinutes != 0, ClearingHouseUnknownAccount());
        uint48 readyAt = uint48(block.timestamp + uint256(delayMinutes) * 1 minutes);
        _withdrawals[key] = WithdrawalSlot(amount, readyAt);
        emit WithdrawalRequested(msg.sender, operator, token, amount, readyAt);
    }

    /// @inheritdoc IClearingHouse
    function withdraw(
        address operator,
        address token
    ) external nonReentrant returns (uint256 amount) {
        bytes32 key = _accountKey(msg.sender, operator, token);
        WithdrawalSlot memory pending = _withdrawals[key];
        require(pending.readyAt != 0, ClearingHouseNoPendingWithdrawal());
        require(
            block.timestamp >= pending.readyAt,
            ClearingHouseWithdrawalNotReady(pending.readyAt)
        );
        AccountSlot storage account = _accounts[key];
        amount = pending.amount < account.balance ? pending.amount : account.balance;
        delete _withdrawals[key];
        _debit(account, amount);
        emit Withdrawn(msg.sender, operator, token, amount);
        IERC20(token).safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc IClearingHouse
    function withdrawWithRelease(
        Release calldata release,
        bytes calldata signature
    ) external nonReentrant {
        require(block.timestamp <= release.deadline, ClearingHouseReleaseExpired(release.deadline));
        (bytes32 digest, bytes32 structHash) = _releaseDigest(release);
        require(!_usedReleases[structHash], ClearingHouseReleaseUsed(structHash));
        require(
            SignatureChecker.isValidSignatureNowCalldata(release.operator, digest, signature),
            ClearingHouseInvalidReleaseSignature()
        );
        AccountSlot storage account = _accounts[
            _accountKey(release.payer, release.operator, release.token)
        ];
        require(
            release.amount <= account.balance,
            ClearingHouseInsufficientBalance(account.balance, release.amount)
        );
        _usedReleases[structHash] = true;
        _debit(account, release.amount);
        emit ReleaseUsed(structHash);
        emit Withdrawn(release.payer, release.operator, release.token, release.amount);
        IERC20(release.token).safeTransfer(release.payer, release.amount);
    }

    /// @dev Takes `amount` (at most the balance) out of an account on exit.
    function _debit(AccountSlot storage account, uint256 amount) internal virtual {
        // Cannot truncate: callers bound `amount` by the uint80 balance.
        account.balance -= uint80(amount);
    }

    // ---------------------------------------------------------------------------------------
    // Views
    // ---------------------------------------------------------------------------------------

    /// @inheritdoc IClearingHouse
    function depositNonce(
        address operator,
        address voucherSigner,
        bytes32 salt
    ) external pure returns (bytes32) {
        return keccak256(abi.encode(operator, voucherSigner, salt));
    }

    /// @inheritdoc IClearingHouse
    function permit2DepositWitness(
        address operator,
        address voucherSigner
    ) external pure returns (bytes32) {
        return keccak256(abi.encode(CLEARING_DEPOSIT_TYPEHASH, operator, voucherSigner));
    }

    /// @inheritdoc IClearingHouse
    function voucherDigest(
        address payer,
        address payee,
        address token,
        address operator,
        uint128 cumulativeValue,
        uint128 cumulativeFee
    ) external view returns (bytes32) {
        return _voucherDigest(payer, payee, token, operator, cumulativeValue, cumulativeFee);
    }

    /// @inheritdoc IClearingHouse
    function releaseDigest(
        Release calldata release
    ) external view returns (bytes32 digest, bytes32 structHash) {
        return _releaseDigest(release);
    }

    /// @inheritdoc IClearingHouse
    function getOperator(address operator) external view returns (Operator memory) {
        return _operators[operator];
    }

    /// @inheritdoc IClearingHouse
    function getAccount(
        address payer,
        address operator,
        address token
    ) external view returns (Account memory) {
        bytes32 key = _accountKey(payer, operator, token);
        AccountSlot memory account = _accounts[key];
        WithdrawalSlot memory pending = _withdrawals[key];
        return
            Account({
                balance: account.balance,
                voucherSigner: account.signer,
                withdrawalDelay: uint32(account.delayMinutes) * 1 minutes,
                withdrawalAmount: pending.amount,
                withdrawalReadyAt: pending.readyAt
            });
    }

    /// @inheritdoc IClearingHouse
    function getCleared(
        address payer,
        address payee,
        address operator,
        address token
    ) external view returns (uint128 cumulativeValue, uint128 cumulativeFee) {
        PairSlot memory pair = _pairs[_pairKey(payer, payee, operator, token)];
        return (pair.value, pair.fee);
    }

    /// @inheritdoc IClearingHouse
    function releaseUsed(bytes32 releaseHash) external view returns (bool) {
        return _usedReleases[releaseHash];
    }

    function _voucherDigest(
        address payer,
        address payee,
        address token,
        address operator,
        uint128 cumulativeValue,
        uint128 cumulativeFee
    ) internal view returns (bytes32) {
        return
            _hashTypedDataV4(
                keccak256(
                    abi.encode(
                        VOUCHER_TYPEHASH,
                        payer,
                        payee,
                        token,
                        operator,
                        cumulativeValue,
                        cumulativeFee
                    )
                )
            );
    }

    function _releaseDigest(
        Release calldata release
    ) internal view returns (bytes32 digest, bytes32 structHash) {
        structHash = keccak256(
            abi.encode(
                RELEASE_TYPEHASH,
                release.payer,
                release.operator,
                release.token,
                release.amount,
                release.salt,
                release.deadline
            )
        );
        digest = _hashTypedDataV4(structHash);
    }

    function _accountKey(
        address payer,
        address operator,
        address token
    ) internal pure returns (bytes32) {
        return keccak256(abi.encode(payer, operator, token));
    }

    function _pairKey(
        address payer,
        address payee,
        address operator,
        address token
    ) internal pure returns (bytes32) {
        return keccak256(abi.encode(payer, payee, operator, token));
    }
}
