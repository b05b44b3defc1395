// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title IClearingHouse
/// @notice Deposit once, pay any payee with off-chain cumulative vouchers, clear in netted
/// batches. Permissionless, no admin, not upgradable, any number of tokens.
///
/// ## Vocabulary
/// - An **operator** (the facilitator that clears) registers its fee recipient and its withdrawal
///   delay with {registerOperator}.
/// - An **account** is (payer, operator, token): a balance, an optional voucher signer (a session
///   key the payer names) and at most one pending withdrawal. It keeps the withdrawal delay its
///   operator had at the account's first deposit.
/// - A **pair** is (payer, payee, operator, token): the cumulative value and fee cleared so far.
/// - A **voucher** is EIP-712 typed data under this contract's domain
///   (`name` "x402 ClearingHouse", `version` "1", chain id, this address):
///   `Voucher(address payer,address payee,address token,address operator,uint128 cumulativeValue,`
///   `uint128 cumulativeFee)`.
///   `cumulativeValue` is everything the payer has agreed to pay `payee` through `operator` in
///   `token`; `cumulativeFee` everything it has agreed to pay the operator for that pair, on top.
///   A later voucher supersedes an earlier one: clearing it moves only the increase over the pair's
///   cleared totals, `value increase` to the payee and `fee increase` to the operator's fee
///   recipient, both from the payer's balance. It is signed by the payer or by the account's
///   voucher signer, with ECDSA (low s only) or ERC-1271.
///
/// ## Packed vouchers ({clear})
/// `items` is a concatenation of packed vouchers, big-endian, without padding:
///
/// | offset | size | field                                                       |
/// |-------:|-----:|-------------------------------------------------------------|
/// |      0 |    1 | flags: bit 0 `CONTRACT_SIGNATURE`; bits 1..7 zero           |
/// |      1 |   20 | `payer`                                                     |
/// |     21 |   20 | `payee`                                                     |
/// |     41 |   20 | `operator`                                                  |
/// |     61 |   16 | `cumulativeValue` (uint128)                                 |
/// |     77 |   16 | `cumulativeFee` (uint128)                                   |
/// |     93 |   64 | `CONTRACT_SIGNATURE` unset: `r` ‖ `yParityAndS` (EIP-2098)   |
/// |     93 |  2+n | `CONTRACT_SIGNATURE` set: uint16 `n`, then `n` signature bytes |
///
/// An EOA-signed voucher is 157 bytes. In the compact signature the top bit of the second word is
/// the y parity and the other 255 bits are `s`; `s` above n/2 is rejected. A contract signature's
/// `n` bytes go unchanged to `isValidSignature` of the payer, then of the voucher signer.
///
/// ## Packed deposits ({depositWithAuthorizations})
/// Each item is 184 bytes, big-endian, without padding:
///
/// | offset | size | field                                                  |
/// |-------:|-----:|--------------------------------------------------------|
/// |      0 |   20 | `payer`: the EIP-3009 `from`                           |
/// |     20 |   20 | `operator`                                             |
/// |     40 |   20 | `signer`: the voucher signer, zero for none            |
/// |     60 |   16 | `value` (uint128)                                      |
/// |     76 |    6 | `validAfter` (uint48)                                  |
/// |     82 |    6 | `validBefore` (uint48)                                 |
/// |     88 |   32 | `salt`                                                 |
/// |    120 |   64 | `r` ‖ `yParityAndS` (EIP-2098 compact)                 |
///
/// The payer signed `ReceiveWithAuthorization` with `to` = this contract and
/// `nonce = depositNonce(operator, signer, salt)`, so nobody can credit the deposit to another
/// operator or name another voucher signer, and only this contract can execute it.
///
/// ## Packed Permit2 deposits ({depositWithPermit2})
/// For tokens without EIP-3009 (USDT and most ERC-20s): the payer approved Permit2 once, then
/// signs, per deposit, Permit2's `PermitWitnessTransferFrom` with `spender` = this contract,
/// `permitted` = (the batch's token, `amount`) and the witness
/// `ClearingDeposit(address operator,address voucherSigner)`, so nobody can credit the deposit to
/// another operator, name another voucher signer, or have another contract pull it. Each item is
/// 178 bytes, big-endian, without padding:
///
/// | offset | size | field                                                  |
/// |-------:|-----:|--------------------------------------------------------|
/// |      0 |   20 | `payer`: the permit's owner                            |
/// |     20 |   20 | `operator`                                             |
/// |     40 |   20 | `signer`: the voucher signer, zero for none            |
/// |     60 |   16 | `amount` (uint128)                                     |
/// |     76 |   32 | `nonce`: Permit2's unordered nonce (uint256)           |
/// |    108 |    6 | `deadline` (uint48)                                    |
/// |    114 |   64 | `r` ‖ `yParityAndS` (EIP-2098 compact)                 |
///
/// The account is credited with what this contract's balance grew by during the item's transfer
/// (Permit2's transfer accepts a token call that returns nothing, and a token whose failing
/// transfer returns nothing would move nothing): an item that moved nothing is
/// {DepositStatus.NothingReceived}.
///
/// ## Batch failure policy
/// - One item never reverts the batch. Each ends in exactly one status, returned at its index (one
///   byte per item) and emitted in the call's one {VouchersCleared} or {DepositsProcessed} event;
///   every failed item also gets one {VoucherRejected} or {DepositFailed} event. A cleared voucher
///   gets no event of its own (the payouts' `Transfer` events and {getCleared} show it), nor does
///   an executed deposit (the token's `AuthorizationUsed` and `Transfer` do).
/// - A rejected voucher or deposit moves nothing and changes no state.
/// - Clearing checks, in this order: the operator is registered; neither cumulative is lower than
///   the pair's cleared total; at least one is higher; the increase fits the payer's balance; the
///   signature. The first check that fails gives the status. Items are processed in order, so an
///   item sees the balance and the pair totals left by the items before it.
/// - Payouts are netted: after all items, one transfer per distinct payee, then one per distinct
///   fee recipient. When a payee's transfer fails (a blacklisted payee), every item paying it is
///   undone and reported {ClearStatus.PayoutFailed}. When a fee recipient's transfer fails, the
///   whole call reverts ({ClearingHouseFeePayoutFailed}): an operator's misconfiguration, not a
///   payer's.
/// - The whole call reverts, as a submitter error, only for malformed items, a token without code,
///   a failed fee payout, an EIP-3009 (or Permit2) call that failed with too little gas left to be
///   judged, Permit2 missing, or reentrancy.
interface IClearingHouse {
    /// @notice The outcome of one voucher in {clear}.
    enum ClearStatus {
        /// The increase moved and the pair's totals were recorded.
        Cleared,
        /// The voucher's operator has not registered.
        UnknownOperator,
        /// A cumulative is lower than what the pair has already cleared.
        CumulativeDecreased,
        /// Both cumulatives equal what the pair has already cleared: nothing to move (a replay).
        AlreadyCleared,
        /// The increase (value plus fee) is larger than the payer's balance.
        InsufficientBalance,
        /// Neither the payer nor the account's voucher signer signed this voucher.
        InvalidSignature,
        /// The netted payout to the payee failed; the payee's items were undone.
        PayoutFailed
    }

    /// @notice The outcome of one item in {depositWithAuthorizations} or {depositWithPermit2}.
    enum DepositStatus {
        /// The authorization was executed and the account credited.
        Deposited,
        /// The operator has not registered.
        UnknownOperator,
        /// The account holds funds (or a pending withdrawal) under another voucher signer.
        SignerMismatch,
        /// The credit would take the account's balance above {MAX_BALANCE}.
        BalanceOverflow,
        /// The token rejected the authorization (used nonce, expired, bad signature, balance...):
        /// see the event's `reason`. For a Permit2 deposit: Permit2 or the token rejected the
        /// transfer (used nonce, expired deadline, bad signature, allowance, balance, blacklist...).
        AuthorizationFailed,
        /// A Permit2 deposit's transfer succeeded but this contract received nothing: nothing was
        /// credited (the payer's Permit2 nonce is spent).
        NothingReceived
    }

    /// @notice An operator's registration.
    struct Operator {
        /// Receives the fees of the operator's vouchers; zero: not registered.
        address feeRecipient;
        /// Seconds between a withdrawal request and its completion for accounts opened from now on.
        uint32 withdrawalDelay;
    }

    /// @notice An account's state, as {getAccount} returns it.
    struct Account {
        /// What the payer can still be charged, in token units.
        uint256 balance;
        /// The session key that may sign vouchers beside the payer; zero: none.
        address voucherSigner;
        /// Seconds between a withdrawal request and its completion; zero: never deposited.
        uint32 withdrawalDelay;
        /// The pending withdrawal's amount (the most it will pay out); zero when none.
        uint256 withdrawalAmount;
        /// When the pending withdrawal may complete; zero when none.
        uint48 withdrawalReadyAt;
    }

    /// @notice An operator-signed cooperative release (EIP-712 `Release(address payer,address
    /// operator,address token,uint128 amount,bytes32 salt,uint48 deadline)`): pays `amount` of the
    /// account's balance to the payer at once. Usable once.
    struct Release {
        address payer;
        address operator;
        address token;
        uint128 amount;
        bytes32 salt;
        uint48 deadline;
    }

    /// @notice `operator` registered or updated its fee recipient and withdrawal delay.
    event OperatorRegistered(
        address indexed operator,
        address indexed feeRecipient,
        uint32 withdrawalDelay
    );

    /// @notice `amount` was credited to the account (payer, operator, token) by {deposit}. An
    /// EIP-3009 deposit gets no event of its own (the token's `AuthorizationUsed` and `Transfer`,
    /// and {DepositsProcessed}, announce it): it would cost about 2,500 gas per deposit.
    event Deposited(
        address indexed payer,
        address indexed operator,
        address indexed token,
        uint256 amount,
        address voucherSigner
    );

    /// @notice One per {depositWithAuthorizations} or {depositWithPermit2} call: `results[i]` is
    /// `uint8(DepositStatus)`.
    event DepositsProcessed(address indexed token, bytes results);

    /// @notice Deposit item `index` failed with `status`; `reason` holds the first
    /// {MAX_REASON_LENGTH} bytes of the token's (or Permit2's) revert data (empty when neither was
    /// called).
    event DepositFailed(
        uint256 indexed index,
        address indexed payer,
        DepositStatus status,
        bytes reason
    );

    /// @notice One per {clear} call: `results[i]` is `uint8(ClearStatus)` of voucher `i`.
    event VouchersCleared(address indexed token, bytes results);

    /// @notice Voucher `index` of a {clear} call was rejected with `status`.
    event VoucherRejected(
        uint256 indexed index,
        address indexed payer,
        address indexed payee,
        ClearStatus status
    );

    /// @notice The payer asked to withdraw up to `amount`, possible from `readyAt` on.
    event WithdrawalRequested(
        address indexed payer,
        address indexed operator,
        address indexed token,
        uint256 amount,
        uint48 readyAt
    );

    /// @notice `amount` left the account for its payer (a completed withdrawal or a release).
    event Withdrawn(
        address indexed payer,
        address indexed operator,
        address indexed token,
        uint256 amount
    );

    /// @notice The operator's release with EIP-712 struct hash `releaseHash` was used.
    event ReleaseUsed(bytes32 indexed releaseHash);

    /// @notice The withdrawal delay is not a whole number of minutes in [15 minutes, 30 days].
    error ClearingHouseInvalidWithdrawalDelay(uint256 delay);

    /// @notice The fee recipient is the zero address.
    error ClearingHouseInvalidFeeRecipient();

    /// @notice `operator` has not registered.
    error ClearingHouseUnknownOperator(address operator);

    /// @notice `token` has no code, so calls to it would succeed without moving funds.
    error ClearingHouseTokenHasNoCode(address token);

    /// @notice A deposit would name a voucher signer other than the account's `current` one while
    /// the account holds funds or a pending withdrawal.
    error ClearingHouseSignerMismatch(address current, address requested);

    /// @notice The credit would take the balance above {MAX_BALANCE}.
    error ClearingHouseBalanceOverflow(uint256 balance, uint256 credit);

    /// @notice An EIP-3009 deposit batch credited `credited` but the contract's balance grew by
    /// `received`: the token did not move what its calls reported.
    error ClearingHouseBalanceMismatch(uint256 credited, uint256 received);

    /// @notice Permit2 has no code at its canonical address on this chain.
    error ClearingHouseNoPermit2();

    /// @notice `items` is truncated, or an item's flags set unknown bits; `offset` is the byte
    /// offset of the offending item.
    error ClearingHouseMalformedItems(uint256 offset);

    /// @notice Deposit item `index`'s token call failed with too little gas left to tell a genuine
    /// failure from one caused by the 63/64 rule: the submitter must raise the gas limit.
    error ClearingHouseInsufficientGas(uint256 index);

    /// @notice The netted fees `amount` could not be transferred to `feeRecipient`.
    error ClearingHouseFeePayoutFailed(address feeRecipient, uint256 amount);

    /// @notice The account (msg.sender, operator, token) has no pending withdrawal.
    error ClearingHouseNoPendingWithdrawal();

    /// @notice The pending withdrawal completes at `readyAt`, not before.
    error ClearingHouseWithdrawalNotReady(uint48 readyAt);

    /// @notice The account has never received a deposit.
    error ClearingHouseUnknownAccount();

    /// @notice The release's deadline has passed.
    error ClearingHouseReleaseExpired(uint48 deadline);

    /// @notice The release was already used.
    error ClearingHouseReleaseUsed(bytes32 releaseHash);

    /// @notice The release is not signed by its operator.
    error ClearingHouseInvalidReleaseSignature();

    /// @notice The release's `amount` is larger than the account's `balance`.
    error ClearingHouseInsufficientBalance(uint256 balance, uint256 amount);

    /// @notice Registers (or updates) msg.sender as an operator. A new delay applies to accounts
    /// opened afterwards; an account keeps the delay it had at its first deposit.
    /// @param feeRecipient Receives the fees of the operator's vouchers; not zero.
    /// @param withdrawalDelay A whole number of minutes, from 15 minutes to 30 days, in seconds.
    function registerOperator(address feeRecipient, uint32 withdrawalDelay) external;

    /// @notice Credits msg.sender's account (msg.sender, operator, token) with what this contract
    /// received from `token.transferFrom(msg.sender, this, amount)` (its balance increase, so
    /// tokens that take a fee on transfer credit what arrived). Works with tokens that return
    /// nothing. Reverts with {ClearingHouseSignerMismatch} when the account holds funds or a
    /// pending withdrawal under another voucher signer; an empty account takes `voucherSigner`.
    function deposit(
        address operator,
        address token,
        uint256 amount,
        address voucherSigner
    ) external;

    /// @notice Executes the packed EIP-3009 deposit authorizations in `items` (layout above) on
    /// `token`, each in isolation, and credits each to its account.
    /// @return results One byte per item: `uint8(DepositStatus)`, in item order.
    function depositWithAuthorizations(
        address token,
        bytes calldata items
    ) external returns (bytes memory results);

    /// @notice Executes the packed Permit2 deposits in `items` (layout above) on `token`, each in
    /// isolation through Permit2's `permitWitnessTransferFrom`, and credits each account with what
    /// arrived. Reverts only for malformed items, a token without code, no Permit2, a Permit2 call
    /// that failed with too little gas left to be judged, a credit above {MAX_BALANCE} made by a
    /// token that moved more than permitted, a token under which this contract's balance fell
    /// during a transfer (a panic), or reentrancy.
    /// @return results One byte per item: `uint8(DepositStatus)`, in item order.
    function depositWithPermit2(
        address token,
        bytes calldata items
    ) external returns (bytes memory results);

    /// @notice The witness hash of a Permit2 deposit: `keccak256(abi.encode(typehash, operator,
    /// voucherSigner))` with `typehash = keccak256("ClearingDeposit(address operator,address voucherSigner)")`.
    function permit2DepositWitness(
        address operator,
        address voucherSigner
    ) external pure returns (bytes32);

    /// @notice Uniswap's Permit2, at its canonical address.
    function PERMIT2() external view returns (address);

    /// @notice Clears the packed vouchers in `items` (layout above) on `token`; callable by anyone.
    /// @return results One byte per voucher: `uint8(ClearStatus)`, in item order.
    function clear(address token, bytes calldata items) external returns (bytes memory results);

    /// @notice Asks to withdraw up to `amount` from msg.sender's account; it can complete once the
    /// account's delay has passed. Replaces any pending request (and restarts its delay).
    function requestWithdrawal(address operator, address token, uint128 amount) external;

    /// @notice Completes msg.sender's pending withdrawal: pays the smaller of its amount and the
    /// balance left after clearing, and ends the request.
    /// @return amount What was paid out.
    function withdraw(address operator, address token) external returns (uint256 amount);

    /// @notice Pays `release.amount` of the account's balance to `release.payer` at once, when the
    /// operator signed the release (ECDSA or ERC-1271). Relayable by anyone; each release works once.
    function withdrawWithRelease(Release calldata release, bytes calldata signature) external;

    /// @notice The nonce of a deposit authorization: `keccak256(abi.encode(operator, voucherSigner, salt))`.
    function depositNonce(
        address operator,
        address voucherSigner,
        bytes32 salt
    ) external pure returns (bytes32);

    /// @notice The EIP-712 digest a voucher's signer signs.
    function voucherDigest(
        address payer,
        address payee,
        address token,
        address operator,
        uint128 cumulativeValue,
        uint128 cumulativeFee
    ) external view returns (bytes32);

    /// @notice The EIP-712 digest of a release, and its struct hash (the key marking it used).
    function releaseDigest(
        Release calldata release
    ) external view returns (bytes32 digest, bytes32 structHash);

    /// @notice The registration of `operator` (zero fee recipient: not registered).
    function getOperator(address operator) external view returns (Operator memory);

    /// @notice The account (payer, operator, token).
    function getAccount(
        address payer,
        address operator,
        address token
    ) external view returns (Account memory);

    /// @notice The pair's cleared totals.
    function getCleared(
        address payer,
        address payee,
        address operator,
        address token
    ) external view returns (uint128 cumulativeValue, uint128 cumulativeFee);

    /// @notice Whether the release with struct hash `releaseHash` was used.
    function releaseUsed(bytes32 releaseHash) external view returns (bool);

    /// @notice The largest balance an account can hold: 2^80 - 1 token units.
    function MAX_BALANCE() external view returns (uint256);

    /// @notice The most gas one EIP-3009 call or one ERC-1271 check may consume.
    function ITEM_GAS_LIMIT() external view returns (uint256);

    /// @notice The most bytes of a failing token call's revert data copied into {DepositFailed}.
    function MAX_REASON_LENGTH() external view returns (uint256);
}
