// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/**
 * @title MaliciousERC3009Mock
 * @notice A hostile stand-in for an EIP-3009 token (or an ERC-1271 wallet): every call except the
 * configuration functions and `authorizationState` runs the configured attack, whatever its selector and
 * arguments, so it answers `transferWithAuthorization`, `receiveWithAuthorization` (both overloads),
 * `isValidSignature`, `transfer`, ... alike.
 * @dev Note: it moves no funds and checks nothing; `authorizationState` always answers "unused".
 */
contract MaliciousERC3009Mock {
    /// @notice What every other call does.
    enum Mode {
        /// Returns nothing and succeeds.
        Succeed,
        /// Loops until all gas it was given is spent (an out-of-gas revert without data).
        BurnGas,
        /// Reverts with `size` bytes of revert data.
        RevertHuge,
        /// Succeeds, returning `size` bytes.
        ReturnHuge,
        /// Reverts without data.
        RevertEmpty,
        /// Reverts with {MaliciousERC3009MockError}, which no decoder knows.
        RevertCustom
    }

    /// @notice The custom error of {Mode.RevertCustom}.
    error MaliciousERC3009MockError(uint256 size);

    /// @notice The current attack.
    Mode public mode;
    /// @notice Bytes of revert or return data for {Mode.RevertHuge} and {Mode.ReturnHuge}.
    uint256 public size;

    /// @notice Selects the attack and the data size.
    function setMode(Mode mode_, uint256 size_) external {
        mode = mode_;
        size = size_;
    }

    /// @notice Always "unused", so a pre-check lets the call through to the attack.
    function authorizationState(address, bytes32) external pure returns (bool) {
        return false;
    }

    fallback(bytes calldata) external returns (bytes memory) {
        Mode m = mode;
        uint256 n = size;
        if (m == Mode.BurnGas) {
            // solhint-disable-next-line no-empty-blocks
            while (gasleft() > 0) {}
        } else if (m == Mode.RevertHuge) {
            assembly ("memory-safe") {
                revert(0, n)
            }
        } else if (m == Mode.ReturnHuge) {
            assembly ("memory-safe") {
                return(0, n)
            }
        } else if (m == Mode.RevertEmpty) {
            revert();
        } else if (m == Mode.RevertCustom) {
            revert MaliciousERC3009MockError(n);
        }
        return "";
    }
}
