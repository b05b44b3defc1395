// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {IAccessControl} from "@openzeppelin/contracts/access/IAccessControl.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {ERC3009} from "@openzeppelin/contracts/token/ERC20/extensions/draft-ERC3009.sol";
import {IERC20Errors} from "@openzeppelin/contracts/interfaces/draft-IERC6093.sol";
import {IEIP3009Token} from "../../interfaces/IERC3009.sol";
import {IX402TestToken} from "../../interfaces/IX402TestToken.sol";
import {ERC1271WalletMock} from "../mocks/ERC1271WalletMock.sol";
import {X402TestTokenHarness} from "../mocks/X402TestTokenHarness.sol";
import {vm} from "../utils/Vm.sol";
import {TestUtils} from "../utils/TestUtils.sol";

/// @dev Concrete and fuzz tests of the test token's EIP-3009 signature paths, time window and nonces.
contract X402TestTokenTest {
    bytes32 internal constant TRANSFER_TYPEHASH = keccak256(
        "TransferWithAuthorization(address from,address to,uint256 value,"
        "uint256 validAfter,uint256 validBefore,bytes32 nonce)"
    );
    bytes32 internal constant RECEIVE_TYPEHASH = keccak256(
        "ReceiveWithAuthorization(address from,address to,uint256 value,"
        "uint256 validAfter,uint256 validBefore,bytes32 nonce)"
    );
    bytes32 internal constant CANCEL_TYPEHASH = keccak256(
        "CancelAuthorization(address authorizer,bytes32 nonce)"
    );

    uint256 internal constant START = 1_800_000_000;
    uint256 internal constant PAYER_KEY = 0xA11CE;
    address internal constant PAYEE = address(0xBEEF);

    X402TestTokenHarness internal token;
    address internal payer;

    struct Auth {
        address from;
        address to;
        uint256 value;
        uint256 validAfter;
        uint256 validBefore;
        bytes32 nonce;
    }

    function setUp() public {
        vm.warp(START);
        token = new X402TestTokenHarness("X402 Test Token", "X402T", "2", address(this));
        payer = vm.addr(PAYER_KEY);
        token.mint(payer, 1_000_000e6);
    }

    // ---------------------------------------------------------------------------------------------
    // helpers
    // ---------------------------------------------------------------------------------------------

    function _auth(address from, uint256 value, bytes32 nonce) internal pure returns (Auth memory) {
        return Auth(from, PAYEE, value, START - 1, START + 1 hours, nonce);
    }

    function _digest(bytes32 typehash, Auth memory a) internal view returns (bytes32) {
        bytes32 structHash = keccak256(
            abi.encode(typehash, a.from, a.to, a.value, a.validAfter, a.validBefore, a.nonce)
        );
        return keccak256(abi.encodePacked("\x19\x01", token.DOMAIN_SEPARATOR(), structHash));
    }

    function _transfer(Auth memory a, uint8 v, bytes32 r, bytes32 s) internal {
        token.transferWithAuthorization(
            a.from,
            a.to,
            a.value,
            a.validAfter,
            a.validBefore,
            a.nonce,
            v,
            r,
            s
        );
    }

    function _transferBytes(Auth memory a, bytes memory signature) internal {
        token.transferWithAuthorization(
            a.from,
            a.to,
            a.value,
            a.validAfter,
            a.validBefore,
            a.nonce,
            signature
        );
    }

    // ---------------------------------------------------------------------------------------------
    // concrete
    // ---------------------------------------------------------------------------------------------

    function test_typehashesEqualUsdc() public view {
        // The literals are FiatTokenV2_2's public constants (stablecoin-evm contracts/v2/EIP3009.sol).
        require(
            token.TRANSFER_WITH_AUTHORIZATION_TYPEHASH_() ==
                0x7c7c6cdb67a18743f49ec6fa9b35f50d52ed05cbed4cc592e13b44501c1a2267,
            "transfer typehash"
        );
        require(
            token.RECEIVE_WITH_AUTHORIZATION_TYPEHASH_() ==
                0xd099cc98ef71107a616c4f0f941f04c322d8e254fe26b3c6668db87aae413de8,
            "receive typehash"
        );
        require(
            token.CANCEL_AUTHORIZATION_TYPEHASH_() ==
                0x158b0a9edf7a828aad02f63cd515c68ef2f50ba807396f6d12842833a1597429,
            "cancel typehash"
        );
        require(
            token.TRANSFER_WITH_AUTHORIZATION_TYPEHASH_() == TRANSFER_TYPEHASH,
            "transfer typehash string"
        );
    }

    function test_domainSeparator() public view {
        bytes32 expected = keccak256(
            abi.encode(
                keccak256(
                    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
                ),
                keccak256("X402 Test Token"),
                keccak256("2"),
                block.chainid,
                address(token)
            )
        );
        require(token.DOMAIN_SEPARATOR() == expected, "domain separator");
        require(token.decimals() == 6, "decimals");
    }

    function test_transferWithAuthorization_movesFundsAndUsesNonce() public {
        Auth memory a = _auth(payer, 5e6, keccak256("n1"));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(PAYER_KEY, _digest(TRANSFER_TYPEHASH, a));
        _transfer(a, v, r, s);
        require(token.balanceOf(PAYEE) == 5e6, "payee balance");
        require(token.authorizationState(payer, a.nonce), "nonce used");
        vm.expectRevert(
            abi.encodeWithSelector(ERC3009.ERC3009UsedAuthorization.selector, payer, a.nonce)
        );
        _transfer(a, v, r, s);
    }

    function test_contractWallet_bytesSignature() public {
        ERC1271WalletMock wallet = new ERC1271WalletMock(payer);
        token.mint(address(wallet), 10e6);
        Auth memory a = _auth(address(wallet), 7e6, keccak256("w1"));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(PAYER_KEY, _digest(TRANSFER_TYPEHASH, a));
        _transferBytes(a, abi.encodePacked(r, s, v));
        require(token.balanceOf(PAYEE) == 7e6, "payee balance");

        Auth memory b = _auth(address(wallet), 1e6, keccak256("w2"));
        (v, r, s) = vm.sign(PAYER_KEY + 1, _digest(TRANSFER_TYPEHASH, b));
        vm.expectRevert(ERC3009.ERC3009InvalidSignature.selector);
        _transferBytes(b, abi.encodePacked(r, s, v));
    }

    function test_receive_onlyPayee() public {
        Auth memory a = _auth(payer, 1e6, keccak256("r1"));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(PAYER_KEY, _digest(RECEIVE_TYPEHASH, a));
        vm.expectRevert(
            abi.encodeWithSelector(
                IEIP3009Token.ERC3009CallerNotPayee.selector,
                address(this),
                PAYEE
            )
        );
        token.receiveWithAuthorization(
            a.from,
            a.to,
            a.value,
            a.validAfter,
            a.validBefore,
            a.nonce,
            v,
            r,
            s
        );
        vm.prank(PAYEE);
        token.receiveWithAuthorization(
            a.from,
            a.to,
            a.value,
            a.validAfter,
            a.validBefore,
            a.nonce,
            v,
            r,
            s
        );
        require(token.balanceOf(PAYEE) == 1e6, "payee balance");
    }

    function test_cancel_thenUseFails() public {
        bytes32 nonce = keccak256("c1");
        bytes32 digest = keccak256(
            abi.encodePacked(
                "\x19\x01",
                token.DOMAIN_SEPARATOR(),
                keccak256(abi.encode(CANCEL_TYPEHASH, payer, nonce))
            )
        );
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(PAYER_KEY, digest);
        token.cancelAuthorization(payer, nonce, v, r, s);
        require(token.authorizationState(payer, nonce), "cancelled");

        Auth memory a = _auth(payer, 1e6, nonce);
        (v, r, s) = vm.sign(PAYER_KEY, _digest(TRANSFER_TYPEHASH, a));
        vm.expectRevert(
            abi.encodeWithSelector(ERC3009.ERC3009UsedAuthorization.selector, payer, nonce)
        );
        _transfer(a, v, r, s);
    }

    function test_insufficientBalance() public {
        Auth memory a = _auth(payer, 1_000_000e6 + 1, keccak256("b1"));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(PAYER_KEY, _digest(TRANSFER_TYPEHASH, a));
        vm.expectRevert(
            abi.encodeWithSelector(
                IERC20Errors.ERC20InsufficientBalance.selector,
                payer,
                1_000_000e6,
                a.value
            )
        );
        _transfer(a, v, r, s);
    }

    function _permitDigest(
        address owner,
        address spender,
        uint256 value,
        uint256 nonce,
        uint256 deadline
    ) internal view returns (bytes32) {
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256(
                    "Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"
                ),
                owner,
                spender,
                value,
                nonce,
                deadline
            )
        );
        return keccak256(abi.encodePacked("\x19\x01", token.DOMAIN_SEPARATOR(), structHash));
    }

    function test_permit() public {
        uint256 deadline = block.timestamp;
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(
            PAYER_KEY,
            _permitDigest(payer, PAYEE, 3e6, 0, deadline)
        );
        token.permit(payer, PAYEE, 3e6, deadline, v, r, s);
        require(token.allowance(payer, PAYEE) == 3e6, "allowance");
        require(token.nonces(payer) == 1, "nonce advanced");

        // Replaying the same permit: the nonce moved on, so it recovers to someone else.
        vm.expectRevert();
        token.permit(payer, PAYEE, 3e6, deadline, v, r, s);

        (v, r, s) = vm.sign(PAYER_KEY, _permitDigest(payer, PAYEE, 1, 1, deadline - 1));
        vm.expectRevert(
            abi.encodeWithSelector(IX402TestToken.ERC2612ExpiredSignature.selector, deadline - 1)
        );
        token.permit(payer, PAYEE, 1, deadline - 1, v, r, s);

        uint256 otherKey = PAYER_KEY + 1;
        (v, r, s) = vm.sign(otherKey, _permitDigest(payer, PAYEE, 1, 1, deadline));
        vm.expectRevert(
            abi.encodeWithSelector(
                IX402TestToken.ERC2612InvalidSigner.selector,
                vm.addr(otherKey),
                payer
            )
        );
        token.permit(payer, PAYEE, 1, deadline, v, r, s);
    }

    function test_mintIsRoleGated() public {
        vm.expectRevert(
            abi.encodeWithSelector(
                IAccessControl.AccessControlUnauthorizedAccount.selector,
                PAYEE,
                token.MINTER_ROLE()
            )
        );
        vm.prank(PAYEE);
        token.mint(PAYEE, 1);
        token.mint(PAYEE, 1);
        require(token.balanceOf(PAYEE) == 1, "admin mints");
    }

    // ---------------------------------------------------------------------------------------------
    // fuzz: signatures
    // ---------------------------------------------------------------------------------------------

    /// Any key signs a valid authorization for its own address, through both overloads.
    function testFuzz_anyKeySigns(
        uint256 keySeed,
        uint256 value,
        bytes32 nonce,
        bool viaBytes
    ) public {
        uint256 key = TestUtils.boundPrivateKey(keySeed);
        address from = vm.addr(key);
        value = TestUtils.bound(value, 0, 1e30);
        token.mint(from, value);
        Auth memory a = _auth(from, value, nonce);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, _digest(TRANSFER_TYPEHASH, a));
        if (viaBytes) _transferBytes(a, abi.encodePacked(r, s, v));
        else _transfer(a, v, r, s);
        require(token.balanceOf(from) == 0, "payer drained");
        require(token.authorizationState(from, nonce), "nonce used");
    }

    /// A signature by any other key is rejected and leaves the nonce unused.
    function testFuzz_wrongSignerRejected(uint256 keySeed, bytes32 nonce, bool viaBytes) public {
        uint256 key = TestUtils.boundPrivateKey(keySeed);
        vm.assume(key != PAYER_KEY);
        Auth memory a = _auth(payer, 1e6, nonce);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, _digest(TRANSFER_TYPEHASH, a));
        vm.expectRevert(ERC3009.ERC3009InvalidSignature.selector);
        if (viaBytes) _transferBytes(a, abi.encodePacked(r, s, v));
        else _transfer(a, v, r, s);
        require(!token.authorizationState(payer, nonce), "nonce still unused");
    }

    /// The malleable twin (n - s, flipped v) of a valid signature is rejected as high-s.
    function testFuzz_highSRejected(uint256 keySeed, bytes32 nonce, bool viaBytes) public {
        uint256 key = TestUtils.boundPrivateKey(keySeed);
        address from = vm.addr(key);
        token.mint(from, 1e6);
        Auth memory a = _auth(from, 1e6, nonce);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, _digest(TRANSFER_TYPEHASH, a));
        bytes32 highS = bytes32(TestUtils.SECP256K1_N - uint256(s));
        uint8 flippedV = v == 27 ? 28 : 27;
        // The twin is a valid ECDSA signature of the same digest: ecrecover accepts it.
        require(
            ecrecover(_digest(TRANSFER_TYPEHASH, a), flippedV, r, highS) == from,
            "twin recovers"
        );
        vm.expectRevert(abi.encodeWithSelector(ECDSA.ECDSAInvalidSignatureS.selector, highS));
        if (viaBytes) _transferBytes(a, abi.encodePacked(r, highS, flippedV));
        else _transfer(a, flippedV, r, highS);
    }

    /// A signature over another primary type (receive / cancel typehash, or any other) does not authorize
    /// a transfer.
    function testFuzz_wrongTypehashRejected(bytes32 typehash, bytes32 nonce) public {
        vm.assume(typehash != TRANSFER_TYPEHASH);
        Auth memory a = _auth(payer, 1e6, nonce);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(PAYER_KEY, _digest(typehash, a));
        vm.expectRevert(ERC3009.ERC3009InvalidSignature.selector);
        _transfer(a, v, r, s);

        (v, r, s) = vm.sign(PAYER_KEY, _digest(RECEIVE_TYPEHASH, a));
        vm.expectRevert(ERC3009.ERC3009InvalidSignature.selector);
        _transfer(a, v, r, s);
    }

    /// Changing any signed field after signing invalidates the signature.
    function testFuzz_tamperedFieldRejected(uint256 field, uint256 delta, bytes32 nonce) public {
        delta = TestUtils.bound(delta, 1, 1e6);
        Auth memory a = _auth(payer, 1e6, nonce);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(PAYER_KEY, _digest(TRANSFER_TYPEHASH, a));
        field = TestUtils.bound(field, 0, 3);
        if (field == 0) a.to = address(uint160(a.to) + uint160(delta));
        else if (field == 1) a.value += delta;
        else if (field == 2) a.validBefore += delta;
        else a.validAfter -= delta;
        vm.expectRevert(ERC3009.ERC3009InvalidSignature.selector);
        _transfer(a, v, r, s);
    }

    /// An ERC-1271 wallet's authorization goes through iff its owner signed it; a rejected one leaves the
    /// nonce unused.
    function testFuzz_contractWalletSigner(
        uint256 ownerSeed,
        uint256 signerSeed,
        bool sameKey,
        bytes32 nonce
    ) public {
        uint256 ownerKey = TestUtils.boundPrivateKey(ownerSeed);
        uint256 signerKey = sameKey ? ownerKey : TestUtils.boundPrivateKey(signerSeed);
        ERC1271WalletMock wallet = new ERC1271WalletMock(vm.addr(ownerKey));
        token.mint(address(wallet), 1e6);
        Auth memory a = _auth(address(wallet), 1e6, nonce);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(signerKey, _digest(TRANSFER_TYPEHASH, a));
        bool accepted = signerKey == ownerKey;
        if (!accepted) vm.expectRevert(ERC3009.ERC3009InvalidSignature.selector);
        _transferBytes(a, abi.encodePacked(r, s, v));
        require(
            token.authorizationState(address(wallet), nonce) == accepted,
            "nonce used iff accepted"
        );
        require(token.balanceOf(PAYEE) == (accepted ? 1e6 : 0), "paid iff accepted");
    }

    /// A cancellation works only with the authorizer's signature over CancelAuthorization(authorizer, nonce).
    function testFuzz_cancelSigner(
        uint256 keySeed,
        bool payerSigns,
        bytes32 nonce,
        bytes32 otherNonce,
        bool sameNonce
    ) public {
        uint256 key = payerSigns ? PAYER_KEY : TestUtils.boundPrivateKey(keySeed);
        bytes32 signedNonce = sameNonce ? nonce : otherNonce;
        bytes32 digest = keccak256(
            abi.encodePacked(
                "\x19\x01",
                token.DOMAIN_SEPARATOR(),
                keccak256(abi.encode(CANCEL_TYPEHASH, payer, signedNonce))
            )
        );
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        bool accepted = key == PAYER_KEY && signedNonce == nonce;
        if (!accepted) vm.expectRevert(ERC3009.ERC3009InvalidSignature.selector);
        token.cancelAuthorization(payer, nonce, v, r, s);
        require(token.authorizationState(payer, nonce) == accepted, "cancelled iff accepted");
    }

    // ---------------------------------------------------------------------------------------------
    // fuzz: time window and nonces
    // ---------------------------------------------------------------------------------------------

    /// Accepted iff validAfter < now < validBefore; otherwise the failing edge is named.
    function testFuzz_timeWindow(
        uint256 nowTs,
        uint256 afterOffset,
        uint256 beforeOffset,
        bytes32 nonce
    ) public {
        nowTs = TestUtils.bound(nowTs, 10, 1e12);
        // Bounds within ±3 seconds of now hit both edges often; ±1e6 covers the rest.
        uint256 validAfter = TestUtils.bound(
            afterOffset,
            nowTs - (nowTs < 1e6 ? nowTs : 1e6),
            nowTs + 1e6
        );
        if (afterOffset % 2 == 0) validAfter = TestUtils.bound(afterOffset, nowTs - 3, nowTs + 3);
        uint256 validBefore = TestUtils.bound(
            beforeOffset,
            nowTs - (nowTs < 1e6 ? nowTs : 1e6),
            nowTs + 1e6
        );
        if (beforeOffset % 2 == 0)
            validBefore = TestUtils.bound(beforeOffset, nowTs - 3, nowTs + 3);

        Auth memory a = Auth(payer, PAYEE, 1, validAfter, validBefore, nonce);
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(PAYER_KEY, _digest(TRANSFER_TYPEHASH, a));
        vm.warp(nowTs);
        bool inWindow = validAfter < nowTs && nowTs < validBefore;
        if (!inWindow) {
            vm.expectRevert(
                validAfter >= nowTs
                    ? abi.encodeWithSelector(
                        IEIP3009Token.ERC3009AuthorizationNotYetValid.selector,
                        validAfter,
                        nowTs
                    )
                    : abi.encodeWithSelector(
                        IEIP3009Token.ERC3009AuthorizationExpired.selector,
                        validBefore,
                        nowTs
                    )
            );
        }
        _transfer(a, v, r, s);
        require(token.authorizationState(payer, nonce) == inWindow, "nonce used iff accepted");
        require(token.balanceOf(PAYEE) == (inWindow ? 1 : 0), "paid iff accepted");
    }

    /// A nonce works once, whichever of transfer, receive and cancel uses it first.
    function testFuzz_nonceSingleUse(bytes32 nonce, uint256 firstUse, uint256 secondUse) public {
        firstUse = TestUtils.bound(firstUse, 0, 2);
        secondUse = TestUtils.bound(secondUse, 0, 2);
        _use(firstUse, nonce, "");
        require(token.authorizationState(payer, nonce), "used");
        _use(
            secondUse,
            nonce,
            abi.encodeWithSelector(ERC3009.ERC3009UsedAuthorization.selector, payer, nonce)
        );
    }

    /// @dev Uses `nonce` through transfer (0), receive (1) or cancel (2), expecting `expectedRevert` if set.
    function _use(uint256 kind, bytes32 nonce, bytes memory expectedRevert) internal {
        Auth memory a = _auth(payer, 1e6, nonce);
        if (kind == 0) {
            (uint8 v, bytes32 r, bytes32 s) = vm.sign(PAYER_KEY, _digest(TRANSFER_TYPEHASH, a));
            if (expectedRevert.length > 0) vm.expectRevert(expectedRevert);
            _transfer(a, v, r, s);
        } else if (kind == 1) {
            (uint8 v, bytes32 r, bytes32 s) = vm.sign(PAYER_KEY, _digest(RECEIVE_TYPEHASH, a));
            if (expectedRevert.length > 0) vm.expectRevert(expectedRevert);
            vm.prank(PAYEE);
            token.receiveWithAuthorization(
                a.from,
                a.to,
                a.value,
                a.validAfter,
                a.validBefore,
                nonce,
                abi.encodePacked(r, s, v)
            );
        } else {
            bytes32 digest = keccak256(
                abi.encodePacked(
                    "\x19\x01",
                    token.DOMAIN_SEPARATOR(),
                    keccak256(abi.encode(CANCEL_TYPEHASH, payer, nonce))
                )
            );
            (uint8 v, bytes32 r, bytes32 s) = vm.sign(PAYER_KEY, digest);
            if (expectedRevert.length > 0) vm.expectRevert(expectedRevert);
            token.cancelAuthorization(payer, nonce, v, r, s);
        }
    }
}
