// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

/// @notice A minimal USDT-like ERC-20 for Permit2 items: `transfer` and `transferFrom` return
/// nothing, `approve` from one non-zero allowance to another reverts, accounts can be blacklisted,
/// and `failSilently` makes `transfer` return `false` without reverting or moving funds (the
/// failure a router must not mistake for success), and any `transfer` or `transferFrom` from or to
/// `silentAccount` returns nothing and moves nothing (a silent failure that looks like success to
/// a caller accepting an empty return). No EIP-2612, no EIP-3009.
contract UsdtLikeMock {
    // solhint-disable-next-line const-name-snakecase
    string public constant name = "No Return Dollar";
    // solhint-disable-next-line const-name-snakecase
    string public constant symbol = "NRD";
    // solhint-disable-next-line const-name-snakecase
    uint8 public constant decimals = 6;

    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    mapping(address => bool) public isBlackListed;
    /// @notice When true, `transfer` returns `false` and moves nothing.
    bool public failSilently;
    /// @notice Transfers from or to this account return nothing and move nothing.
    address public silentAccount;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    /// @notice Anyone may mint: a test token.
    function mint(address to, uint256 value) external {
        totalSupply += value;
        balanceOf[to] += value;
        emit Transfer(address(0), to, value);
    }

    function addBlackList(address account) external {
        isBlackListed[account] = true;
    }

    function setFailSilently(bool value) external {
        failSilently = value;
    }

    function setSilentAccount(address account) external {
        silentAccount = account;
    }

    function approve(address spender, uint256 value) external {
        require(value == 0 || allowance[msg.sender][spender] == 0, "approve: non-zero to non-zero");
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
    }

    function transfer(address to, uint256 value) external {
        if (failSilently) {
            assembly {
                mstore(0, 0)
                return(0, 32)
            }
        }
        if (msg.sender == silentAccount || to == silentAccount) return;
        _move(msg.sender, to, value);
    }

    function transferFrom(address from, address to, uint256 value) external {
        if (from == silentAccount || to == silentAccount) return;
        uint256 allowed = allowance[from][msg.sender];
        if (allowed != type(uint256).max) {
            require(allowed >= value, "transferFrom: allowance");
            allowance[from][msg.sender] = allowed - value;
        }
        _move(from, to, value);
    }

    function _move(address from, address to, uint256 value) private {
        require(!isBlackListed[from] && !isBlackListed[to], "blacklisted");
        require(balanceOf[from] >= value, "balance");
        balanceOf[from] -= value;
        balanceOf[to] += value;
        emit Transfer(from, to, value);
    }
}
