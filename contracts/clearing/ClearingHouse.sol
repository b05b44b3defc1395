// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

import {ISignatureTransfer} from "@uniswap/v4-periphery/lib/permit2/src/interfaces/ISignatureTransfer.sol";

import {IClearingHouse} from "../interfaces/IClearingHouse.sol";

/// @title ClearingHouse
/// @notice Deposits, cumulative vouchers, netted clearing and exits. See {IClearingHouse} for the
/// vocabulary, the packed layouts and the batch failure policy.
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
contract ClearingHouse is IClearingHouse, EIP712, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @inheritdoc IClearingHouse
    uint256 public constant MAX_BALANCE = type(uint80).max;

    /// @inheritdoc IClearingHouse
    uint256 public constant ITEM_GAS_LIMIT = 200_000;

    /// @inheritdoc IClearingHouse
    uint256 public constant MAX_REASON_LENGTH = 256;

    /// @inheritdoc IClearingHouse
    address public constant PERMIT2 = 0x000000000022D473030F116dDEE9F6B43aC78BA3;

    /// @dev The Permit2 deposit witness: its type hash and the type string Permit2 appends.
    bytes32 internal constant CLEARING_DEPOSIT_TYPEHASH = keccak256(
        "ClearingDeposit(address operator,address voucherSigner)"
    );
    /// @dev Permit2's single `permitWitnessTransferFrom` (the name is overloaded with the batch one).
    bytes4 internal constant PERMIT_WITNESS_TRANSFER_FROM = bytes4(
        keccak256(
            "permitWitnessTransferFrom(((address,uint256),uint256,uint256),(address,uint256),"
            "address,bytes32,string,bytes)"
        )
    );
    string internal constant PERMIT2_WITNESS_TYPE_STRING =
        "ClearingDeposit witness)ClearingDeposit(address operator,address voucherSigner)"
        "TokenPermissions(address token,uint256 amount)";

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
            (ok, reason) = _receiveWithAuthorization(token, item);
            if (ok) {
                // No event of its own: the token's AuthorizationUsed and Transfer announce it.
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
        uint256 held = IERC20(token).balanceOf(address(this));
        for (uint256 i = 0; i < count; ++i) {
            uint256 freeMemory;
            assembly ("memory-safe") {
                freeMemory := mload(0x40)
            }
            DepositStatus status;
            (status, held) = _permit2DepositOne(
                token,
                items[i * PERMIT2_DEPOSIT_SIZE:(i + 1) * PERMIT2_DEPOSIT_SIZE],
                i,
                held
            );
            results[i] = bytes1(uint8(status));
            // Nothing the item allocated is used again: each item reuses the same memory.
            assembly ("memory-safe") {
                mstore(0x40, freeMemory)
            }
        }
        emit DepositsProcessed(token, results);
    }

    /// @dev Processes one packed Permit2 deposit: checks the credit, runs the transfer and credits
    /// what arrived, or emits {DepositFailed}. `held` is this contract's token balance before the
    /// item; returns the status and the balance after it.
    function _permit2DepositOne(
        address token,
        bytes calldata item,
        uint256 index,
        uint256 held
    ) internal returns (DepositStatus status, uint256 heldAfter) {
        address payer = address(bytes20(item[0:20]));
        address operator = address(bytes20(item[20:40]));
        address signer = address(bytes20(item[40:60]));
        uint256 amount = uint128(bytes16(item[60:76]));
        bytes32 key = _accountKey(payer, operator, token);
        AccountSlot memory account;
        (status, account) = _checkCredit(key, operator, signer, amount);
        heldAfter = held;
        bytes memory reason;
        if (status == DepositStatus.Deposited) {
            bool ok;
            (ok, reason) = _permit2Transfer(token, item, payer, operator, signer, amount);
            if (ok) {
                heldAfter = IERC20(token).balanceOf(address(this));
                uint256 received = heldAfter - held;
                if (received != 0) {
                    require(
                        account.balance + received <= MAX_BALANCE,
                        ClearingHouseBalanceOverflow(account.balance, received)
                    );
                    _credit(key, account, signer, received);
                    return (DepositStatus.Deposited, heldAfter);
                }
                status = DepositStatus.NothingReceived;
            } else {
                require(gasleft() >= ITEM_GAS_LIMIT / 63, ClearingHouseInsufficientGas(index));
                status = DepositStatus.AuthorizationFailed;
            }
        }
        emit DepositFailed(index, payer, status, reason);
    }

    /// @dev Calls Permit2's `permitWitnessTransferFrom` for one packed Permit2 deposit, with at
    /// most {ITEM_GAS_LIMIT} gas; returns whether it succeeded and the first {MAX_REASON_LENGTH}
    /// bytes of its revert data.
    function _permit2Transfer(
        address token,
        bytes calldata item,
        address payer,
        address operator,
        address signer,
        uint256 amount
    ) internal returns (bool ok, bytes memory reason) {
        bytes memory data = abi.encodeWithSelector(
            PERMIT_WITNESS_TRANSFER_FROM,
            ISignatureTransfer.PermitTransferFrom({
                permitted: ISignatureTransfer.TokenPermissions(token, amount),
                nonce: uint256(bytes32(item[76:108])),
                deadline: uint48(bytes6(item[108:114]))
            }),
            ISignatureTransfer.SignatureTransferDetails(address(this), amount),
            payer,
            keccak256(abi.encode(CLEARING_DEPOSIT_TYPEHASH, operator, signer)),
            PERMIT2_WITNESS_TYPE_STRING,
            item[114:178]
        );
        address permit2 = PERMIT2;
        assembly ("memory-safe") {
            ok := call(ITEM_GAS_LIMIT, permit2, 0, add(data, 0x20), mload(data), 0, 0)
            reason := 0x60
            if iszero(ok) {
                let size := returndatasize()
                if gt(size, MAX_REASON_LENGTH) {
                    size := MAX_REASON_LENGTH
                }
                reason := mload(0x40)
                mstore(reason, size)
                returndatacopy(add(reason, 0x20), 0, size)
                mstore(0x40, add(add(reason, 0x20), and(add(size, 31), not(31))))
            }
        }
    }

    /// @dev Whether crediting `value` to the account under `signer` is allowed, and its state.
    function _checkCredit(
        bytes32 key,
        address operator,
        address signer,
        uint256 value
    ) internal view returns (DepositStatus, AccountSlot memory account) {
        uint256 word;
        uint256 registration;
        assembly ("memory-safe") {
            mstore(0x00, key)
            mstore(0x20, _accounts.slot)
            word := sload(keccak256(0x00, 0x40))
            mstore(0x00, operator)
            mstore(0x20, _operators.slot)
            registration := sload(keccak256(0x00, 0x40))
        }
        // The packed layouts of AccountSlot and Operator, low bits first.
        account.balance = uint80(word);
        account.delayMinutes = uint16(word >> 80);
        account.signer = address(uint160(word >> 96));
        if (uint160(registration) == 0) return (DepositStatus.UnknownOperator, account);
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
            account.delayMinutes = uint16(uint32(registration >> 160) / 1 minutes);
        }
        return (DepositStatus.Deposited, account);
    }

    /// @dev Writes the credit checked by {_checkCredit}: one storage word.
    function _credit(
        bytes32 key,
        AccountSlot memory account,
        address signer,
        uint256 value
    ) internal {
        // Cannot truncate: {_checkCredit} bounded balance + value by MAX_BALANCE (uint80).
        uint256 word =
            (uint256(account.balance) + value) |
                (uint256(account.delayMinutes) << 80) |
                (uint256(uint160(signer)) << 96);
        assembly ("memory-safe") {
            mstore(0x00, key)
            mstore(0x20, _accounts.slot)
            sstore(keccak256(0x00, 0x40), word)
        }
    }

    /// @dev Calls `token.receiveWithAuthorization` for one packed deposit item, with at most
    /// {ITEM_GAS_LIMIT} gas, from scratch memory; returns whether it succeeded and the first
    /// {MAX_REASON_LENGTH} bytes of its revert data.
    function _receiveWithAuthorization(
        address token,
        bytes calldata item
    ) internal returns (bool ok, bytes memory reason) {
        assembly ("memory-safe") {
            let p := mload(0x40)
            let o := item.offset
            // depositNonce(operator, signer, salt) = keccak256(abi.encode(operator, signer, salt))
            mstore(p, shr(96, calldataload(add(o, 20))))
            mstore(add(p, 0x20), shr(96, calldataload(add(o, 40))))
            mstore(add(p, 0x40), calldataload(add(o, 88)))
            let nonce := keccak256(p, 0x60)
            // receiveWithAuthorization(address,address,uint256,uint256,uint256,bytes32,uint8,bytes32,bytes32)
            mstore(p, shl(224, 0xef55bec6))
            mstore(add(p, 0x04), shr(96, calldataload(o)))
            mstore(add(p, 0x24), address())
            mstore(add(p, 0x44), shr(128, calldataload(add(o, 60))))
            mstore(add(p, 0x64), shr(208, calldataload(add(o, 76))))
            mstore(add(p, 0x84), shr(208, calldataload(add(o, 82))))
            mstore(add(p, 0xa4), nonce)
            let vs := calldataload(add(o, 152))
            mstore(add(p, 0xc4), add(27, shr(255, vs)))
            mstore(add(p, 0xe4), calldataload(add(o, 120)))
            mstore(
                add(p, 0x104),
                and(vs, 0x7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff)
            )
            ok := call(ITEM_GAS_LIMIT, token, 0, p, 0x124, 0, 0)
            reason := 0x60
            if iszero(ok) {
                let size := returndatasize()
                if gt(size, MAX_REASON_LENGTH) {
                    size := MAX_REASON_LENGTH
                }
                reason := p
                mstore(reason, size)
                returndatacopy(add(reason, 0x20), 0, size)
                mstore(0x40, add(add(reason, 0x20), and(add(size, 31), not(31))))
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // Clearing
    // ---------------------------------------------------------------------------------------

    /// @dev Memory words of {clear}'s context, from its base: the tables and caches the loop
    /// keeps, then scratch space for hashing and calls.
    uint256 private constant _C_INCREASES = 0x00; // increases[i]: valueIncrease | feeIncrease << 128
    uint256 private constant _C_META = 0x20; // meta[i]: offset | payee index << 64 | fee index << 128
    uint256 private constant _C_PAYEES = 0x40; // distinct payees
    uint256 private constant _C_PAYEE_AMOUNTS = 0x60;
    uint256 private constant _C_PAYEE_COUNT = 0x80;
    uint256 private constant _C_FEES = 0xa0; // distinct fee recipients
    uint256 private constant _C_FEE_AMOUNTS = 0xc0;
    uint256 private constant _C_FEE_COUNT = 0xe0;
    uint256 private constant _C_DOMAIN = 0x100;
    uint256 private constant _C_LAST_OPERATOR = 0x120;
    uint256 private constant _C_LAST_FEE_RECIPIENT = 0x140;
    uint256 private constant _C_LAST_PAYEE = 0x160;
    uint256 private constant _C_LAST_PAYEE_INDEX = 0x180;
    uint256 private constant _C_LAST_FEE = 0x1a0;
    uint256 private constant _C_LAST_FEE_INDEX = 0x1c0;
    uint256 private constant _C_TYPEHASH = 0x1e0;
    uint256 private constant _C_REJECTED_TOPIC = 0x200;
    uint256 private constant _C_RESULTS = 0x220;
    uint256 private constant _C_SCRATCH = 0x240;

    /// @dev secp256k1n / 2: larger `s` values are rejected (EIP-2).
    uint256 private constant _HALF_N =
        0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;

    /// @inheritdoc IClearingHouse
    /// @dev The loop is inline assembly for gas; `ClearingHouseReference` (contracts/test) is the
    /// same behaviour in plain Solidity, and a differential suite runs both on the same inputs.
    // solhint-disable-next-line function-max-lines
    function clear(
        address token,
        bytes calldata items
    ) external nonReentrant returns (bytes memory results) {
        require(token.code.length != 0, ClearingHouseTokenHasNoCode(token));
        uint256 count = _countVouchers(items);
        results = new bytes(count);
        uint256 m = _clearContext(count, results);
        assembly ("memory-safe") {
            // The fee recipient of `operator` (zero: not registered), cached for runs of one operator.
            function feeRecipientOf(operator, c) -> recipient {
                if eq(operator, mload(add(c, _C_LAST_OPERATOR))) {
                    recipient := mload(add(c, _C_LAST_FEE_RECIPIENT))
                    leave
                }
                let s := add(c, _C_SCRATCH)
                mstore(s, operator)
                mstore(add(s, 0x20), _operators.slot)
                recipient := and(
                    sload(keccak256(s, 0x40)),
                    0xffffffffffffffffffffffffffffffffffffffff
                )
                mstore(add(c, _C_LAST_OPERATOR), operator)
                mstore(add(c, _C_LAST_FEE_RECIPIENT), recipient)
            }

            // The storage slot of mapping `slot` at key keccak256(abi.encode(words at s, n words)).
            function mappingSlot(s, n, slot) -> result {
                let key := keccak256(s, shl(5, n))
                mstore(s, key)
                mstore(add(s, 0x20), slot)
                result := keccak256(s, 0x40)
            }

            // ERC-1271: whether `wallet` accepts the `n` signature bytes at calldata `sig` for `digest`.
            function erc1271(wallet, digest, sig, n, s) -> valid {
                if iszero(extcodesize(wallet)) {
                    leave
                }
                mstore(s, shl(224, 0x1626ba7e))
                mstore(add(s, 0x04), digest)
                mstore(add(s, 0x24), 0x40)
                mstore(add(s, 0x44), n)
                calldatacopy(add(s, 0x64), sig, n)
                mstore(0x00, 0)
                let ok := staticcall(ITEM_GAS_LIMIT, wallet, s, add(0x64, n), 0x00, 0x20)
                valid := and(
                    and(ok, gt(returndatasize(), 0x1f)),
                    eq(shr(224, mload(0x00)), 0x1626ba7e)
                )
            }

            // Whether the voucher at calldata `o` is signed by its payer or by `signer`.
            function validSignature(o, digest, signer, s) -> valid {
                let payer := shr(96, calldataload(add(o, 1)))
                if iszero(byte(0, calldataload(o))) {
                    let vs := calldataload(add(o, 125))
                    let sigS := and(
                        vs,
                        0x7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff
                    )
                    if gt(sigS, _HALF_N) {
                        leave
                    }
                    mstore(s, digest)
                    mstore(add(s, 0x20), add(27, shr(255, vs)))
                    mstore(add(s, 0x40), calldataload(add(o, 93)))
                    mstore(add(s, 0x60), sigS)
                    mstore(0x00, 0)
                    pop(staticcall(gas(), 1, s, 0x80, 0x00, 0x20))
                    let recovered := mul(mload(0x00), eq(returndatasize(), 0x20))
                    valid := and(
                        iszero(iszero(recovered)),
                        or(eq(recovered, payer), eq(recovered, signer))
                    )
                    leave
                }
                let n := shr(240, calldataload(add(o, 93)))
                valid := erc1271(payer, digest, add(o, 95), n, s)
                if and(iszero(valid), iszero(iszero(signer))) {
                    valid := erc1271(signer, digest, add(o, 95), n, s)
                }
            }

            // The slot of the pair of the voucher at calldata `o`.
            function pairSlotOf(o, operator, tkn, s) -> result {
                mstore(s, shr(96, calldataload(add(o, 1))))
                mstore(add(s, 0x20), shr(96, calldataload(add(o, 21))))
                mstore(add(s, 0x40), operator)
                mstore(add(s, 0x60), tkn)
                result := mappingSlot(s, 4, _pairs.slot)
            }

            // The slot of the account of the voucher at calldata `o`.
            function accountSlotOf(o, operator, tkn, s) -> result {
                mstore(s, shr(96, calldataload(add(o, 1))))
                mstore(add(s, 0x20), operator)
                mstore(add(s, 0x40), tkn)
                result := mappingSlot(s, 3, _accounts.slot)
            }

            // The increases of the voucher at calldata `o` over the pair's `cleared` word, or the
            // status that rejects it.
            function increasesOf(o, cleared) -> status, valueIncrease, feeIncrease {
                let value := shr(128, calldataload(add(o, 61)))
                let fee := shr(128, calldataload(add(o, 77)))
                let clearedValue := and(cleared, 0xffffffffffffffffffffffffffffffff)
                let clearedFee := shr(128, cleared)
                if or(lt(value, clearedValue), lt(fee, clearedFee)) {
                    status := 2 // CumulativeDecreased
                    leave
                }
                if and(eq(value, clearedValue), eq(fee, clearedFee)) {
                    status := 3 // AlreadyCleared
                    leave
                }
                valueIncrease := sub(value, clearedValue)
                feeIncrease := sub(fee, clearedFee)
            }

            // The EIP-712 digest of the voucher at calldata `o`.
            function digestOf(o, operator, tkn, c) -> digest {
                let s := add(c, _C_SCRATCH)
                mstore(s, mload(add(c, _C_TYPEHASH)))
                mstore(add(s, 0x20), shr(96, calldataload(add(o, 1))))
                mstore(add(s, 0x40), shr(96, calldataload(add(o, 21))))
                mstore(add(s, 0x60), tkn)
                mstore(add(s, 0x80), operator)
                mstore(add(s, 0xa0), shr(128, calldataload(add(o, 61))))
                mstore(add(s, 0xc0), shr(128, calldataload(add(o, 77))))
                let structHash := keccak256(s, 0xe0)
                mstore(s, 0x1901)
                mstore(add(s, 0x20), mload(add(c, _C_DOMAIN)))
                mstore(add(s, 0x40), structHash)
                digest := keccak256(add(s, 0x1e), 0x42)
            }

            // Checks the voucher at calldata `o` and, when it clears, debits the payer and records
            // the pair's totals. Returns the status and the increases.
            function clearOne(o, tkn, c) -> status, valueIncrease, feeIncrease {
                let operator := shr(96, calldataload(add(o, 41)))
                if iszero(feeRecipientOf(operator, c)) {
                    status := 1 // UnknownOperator
                    leave
                }
                let pairSlot := pairSlotOf(o, operator, tkn, add(c, _C_SCRATCH))
                status, valueIncrease, feeIncrease := increasesOf(o, sload(pairSlot))
                if status {
                    leave
                }
                let accountSlot := accountSlotOf(o, operator, tkn, add(c, _C_SCRATCH))
                let account := sload(accountSlot)
                // Cannot overflow: two uint128 values.
                let debit := add(valueIncrease, feeIncrease)
                if gt(debit, and(account, 0xffffffffffffffffffff)) {
                    status := 4 // InsufficientBalance
                    leave
                }
                if iszero(
                    validSignature(
                        o,
                        digestOf(o, operator, tkn, c),
                        shr(96, account),
                        add(c, _C_SCRATCH)
                    )
                ) {
                    status := 5 // InvalidSignature
                    leave
                }
                // Cannot underflow: the debit was checked against the balance (the low 80 bits).
                sstore(accountSlot, sub(account, debit))
                sstore(
                    pairSlot,
                    or(
                        shr(128, calldataload(add(o, 61))),
                        shl(128, shr(128, calldataload(add(o, 77))))
                    )
                )
            }

            // The index of `who` in the distinct-recipients table at `table`, appended when new;
            // the last one looked up is cached at `last`.
            function indexOf(c, table, countAt, last, who) -> index {
                if eq(who, mload(add(c, last))) {
                    index := mload(add(c, add(last, 0x20)))
                    leave
                }
                let base := mload(add(c, table))
                let n := mload(add(c, countAt))
                index := n
                for {
                    let k := 0
                } lt(k, n) {
                    k := add(k, 1)
                } {
                    if eq(mload(add(base, shl(5, k))), who) {
                        index := k
                        break
                    }
                }
                if eq(index, n) {
                    mstore(add(base, shl(5, n)), who)
                    mstore(add(c, countAt), add(n, 1))
                }
                mstore(add(c, last), who)
                mstore(add(c, add(last, 0x20)), index)
            }

            // Nets a cleared voucher's increases into the payouts and records what to undo.
            function onCleared(o, i, c, valueIncrease, feeIncrease, relative) {
                let payee := indexOf(
                    c,
                    _C_PAYEES,
                    _C_PAYEE_COUNT,
                    _C_LAST_PAYEE,
                    shr(96, calldataload(add(o, 21)))
                )
                let at := add(mload(add(c, _C_PAYEE_AMOUNTS)), shl(5, payee))
                mstore(at, add(mload(at), valueIncrease))
                let feeIndex := indexOf(
                    c,
                    _C_FEES,
                    _C_FEE_COUNT,
                    _C_LAST_FEE,
                    mload(add(c, _C_LAST_FEE_RECIPIENT))
                )
                at := add(mload(add(c, _C_FEE_AMOUNTS)), shl(5, feeIndex))
                mstore(at, add(mload(at), feeIncrease))
                mstore(
                    add(mload(add(c, _C_INCREASES)), shl(5, i)),
                    or(valueIncrease, shl(128, feeIncrease))
                )
                mstore(
                    add(mload(add(c, _C_META)), shl(5, i)),
                    or(relative, or(shl(64, payee), shl(128, feeIndex)))
                )
            }

            // Records a rejected voucher's status and emits VoucherRejected.
            function onRejected(o, i, c, status) {
                mstore8(add(add(mload(add(c, _C_RESULTS)), 0x20), i), status)
                mstore(0x00, status)
                log4(
                    0x00,
                    0x20,
                    mload(add(c, _C_REJECTED_TOPIC)),
                    i,
                    shr(96, calldataload(add(o, 1))),
                    shr(96, calldataload(add(o, 21)))
                )
            }

            let o := items.offset
            for {
                let i := 0
            } lt(i, count) {
                i := add(i, 1)
            } {
                let status, valueIncrease, feeIncrease := clearOne(o, token, m)
                switch status
                case 0 {
                    onCleared(o, i, m, valueIncrease, feeIncrease, sub(o, items.offset))
                }
                default {
                    onRejected(o, i, m, status)
                }
                switch byte(0, calldataload(o))
                case 0 {
                    o := add(o, 157)
                }
                default {
                    o := add(o, add(95, shr(240, calldataload(add(o, 93)))))
                }
            }
        }
        _payOut(token, items, results, m);
        emit VouchersCleared(token, results);
    }

    /// @dev Allocates {clear}'s context: the tables for `count` items and scratch space for the
    /// largest call it makes (an ERC-1271 check of up to 2^16 - 1 signature bytes is paid for by
    /// the calldata that carries it, so only the space actually used is expanded).
    function _clearContext(uint256 count, bytes memory results) internal view returns (uint256 m) {
        bytes32 domain = _domainSeparatorV4();
        bytes32 typehash = VOUCHER_TYPEHASH;
        bytes32 rejectedTopic = VoucherRejected.selector;
        uint256[] memory increases = new uint256[](count);
        uint256[] memory meta = new uint256[](count);
        uint256[] memory payees = new uint256[](count);
        uint256[] memory payeeAmounts = new uint256[](count);
        uint256[] memory fees = new uint256[](count);
        uint256[] memory feeAmounts = new uint256[](count);
        assembly ("memory-safe") {
            m := mload(0x40)
            mstore(add(m, _C_INCREASES), add(increases, 0x20))
            mstore(add(m, _C_META), add(meta, 0x20))
            mstore(add(m, _C_PAYEES), add(payees, 0x20))
            mstore(add(m, _C_PAYEE_AMOUNTS), add(payeeAmounts, 0x20))
            mstore(add(m, _C_PAYEE_COUNT), 0)
            mstore(add(m, _C_FEES), add(fees, 0x20))
            mstore(add(m, _C_FEE_AMOUNTS), add(feeAmounts, 0x20))
            mstore(add(m, _C_FEE_COUNT), 0)
            // No address equals these, so the first lookups miss the caches.
            mstore(add(m, _C_LAST_OPERATOR), not(0))
            mstore(add(m, _C_LAST_FEE_RECIPIENT), 0)
            mstore(add(m, _C_LAST_PAYEE), not(0))
            mstore(add(m, _C_LAST_FEE), not(0))
            mstore(add(m, _C_DOMAIN), domain)
            mstore(add(m, _C_TYPEHASH), typehash)
            mstore(add(m, _C_REJECTED_TOPIC), rejectedTopic)
            mstore(add(m, _C_RESULTS), results)
            // The context and a scratch area that the loop reuses for every item.
            mstore(0x40, add(m, add(_C_SCRATCH, 0x120)))
        }
    }

    /// @dev Pays each distinct payee, undoing a payee's items when its payout fails (newest
    /// first), then each distinct fee recipient.
    function _payOut(
        address token,
        bytes calldata items,
        bytes memory results,
        uint256 m
    ) internal {
        uint256 payeeCount;
        uint256 feeCount;
        assembly ("memory-safe") {
            payeeCount := mload(add(m, _C_PAYEE_COUNT))
            feeCount := mload(add(m, _C_FEE_COUNT))
        }
        for (uint256 p = 0; p < payeeCount; ++p) {
            (address payee, uint256 amount) = _tableEntry(m, _C_PAYEES, _C_PAYEE_AMOUNTS, p);
            if (amount == 0 || IERC20(token).trySafeTransfer(payee, amount)) continue;
            _undoPayee(token, items, results, m, p);
        }
        for (uint256 k = 0; k < feeCount; ++k) {
            (address recipient, uint256 amount) = _tableEntry(m, _C_FEES, _C_FEE_AMOUNTS, k);
            if (amount == 0) continue;
            require(
                IERC20(token).trySafeTransfer(recipient, amount),
                ClearingHouseFeePayoutFailed(recipient, amount)
            );
        }
    }

    /// @dev Entry `k` of a recipients table and its amount.
    function _tableEntry(
        uint256 m,
        uint256 table,
        uint256 amounts,
        uint256 k
    ) internal pure returns (address recipient, uint256 amount) {
        assembly ("memory-safe") {
            recipient := mload(add(mload(add(m, table)), shl(5, k)))
            amount := mload(add(mload(add(m, amounts)), shl(5, k)))
        }
    }

    /// @dev Undoes every cleared item paying payee `p`, newest first, and reports it PayoutFailed.
    function _undoPayee(
        address token,
        bytes calldata items,
        bytes memory results,
        uint256 m,
        uint256 p
    ) internal {
        for (uint256 j = results.length; j > 0; --j) {
            uint256 i = j - 1;
            if (uint8(results[i]) != uint8(ClearStatus.Cleared)) continue;
            uint256 increases;
            uint256 meta;
            assembly ("memory-safe") {
                increases := mload(add(mload(add(m, _C_INCREASES)), shl(5, i)))
                meta := mload(add(mload(add(m, _C_META)), shl(5, i)))
            }
            if (uint64(meta >> 64) != p) continue;
            _undoItem(token, items[uint64(meta):], m, increases, uint64(meta >> 128));
            results[i] = bytes1(uint8(ClearStatus.PayoutFailed));
            emit VoucherRejected(
                i,
                address(bytes20(items[uint64(meta) + 1:uint64(meta) + 21])),
                address(bytes20(items[uint64(meta) + 21:uint64(meta) + 41])),
                ClearStatus.PayoutFailed
            );
        }
    }

    /// @dev Restores what clearing `item` changed: the pair's totals, the payer's balance and the
    /// netted fee.
    function _undoItem(
        address token,
        bytes calldata item,
        uint256 m,
        uint256 increases,
        uint256 feeIndex
    ) internal {
        uint128 valueIncrease = uint128(increases);
        uint128 feeIncrease = uint128(increases >> 128);
        PairSlot storage pair = _pairs[_itemPairKey(token, item)];
        // Cannot underflow or overflow: restores exactly what this call changed.
        unchecked {
            pair.value -= valueIncrease;
            pair.fee -= feeIncrease;
            _accounts[_itemAccountKey(token, item)].balance += uint80(
                uint256(valueIncrease) + feeIncrease
            );
        }
        assembly ("memory-safe") {
            let at := add(mload(add(m, _C_FEE_AMOUNTS)), shl(5, feeIndex))
            mstore(at, sub(mload(at), feeIncrease))
        }
    }

    /// @dev The pair key of a packed voucher.
    function _itemPairKey(address token, bytes calldata item) internal pure returns (bytes32) {
        return
            _pairKey(
                address(bytes20(item[1:21])),
                address(bytes20(item[21:41])),
                address(bytes20(item[41:61])),
                token
            );
    }

    /// @dev The account key of a packed voucher.
    function _itemAccountKey(address token, bytes calldata item) internal pure returns (bytes32) {
        return _accountKey(address(bytes20(item[1:21])), address(bytes20(item[41:61])), token);
    }

    /// @dev The number of vouchers in `items`; reverts with {ClearingHouseMalformedItems} (the
    /// offending item's offset, or the end of the last item when it overruns) when malformed.
    function _countVouchers(bytes calldata items) internal pure returns (uint256 count) {
        bytes4 malformed = ClearingHouseMalformedItems.selector;
        assembly ("memory-safe") {
            let start := items.offset
            let end := add(start, items.length)
            let o := start
            let bad := 0
            for {} lt(o, end) {} {
                if gt(add(o, VOUCHER_HEADER), end) {
                    bad := 1
                    break
                }
                let flags := byte(0, calldataload(o))
                if iszero(flags) {
                    o := add(o, VOUCHER_EOA_SIZE)
                    count := add(count, 1)
                    continue
                }
                if or(
                    iszero(eq(flags, CONTRACT_SIGNATURE)),
                    gt(add(o, add(VOUCHER_HEADER, 2)), end)
                ) {
                    bad := 1
                    break
                }
                o := add(
                    o,
                    add(add(VOUCHER_HEADER, 2), shr(240, calldataload(add(o, VOUCHER_HEADER))))
                )
                count := add(count, 1)
            }
            if or(bad, iszero(eq(o, end))) {
                mstore(0x00, malformed)
                mstore(0x04, sub(o, start))
                revert(0x00, 0x24)
            }
        }
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
