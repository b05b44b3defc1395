// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

/**
 * @title TetherLikeToken
 * @notice A test stablecoin that behaves like Tether's USDT (TetherToken) where settlement is
 * concerned: 6 decimals; `transfer`, `transferFrom` and `approve` return nothing; `approve` from a
 * non-zero allowance to another non-zero one reverts (set it to zero first); an owner-managed
 * blacklist whose members cannot send (`addBlackList` / `removeBlackList` / `getBlackListStatus`);
 * an allowance of `type(uint256).max` is never spent; the owner mints. A failing call reverts
 * without data, as USDT's SafeMath and bare `require`s do.
 * @dev Note: this token does not provide EIP-2612 `permit`, EIP-3009 authorizations or any
 * signature-based approval: a holder's approval of Permit2 is an on-chain `approve`. It does not
 * model USDT's transfer fee (zero on every deployment), pausing, upgrades or `destroyBlackFunds`.
 * A caller that decodes a `bool` from `transfer` or `transferFrom` (a plain `IERC20` call) reverts
 * on this token; SafeERC20 and solmate's SafeTransferLib accept an empty return.
 */
contract TetherLikeToken {
    string public name;
    string public symbol;
    uint8 public constant decimals = 6;
    uint256 public totalSupply;
    address public owner;

    mapping(address account => uint256) public balanceOf;
    mapping(address holder => mapping(address spender => uint256)) public allowance;
    mapping(address account => bool) public isBlackListed;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);
    event AddedBlackList(address indexed account);
    event RemovedBlackList(address indexed account);

    modifier onlyOwner() {
        require(msg.sender == owner); // solhint-disable-line reason-string, gas-custom-errors
        _;
    }

    /// @param name_ ERC-20 name.
    /// @param symbol_ ERC-20 symbol.
    /// @param owner_ Mints and manages the blacklist.
    constructor(string memory name_, string memory symbol_, address owner_) {
        name = name_;
        symbol = symbol_;
        owner = owner_;
    }

    /// @notice Moves `value` from msg.sender to `to`. Returns nothing, as USDT.
    function transfer(address to, uint256 value) external {
        require(!isBlackListed[msg.sender]); // solhint-disable-line reason-string, gas-custom-errors
        _move(msg.sender, to, value);
    }

    /// @notice Moves `value` from `from` to `to` against msg.sender's allowance. Returns nothing.
    function transferFrom(address from, address to, uint256 value) external {
        require(!isBlackListed[from]); // solhint-disable-line reason-string, gas-custom-errors
        uint256 allowed = allowance[from][msg.sender];
        require(allowed >= value); // solhint-disable-line reason-string, gas-custom-errors
        if (allowed != type(uint256).max) allowance[from][msg.sender] = allowed - value;
        _move(from, to, value);
    }

    /// @notice Sets msg.sender's allowance for `spender`. Reverts when both the current and the
    /// new allowance are non-zero (USDT's guard against the approve race). Returns nothing.
    function approve(address spender, uint256 value) external {
        // solhint-disable-next-line reason-string, gas-custom-errors
        require(value == 0 || allowance[msg.sender][spender] == 0);
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
    }

    /// @notice Whether `account` is blacklisted (USDT's name for the view).
    function getBlackListStatus(address account) external view returns (bool) {
        return isBlackListed[account];
    }

    /// @notice Blacklists `account`: it can no longer send.
    function addBlackList(address account) external onlyOwner {
        isBlackListed[account] = true;
        emit AddedBlackList(account);
    }

    /// @notice Lifts `account`'s blacklisting.
    function removeBlackList(address account) external onlyOwner {
        isBlackListed[account] = false;
        emit RemovedBlackList(account);
    }

    /// @notice Mints `value` to `to`.
    function mint(address to, uint256 value) external onlyOwner {
        totalSupply += value;
        balanceOf[to] += value;
        emit Transfer(address(0), to, value);
    }

    function _move(address from, address to, uint256 value) internal {
        uint256 held = balanceOf[from];
        require(held >= value); // solhint-disable-line reason-string, gas-custom-errors
        // Cannot underflow: checked above; cannot overflow: the sum of balances is totalSupply.
        unchecked {
            balanceOf[from] = held - value;
            balanceOf[to] += value;
        }
        emit Transfer(from, to, value);
    }
}
