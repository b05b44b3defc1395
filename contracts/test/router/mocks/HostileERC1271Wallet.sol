// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice A contract wallet whose ERC-1271 check either burns all the gas it gets or returns a
/// megabyte of data: it must cost the router's batch at most one item's gas limit.
contract HostileERC1271Wallet {
    /// @notice True: burn gas; false: return 1 MiB of data.
    bool public immutable burn;

    constructor(bool burn_) {
        burn = burn_;
    }

    function isValidSignature(bytes32, bytes calldata) external view returns (bytes4) {
        if (burn) {
            uint256 x;
            while (gasleft() > 0) x++;
            return bytes4(uint32(x));
        }
        assembly {
            return(0, 0x100000)
        }
    }
}
