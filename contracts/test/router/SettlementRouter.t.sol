// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {IERC3009} from "@openzeppelin/contracts/interfaces/draft-IERC3009.sol";
import {IERC3009Signature} from "../../interfaces/IERC3009.sol";
import {ISettlementRouter} from "../../interfaces/ISettlementRouter.sol";
import {SettlementRouter} from "../../router/SettlementRouter.sol";
import {Vm, vm} from "../utils/Vm.sol";
import {TestUtils} from "../utils/TestUtils.sol";
import {RouterItems} from "./RouterItems.sol";
import {GasBurningToken, HugeRevertToken} from "./mocks/GasBurningToken.sol";
import {RecordingEIP3009Token} from "./mocks/RecordingEIP3009Token.sol";

/// @dev Items encoded in Solidity (RouterItems, independent of the router) must reach the token
/// with exactly the encoded values; malformed items revert the whole call.
contract SettlementRouterTest {
    SettlementRouter internal router;
    RecordingEIP3009Token internal token;

    function setUp() public {
        router = new SettlementRouter();
        token = new RecordingEIP3009Token();
    }

    function _settleOne(bytes memory items, address feeRecipient) internal returns (uint8) {
        bytes memory results = router.settle(address(token), feeRecipient, items);
        require(results.length == 1, "one result");
        return uint8(results[0]);
    }

    function testFuzz_directItemReachesTheTokenAsEncoded(
        address from,
        address to,
        uint128 value,
        uint48 validAfter,
        uint48 validBefore,
        bytes32 nonce,
        bytes32 r,
        uint256 s,
        bool odd
    ) public {
        s = TestUtils.bound(s, 0, (uint256(1) << 255) - 1);
        uint8 v = odd ? 28 : 27;
        bytes memory items = RouterItems.direct(
            from,
            to,
            value,
            validAfter,
            validBefore,
            nonce,
            RouterItems.compact(v, r, bytes32(s))
        );
        require(items.length == 165, "direct item size");
        require(_settleOne(items, address(0)) == 0, "settled");
        bytes memory expected = abi.encodeWithSelector(
            IERC3009.transferWithAuthorization.selector,
            from,
            to,
            uint256(value),
            uint256(validAfter),
            uint256(validBefore),
            nonce,
            v,
            r,
            bytes32(s)
        );
        require(token.lastCall() == keccak256(expected), "call data");
    }

    struct Routed {
        address from;
        address payee;
        address feeRecipient;
        uint128 value;
        uint128 fee;
        uint48 validAfter;
        uint48 validBefore;
        bytes32 salt;
        bytes32 r;
        bytes32 s;
        uint8 v;
    }

    function _routedCallData(Routed memory it) internal view returns (bytes memory) {
        return
            abi.encodeWithSelector(
                IERC3009.receiveWithAuthorization.selector,
                it.from,
                address(router),
                uint256(it.value),
                uint256(it.validAfter),
                uint256(it.validBefore),
                keccak256(abi.encode(it.payee, uint256(it.fee), it.feeRecipient, it.salt)),
                it.v,
                it.r,
                it.s
            );
    }

    function testFuzz_routedItemReachesTheTokenAsEncoded(
        address from,
        address payee,
        address feeRecipient,
        uint128 value,
        uint128 fee,
        uint96 window,
        bytes32 salt,
        uint256 s
    ) public {
        vm.assume(payee != address(router) && feeRecipient != address(router));
        Routed memory it = Routed({
            from: from,
            payee: payee,
            feeRecipient: feeRecipient,
            value: value,
            fee: uint128(TestUtils.bound(fee, 0, value)),
            validAfter: uint48(window >> 48),
            validBefore: uint48(window),
            salt: salt,
            r: keccak256(abi.encode(salt, s)),
            s: bytes32(s >> 1),
            v: uint8(27 + (s & 1))
        });
        bytes memory items = RouterItems.routed(
            it.from,
            it.payee,
            it.value,
            it.validAfter,
            it.validBefore,
            it.salt,
            it.fee,
            RouterItems.compact(it.v, it.r, it.s)
        );
        require(items.length == 181, "routed item size");
        require(_settleOne(items, feeRecipient) == 0, "settled");
        require(token.lastCall() == keccak256(_routedCallData(it)), "call data");
        // Netted payout to the payee, then the fee.
        uint256 k;
        if (it.value - it.fee != 0) {
            require(token.transferTo(k) == payee, "payout to");
            require(token.transferValue(k) == it.value - it.fee, "payout value");
            ++k;
        }
        if (it.fee != 0) {
            require(token.transferTo(k) == feeRecipient, "fee to");
            require(token.transferValue(k) == it.fee, "fee value");
            ++k;
        }
        require(token.transfers() == k, "no other transfer");
        // Every call, in order: the authorization, the payout, the fee.
        bytes32 chain = keccak256(
            abi.encodePacked(bytes32(0), address(router), _routedCallData(it))
        );
        if (it.value - it.fee != 0) {
            chain = keccak256(
                abi.encodePacked(
                    chain,
                    address(router),
                    abi.encodeWithSignature("transfer(address,uint256)", payee, it.value - it.fee)
                )
            );
        }
        if (it.fee != 0) {
            chain = keccak256(
                abi.encodePacked(
                    chain,
                    address(router),
                    abi.encodeWithSignature("transfer(address,uint256)", feeRecipient, it.fee)
                )
            );
        }
        require(token.callChain() == chain, "every call, in order");
    }

    function testFuzz_contractSignatureReachesTheTokenUnchanged(
        address from,
        address to,
        uint128 value,
        bytes32 nonce,
        bytes memory signature
    ) public {
        vm.assume(signature.length != 0 && signature.length <= 2_000);
        bytes memory items = RouterItems.directWithContractSignature(
            from,
            to,
            value,
            0,
            type(uint48).max,
            nonce,
            signature
        );
        require(_settleOne(items, address(0)) == 0, "settled");
        bytes memory expected = abi.encodeWithSelector(
            IERC3009Signature.transferWithAuthorization.selector,
            from,
            to,
            uint256(value),
            uint256(0),
            uint256(type(uint48).max),
            nonce,
            signature
        );
        require(token.lastCall() == keccak256(expected), "call data");
    }

    function testFuzz_routedNonceIsAbiEncodeHash(
        address payee,
        uint256 fee,
        address feeRecipient,
        bytes32 salt
    ) public view {
        require(
            router.routedNonce(payee, fee, feeRecipient, salt) ==
                keccak256(abi.encode(payee, fee, feeRecipient, salt)),
            "routedNonce"
        );
    }

    function _truncated(bytes memory items, uint256 length) internal pure returns (bytes memory) {
        bytes memory out = new bytes(length);
        for (uint256 i = 0; i < length; ++i) out[i] = items[i];
        return out;
    }

    function testFuzz_truncatedItemsRevert(uint256 cut, uint8 kind) public {
        bytes memory sig = RouterItems.compact(27, bytes32(uint256(1)), bytes32(uint256(2)));
        bytes memory one;
        kind %= 3;
        if (kind == 0) {
            one = RouterItems.direct(address(1), address(2), 3, 0, 5, bytes32(0), sig);
        } else if (kind == 1) {
            one = RouterItems.routed(address(1), address(2), 3, 0, 5, bytes32(0), 1, sig);
        } else {
            one = RouterItems.directWithContractSignature(
                address(1),
                address(2),
                3,
                0,
                5,
                bytes32(0),
                hex"aabbcc"
            );
        }
        // A whole first item, then a cut copy: the offending item starts at one.length.
        bytes memory items = bytes.concat(
            one,
            _truncated(one, TestUtils.bound(cut, 1, one.length - 1))
        );
        vm.expectRevert(
            abi.encodeWithSelector(
                ISettlementRouter.SettlementRouterMalformedItems.selector,
                one.length
            )
        );
        router.settle(address(token), address(0), items);
    }

    function test_unknownFlagsRevert() public {
        bytes memory sig = RouterItems.compact(27, bytes32(uint256(1)), bytes32(uint256(2)));
        bytes memory items = RouterItems.direct(address(1), address(2), 3, 0, 5, 0, sig);
        items[0] = 0x04;
        vm.expectRevert(
            abi.encodeWithSelector(ISettlementRouter.SettlementRouterMalformedItems.selector, 0)
        );
        router.settle(address(token), address(0), items);
    }

    function test_emptyContractSignatureIsReportedNotCalled() public {
        bytes memory items = RouterItems.directWithContractSignature(
            address(1),
            address(2),
            3,
            0,
            5,
            bytes32(uint256(7)),
            ""
        );
        require(
            _settleOne(items, address(0)) ==
                uint8(ISettlementRouter.ItemStatus.InvalidSignatureLength),
            "status"
        );
        require(token.calls() == 0, "token not called");
    }

    function test_tokenWithoutCodeReverts() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                ISettlementRouter.SettlementRouterTokenHasNoCode.selector,
                address(0xbeef)
            )
        );
        router.settle(address(0xbeef), address(0), "");
    }

    function test_settleRoutedGroupIsForTheRouterOnly() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                ISettlementRouter.SettlementRouterUnauthorizedCaller.selector,
                address(this)
            )
        );
        router.settleRoutedGroup(address(token), address(0), 0, 0);
    }

    function test_tooLittleGasForAFullItemLimitRevertsInsteadOfReportingAFailure() public {
        GasBurningToken burner = new GasBurningToken();
        bytes memory sig = RouterItems.compact(27, bytes32(uint256(1)), bytes32(uint256(2)));
        bytes memory items = RouterItems.direct(address(1), address(2), 3, 0, 5, 0, sig);
        // Enough gas: the burning call is cut at ITEM_GAS_LIMIT and reported.
        bytes memory results = router.settle{gas: 600_000}(address(burner), address(0), items);
        require(uint8(results[0]) == uint8(ISettlementRouter.ItemStatus.TokenReverted), "status");
        // Too little for a full limit: the whole call reverts.
        vm.expectRevert(
            abi.encodeWithSelector(ISettlementRouter.SettlementRouterInsufficientGas.selector, 0)
        );
        router.settle{gas: 150_000}(address(burner), address(0), items);
    }

    function test_hugeRevertDataIsCappedInTheEvent() public {
        HugeRevertToken huge = new HugeRevertToken();
        bytes memory sig = RouterItems.compact(27, bytes32(uint256(1)), bytes32(uint256(2)));
        bytes memory one = RouterItems.direct(address(1), address(2), 3, 0, 5, bytes32("n"), sig);
        vm.recordLogs();
        bytes memory results = router.settle(address(huge), address(0), bytes.concat(one, one));
        require(results.length == 2, "two results");
        require(uint8(results[0]) == uint8(ISettlementRouter.ItemStatus.TokenReverted), "0");
        require(uint8(results[1]) == uint8(ISettlementRouter.ItemStatus.TokenReverted), "1");
        Vm.Log[] memory logs = vm.getRecordedLogs();
        uint256 failed;
        for (uint256 i = 0; i < logs.length; ++i) {
            if (logs[i].topics[0] != ISettlementRouter.PaymentFailed.selector) continue;
            require(uint256(logs[i].topics[1]) == failed, "index");
            require(logs[i].topics[2] == bytes32(uint256(1)), "authorizer");
            (bytes32 nonce, uint8 status, bytes memory reason) = abi.decode(
                logs[i].data,
                (bytes32, uint8, bytes)
            );
            require(nonce == bytes32("n"), "nonce");
            require(status == uint8(ISettlementRouter.ItemStatus.TokenReverted), "status");
            require(reason.length == router.MAX_REASON_LENGTH(), "reason capped");
            ++failed;
        }
        require(failed == 2, "one PaymentFailed per item");
    }
}
