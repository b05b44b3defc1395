// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/**
 * @title Vm
 * @notice The Foundry cheatcodes that Hardhat 3's Solidity test runner (EDR) implements and the project's
 * Solidity tests use. Declare only what is used; add a line here when a test needs another one.
 */
// solhint-disable-next-line interface-starts-with-i
interface Vm {
    /// @notice Sets `block.timestamp`.
    function warp(uint256 timestamp) external;

    /// @notice Signs `digest` with `privateKey` (secp256k1), returning a low-s signature.
    function sign(
        uint256 privateKey,
        bytes32 digest
    ) external pure returns (uint8 v, bytes32 r, bytes32 s);

    /// @notice The address of `privateKey`.
    function addr(uint256 privateKey) external pure returns (address);

    /// @notice Makes the next call come from `sender`.
    function prank(address sender) external;

    /// @notice Expects the next call to revert with exactly `revertData`.
    function expectRevert(bytes calldata revertData) external;

    /// @notice Expects the next call to revert with an error whose selector is `selector`.
    function expectRevert(bytes4 selector) external;

    /// @notice Expects the next call to revert, with any data.
    function expectRevert() external;

    /// @notice Discards the current fuzz run when `condition` is false.
    function assume(bool condition) external pure;

    /// @notice Sets `account`'s native balance.
    function deal(address account, uint256 balance) external;

    /// @notice A log recorded after {recordLogs}.
    struct Log {
        bytes32[] topics;
        bytes data;
        address emitter;
    }

    /// @notice Starts recording the logs emitted from now on.
    function recordLogs() external;

    /// @notice Returns the logs recorded since {recordLogs} (or the last call) and clears them.
    function getRecordedLogs() external returns (Log[] memory);

    /// @notice The environment variable `name` parsed as a uint256, or `defaultValue` when unset.
    function envOr(string calldata name, uint256 defaultValue) external view returns (uint256);
}

/// @dev The cheatcode contract's fixed address: address(bytes20(uint160(uint256(keccak256("hevm cheat code"))))).
Vm constant vm = Vm(0x7109709ECfa91a80626fF3989D68f67F5b1DD12D);
