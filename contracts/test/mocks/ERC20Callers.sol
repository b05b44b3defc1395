// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @notice Moves tokens it holds two ways: through a plain `IERC20` call (which decodes the
/// `bool` the standard promises) and through OpenZeppelin's SafeERC20 (which accepts no return
/// value), to show which callers a token without return values breaks.
contract ERC20Callers {
    using SafeERC20 for IERC20;

    function plainTransfer(IERC20 token, address to, uint256 amount) external returns (bool) {
        return token.transfer(to, amount);
    }

    function plainTransferFrom(
        IERC20 token,
        address from,
        address to,
        uint256 amount
    ) external returns (bool) {
        return token.transferFrom(from, to, amount);
    }

    function safeTransfer(IERC20 token, address to, uint256 amount) external {
        token.safeTransfer(to, amount);
    }

    function safeTransferFrom(IERC20 token, address from, address to, uint256 amount) external {
        token.safeTransferFrom(from, to, amount);
    }

    function trySafeTransfer(IERC20 token, address to, uint256 amount) external returns (bool) {
        return token.trySafeTransfer(to, amount);
    }
}
