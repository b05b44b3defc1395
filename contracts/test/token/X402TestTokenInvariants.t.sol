// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {IERC3009, IERC3009Cancel} from "@openzeppelin/contracts/interfaces/draft-IERC3009.sol";
import {IERC3009Signature} from "../../interfaces/IERC3009.sol";
import {X402TestToken} from "../../token/X402TestToken.sol";
import {vm} from "../utils/Vm.sol";
import {TestUtils} from "../utils/TestUtils.sol";

/**
 * @dev Drives the test token with random EIP-3009 transfers, receives and cancellations (some signed
 * by the wrong key, some reusing nonces, some outside their time window) and keeps a model of what
 * must happen. Every call is wrapped so a rejection never reverts the handler; a disagreement with
 * the model is counted instead.
 */
contract X402TestTokenHandler {
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

    uint256 public constant ACTORS = 4;
    uint256 public constant NONCES = 6;

    X402TestToken public immutable token;
    uint256[ACTORS] internal keys;
    address[ACTORS] public actors;

    /// @notice The model's view of every actor's balance and of every (actor, nonce) state.
    mapping(address => uint256) public expectedBalance;
    mapping(address => mapping(bytes32 => bool)) public expectedUsed;
    /// @notice Calls whose outcome differed from the model (must stay 0).
    uint256 public mismatches;
    /// @notice Accepted and rejected authorizations, to see that both happen.
    uint256 public accepted;
    uint256 public rejected;
    /// @notice Calls of {authorize}: each is accepted or rejected.
    uint256 public authorizations;

    address internal immutable deployer;

    constructor(X402TestToken token_) {
        token = token_;
        deployer = msg.sender;
        for (uint256 i = 0; i < ACTORS; ++i) {
            keys[i] = uint256(keccak256(abi.encode("actor", i))) >> 8;
            actors[i] = vm.addr(keys[i]);
        }
    }

    /// @notice Credits the model with the balances the test minted (only the deploying test may).
    function seed(address account, uint256 amount) external {
        require(msg.sender == deployer, "handler: not the test");
        expectedBalance[account] += amount;
    }

    function nonceAt(uint256 seed_) public pure returns (bytes32) {
        return keccak256(abi.encode("nonce", seed_ % NONCES));
    }

    function _digest(bytes32 structHash) internal view returns (bytes32) {
        return keccak256(abi.encodePacked("\x19\x01", token.DOMAIN_SEPARATOR(), structHash));
    }

    /// @notice Moves the clock forward by up to a day.
    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + TestUtils.bound(seconds_, 0, 1 days));
    }

    struct Authorization {
        address from;
        address to;
        uint256 value;
        uint256 validAfter;
        uint256 validBefore;
        bytes32 nonce;
        bool asReceive;
        bool viaBytes;
    }

    /// @notice A transfer (or, when `asReceive`, a receive to this handler) from a random actor.
    function authorize(
        uint256 fromSeed,
        uint256 toSeed,
        uint256 value,
        uint256 nonceSeed,
        uint256 windowSeed,
        bool wrongKey,
        bool asReceive,
        bool viaBytes
    ) external {
        ++authorizations;
        uint256 fromIndex = fromSeed % ACTORS;
        Authorization memory a;
        a.from = actors[fromIndex];
        a.to = asReceive ? address(this) : actors[toSeed % ACTORS];
        a.value = TestUtils.bound(value, 0, 2 * token.balanceOf(a.from) + 1);
        a.nonce = nonceAt(nonceSeed);
        // Windows around now: open, not yet valid, or expired.
        a.validAfter = block.timestamp - TestUtils.bound(windowSeed, 0, 2);
        a.validBefore = block.timestamp + (windowSeed % 3);
        a.asReceive = asReceive;
        a.viaBytes = viaBytes;
        uint256 key = wrongKey ? keys[(fromIndex + 1) % ACTORS] : keys[fromIndex];

        bool shouldPass =
            !wrongKey &&
                a.validAfter < block.timestamp &&
                block.timestamp < a.validBefore &&
                !expectedUsed[a.from][a.nonce] &&
                a.value <= expectedBalance[a.from];
        bool passed = _call(a, key);
        if (passed != shouldPass) ++mismatches;
        if (passed) {
            ++accepted;
            expectedUsed[a.from][a.nonce] = true;
            expectedBalance[a.from] -= a.value;
            expectedBalance[a.to] += a.value;
        } else {
            ++rejected;
        }
    }

    function _call(Authorization memory a, uint256 key) internal returns (bool) {
        bytes32 digest = _digest(
            keccak256(
                abi.encode(
                    a.asReceive ? RECEIVE_TYPEHASH : TRANSFER_TYPEHASH,
                    a.from,
                    a.to,
                    a.value,
                    a.validAfter,
                    a.validBefore,
                    a.nonce
                )
            )
        );
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, digest);
        bytes memory data;
        if (a.viaBytes) {
            bytes4 selector =
                a.asReceive
                    ? IERC3009Signature.receiveWithAuthorization.selector
                    : IERC3009Signature.transferWithAuthorization.selector;
            data = abi.encodeWithSelector(
                selector,
                a.from,
                a.to,
                a.value,
                a.validAfter,
                a.validBefore,
                a.nonce,
                abi.encodePacked(r, s, v)
            );
        } else {
            bytes4 selector =
                a.asReceive
                    ? IERC3009.receiveWithAuthorization.selector
                    : IERC3009.transferWithAuthorization.selector;
            data = abi.encodeWithSelector(
                selector,
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
        (bool ok, ) = address(token).call(data);
        return ok;
    }

    /// @notice A cancellation by a random actor (sometimes signed by the wrong key).
    function cancel(uint256 fromSeed, uint256 nonceSeed, bool wrongKey) external {
        uint256 fromIndex = fromSeed % ACTORS;
        address from = actors[fromIndex];
        bytes32 nonce = nonceAt(nonceSeed);
        uint256 key = wrongKey ? keys[(fromIndex + 1) % ACTORS] : keys[fromIndex];
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(
            key,
            _digest(keccak256(abi.encode(CANCEL_TYPEHASH, from, nonce)))
        );
        bool shouldPass = !wrongKey && !expectedUsed[from][nonce];
        (bool passed, ) = address(token).call(
            abi.encodeCall(IERC3009Cancel.cancelAuthorization, (from, nonce, v, r, s))
        );
        if (passed != shouldPass) ++mismatches;
        if (passed) expectedUsed[from][nonce] = true;
    }
}

/// @dev Invariants of the test token under random EIP-3009 traffic.
contract X402TestTokenInvariantTest {
    X402TestToken internal token;
    X402TestTokenHandler internal handler;
    uint256 internal constant FUNDS = 1_000e6;

    function setUp() public {
        vm.warp(1_800_000_000);
        token = new X402TestToken("X402 Test Token", "X402T", "1", address(this));
        handler = new X402TestTokenHandler(token);
        for (uint256 i = 0; i < handler.ACTORS(); ++i) {
            address actor = handler.actors(i);
            token.mint(actor, FUNDS);
            handler.seed(actor, FUNDS);
        }
    }

    /// @dev Only the handler is called by the invariant runner.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    /// @dev The handler's actions (not `seed`, which only the test may call).
    function targetSelectors() public view returns (FuzzSelector[] memory targets) {
        bytes4[] memory selectors = new bytes4[](3);
        selectors[0] = X402TestTokenHandler.authorize.selector;
        selectors[1] = X402TestTokenHandler.cancel.selector;
        selectors[2] = X402TestTokenHandler.warp.selector;
        targets = new FuzzSelector[](1);
        targets[0] = FuzzSelector(address(handler), selectors);
    }

    /// @notice The handler's mix both accepts and rejects authorizations, and the model agrees
    /// with the token on every one.
    function test_handlerAcceptsAndRejects() public {
        for (uint256 i = 0; i < 200; ++i) {
            uint256 r = uint256(keccak256(abi.encode("token mix", i)));
            handler.authorize(
                r,
                r >> 8,
                r >> 16,
                r >> 80,
                r >> 88,
                (r >> 96) % 6 == 0,
                (r >> 104) % 2 == 0,
                (r >> 112) % 2 == 0
            );
            if (i % 5 == 0) handler.cancel(r >> 120, r >> 128, (r >> 136) % 4 == 0);
            if (i % 9 == 0) handler.warp(r >> 144);
        }
        require(handler.accepted() >= 10, "too few authorizations accepted");
        require(handler.rejected() > 20, "too few authorizations rejected");
        require(handler.accepted() + handler.rejected() == handler.authorizations(), "counted");
        require(handler.mismatches() == 0, "the model disagrees with the token");
    }

    /// forge-config: default.invariant.fail-on-revert = true
    function invariant_everyAuthorizationAcceptedOrRejected() public view {
        require(
            handler.accepted() + handler.rejected() == handler.authorizations(),
            "an authorization was neither accepted nor rejected"
        );
    }

    /// forge-config: default.invariant.fail-on-revert = true
    function invariant_tokenAgreesWithModel() public view {
        require(
            handler.mismatches() == 0,
            "an authorization was accepted or rejected against the model"
        );
    }

    /// forge-config: default.invariant.fail-on-revert = true
    function invariant_balancesMatchModelAndSupply() public view {
        uint256 sum = token.balanceOf(address(handler));
        require(sum == handler.expectedBalance(address(handler)), "handler balance");
        for (uint256 i = 0; i < handler.ACTORS(); ++i) {
            address actor = handler.actors(i);
            require(token.balanceOf(actor) == handler.expectedBalance(actor), "actor balance");
            sum += token.balanceOf(actor);
        }
        require(sum == token.totalSupply(), "no tokens created or lost");
    }

    /// forge-config: default.invariant.fail-on-revert = true
    function invariant_nonceStatesMatchModel() public view {
        for (uint256 i = 0; i < handler.ACTORS(); ++i) {
            address actor = handler.actors(i);
            for (uint256 n = 0; n < handler.NONCES(); ++n) {
                bytes32 nonce = handler.nonceAt(n);
                require(
                    token.authorizationState(actor, nonce) == handler.expectedUsed(actor, nonce),
                    "nonce state"
                );
            }
        }
    }
}
