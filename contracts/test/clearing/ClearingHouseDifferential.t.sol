// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {ClearingHouse} from "../../clearing/ClearingHouse.sol";
import {IClearingHouse} from "../../interfaces/IClearingHouse.sol";
import {X402TestToken} from "../../token/X402TestToken.sol";
import {ERC1271WalletMock} from "../mocks/ERC1271WalletMock.sol";
import {vm, Vm} from "../utils/Vm.sol";
import {ClearingHouseReference} from "./ClearingHouseReference.sol";
import {ClearingItems} from "./ClearingItems.sol";

/**
 * @dev Runs random mixed batches through the assembly ClearingHouse and the plain
 * ClearingHouseReference on identical state (each with its own token, so payouts can be compared
 * balance by balance) and requires identical results, revert data, events (house and token
 * addresses normalized), balances and views after every batch. Batches mix fresh increases, lower
 * and replayed cumulatives, increases above the balance, unknown operators, wrong keys, high-s
 * signatures, session keys, ERC-1271 voucher signers, payees that cannot receive (address 0:
 * the test token refuses it, so the payee's items are undone), malformed tails, and EIP-3009
 * deposits with unknown operators, signer mismatches, reused nonces, expired windows and
 * overdrafts, and Permit2 deposits (Permit2 installed at its canonical address from its build
 * artifact) with unknown operators, signer mismatches, reused Permit2 nonces, passed deadlines and
 * overdrafts.
 */
contract ClearingHouseDifferentialTest {
    uint256 internal constant PAYERS = 4;
    uint256 internal constant PAYEES = 4;
    uint256 internal constant FUNDS = 1_000_000e6;

    ClearingHouse internal fast;
    ClearingHouseReference internal ref;
    X402TestToken internal tokenF;
    X402TestToken internal tokenR;
    ERC1271WalletMock internal wallet;

    uint256[PAYERS] internal keys;
    address[PAYERS] internal payers;
    uint256[PAYERS] internal sessionKeys;
    address[PAYERS] internal signers;
    address[PAYEES] internal payees;
    address[3] internal operators;
    address[2] internal feeRecipients;
    uint256 internal walletKey;

    /// @dev How often each status was seen (index: status), for the coverage test.
    uint256[8] internal clearSeen;
    uint256[8] internal depositSeen;
    uint256[8] internal permit2Seen;
    uint256 internal reverts;

    address internal constant PERMIT2 = 0x000000000022D473030F116dDEE9F6B43aC78BA3;
    string internal constant PERMIT2_ARTIFACT =
        "artifacts/@uniswap/v4-periphery/lib/permit2/src/Permit2.sol/Permit2.json";
    function setUp() public {
        vm.warp(1_800_000_000);
        // Its immutables are zero in the artifact: Permit2 then derives its domain separator from
        // the live chain id and its own address, the canonical one.
        vm.etch(
            PERMIT2,
            vm.parseBytes(vm.parseJsonString(vm.readFile(PERMIT2_ARTIFACT), ".deployedBytecode"))
        );
        fast = new ClearingHouse();
        ref = new ClearingHouseReference();
        tokenF = new X402TestToken("X402 Test Token", "X402T", "1", address(this));
        tokenR = new X402TestToken("X402 Test Token", "X402T", "1", address(this));
        walletKey = uint256(keccak256("voucher wallet owner")) >> 8;
        wallet = new ERC1271WalletMock(vm.addr(walletKey));
        for (uint256 i = 0; i < 3; ++i) {
            operators[i] = address(uint160(uint256(keccak256(abi.encode("operator", i)))));
        }
        for (uint256 i = 0; i < 2; ++i) {
            feeRecipients[i] = address(uint160(uint256(keccak256(abi.encode("fee", i)))));
            for (uint256 h = 0; h < 2; ++h) {
                vm.prank(operators[i]);
                _house(h).registerOperator(feeRecipients[i], uint32(15 minutes + i * 1 hours));
            }
        }
        for (uint256 i = 0; i < PAYEES - 1; ++i) {
            payees[i] = address(uint160(uint256(keccak256(abi.encode("payee", i)))));
        }
        payees[PAYEES - 1] = address(0); // cannot receive the test token
        for (uint256 i = 0; i < PAYERS; ++i) {
            keys[i] = uint256(keccak256(abi.encode("clearing payer", i))) >> 8;
            payers[i] = vm.addr(keys[i]);
            sessionKeys[i] = uint256(keccak256(abi.encode("clearing session", i))) >> 8;
            if (i < 2) signers[i] = vm.addr(sessionKeys[i]);
            if (i == 2) signers[i] = address(wallet);
            for (uint256 h = 0; h < 2; ++h) {
                X402TestToken token = _token(h);
                token.mint(payers[i], FUNDS);
                vm.prank(payers[i]);
                token.approve(address(_house(h)), type(uint256).max);
                vm.prank(payers[i]);
                token.approve(PERMIT2, type(uint256).max);
                for (uint256 k = 0; k < 2; ++k) {
                    vm.prank(payers[i]);
                    _house(h).deposit(operators[k], address(token), 50_000e6, signers[i]);
                }
            }
        }
    }

    function _house(uint256 h) internal view returns (IClearingHouse) {
        return h == 0 ? IClearingHouse(address(fast)) : IClearingHouse(address(ref));
    }

    function _token(uint256 h) internal view returns (X402TestToken) {
        return h == 0 ? tokenF : tokenR;
    }

    // ------------------------------------------------------------------ voucher batches

    struct Spec {
        uint256 payer;
        uint256 payee;
        uint256 operator;
        uint128 value;
        uint128 fee;
        uint256 signing;
    }

    function _spec(uint256 seed) internal view returns (Spec memory s) {
        s.payer = seed % PAYERS;
        s.payee = (seed >> 8) % PAYEES;
        uint256 op = (seed >> 16) % 8;
        s.operator =
            op < 4
                ? 0
                : op < 7
                    ? 1
                    : 2;
        (uint128 value, uint128 fee) = fast.getCleared(
            payers[s.payer],
            payees[s.payee],
            operators[s.operator],
            address(tokenF)
        );
        uint256 mode = (seed >> 24) % 16;
        if (mode == 0 && value > 0) {
            s.value = value - 1;
            s.fee = fee;
        } else if (mode == 1) {
            s.value = value;
            s.fee = fee;
        } else if (mode == 2) {
            s.value = value + 60_000e6;
            s.fee = fee;
        } else if (mode == 3 && fee > 0) {
            s.value = value + 10;
            s.fee = fee - 1;
        } else {
            s.value = value + uint128((seed >> 40) % 5_000e6);
            s.fee = fee + uint128((seed >> 80) % 50e6);
        }
        s.signing = (seed >> 120) % 16;
    }

    function _pack(uint256 h, Spec memory s) internal view returns (bytes memory) {
        ClearingItems.Voucher memory v = ClearingItems.Voucher(
            payers[s.payer],
            payees[s.payee],
            address(_token(h)),
            operators[s.operator],
            s.value,
            s.fee
        );
        bytes32 digest = ClearingItems.voucherDigest(address(_house(h)), v);
        if (s.signing == 2 || (s.signing > 3 && s.payer == 2)) {
            (uint8 wv, bytes32 wr, bytes32 ws) = vm.sign(walletKey, digest);
            return ClearingItems.packContract(v, abi.encodePacked(wr, ws, wv));
        }
        uint256 key = keys[s.payer];
        if (s.signing == 0) key = keys[(s.payer + 1) % PAYERS];
        else if (s.signing > 3 && s.payer < 2) key = sessionKeys[s.payer];
        (uint8 sv, bytes32 r, bytes32 sigS) = vm.sign(key, digest);
        if (s.signing == 1) return ClearingItems.packEOA(v, ClearingItems.highS(sv, r, sigS));
        return ClearingItems.packEOA(v, ClearingItems.compact(sv, r, sigS));
    }

    function _clearBatch(uint256 seed) internal {
        uint256 count = 1 + (seed % 7);
        bytes[2] memory items;
        for (uint256 i = 0; i < count; ++i) {
            Spec memory s = _spec(uint256(keccak256(abi.encode(seed, i))));
            for (uint256 h = 0; h < 2; ++h) items[h] = bytes.concat(items[h], _pack(h, s));
        }
        if ((seed >> 200) % 32 == 0) {
            // A malformed tail: the last item loses its last byte.
            for (uint256 h = 0; h < 2; ++h) {
                bytes memory b = items[h];
                assembly ("memory-safe") {
                    mstore(b, sub(mload(b), 1))
                }
            }
        }
        bytes[2] memory outcome;
        bool[2] memory ok;
        bytes32[2] memory logs;
        for (uint256 h = 0; h < 2; ++h) {
            vm.recordLogs();
            (ok[h], outcome[h]) = address(_house(h)).call(
                abi.encodeCall(IClearingHouse.clear, (address(_token(h)), items[h]))
            );
            logs[h] = _logHash(h, vm.getRecordedLogs());
        }
        _compareOutcome(ok, outcome, logs);
        if (ok[0]) {
            bytes memory results = abi.decode(outcome[0], (bytes));
            for (uint256 i = 0; i < results.length; ++i) ++clearSeen[uint8(results[i])];
        } else {
            ++reverts;
        }
    }

    // ------------------------------------------------------------------ deposit batches

    function _depositBatch(uint256 seed) internal {
        uint256 count = 1 + (seed % 4);
        bytes[2] memory items;
        for (uint256 i = 0; i < count; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, i, "deposit")));
            ClearingItems.Deposit memory d;
            uint256 p = r % PAYERS;
            d.payer = payers[p];
            uint256 op = (r >> 8) % 8;
            d.operator = operators[
                op < 5
                    ? 0
                    : op < 7
                        ? 1
                        : 2
            ];
            d.signer = (r >> 16) % 8 == 0 ? address(uint160(r >> 96)) : signers[p];
            d.value = (r >> 24) % 16 == 0 ? uint128(FUNDS) : uint128((r >> 32) % 1_000e6);
            d.validBefore =
                (r >> 72) % 16 == 0
                    ? uint48(block.timestamp - 1)
                    : uint48(block.timestamp + 1 hours);
            d.salt = bytes32((r >> 80) % 64);
            for (uint256 h = 0; h < 2; ++h) {
                bytes32 digest = ClearingItems.depositDigest(
                    _token(h).DOMAIN_SEPARATOR(),
                    address(_house(h)),
                    d
                );
                (uint8 v, bytes32 rr, bytes32 ss) = vm.sign(keys[p], digest);
                items[h] = bytes.concat(
                    items[h],
                    ClearingItems.packDeposit(d, ClearingItems.compact(v, rr, ss))
                );
            }
        }
        bytes[2] memory outcome;
        bool[2] memory ok;
        bytes32[2] memory logs;
        for (uint256 h = 0; h < 2; ++h) {
            vm.recordLogs();
            (ok[h], outcome[h]) = address(_house(h)).call(
                abi.encodeCall(
                    IClearingHouse.depositWithAuthorizations,
                    (address(_token(h)), items[h])
                )
            );
            logs[h] = _logHash(h, vm.getRecordedLogs());
        }
        _compareOutcome(ok, outcome, logs);
        if (ok[0]) {
            bytes memory results = abi.decode(outcome[0], (bytes));
            for (uint256 i = 0; i < results.length; ++i) ++depositSeen[uint8(results[i])];
        } else {
            ++reverts;
        }
    }

    // ------------------------------------------------------------------ Permit2 deposit batches

    function _permit2Batch(uint256 seed) internal {
        uint256 count = 1 + (seed % 4);
        bytes[2] memory items;
        for (uint256 i = 0; i < count; ++i) {
            uint256 r = uint256(keccak256(abi.encode(seed, i, "permit2")));
            ClearingItems.Permit2Deposit memory d;
            uint256 p = r % PAYERS;
            d.payer = payers[p];
            uint256 op = (r >> 8) % 8;
            d.operator = operators[
                op < 5
                    ? 0
                    : op < 7
                        ? 1
                        : 2
            ];
            d.signer = (r >> 16) % 8 == 0 ? address(uint160(r >> 96)) : signers[p];
            d.amount = (r >> 24) % 16 == 0 ? uint128(FUNDS) : uint128((r >> 32) % 1_000e6);
            d.deadline =
                (r >> 72) % 16 == 0
                    ? uint48(block.timestamp - 1)
                    : uint48(block.timestamp + 1 hours);
            for (uint256 h = 0; h < 2; ++h) {
                // Both houses share Permit2's bitmap: each takes its own nonce word.
                d.nonce = ((r >> 80) % 64) | (h << 128);
                (uint8 v, bytes32 rr, bytes32 ss) = vm.sign(
                    keys[p],
                    ClearingItems.permit2DepositDigest(address(_token(h)), address(_house(h)), d)
                );
                items[h] = bytes.concat(
                    items[h],
                    ClearingItems.packPermit2Deposit(d, ClearingItems.compact(v, rr, ss))
                );
            }
        }
        bytes[2] memory outcome;
        bool[2] memory ok;
        bytes32[2] memory logs;
        for (uint256 h = 0; h < 2; ++h) {
            vm.recordLogs();
            (ok[h], outcome[h]) = address(_house(h)).call(
                abi.encodeCall(IClearingHouse.depositWithPermit2, (address(_token(h)), items[h]))
            );
            logs[h] = _logHash(h, vm.getRecordedLogs());
        }
        _compareOutcome(ok, outcome, logs);
        if (ok[0]) {
            bytes memory results = abi.decode(outcome[0], (bytes));
            for (uint256 i = 0; i < results.length; ++i) ++permit2Seen[uint8(results[i])];
        } else {
            ++reverts;
        }
    }

    // ------------------------------------------------------------------ comparison

    function _norm(uint256 h, bytes32 word) internal view returns (bytes32) {
        if (word == bytes32(uint256(uint160(address(_house(h)))))) return "HOUSE";
        if (word == bytes32(uint256(uint160(address(_token(h)))))) return "TOKEN";
        return word;
    }

    /// @dev A hash chain over the logs, with the house's and token's addresses normalized.
    function _logHash(uint256 h, Vm.Log[] memory logs) internal view returns (bytes32 chain) {
        for (uint256 i = 0; i < logs.length; ++i) {
            bytes32[] memory topics = logs[i].topics;
            bytes32[] memory normalized = new bytes32[](topics.length);
            for (uint256 t = 0; t < topics.length; ++t) normalized[t] = _norm(h, topics[t]);
            chain = keccak256(
                abi.encode(
                    chain,
                    _norm(h, bytes32(uint256(uint160(logs[i].emitter)))),
                    normalized,
                    logs[i].data
                )
            );
        }
    }

    function _compareOutcome(
        bool[2] memory ok,
        bytes[2] memory outcome,
        bytes32[2] memory logs
    ) internal view {
        require(ok[0] == ok[1], "one house reverted, the other did not");
        require(keccak256(outcome[0]) == keccak256(outcome[1]), "results or revert data differ");
        require(logs[0] == logs[1], "events differ");
        _compareState();
    }

    function _compareState() internal view {
        require(
            tokenF.balanceOf(address(fast)) == tokenR.balanceOf(address(ref)),
            "house balances differ"
        );
        for (uint256 k = 0; k < 2; ++k) {
            require(
                tokenF.balanceOf(feeRecipients[k]) == tokenR.balanceOf(feeRecipients[k]),
                "fee recipient balances differ"
            );
        }
        for (uint256 q = 0; q < PAYEES; ++q) {
            require(
                tokenF.balanceOf(payees[q]) == tokenR.balanceOf(payees[q]),
                "payee balances differ"
            );
        }
        for (uint256 p = 0; p < PAYERS; ++p) {
            require(
                tokenF.balanceOf(payers[p]) == tokenR.balanceOf(payers[p]),
                "payer balances differ"
            );
            for (uint256 k = 0; k < 3; ++k) {
                IClearingHouse.Account memory a = fast.getAccount(
                    payers[p],
                    operators[k],
                    address(tokenF)
                );
                IClearingHouse.Account memory b = ref.getAccount(
                    payers[p],
                    operators[k],
                    address(tokenR)
                );
                require(keccak256(abi.encode(a)) == keccak256(abi.encode(b)), "accounts differ");
                for (uint256 q = 0; q < PAYEES; ++q) {
                    (uint128 va, uint128 fa) = fast.getCleared(
                        payers[p],
                        payees[q],
                        operators[k],
                        address(tokenF)
                    );
                    (uint128 vb, uint128 fb) = ref.getCleared(
                        payers[p],
                        payees[q],
                        operators[k],
                        address(tokenR)
                    );
                    require(va == vb && fa == fb, "cleared totals differ");
                }
            }
        }
    }

    // ------------------------------------------------------------------ tests

    /// @notice Eight random batches (clears and deposits) per run on both implementations.
    function testFuzz_assemblyMatchesReference(uint256 seed) public {
        for (uint256 r = 0; r < 8; ++r) {
            uint256 s = uint256(keccak256(abi.encode(seed, r)));
            if (r % 4 == 3) _depositBatch(s);
            else if (r % 4 == 1) _permit2Batch(s);
            else _clearBatch(s);
            vm.warp(block.timestamp + (s % 600));
        }
    }

    /// @notice The generator reaches every voucher status and every reachable deposit status
    /// (an account balance near 2^80 is not generated), and malformed batches.
    function test_differentialCoversEveryStatus() public {
        for (uint256 r = 0; r < 240; ++r) {
            uint256 s = uint256(keccak256(abi.encode("coverage", r)));
            if (r % 4 == 3) _depositBatch(s);
            else if (r % 4 == 1) _permit2Batch(s);
            else _clearBatch(s);
        }
        for (uint256 st = 0; st <= uint8(IClearingHouse.ClearStatus.PayoutFailed); ++st) {
            require(clearSeen[st] > 0, "a voucher status was never generated");
        }
        require(depositSeen[uint8(IClearingHouse.DepositStatus.Deposited)] > 0, "no deposit");
        require(depositSeen[uint8(IClearingHouse.DepositStatus.UnknownOperator)] > 0, "no op");
        require(depositSeen[uint8(IClearingHouse.DepositStatus.SignerMismatch)] > 0, "no signer");
        require(
            depositSeen[uint8(IClearingHouse.DepositStatus.AuthorizationFailed)] > 0,
            "no auth failure"
        );
        require(
            permit2Seen[uint8(IClearingHouse.DepositStatus.Deposited)] > 0,
            "no Permit2 deposit"
        );
        require(
            permit2Seen[uint8(IClearingHouse.DepositStatus.UnknownOperator)] > 0,
            "no Permit2 unknown operator"
        );
        require(
            permit2Seen[uint8(IClearingHouse.DepositStatus.SignerMismatch)] > 0,
            "no Permit2 signer mismatch"
        );
        require(
            permit2Seen[uint8(IClearingHouse.DepositStatus.AuthorizationFailed)] > 0,
            "no Permit2 failure"
        );
        require(reverts > 0, "no malformed batch");
    }
}
