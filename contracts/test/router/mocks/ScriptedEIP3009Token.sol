// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice A mock EIP-3009 token that records every call that returns in a hash chain
/// (`callChain = keccak256(callChain ‖ caller ‖ call data)`, so the order, the callers and the
/// exact call data of all of them are pinned, not only the last), and whose answers are scripted
/// by the call's own arguments, so two routers given the same items meet the same token:
/// - an authorization's `value % 32` picks its fate: settle (0-19, 29-31; a reused
///   `(from, nonce)` reverts as on USDC), revert with a custom error (20), with 300 bytes (21),
///   empty (22), with exactly 256 (25) or 257 bytes (26), burn all its gas (23), succeed returning
///   600 bytes (24), re-enter `settle` (27) or `settleRoutedGroup` (28) on its caller and revert
///   with what that returned;
/// - `authorizationState` answers by `uint160(from) % 8`: the truth (0-4), the truth and a second
///   word (5), burn its gas (6), 31 bytes (7);
/// - `transfer` answers by `uint160(to) % 16`: true (0-9), nothing (10), false (11), a revert
///   string (12), 1 byte (13), true and a second word (14), 400 bytes of revert data (15); a
///   transfer to address 0 reverts.
/// @dev Note: it moves no funds and checks no signature; `used` is its only model of state.
contract ScriptedEIP3009Token {
    /// @notice The chain of every call that returned.
    bytes32 public callChain;
    /// @notice How many calls returned.
    uint256 public calls;
    /// @notice Authorizations executed (or reused) so far.
    mapping(address => mapping(bytes32 => bool)) public used;

    error ScriptedTokenRefused(uint256 value, bytes32 nonce);

    function _record() private {
        callChain = keccak256(abi.encodePacked(callChain, msg.sender, msg.data));
        ++calls;
    }

    function _authorize(address from, uint256 value, bytes32 nonce) private {
        uint256 fate = value % 32;
        if (fate == 20) revert ScriptedTokenRefused(value, nonce);
        if (fate == 21) _revertWith(300);
        if (fate == 22) revert();
        if (fate == 23) _burn();
        if (fate == 25) _revertWith(256);
        if (fate == 26) _revertWith(257);
        if (fate == 27) {
            (, bytes memory ret) = msg.sender.call(
                abi.encodeWithSignature(
                    "settle(address,address,bytes)",
                    address(this),
                    address(0),
                    ""
                )
            );
            _revertWithData(ret);
        }
        if (fate == 28) {
            (, bytes memory ret) = msg.sender.call(
                abi.encodeWithSignature(
                    "settleRoutedGroup(address,address,uint256,uint256)",
                    address(this),
                    address(0),
                    0,
                    0
                )
            );
            _revertWithData(ret);
        }
        require(!used[from][nonce], "FiatTokenV2: authorization is used or canceled");
        used[from][nonce] = true;
        _record();
        if (fate == 24) {
            assembly ("memory-safe") {
                return(0, 600)
            }
        }
    }

    function transferWithAuthorization(
        address from,
        address,
        uint256 value,
        uint256,
        uint256,
        bytes32 nonce,
        uint8,
        bytes32,
        bytes32
    ) external {
        _authorize(from, value, nonce);
    }

    function receiveWithAuthorization(
        address from,
        address,
        uint256 value,
        uint256,
        uint256,
        bytes32 nonce,
        uint8,
        bytes32,
        bytes32
    ) external {
        _authorize(from, value, nonce);
    }

    function transferWithAuthorization(
        address from,
        address,
        uint256 value,
        uint256,
        uint256,
        bytes32 nonce,
        bytes calldata
    ) external {
        _authorize(from, value, nonce);
    }

    function receiveWithAuthorization(
        address from,
        address,
        uint256 value,
        uint256,
        uint256,
        bytes32 nonce,
        bytes calldata
    ) external {
        _authorize(from, value, nonce);
    }

    function authorizationState(address from, bytes32 nonce) external view returns (bool) {
        uint256 mode = uint160(from) % 8;
        bool state = used[from][nonce];
        if (mode == 5) {
            bytes memory out = abi.encode(state, type(uint256).max);
            assembly ("memory-safe") {
                return(add(out, 0x20), 0x40)
            }
        }
        if (mode == 6) _burn();
        if (mode == 7) {
            assembly ("memory-safe") {
                mstore(0, 1)
                return(0, 31)
            }
        }
        return state;
    }

    function transfer(address to, uint256 value) external returns (bool) {
        require(to != address(0), "ERC20: transfer to the zero address");
        uint256 mode = uint160(to) % 16;
        if (mode == 12) revert("Blacklistable: account is blacklisted");
        if (mode == 15) _revertWith(400);
        _record();
        value;
        if (mode == 10) {
            assembly ("memory-safe") {
                return(0, 0)
            }
        }
        if (mode == 11) return false;
        if (mode == 13) {
            assembly ("memory-safe") {
                mstore(0, shl(248, 1))
                return(0, 1)
            }
        }
        if (mode == 14) {
            assembly ("memory-safe") {
                mstore(0, 1)
                mstore(0x20, 0xdead)
                return(0, 0x40)
            }
        }
        return true;
    }

    function _revertWith(uint256 size) private pure {
        assembly ("memory-safe") {
            let p := mload(0x40)
            for {
                let k := 0
            } lt(k, size) {
                k := add(k, 0x20)
            } {
                mstore(add(p, k), add(k, 0xabcdef))
            }
            revert(p, size)
        }
    }

    function _revertWithData(bytes memory data) private pure {
        assembly ("memory-safe") {
            revert(add(data, 0x20), mload(data))
        }
    }

    function _burn() private view {
        uint256 x;
        while (gasleft() > 0) x++;
    }
}
