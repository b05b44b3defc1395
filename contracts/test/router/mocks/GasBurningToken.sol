// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice A "token" whose every call burns all the gas it is given.
contract GasBurningToken {
    fallback() external {
        uint256 x;
        while (gasleft() > 0) x++;
    }
}

/// @notice A "token" whose every call reverts with 32 KiB of revert data.
contract HugeRevertToken {
    fallback() external {
        assembly {
            revert(0, 0x8000)
        }
    }
}
