// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/**
 * @title ERC1271WalletMock
 * @notice A minimal contract wallet for tests: a signature is valid iff it is the owner's ECDSA signature of
 * the digest (65 bytes, low s). The owner can switch validation off to model a revoked or broken wallet.
 * @dev Note: it holds tokens but cannot move them itself; it exists to sign EIP-3009 authorizations.
 */
contract ERC1271WalletMock is IERC1271 {
    /// @notice The EOA whose signatures this wallet accepts.
    // solhint-disable-next-line immutable-vars-naming
    address public immutable owner;
    /// @notice When false, every signature is rejected.
    bool public accepting = true;

    constructor(address owner_) {
        owner = owner_;
    }

    /// @notice Accept (true) or reject (false) all signatures from now on. Only the owner may call it.
    function setAccepting(bool accepting_) external {
        require(msg.sender == owner, "ERC1271WalletMock: not owner");
        accepting = accepting_;
    }

    /// @inheritdoc IERC1271
    function isValidSignature(
        bytes32 hash,
        bytes calldata signature
    ) external view returns (bytes4) {
        (address recovered, ECDSA.RecoverError err, ) = ECDSA.tryRecoverCalldata(hash, signature);
        bool valid = accepting && err == ECDSA.RecoverError.NoError && recovered == owner;
        return valid ? IERC1271.isValidSignature.selector : bytes4(0xffffffff);
    }
}
