// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {ClearingHouse} from "../../clearing/ClearingHouse.sol";
import {IClearingHouse} from "../../interfaces/IClearingHouse.sol";
import {X402TestToken} from "../../token/X402TestToken.sol";
import {vm} from "../utils/Vm.sol";
import {TestUtils} from "../utils/TestUtils.sol";
import {ClearingItems} from "./ClearingItems.sol";
import {
    BrokenOverdraft,
    BrokenRecordsLowerCumulative,
    BrokenSkipsSignature,
    BrokenWithdrawKeepsBalance
} from "./broken/ClearingHouseBrokenVariants.sol";

/**
 * @dev Drives a ClearingHouse with random deposits (plain, EIP-3009 and Permit2), voucher batches,
 * withdrawal requests, withdrawals, cooperative releases and clock moves, and models the expected
 * outcome of every call from its own ghost state: balances, cleared totals, the highest totals
 * each payer signed, deposits and withdrawals. It never trusts the house's report: statuses are
 * compared with the model's, withdrawals are measured on the payer's token balance.
 */
contract ClearingHouseHandler {
    uint256 public constant PAYERS = 3;
    uint256 public constant PAYEES = 3;
    uint256 public constant OPERATORS = 3; // the last one never registers

    IClearingHouse public immutable house;
    X402TestToken public immutable token;

    uint256[PAYERS] internal keys;
    address[PAYERS] public payers;
    uint256[PAYERS] internal sessionKeys;
    address[PAYERS] public signers;
    address[PAYEES] public payees;
    uint256[OPERATORS] internal operatorKeys;
    address[OPERATORS] public operators;
    address[OPERATORS] public feeRecipients;

    struct Totals {
        uint128 value;
        uint128 fee;
    }

    // Ghost state, indexed [payer][operator] or [payer][payee][operator].
    uint256[OPERATORS][PAYERS] public ghostBalance;
    uint256[OPERATORS][PAYERS] public deposited;
    uint256[OPERATORS][PAYERS] public withdrawn;
    uint256[OPERATORS][PAYERS] internal pendingAmount;
    uint256[OPERATORS][PAYERS] internal pendingReadyAt;
    Totals[OPERATORS][PAYEES][PAYERS] internal ghostCleared;
    Totals[OPERATORS][PAYEES][PAYERS] internal signedMax;
    Totals[OPERATORS][PAYEES][PAYERS] internal lastSeen;
    bool[OPERATORS][PAYERS] internal opened;
    uint256 internal saltCounter;
    uint256 internal permit2NonceCounter;
    bytes32[] internal usedReleases;

    /// @notice Calls whose outcome differed from the model (status, revert, amount).
    uint256 public mismatches;
    /// @notice Observations of a pair's cleared total lower than seen before.
    uint256 public decreases;

    constructor(IClearingHouse house_, X402TestToken token_) {
        house = house_;
        token = token_;
        for (uint256 i = 0; i < PAYERS; ++i) {
            keys[i] = uint256(keccak256(abi.encode("invariant payer", i))) >> 8;
            payers[i] = vm.addr(keys[i]);
            sessionKeys[i] = uint256(keccak256(abi.encode("invariant session", i))) >> 8;
            if (i < 2) signers[i] = vm.addr(sessionKeys[i]);
        }
        for (uint256 i = 0; i < PAYEES; ++i) {
            payees[i] = address(uint160(uint256(keccak256(abi.encode("invariant payee", i)))));
        }
        for (uint256 k = 0; k < OPERATORS; ++k) {
            operatorKeys[k] = uint256(keccak256(abi.encode("invariant operator", k))) >> 8;
            operators[k] = vm.addr(operatorKeys[k]);
            feeRecipients[k] = address(uint160(uint256(keccak256(abi.encode("fee", k)))));
        }
    }

    /// @notice Registers the first two operators (called once by the test's setUp).
    function registerOperators() external {
        for (uint256 k = 0; k + 1 < OPERATORS; ++k) {
            vm.prank(operators[k]);
            house.registerOperator(feeRecipients[k], uint32(15 minutes + k * 45 minutes));
        }
    }

    function _delay(uint256 k) internal pure returns (uint256) {
        return 15 minutes + k * 45 minutes;
    }

    function _miss() internal {
        ++mismatches;
    }

    // ------------------------------------------------------------------ deposits

    /// @notice A plain deposit through transferFrom into (payer, operator).
    function deposit(uint256 seed) external {
        uint256 p = seed % PAYERS;
        uint256 k = (seed >> 8) % 2;
        uint256 amount = TestUtils.bound(seed >> 16, 0, token.balanceOf(payers[p]) / 4);
        vm.prank(payers[p]);
        try house.deposit(operators[k], address(token), amount, signers[p]) {
            ghostBalance[p][k] += amount;
            deposited[p][k] += amount;
            opened[p][k] = true;
        } catch {
            _miss();
        }
    }

    /// @notice A batch of EIP-3009 deposits, some to the unregistered operator, some reusing a
    /// nonce, some above the payer's token balance.
    function depositWithAuthorizations(uint256 seed, uint256 count) external {
        count = TestUtils.bound(count, 1, 3);
        bytes memory items;
        uint8[] memory expected = new uint8[](count);
        uint256[] memory spent = new uint256[](PAYERS);
        uint256 batchStart = saltCounter;
        for (uint256 i = 0; i < count; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, i)));
            ClearingItems.Deposit memory d;
            uint256 p = r % PAYERS;
            uint256 k = (r >> 8) % 4 == 0 ? 2 : (r >> 10) % 2;
            d.payer = payers[p];
            d.operator = operators[k];
            d.signer = signers[p];
            uint256 available = token.balanceOf(payers[p]) - spent[p];
            d.value =
                (r >> 16) % 8 == 0
                    ? uint128(available + 1)
                    : uint128(TestUtils.bound(r >> 24, 0, available / 4));
            d.validBefore = uint48(block.timestamp + 1 hours);
            // Sometimes an authorization already executed: it must fail on the token.
            d.salt = bytes32(saltCounter++);
            if ((r >> 64) % 6 == 0 && batchStart > 0) {
                bytes32 old = bytes32((r >> 72) % batchStart);
                if (
                    token.authorizationState(
                        payers[p],
                        ClearingItems.depositNonce(d.operator, d.signer, old)
                    )
                ) d.salt = old;
            }
            (uint8 v, bytes32 rr, bytes32 ss) = vm.sign(
                keys[p],
                ClearingItems.depositDigest(token.DOMAIN_SEPARATOR(), address(house), d)
            );
            items = bytes.concat(
                items,
                ClearingItems.packDeposit(d, ClearingItems.compact(v, rr, ss))
            );
            if (k == 2) {
                expected[i] = uint8(IClearingHouse.DepositStatus.UnknownOperator);
            } else if (uint256(d.salt) < batchStart || d.value > available) {
                expected[i] = uint8(IClearingHouse.DepositStatus.AuthorizationFailed);
            } else {
                expected[i] = uint8(IClearingHouse.DepositStatus.Deposited);
                spent[p] += d.value;
            }
        }
        try house.depositWithAuthorizations(address(token), items) returns (bytes memory results) {
            if (results.length != count) return _miss();
            for (uint256 i = 0; i < count; ++i) {
                uint256 r = uint256(keccak256(abi.encode(seed, i)));
                uint256 p = r % PAYERS;
                uint256 k = (r >> 8) % 4 == 0 ? 2 : (r >> 10) % 2;
                if (uint8(results[i]) != expected[i]) {
                    _miss();
                    continue;
                }
                if (expected[i] == uint8(IClearingHouse.DepositStatus.Deposited)) {
                    uint256 value = _depositValue(items, i);
                    ghostBalance[p][k] += value;
                    deposited[p][k] += value;
                    opened[p][k] = true;
                }
            }
        } catch {
            _miss();
        }
    }

    /// @notice A batch of Permit2 deposits, some to the unregistered operator, some reusing a
    /// Permit2 nonce already spent, some above the payer's token balance.
    function depositWithPermit2(uint256 seed, uint256 count) external {
        count = TestUtils.bound(count, 1, 3);
        bytes memory items;
        uint8[] memory expected = new uint8[](count);
        uint256[] memory spent = new uint256[](PAYERS);
        uint256 batchStart = permit2NonceCounter;
        for (uint256 i = 0; i < count; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, i, "permit2")));
            ClearingItems.Permit2Deposit memory d;
            uint256 p = r % PAYERS;
            uint256 k = (r >> 8) % 4 == 0 ? 2 : (r >> 10) % 2;
            d.payer = payers[p];
            d.operator = operators[k];
            d.signer = signers[p];
            uint256 available = token.balanceOf(payers[p]) - spent[p];
            d.amount =
                (r >> 16) % 8 == 0
                    ? uint128(available + 1)
                    : uint128(TestUtils.bound(r >> 24, 0, available / 4));
            d.deadline = uint48(block.timestamp + 1 hours);
            d.nonce = permit2NonceCounter++;
            bool reused;
            if ((r >> 64) % 6 == 0 && batchStart > 0) {
                uint256 old = (r >> 72) % batchStart;
                if (ClearingItems.permit2NonceUsed(payers[p], old)) {
                    d.nonce = old;
                    reused = true;
                }
            }
            (uint8 v, bytes32 rr, bytes32 ss) = vm.sign(
                keys[p],
                ClearingItems.permit2DepositDigest(address(token), address(house), d)
            );
            items = bytes.concat(
                items,
                ClearingItems.packPermit2Deposit(d, ClearingItems.compact(v, rr, ss))
            );
            if (k == 2) {
                expected[i] = uint8(IClearingHouse.DepositStatus.UnknownOperator);
            } else if (reused || d.amount > available || d.amount == 0) {
                expected[i] =
                    d.amount == 0 && !reused && d.amount <= available
                        ? uint8(IClearingHouse.DepositStatus.NothingReceived)
                        : uint8(IClearingHouse.DepositStatus.AuthorizationFailed);
            } else {
                expected[i] = uint8(IClearingHouse.DepositStatus.Deposited);
                spent[p] += d.amount;
            }
        }
        try house.depositWithPermit2(address(token), items) returns (bytes memory results) {
            if (results.length != count) return _miss();
            for (uint256 i = 0; i < count; ++i) {
                uint256 r = uint256(keccak256(abi.encode(seed, i, "permit2")));
                uint256 p = r % PAYERS;
                uint256 k = (r >> 8) % 4 == 0 ? 2 : (r >> 10) % 2;
                if (uint8(results[i]) != expected[i]) {
                    _miss();
                    continue;
                }
                if (expected[i] == uint8(IClearingHouse.DepositStatus.Deposited)) {
                    uint256 value = _permit2DepositAmount(items, i);
                    ghostBalance[p][k] += value;
                    deposited[p][k] += value;
                    opened[p][k] = true;
                }
            }
        } catch {
            _miss();
        }
    }

    function _permit2DepositAmount(
        bytes memory items,
        uint256 i
    ) internal pure returns (uint256 value) {
        uint256 o = i * 178 + 60;
        assembly ("memory-safe") {
            value := shr(128, mload(add(add(items, 0x20), o)))
        }
    }

    function _depositValue(bytes memory items, uint256 i) internal pure returns (uint256 value) {
        uint256 o = i * 184 + 60;
        assembly ("memory-safe") {
            value := shr(128, mload(add(add(items, 0x20), o)))
        }
    }

    // ------------------------------------------------------------------ clearing

    struct Item {
        uint256 p;
        uint256 q;
        uint256 k;
        uint128 value;
        uint128 fee;
        bool legit;
    }

    function _item(uint256 r) internal returns (Item memory it, bytes memory packed) {
        it.p = r % PAYERS;
        it.q = (r >> 8) % PAYEES;
        it.k = (r >> 16) % 8 == 0 ? 2 : (r >> 20) % 2;
        Totals memory signedTotals = signedMax[it.p][it.q][it.k];
        uint256 kind = (r >> 24) % 8;
        uint256 key = it.p < 2 && (r >> 28) % 2 == 0 ? sessionKeys[it.p] : keys[it.p];
        it.legit = true;
        if (kind == 0) {
            // A replay of the latest signed voucher.
            it.value = signedTotals.value;
            it.fee = signedTotals.fee;
        } else if (kind == 1 && signedTotals.value > 0) {
            // An older, lower voucher.
            it.value = signedTotals.value - 1;
            it.fee = signedTotals.fee;
        } else if (kind == 2) {
            // A forgery: above anything signed, by a key the account did not name.
            it.value = signedTotals.value + 1 + uint128((r >> 32) % 1e6);
            it.fee = signedTotals.fee;
            key = uint256(keccak256(abi.encode("forger", r))) >> 8;
            it.legit = false;
        } else {
            // A fresh increase, sometimes above the balance.
            uint256 cap = ghostBalance[it.p][it.k] + 1_000;
            it.value = signedTotals.value + uint128(TestUtils.bound(r >> 40, 0, cap / 2));
            it.fee = signedTotals.fee + uint128(TestUtils.bound(r >> 100, 0, cap / 20));
        }
        if (it.legit) {
            if (it.value > signedTotals.value) signedMax[it.p][it.q][it.k].value = it.value;
            if (it.fee > signedTotals.fee) signedMax[it.p][it.q][it.k].fee = it.fee;
        }
        ClearingItems.Voucher memory v = ClearingItems.Voucher(
            payers[it.p],
            payees[it.q],
            address(token),
            operators[it.k],
            it.value,
            it.fee
        );
        packed = ClearingItems.signed(address(house), v, key);
    }

    /// @dev The model's status for `it`, applying it to the ghost state when it clears.
    function _expect(Item memory it) internal returns (uint8) {
        if (it.k == 2) return uint8(IClearingHouse.ClearStatus.UnknownOperator);
        Totals storage cleared = ghostCleared[it.p][it.q][it.k];
        if (it.value < cleared.value || it.fee < cleared.fee) {
            return uint8(IClearingHouse.ClearStatus.CumulativeDecreased);
        }
        if (it.value == cleared.value && it.fee == cleared.fee) {
            return uint8(IClearingHouse.ClearStatus.AlreadyCleared);
        }
        uint256 debit = uint256(it.value - cleared.value) + (it.fee - cleared.fee);
        if (debit > ghostBalance[it.p][it.k]) {
            return uint8(IClearingHouse.ClearStatus.InsufficientBalance);
        }
        if (!it.legit) return uint8(IClearingHouse.ClearStatus.InvalidSignature);
        ghostBalance[it.p][it.k] -= debit;
        cleared.value = it.value;
        cleared.fee = it.fee;
        return uint8(IClearingHouse.ClearStatus.Cleared);
    }

    /// @notice A batch of 1 to 6 vouchers: fresh increases, replays, lower cumulatives,
    /// forgeries, overdrafts and an unregistered operator.
    function clear(uint256 seed, uint256 count) external {
        count = TestUtils.bound(count, 1, 6);
        bytes memory items;
        uint8[] memory expected = new uint8[](count);
        for (uint256 i = 0; i < count; ++i) {
            (Item memory it, bytes memory packed) = _item(uint256(keccak256(abi.encode(seed, i))));
            items = bytes.concat(items, packed);
            expected[i] = _expect(it);
        }
        try house.clear(address(token), items) returns (bytes memory results) {
            if (results.length != count) return _miss();
            for (uint256 i = 0; i < count; ++i) if (uint8(results[i]) != expected[i]) _miss();
        } catch {
            _miss();
        }
        _observe();
    }

    // ------------------------------------------------------------------ exits

    function requestWithdrawal(uint256 seed) external {
        uint256 p = seed % PAYERS;
        uint256 k = (seed >> 8) % 2;
        uint128 amount = uint128(TestUtils.bound(seed >> 16, 0, ghostBalance[p][k] + 1_000));
        vm.prank(payers[p]);
        try house.requestWithdrawal(operators[k], address(token), amount) {
            if (_never(p, k)) _miss();
            pendingAmount[p][k] = amount;
            pendingReadyAt[p][k] = block.timestamp + _delay(k);
        } catch {
            if (!_never(p, k)) _miss();
        }
    }

    /// @dev Whether the account never received a deposit (of any amount, zero included).
    function _never(uint256 p, uint256 k) internal view returns (bool) {
        return !opened[p][k];
    }

    function withdraw(uint256 seed) external {
        uint256 p = seed % PAYERS;
        uint256 k = (seed >> 8) % 2;
        bool ready = pendingReadyAt[p][k] != 0 && block.timestamp >= pendingReadyAt[p][k];
        uint256 before = token.balanceOf(payers[p]);
        vm.prank(payers[p]);
        try house.withdraw(operators[k], address(token)) returns (uint256 amount) {
            uint256 expected =
                pendingAmount[p][k] < ghostBalance[p][k] ? pendingAmount[p][k] : ghostBalance[p][k];
            uint256 received = token.balanceOf(payers[p]) - before;
            if (!ready || amount != expected || received != expected) _miss();
            ghostBalance[p][k] -= expected < ghostBalance[p][k] ? expected : ghostBalance[p][k];
            withdrawn[p][k] += received;
            pendingAmount[p][k] = 0;
            pendingReadyAt[p][k] = 0;
        } catch {
            if (ready) _miss();
        }
    }

    /// @notice An operator-signed release, relayed by the handler; sometimes one already used.
    function release(uint256 seed) external {
        uint256 p = seed % PAYERS;
        uint256 k = (seed >> 8) % 2;
        bool replay = (seed >> 16) % 4 == 0 && usedReleases.length > 0;
        IClearingHouse.Release memory rel = IClearingHouse.Release({
            payer: payers[p],
            operator: operators[k],
            token: address(token),
            amount: uint128(TestUtils.bound(seed >> 24, 0, ghostBalance[p][k])),
            salt: keccak256(abi.encode(seed)),
            deadline: uint48(block.timestamp + 1 hours)
        });
        if (replay) rel.salt = usedReleases[(seed >> 100) % usedReleases.length];
        (bytes32 digest, bytes32 structHash) = house.releaseDigest(rel);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(operatorKeys[k], digest);
        bool used = house.releaseUsed(structHash);
        uint256 before = token.balanceOf(payers[p]);
        try house.withdrawWithRelease(rel, abi.encodePacked(r, s, v)) {
            uint256 received = token.balanceOf(payers[p]) - before;
            if (used || received != rel.amount) _miss();
            ghostBalance[p][k] -= rel.amount;
            withdrawn[p][k] += received;
            usedReleases.push(rel.salt);
        } catch {
            if (!used) _miss();
        }
    }

    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + TestUtils.bound(seconds_, 0, 2 hours));
    }

    // ------------------------------------------------------------------ observations

    /// @dev Reads every pair's cleared totals and counts any that fell since last seen.
    function _observe() internal {
        for (uint256 p = 0; p < PAYERS; ++p) {
            for (uint256 q = 0; q < PAYEES; ++q) {
                for (uint256 k = 0; k < OPERATORS; ++k) {
                    (uint128 value, uint128 fee) = house.getCleared(
                        payers[p],
                        payees[q],
                        operators[k],
                        address(token)
                    );
                    Totals storage seen = lastSeen[p][q][k];
                    if (value < seen.value || fee < seen.fee) ++decreases;
                    seen.value = value;
                    seen.fee = fee;
                }
            }
        }
    }

    /// @notice The highest totals the payer (or its session key) signed for the pair.
    function signed(uint256 p, uint256 q, uint256 k) external view returns (uint128, uint128) {
        Totals memory t = signedMax[p][q][k];
        return (t.value, t.fee);
    }
}

/**
 * @dev Invariants of the ClearingHouse under the handler.
 */
contract ClearingHouseInvariantTest {
    IClearingHouse internal house;
    X402TestToken internal token;
    ClearingHouseHandler internal handler;
    uint256 internal constant FUNDS = 1_000_000e6;

    /// @dev The real ClearingHouse, or with CLEARING_BROKEN_VARIANT=n a broken one (see
    /// ./broken/ClearingHouseBrokenVariants.sol), which must make these invariants fail.
    function _deploy() internal returns (IClearingHouse) {
        uint256 variant = vm.envOr("CLEARING_BROKEN_VARIANT", uint256(0));
        if (variant == 1) return IClearingHouse(address(new BrokenSkipsSignature()));
        if (variant == 2) return IClearingHouse(address(new BrokenRecordsLowerCumulative()));
        if (variant == 3) return IClearingHouse(address(new BrokenWithdrawKeepsBalance()));
        if (variant == 4) return IClearingHouse(address(new BrokenOverdraft()));
        return IClearingHouse(address(new ClearingHouse()));
    }

    function setUp() public {
        vm.warp(1_800_000_000);
        // Its immutables are zero in the artifact: Permit2 derives its domain separator from the
        // live chain id and the canonical address.
        vm.etch(
            ClearingItems.PERMIT2,
            vm.parseBytes(
                vm.parseJsonString(
                    vm.readFile(
                        "artifacts/@uniswap/v4-periphery/lib/permit2/src/Permit2.sol/Permit2.json"
                    ),
                    ".deployedBytecode"
                )
            )
        );
        house = _deploy();
        token = new X402TestToken("X402 Test Token", "X402T", "1", address(this));
        handler = new ClearingHouseHandler(house, token);
        handler.registerOperators();
        for (uint256 i = 0; i < handler.PAYERS(); ++i) {
            address payer = handler.payers(i);
            token.mint(payer, FUNDS);
            vm.prank(payer);
            token.approve(address(house), type(uint256).max);
            vm.prank(payer);
            token.approve(ClearingItems.PERMIT2, type(uint256).max);
        }
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// forge-config: default.invariant.fail-on-revert = true
    function invariant_holdsExactlyTheAccountsSum() public view {
        uint256 sum;
        for (uint256 p = 0; p < handler.PAYERS(); ++p) {
            for (uint256 k = 0; k < handler.OPERATORS(); ++k) {
                sum += house
                    .getAccount(handler.payers(p), handler.operators(k), address(token))
                    .balance;
            }
        }
        require(token.balanceOf(address(house)) == sum, "holds other than the accounts' sum");
    }

    /// forge-config: default.invariant.fail-on-revert = true
    function invariant_clearedNeverDecreasesNorExceedsSigned() public view {
        require(handler.decreases() == 0, "a pair's cleared total decreased");
        for (uint256 p = 0; p < handler.PAYERS(); ++p) {
            for (uint256 q = 0; q < handler.PAYEES(); ++q) {
                for (uint256 k = 0; k < handler.OPERATORS(); ++k) {
                    (uint128 value, uint128 fee) = house.getCleared(
                        handler.payers(p),
                        handler.payees(q),
                        handler.operators(k),
                        address(token)
                    );
                    (uint128 signedValue, uint128 signedFee) = handler.signed(p, q, k);
                    require(value <= signedValue && fee <= signedFee, "cleared above signed");
                }
            }
        }
    }

    /// forge-config: default.invariant.fail-on-revert = true
    function invariant_noAccountPaysMoreThanDeposited() public view {
        for (uint256 p = 0; p < handler.PAYERS(); ++p) {
            for (uint256 k = 0; k < handler.OPERATORS(); ++k) {
                uint256 paid = handler.withdrawn(p, k);
                for (uint256 q = 0; q < handler.PAYEES(); ++q) {
                    (uint128 value, uint128 fee) = house.getCleared(
                        handler.payers(p),
                        handler.payees(q),
                        handler.operators(k),
                        address(token)
                    );
                    paid += uint256(value) + fee;
                }
                require(paid <= handler.deposited(p, k), "an account paid more than it deposited");
            }
        }
    }

    /// forge-config: default.invariant.fail-on-revert = true
    function invariant_outcomesMatchModel() public view {
        require(handler.mismatches() == 0, "an outcome differed from the model");
        uint256 payeeSum;
        for (uint256 q = 0; q < handler.PAYEES(); ++q)
            payeeSum += token.balanceOf(handler.payees(q));
        uint256 feeSum;
        for (uint256 k = 0; k < handler.OPERATORS(); ++k) {
            feeSum += token.balanceOf(handler.feeRecipients(k));
        }
        uint256 clearedValue;
        uint256 clearedFee;
        for (uint256 p = 0; p < handler.PAYERS(); ++p) {
            for (uint256 q = 0; q < handler.PAYEES(); ++q) {
                for (uint256 k = 0; k < handler.OPERATORS(); ++k) {
                    (uint128 value, uint128 fee) = house.getCleared(
                        handler.payers(p),
                        handler.payees(q),
                        handler.operators(k),
                        address(token)
                    );
                    clearedValue += value;
                    clearedFee += fee;
                }
            }
        }
        require(payeeSum == clearedValue, "payees received other than the cleared values");
        require(feeSum == clearedFee, "fee recipients received other than the cleared fees");
    }
}
