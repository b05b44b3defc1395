// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {SettlementRouter} from "../../router/SettlementRouter.sol";
import {X402TestToken} from "../../token/X402TestToken.sol";
import {vm} from "../utils/Vm.sol";
import {TestUtils} from "../utils/TestUtils.sol";
import {RouterItems} from "./RouterItems.sol";

/**
 * @dev Sends the router random batches of direct and routed items on the test token: valid ones
 * and ones that must fail (reused nonces, wrong signer, value above the balance, fee above the
 * value), across several payees. Sums what the router reports settled, per its results.
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

    uint256 public constant PAYERS = 4;
    uint256 public constant PAYEES = 3;
    uint256 internal constant NONCES = 8;

    SettlementRouter public immutable router;
    X402TestToken public immutable token;
    address public immutable feeRecipient;
    uint256[PAYERS] internal keys;
    address[PAYERS] public payers;
    address[PAYEES] public payees;

    /// @notice Sums over the items the router reported settled.
    uint256 public settledValue;
    uint256 public settledCredits;
    uint256 public settledFees;
    uint256 public settledItems;
    uint256 public failedItems;

    struct Item {
        uint256 payer;
        address payee;
        uint128 value;
        uint128 fee;
        bool routed;
        bool wrongKey;
        bytes32 nonceOrSalt;
    }

    constructor(SettlementRouter router_, X402TestToken token_) {
        router = router_;
        token = token_;
        feeRecipient = address(uint160(uint256(keccak256("fee recipient"))));
        for (uint256 i = 0; i < PAYERS; ++i) {
            keys[i] = uint256(keccak256(abi.encode("router payer", i))) >> 8;
            payers[i] = vm.addr(keys[i]);
        }
        for (uint256 i = 0; i < PAYEES; ++i) {
            payees[i] = address(uint160(uint256(keccak256(abi.encode("router payee", i)))));
        }
    }

    function _item(uint256 seed) internal view returns (Item memory it) {
        it.payer = seed % PAYERS;
        it.payee = payees[(seed >> 8) % PAYEES];
        it.routed = (seed >> 16) & 1 == 1;
        it.wrongKey = (seed >> 17) % 8 == 0;
        it.value = uint128(
            TestUtils.bound(seed >> 24, 0, token.balanceOf(payers[it.payer]) / 2 + 1_000)
        );
        it.fee = uint128(TestUtils.bound(seed >> 64, 0, uint256(it.value) + 1));
        it.nonceOrSalt = keccak256(abi.encode("nonce", (seed >> 128) % NONCES));
    }

    function _validBefore() internal view returns (uint48) {
        return uint48(block.timestamp + 1 hours);
    }

    function _digest(Item memory it) internal view returns (bytes32) {
        bytes32 nonce =
            it.routed
                ? keccak256(abi.encode(it.payee, uint256(it.fee), feeRecipient, it.nonceOrSalt))
                : it.nonceOrSalt;
        bytes32 structHash = keccak256(
            abi.encode(
                it.routed ? RECEIVE_TYPEHASH : TRANSFER_TYPEHASH,
                payers[it.payer],
                it.routed ? address(router) : it.payee,
                uint256(it.value),
                uint256(0),
                uint256(_validBefore()),
                nonce
            )
        );
        return keccak256(abi.encodePacked("\x19\x01", token.DOMAIN_SEPARATOR(), structHash));
    }

    function _signature(Item memory it) internal view returns (bytes memory) {
        uint256 key = keys[it.wrongKey ? (it.payer + 1) % PAYERS : it.payer];
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, _digest(it));
        return RouterItems.compact(v, r, s);
    }

    function _encode(Item memory it) internal view returns (bytes memory) {
        if (!it.routed) {
            return
                RouterItems.direct(
                    payers[it.payer],
                    it.payee,
                    it.value,
                    0,
                    _validBefore(),
                    it.nonceOrSalt,
                    _signature(it)
                );
        }
        return
            RouterItems.routed(
                payers[it.payer],
                it.payee,
                it.value,
                0,
                _validBefore(),
                it.nonceOrSalt,
                it.fee,
                _signature(it)
            );
    }

    /// @notice One batch of 1 to 6 random items.
    function settleBatch(uint256 seed, uint256 count) external {
        count = TestUtils.bound(count, 1, 6);
        Item[] memory batch = new Item[](count);
        bytes memory items;
        for (uint256 i = 0; i < count; ++i) {
            batch[i] = _item(uint256(keccak256(abi.encode(seed, i))));
            items = bytes.concat(items, _encode(batch[i]));
        }
        bytes memory results = router.settle(address(token), feeRecipient, items);
        require(results.length == count, "one status per item");
        for (uint256 i = 0; i < count; ++i) {
            if (uint8(results[i]) != 0) {
                ++failedItems;
                continue;
            }
            ++settledItems;
            settledValue += batch[i].value;
            settledCredits += batch[i].routed ? batch[i].value - batch[i].fee : batch[i].value;
            if (batch[i].routed) settledFees += batch[i].fee;
        }
    }

    /// @notice Moves the clock forward a little (authorizations stay valid for an hour).
    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + TestUtils.bound(seconds_, 0, 10 minutes));
    }
}

/// @dev Invariants of the router under random batches: it never keeps funds, and what payers lose
/// is exactly what payees and the fee recipient gain, and what the router reported settled.
contract SettlementRouterInvariantTest {
    SettlementRouter internal router;
    X402TestToken internal token;
    SettlementRouterHandler internal handler;
    uint256 internal constant FUNDS = 1_000e6;

    function setUp() public {
        vm.warp(1_800_000_000);
        router = new SettlementRouter();
        token = new X402TestToken("X402 Test Token", "X402T", "1", address(this));
        handler = new SettlementRouterHandler(router, token);
        for (uint256 i = 0; i < handler.PAYERS(); ++i) token.mint(handler.payers(i), FUNDS);
    }

    /// @dev Only the handler is called by the invariant runner.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// forge-config: default.invariant.runs = 24
    /// forge-config: default.invariant.depth = 24
    function invariant_routerNeverHoldsFunds() public view {
        require(token.balanceOf(address(router)) == 0, "the router holds funds");
    }

    /// forge-config: default.invariant.runs = 24
    /// forge-config: default.invariant.depth = 24
    function invariant_payerDebitsEqualPayeeCreditsPlusFees() public view {
        uint256 debits;
        for (uint256 i = 0; i < handler.PAYERS(); ++i) {
            debits += FUNDS - token.balanceOf(handler.payers(i));
        }
        uint256 credits;
        for (uint256 i = 0; i < handler.PAYEES(); ++i) {
            credits += token.balanceOf(handler.payees(i));
        }
        uint256 fees = token.balanceOf(handler.feeRecipient());
        require(debits == credits + fees, "debits != credits + fees");
        require(debits == handler.settledValue(), "debits != reported settled value");
        require(credits == handler.settledCredits(), "credits != reported credits");
        require(fees == handler.settledFees(), "fees != reported fees");
    }
}
