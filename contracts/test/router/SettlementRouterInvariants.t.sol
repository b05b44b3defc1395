// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {ISettlementRouter} from "../../interfaces/ISettlementRouter.sol";
import {SettlementRouter} from "../../router/SettlementRouter.sol";
import {ERC1271WalletMock} from "../mocks/ERC1271WalletMock.sol";
import {Vm, vm} from "../utils/Vm.sol";
import {TestUtils} from "../utils/TestUtils.sol";
import {RouterItems} from "./RouterItems.sol";
import {BlacklistingTestToken} from "./mocks/BlacklistingTestToken.sol";
import {
    BrokenRouterIgnoresMalformedTail,
    BrokenRouterIgnoresSpentNonce,
    BrokenRouterKeepsUnpaidGroup,
    BrokenRouterPaysPayeeTwice,
    BrokenRouterReportsEveryItemFailed,
    BrokenRouterSilentFailures,
    BrokenRouterSkipsFeePayout
} from "./broken/BrokenRouters.sol";

/**
 * @dev Sends the router random batches on the test token (with USDC's blacklist) and predicts the
 * outcome of every item from a model of its own, never from the router's report: balances,
 * spent nonces, time windows, signatures (valid, wrong key, tampered, high-s, empty, an EOA
 * signature from a contract wallet), fee above value, payouts to a blacklisted payee or to the
 * router (group undone), fee payouts that fail (batch reverts) and malformed tails (batch
 * reverts). Every disagreement is counted; the invariants require each count to stay zero and
 * the token's balances and nonce states to equal the model's.
 */
contract SettlementRouterHandler {
    bytes32 internal constant TRANSFER_TYPEHASH = keccak256(
        "TransferWithAuthorization(address from,address to,uint256 value,"
        "uint256 validAfter,uint256 validBefore,bytes32 nonce)"
    );
    bytes32 internal constant RECEIVE_TYPEHASH = keccak256(
        "ReceiveWithAuthorization(address from,address to,uint256 value,"
        "uint256 validAfter,uint256 validBefore,bytes32 nonce)"
    );
    uint256 internal constant SECP256K1_N =
        0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;
    bytes32 internal constant PAYMENT_FAILED = keccak256(
        "PaymentFailed(uint256,address,bytes32,uint8,bytes)"
    );
    bytes32 internal constant BATCH_SETTLED = keccak256("BatchSettled(address,bytes)");

    uint256 public constant EOAS = 4;
    /// @dev The EOAs, then the wallet (owned by the first EOA).
    uint256 public constant PAYERS = EOAS + 1;
    uint256 public constant PAYEES = 3;
    uint256 internal constant NONCES = 6;
    uint256 internal constant MAX_ITEMS = 5;

    address public immutable router;
    BlacklistingTestToken public immutable token;
    ERC1271WalletMock public immutable wallet;
    address public immutable feeRecipient;
    address public immutable blacklisted;
    address internal immutable deployer;
    uint256[EOAS] internal keys;
    address[PAYERS] public payers;
    /// @dev Two plain payees and the blacklisted one.
    address[PAYEES] public payees;

    // ---- the model ---------------------------------------------------------------------------
    mapping(address => uint256) public modelBalance;
    mapping(address => mapping(bytes32 => bool)) public modelUsed;
    bool public modelWalletAccepting = true;
    /// @notice What the model says payers paid, payees received and fees earned, in total.
    uint256 public ghostDebits;
    uint256 public ghostCredits;
    uint256 public ghostFees;

    // ---- disagreements with the model (each must stay 0) --------------------------------------
    uint256 public statusMismatches;
    uint256 public eventMismatches;
    uint256 public revertMismatches;
    uint256 public nonceMismatches;

    // ---- coverage ------------------------------------------------------------------------------
    uint256[6] public statusCounts;
    uint256 public malformedBatches;
    uint256 public feePayoutReverts;
    uint256 public expiredItems;
    uint256 public notYetValidItems;
    uint256 public contractSignatureItems;

    struct Item {
        uint256 payer;
        bool routed;
        bool contractSignature;
        /// 0 valid, 1 wrong key, 2 tampered, 3 empty (contract) or broken, 4 high-s (contract).
        uint256 signature;
        address payee;
        uint128 value;
        uint128 fee;
        uint48 validAfter;
        uint48 validBefore;
        bytes32 nonceOrSalt;
        /// The nonce the token sees.
        bytes32 nonce;
    }

    /// @dev One entry of the model's undo log.
    struct Undo {
        bool isBalance;
        address account;
        bytes32 nonce;
        uint256 previous;
    }

    struct Batch {
        Item[] items;
        uint8[] expected;
        Undo[] journal;
        uint256 journalLength;
        uint256 fees;
        uint256 debits;
        uint256 credits;
        bytes32 salt;
    }

    constructor(address router_, BlacklistingTestToken token_) {
        router = router_;
        token = token_;
        deployer = msg.sender;
        for (uint256 i = 0; i < EOAS; ++i) {
            keys[i] = uint256(keccak256(abi.encode("invariant payer", i))) >> 8;
            payers[i] = vm.addr(keys[i]);
        }
        wallet = new ERC1271WalletMock(payers[0]);
        payers[EOAS] = address(wallet);
        payees[0] = address(uint160(uint256(keccak256("invariant payee 0"))));
        payees[1] = address(uint160(uint256(keccak256("invariant payee 1"))));
        blacklisted = address(uint160(uint256(keccak256("invariant blacklisted"))));
        payees[2] = blacklisted;
        feeRecipient = address(uint160(uint256(keccak256("invariant fee recipient"))));
    }

    /// @notice Records what the test minted (only the deploying test may).
    function seed(address account, uint256 amount) external {
        require(msg.sender == deployer, "handler: not the test");
        modelBalance[account] += amount;
    }

    // ---- actions -------------------------------------------------------------------------------

    /// @notice Moves the clock forward by up to ten minutes.
    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + TestUtils.bound(seconds_, 0, 10 minutes));
    }

    /// @notice The contract wallet starts or stops accepting signatures.
    function toggleWallet() external {
        modelWalletAccepting = !modelWalletAccepting;
        vm.prank(payers[0]);
        wallet.setAccepting(modelWalletAccepting);
    }

    /// @notice One batch of 1 to 5 random items, sometimes with a malformed tail, sometimes paying
    /// its fees to a recipient that cannot receive them.
    function settleBatch(uint256 seed_, uint256 count) external {
        Batch memory b;
        b.salt = keccak256(abi.encode(seed_));
        count = TestUtils.bound(count, 1, MAX_ITEMS);
        b.items = new Item[](count);
        b.expected = new uint8[](count);
        b.journal = new Undo[](count * 7 + 4);
        uint256 r = uint256(keccak256(abi.encode(b.salt, "batch")));
        address fr = r % 100 < 4 ? blacklisted : feeRecipient;
        if (r % 100 == 4) fr = router;
        bytes memory items;
        for (uint256 i = 0; i < count; ++i) {
            b.items[i] = _draft(uint256(keccak256(abi.encode(b.salt, i))), fr);
            items = bytes.concat(items, _encode(b.items[i]));
        }
        bool malformed = (r >> 8) % 100 < 5;
        if (malformed) items = bytes.concat(items, hex"00aabbcc");
        _model(b);
        bytes memory expectedRevert;
        if (malformed) {
            expectedRevert = abi.encodeWithSelector(
                ISettlementRouter.SettlementRouterMalformedItems.selector,
                items.length - 4
            );
        } else if (b.fees != 0 && (fr == blacklisted || fr == router)) {
            expectedRevert = abi.encodeWithSelector(
                ISettlementRouter.SettlementRouterFeePayoutFailed.selector,
                fr,
                b.fees
            );
        }
        vm.recordLogs();
        (bool ok, bytes memory ret) = router.call(
            abi.encodeCall(ISettlementRouter.settle, (address(token), fr, items))
        );
        Vm.Log[] memory logs = vm.getRecordedLogs();
        if (expectedRevert.length != 0) {
            _rollback(b, 0);
            if (malformed) ++malformedBatches;
            else ++feePayoutReverts;
            if (ok || keccak256(ret) != keccak256(expectedRevert)) ++revertMismatches;
        } else if (!ok) {
            _rollback(b, 0);
            ++revertMismatches;
        } else {
            _commit(b);
            _checkResults(b, abi.decode(ret, (bytes)));
            _checkEvents(b, logs, abi.decode(ret, (bytes)));
        }
        _checkNonces(b);
    }

    // ---- drafting items ------------------------------------------------------------------------

    function _draft(uint256 r, address fr) internal view returns (Item memory it) {
        it.payer = r % PAYERS;
        it.routed = (r >> 8) % 2 == 0;
        it.contractSignature = it.payer == EOAS ? (r >> 16) % 16 != 0 : (r >> 16) % 4 == 0;
        uint256 s = (r >> 24) % 100;
        it.signature =
            s < 84
                ? 0
                : s < 88
                    ? 1
                    : s < 92
                        ? 2
                        : s < 96
                            ? 3
                            : 4;
        uint256 p = (r >> 32) % 100;
        // Routed items may name the router (a payout it cannot make); direct ones never do, as a
        // direct authorization paying the router would leave its funds there.
        it.payee =
            p < 88
                ? payees[p % 2]
                : p < 95
                    ? blacklisted
                    : it.routed
                        ? router
                        : payees[0];
        uint256 balance = modelBalance[payers[it.payer]];
        it.value = uint128(
            (r >> 40) % 10 == 0 ? balance + 1 + ((r >> 48) % 1_000) : (r >> 48) % (balance / 3 + 2)
        );
        if (it.routed) {
            it.fee = uint128(
                (r >> 96) % 12 == 0 ? uint256(it.value) + 1 : (r >> 104) % (uint256(it.value) + 1)
            );
        }
        uint256 t = block.timestamp;
        uint256 a = (r >> 160) % 12;
        it.validAfter = uint48(
            a < 9
                ? 0
                : a == 9
                    ? t - 1
                    : a == 10
                        ? t
                        : t + 100
        );
        uint256 w = (r >> 168) % 12;
        it.validBefore = uint48(
            w < 9
                ? t + 1 hours
                : w == 9
                    ? t + 1
                    : w == 10
                        ? t
                        : t - 1
        );
        it.nonceOrSalt = keccak256(abi.encode("invariant nonce", (r >> 176) % NONCES));
        it.nonce =
            it.routed
                ? keccak256(abi.encode(it.payee, uint256(it.fee), fr, it.nonceOrSalt))
                : it.nonceOrSalt;
    }

    function _digest(Item memory it, uint256 value) internal view returns (bytes32) {
        bytes32 structHash = keccak256(
            abi.encode(
                it.routed ? RECEIVE_TYPEHASH : TRANSFER_TYPEHASH,
                payers[it.payer],
                it.routed ? router : it.payee,
                value,
                uint256(it.validAfter),
                uint256(it.validBefore),
                it.nonce
            )
        );
        return keccak256(abi.encodePacked("\x19\x01", token.DOMAIN_SEPARATOR(), structHash));
    }

    function _signatureBytes(Item memory it) internal view returns (bytes memory) {
        // The wallet accepts its owner's (key 0's) signatures.
        uint256 key = keys[it.payer == EOAS ? 0 : it.payer];
        if (it.signature == 1) key = keys[(it.payer + 1) % EOAS];
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(
            key,
            _digest(it, it.signature == 2 ? uint256(it.value) + 1 : uint256(it.value))
        );
        if (!it.contractSignature) {
            // An EOA signature cannot carry a high s in compact form: break r instead.
            if (it.signature >= 3) r = bytes32(uint256(r) ^ 1);
            return RouterItems.compact(v, r, s);
        }
        if (it.signature == 3) return "";
        if (it.signature == 4) {
            return abi.encodePacked(r, bytes32(SECP256K1_N - uint256(s)), v == 27 ? uint8(28) : 27);
        }
        return abi.encodePacked(r, s, v);
    }

    function _encode(Item memory it) internal view returns (bytes memory item) {
        bytes memory sig = _signatureBytes(it);
        address from = payers[it.payer];
        if (!it.routed) {
            return
                it.contractSignature
                    ? RouterItems.directWithContractSignature(
                        from,
                        it.payee,
                        it.value,
                        it.validAfter,
                        it.validBefore,
                        it.nonceOrSalt,
                        sig
                    )
                    : RouterItems.direct(
                        from,
                        it.payee,
                        it.value,
                        it.validAfter,
                        it.validBefore,
                        it.nonceOrSalt,
                        sig
                    );
        }
        item = RouterItems.routed(
            from,
            it.payee,
            it.value,
            it.validAfter,
            it.validBefore,
            it.nonceOrSalt,
            it.fee,
            ""
        );
        if (!it.contractSignature) return bytes.concat(item, sig);
        item[0] = bytes1(RouterItems.ROUTED | RouterItems.CONTRACT_SIGNATURE);
        return bytes.concat(item, abi.encodePacked(uint16(sig.length)), sig);
    }

    // ---- the model -----------------------------------------------------------------------------

    function _setBalance(Batch memory b, address account, uint256 value) internal {
        b.journal[b.journalLength++] = Undo(true, account, 0, modelBalance[account]);
        modelBalance[account] = value;
    }

    function _setUsed(Batch memory b, address account, bytes32 nonce) internal {
        b.journal[b.journalLength++] = Undo(false, account, nonce, 0);
        modelUsed[account][nonce] = true;
    }

    /// @dev Undoes the model's changes back to journal position `mark`.
    function _rollback(Batch memory b, uint256 mark) internal {
        while (b.journalLength > mark) {
            Undo memory u = b.journal[--b.journalLength];
            if (u.isBalance) modelBalance[u.account] = u.previous;
            else modelUsed[u.account][u.nonce] = false;
        }
    }

    function _commit(Batch memory b) internal {
        ghostDebits += b.debits;
        ghostCredits += b.credits;
        ghostFees += b.fees;
    }

    function _signatureValid(Item memory it) internal view returns (bool) {
        if (it.signature != 0) return false;
        // The test token checks a contract's ERC-1271 only on the `bytes signature` overloads.
        if (it.payer == EOAS) return it.contractSignature && modelWalletAccepting;
        return true;
    }

    /// @dev What the token does with the item's authorization, on the model; true if it moves
    /// `value` from the payer to `to`.
    function _execute(Batch memory b, Item memory it, address to) internal returns (bool) {
        address from = payers[it.payer];
        bool inWindow = block.timestamp > it.validAfter && block.timestamp < it.validBefore;
        if (block.timestamp <= it.validAfter) ++notYetValidItems;
        if (block.timestamp >= it.validBefore) ++expiredItems;
        if (it.contractSignature) ++contractSignatureItems;
        bool ok =
            inWindow &&
                !modelUsed[from][it.nonce] &&
                _signatureValid(it) &&
                modelBalance[from] >= it.value &&
                to != blacklisted;
        if (!ok) return false;
        _setUsed(b, from, it.nonce);
        _setBalance(b, from, modelBalance[from] - it.value);
        _setBalance(b, to, modelBalance[to] + it.value);
        return true;
    }

    /// @dev The status of an item whose token call was made and failed, or did not fail.
    function _callStatus(Item memory it, bool settled) internal view returns (uint8) {
        if (settled) return 0;
        return modelUsed[payers[it.payer]][it.nonce] ? 1 : 2;
    }

    /// @dev Predicts every item's status and the batch's fees, debits and credits on the model.
    function _model(Batch memory b) internal {
        uint256 i = 0;
        while (i < b.items.length) {
            Item memory it = b.items[i];
            if (!it.routed) {
                if (it.contractSignature && it.signature == 3) {
                    b.expected[i] = 5;
                } else {
                    bool settled = _execute(b, it, it.payee);
                    b.expected[i] = _callStatus(it, settled);
                    if (settled) {
                        b.debits += it.value;
                        b.credits += it.value;
                    }
                }
                ++i;
                continue;
            }
            uint256 end = i + 1;
            while (end < b.items.length && b.items[end].routed && b.items[end].payee == it.payee) {
                ++end;
            }
            _modelGroup(b, i, end);
            i = end;
        }
    }

    function _modelGroup(Batch memory b, uint256 first, uint256 end) internal {
        uint256 mark = b.journalLength;
        uint256 credit;
        uint256 fees;
        uint256 debits;
        for (uint256 k = first; k < end; ++k) {
            Item memory it = b.items[k];
            if (it.fee > it.value) {
                b.expected[k] = 3;
            } else if (it.contractSignature && it.signature == 3) {
                b.expected[k] = 5;
            } else {
                bool settled = _execute(b, it, router);
                b.expected[k] = _callStatus(it, settled);
                if (settled) {
                    credit += it.value - it.fee;
                    fees += it.fee;
                    debits += it.value;
                }
            }
        }
        address payee = b.items[first].payee;
        if (credit != 0 && (payee == router || payee == blacklisted)) {
            // The payout fails: the group is undone.
            _rollback(b, mark);
            for (uint256 k = first; k < end; ++k) b.expected[k] = 4;
            return;
        }
        if (credit != 0) {
            _setBalance(b, router, modelBalance[router] - credit);
            _setBalance(b, payee, modelBalance[payee] + credit);
        }
        b.fees += fees;
        b.debits += debits;
        b.credits += credit;
        // The fees stay with the router until the fee payout, which the model makes here.
        if (fees != 0) {
            _setBalance(b, router, modelBalance[router] - fees);
            _setBalance(b, feeRecipient, modelBalance[feeRecipient] + fees);
        }
    }

    // ---- checks ---------------------------------------------------------------------------------

    function _checkResults(Batch memory b, bytes memory results) internal {
        if (results.length != b.expected.length) {
            ++statusMismatches;
            return;
        }
        for (uint256 i = 0; i < results.length; ++i) {
            if (uint8(results[i]) != b.expected[i]) ++statusMismatches;
            ++statusCounts[b.expected[i] < 6 ? b.expected[i] : 0];
        }
    }

    /// @dev Each failed item has a `PaymentFailed` with its index, payer, nonce and status (the
    /// last one for its index: logs of an undone group are recorded too), settled items none, and
    /// `BatchSettled` carries the results.
    function _checkEvents(Batch memory b, Vm.Log[] memory logs, bytes memory results) internal {
        uint256 n = b.expected.length;
        int256[] memory last = new int256[](n);
        for (uint256 i = 0; i < n; ++i) last[i] = -1;
        uint256 batchSettled;
        for (uint256 j = 0; j < logs.length; ++j) {
            if (logs[j].emitter != router) continue;
            bytes32 topic = logs[j].topics[0];
            if (topic == BATCH_SETTLED) {
                ++batchSettled;
                if (
                    logs[j].topics[1] != bytes32(uint256(uint160(address(token)))) ||
                    keccak256(abi.decode(logs[j].data, (bytes))) != keccak256(results)
                ) ++eventMismatches;
            } else if (topic == PAYMENT_FAILED) {
                uint256 index = uint256(logs[j].topics[1]);
                if (index < n) last[index] = int256(j);
                else ++eventMismatches;
            }
        }
        if (batchSettled != 1) ++eventMismatches;
        for (uint256 i = 0; i < n; ++i) {
            if (b.expected[i] == 0) {
                if (last[i] != -1) ++eventMismatches;
                continue;
            }
            if (last[i] == -1) {
                ++eventMismatches;
                continue;
            }
            Vm.Log memory log = logs[uint256(last[i])];
            (bytes32 nonce, uint8 status, ) = abi.decode(log.data, (bytes32, uint8, bytes));
            if (
                log.topics[2] != bytes32(uint256(uint160(payers[b.items[i].payer]))) ||
                nonce != b.items[i].nonce ||
                status != b.expected[i]
            ) ++eventMismatches;
        }
    }

    function _checkNonces(Batch memory b) internal {
        for (uint256 i = 0; i < b.items.length; ++i) {
            address from = payers[b.items[i].payer];
            bytes32 nonce = b.items[i].nonce;
            if (token.authorizationState(from, nonce) != modelUsed[from][nonce]) ++nonceMismatches;
        }
    }

    // ---- views for the invariants ---------------------------------------------------------------

    function coverage() external view returns (uint256[6] memory counts, uint256[5] memory other) {
        counts = statusCounts;
        other = [
            malformedBatches,
            feePayoutReverts,
            expiredItems,
            notYetValidItems,
            contractSignatureItems
        ];
    }
}

/**
 * @dev Invariants of the router under the handler's random batches, checked against the handler's
 * own model. `BROKEN_ROUTER=<n>` runs them against deliberately broken routers (see
 * broken/BrokenRouters.sol: 1 reports every item failed, 2 skips the fee payout, 3 pays the
 * payee twice, 4 ignores spent nonces, 5 keeps an unpaid group, 6 emits no PaymentFailed,
 * 7 ignores a malformed tail) to show which invariant each one breaks; unset, the real router.
 */
contract SettlementRouterInvariantTest {
    address internal router;
    BlacklistingTestToken internal token;
    SettlementRouterHandler internal handler;
    uint256 internal constant FUNDS = 1_000e6;

    function setUp() public {
        vm.warp(1_800_000_000);
        router = _router(vm.envOr("BROKEN_ROUTER", uint256(0)));
        token = new BlacklistingTestToken(address(this));
        handler = new SettlementRouterHandler(router, token);
        token.blacklist(handler.blacklisted());
        for (uint256 i = 0; i < handler.PAYERS(); ++i) {
            token.mint(handler.payers(i), FUNDS);
            handler.seed(handler.payers(i), FUNDS);
        }
    }

    function _router(uint256 broken) internal returns (address) {
        if (broken == 1) return address(new BrokenRouterReportsEveryItemFailed());
        if (broken == 2) return address(new BrokenRouterSkipsFeePayout());
        if (broken == 3) return address(new BrokenRouterPaysPayeeTwice());
        if (broken == 4) return address(new BrokenRouterIgnoresSpentNonce());
        if (broken == 5) return address(new BrokenRouterKeepsUnpaidGroup());
        if (broken == 6) return address(new BrokenRouterSilentFailures());
        if (broken == 7) return address(new BrokenRouterIgnoresMalformedTail());
        return address(new SettlementRouter());
    }

    /// @dev Only the handler's actions are called by the invariant runner.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    function targetSelectors() public view returns (FuzzSelector[] memory targets) {
        bytes4[] memory selectors = new bytes4[](3);
        selectors[0] = SettlementRouterHandler.settleBatch.selector;
        selectors[1] = SettlementRouterHandler.warp.selector;
        selectors[2] = SettlementRouterHandler.toggleWallet.selector;
        targets = new FuzzSelector[](1);
        targets[0] = FuzzSelector(address(handler), selectors);
    }

    /// @notice The handler's mix reaches every status, both batch reverts, expired, not yet
    /// valid and contract-signature items (so the invariants below see them all).
    function test_handlerMixReachesEveryOutcome() public {
        for (uint256 i = 0; i < 300; ++i) {
            handler.settleBatch(uint256(keccak256(abi.encode("mix", i))), i);
            if (i % 7 == 0) handler.warp(i * 13);
            if (i % 50 == 0) handler.toggleWallet();
        }
        (uint256[6] memory counts, uint256[5] memory other) = handler.coverage();
        for (uint256 s = 0; s < 6; ++s) require(counts[s] > 0, "a status never occurred");
        for (uint256 k = 0; k < 5; ++k) require(other[k] > 0, "an outcome never occurred");
        require(handler.statusMismatches() == 0, "statuses");
        require(handler.eventMismatches() == 0, "events");
        require(handler.revertMismatches() == 0, "reverts");
        require(handler.nonceMismatches() == 0, "nonces");
    }

    /// forge-config: default.invariant.fail-on-revert = true
    function invariant_routerNeverHoldsFunds() public view {
        require(token.balanceOf(router) == 0, "the router holds funds");
    }

    /// forge-config: default.invariant.fail-on-revert = true
    function invariant_everyItemHasTheModelledStatus() public view {
        require(handler.statusMismatches() == 0, "an item's status differs from the model's");
    }

    /// forge-config: default.invariant.fail-on-revert = true
    function invariant_eventsReportEveryFailure() public view {
        require(handler.eventMismatches() == 0, "PaymentFailed/BatchSettled differ from the model");
    }

    /// forge-config: default.invariant.fail-on-revert = true
    function invariant_batchesRevertExactlyWhenModelled() public view {
        require(handler.revertMismatches() == 0, "a batch reverted (or not) against the model");
    }

    /// forge-config: default.invariant.fail-on-revert = true
    function invariant_nonceStatesMatchModel() public view {
        require(handler.nonceMismatches() == 0, "a nonce state differs from the model's");
    }

    /// forge-config: default.invariant.fail-on-revert = true
    function invariant_balancesMatchModelAndDebitsEqualCreditsPlusFees() public view {
        uint256 debits;
        for (uint256 i = 0; i < handler.PAYERS(); ++i) {
            address payer = handler.payers(i);
            uint256 balance = token.balanceOf(payer);
            require(balance == handler.modelBalance(payer), "payer balance != model");
            debits += FUNDS - balance;
        }
        uint256 credits;
        for (uint256 i = 0; i < handler.PAYEES(); ++i) {
            address payee = handler.payees(i);
            require(
                token.balanceOf(payee) == handler.modelBalance(payee),
                "payee balance != model"
            );
            credits += token.balanceOf(payee);
        }
        uint256 fees = token.balanceOf(handler.feeRecipient());
        require(fees == handler.modelBalance(handler.feeRecipient()), "fees != model");
        require(debits == handler.ghostDebits(), "debits != model's settled value");
        require(credits == handler.ghostCredits(), "credits != model's credits");
        require(fees == handler.ghostFees(), "fees != model's fees");
        require(debits == credits + fees, "debits != credits + fees");
    }
}
