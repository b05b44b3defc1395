// SPDX-License-Identifier: MIT
pragma solidity ^0.8.26;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC3009} from "@openzeppelin/contracts/token/ERC20/extensions/draft-ERC3009.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {IERC3009, IERC3009Cancel} from "@openzeppelin/contracts/interfaces/draft-IERC3009.sol";
import {IERC3009Signature} from "../interfaces/IERC3009.sol";
import {IX402TestToken} from "../interfaces/IX402TestToken.sol";

/**
 * @title X402TestToken
 * @notice An ERC-20 with 6 decimals, EIP-2612 `permit` and the EIP-3009 interface of Circle's FiatTokenV2_2
 * (USDC v2.2): `transferWithAuthorization`, `receiveWithAuthorization` and `cancelAuthorization`, each with
 * `(v, r, s)` and with `bytes signature`, plus `authorizationState`. Same selectors, EIP-712 type hashes,
 * events, check order and strict time bounds as USDC; the EIP-712 name and version are constructor arguments.
 * @dev Note: this token does not check or provide
 * - pausing or blacklisting (USDC reverts "Pausable: paused" / "Blacklistable: account is blacklisted");
 * - ERC-1271 on the `(v, r, s)` overloads: they verify ECDSA only, so contract wallets must use the
 *   `bytes signature` overloads (USDC also consults ERC-1271 on the `(v, r, s)` overloads);
 * - ERC-6492 (counterfactual wallet) signatures;
 * - the block-number clock of OpenZeppelin's draft ERC3009: bounds are always unix timestamps, as in USDC;
 * - that ERC-1271 signatures stay valid: a wallet may revoke or grant them at any block;
 * - anything about minters: whoever holds MINTER_ROLE mints without limit.
 * Malformed ECDSA signatures revert with OpenZeppelin's `ECDSAInvalidSignature*` errors (high-s included),
 * a well-formed signature by the wrong signer with {ERC3009-ERC3009InvalidSignature}.
 */
contract X402TestToken is ERC20, EIP712, Nonces, ERC3009, AccessControl, IX402TestToken {
    /// @notice The role allowed to mint.
    bytes32 public constant MINTER_ROLE = keccak256("MINTER_ROLE");

    bytes32 private constant PERMIT_TYPEHASH = keccak256(
        "Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"
    );

    /**
     * @param name_ ERC-20 name and EIP-712 domain name.
     * @param symbol_ ERC-20 symbol.
     * @param version_ EIP-712 domain version.
     * @param admin Receives DEFAULT_ADMIN_ROLE and MINTER_ROLE.
     */
    constructor(
        string memory name_,
        string memory symbol_,
        string memory version_,
        address admin
    ) ERC20(name_, symbol_) EIP712(name_, version_) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(MINTER_ROLE, admin);
    }

    /// @notice USDC's 6 decimals.
    function decimals() public pure override returns (uint8) {
        return 6;
    }

    /// @inheritdoc IX402TestToken
    function mint(address to, uint256 value) external onlyRole(MINTER_ROLE) {
        _mint(to, value);
    }

    // ---------------------------------------------------------------------------------------------
    // EIP-3009, (v, r, s) overloads: ECDSA only
    // ---------------------------------------------------------------------------------------------

    /// @inheritdoc ERC3009
    function transferWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) public override(ERC3009, IERC3009) {
        bytes32 digest = _useAuthorization(
            TRANSFER_WITH_AUTHORIZATION_TYPEHASH,
            from,
            to,
            value,
            validAfter,
            validBefore,
            nonce
        );
        require(ECDSA.recover(digest, v, r, s) == from, ERC3009InvalidSignature());
        emit AuthorizationUsed(from, nonce);
        _transfer(from, to, value);
    }

    /// @inheritdoc ERC3009
    function receiveWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) public override(ERC3009, IERC3009) {
        require(to == _msgSender(), ERC3009CallerNotPayee(_msgSender(), to));
        bytes32 digest = _useAuthorization(
            RECEIVE_WITH_AUTHORIZATION_TYPEHASH,
            from,
            to,
            value,
            validAfter,
            validBefore,
            nonce
        );
        require(ECDSA.recover(digest, v, r, s) == from, ERC3009InvalidSignature());
        emit AuthorizationUsed(from, nonce);
        _transfer(from, to, value);
    }

    /// @inheritdoc ERC3009
    function cancelAuthorization(
        address authorizer,
        bytes32 nonce,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) public override(ERC3009, IERC3009Cancel) {
        bytes32 digest = _useCancellation(authorizer, nonce);
        require(ECDSA.recover(digest, v, r, s) == authorizer, ERC3009InvalidSignature());
        emit AuthorizationCanceled(authorizer, nonce);
    }

    // ---------------------------------------------------------------------------------------------
    // EIP-3009, bytes overloads: ECDSA for accounts without code, ERC-1271 for contracts
    // ---------------------------------------------------------------------------------------------

    /// @inheritdoc IERC3009Signature
    function transferWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        bytes calldata signature
    ) external {
        bytes32 digest = _useAuthorization(
            TRANSFER_WITH_AUTHORIZATION_TYPEHASH,
            from,
            to,
            value,
            validAfter,
            validBefore,
            nonce
        );
        _requireValidSignature(from, digest, signature);
        emit AuthorizationUsed(from, nonce);
        _transfer(from, to, value);
    }

    /// @inheritdoc IERC3009Signature
    function receiveWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        bytes calldata signature
    ) external {
        require(to == _msgSender(), ERC3009CallerNotPayee(_msgSender(), to));
        bytes32 digest = _useAuthorization(
            RECEIVE_WITH_AUTHORIZATION_TYPEHASH,
            from,
            to,
            value,
            validAfter,
            validBefore,
            nonce
        );
        _requireValidSignature(from, digest, signature);
        emit AuthorizationUsed(from, nonce);
        _transfer(from, to, value);
    }

    /// @inheritdoc IERC3009Signature
    function cancelAuthorization(
        address authorizer,
        bytes32 nonce,
        bytes calldata signature
    ) external {
        bytes32 digest = _useCancellation(authorizer, nonce);
        _requireValidSignature(authorizer, digest, signature);
        emit AuthorizationCanceled(authorizer, nonce);
    }

    // ---------------------------------------------------------------------------------------------
    // EIP-2612, on OpenZeppelin's EIP712 and Nonces: ERC20Permit would fix the EIP-712 version to "1",
    // and this token takes its version at deployment (USDC's domain uses "2").
    // ---------------------------------------------------------------------------------------------

    /// @inheritdoc IERC20Permit
    function permit(
        address owner,
        address spender,
        uint256 value,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external {
        require(block.timestamp <= deadline, ERC2612ExpiredSignature(deadline));
        bytes32 digest = _hashTypedDataV4(
            keccak256(
                abi.encode(PERMIT_TYPEHASH, owner, spender, value, _useNonce(owner), deadline)
            )
        );
        address signer = ECDSA.recover(digest, v, r, s);
        require(signer == owner, ERC2612InvalidSigner(signer, owner));
        _approve(owner, spender, value);
    }

    /// @inheritdoc IERC20Permit
    function nonces(address owner) public view override(IERC20Permit, Nonces) returns (uint256) {
        return super.nonces(owner);
    }

    /// @inheritdoc IERC20Permit
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // ---------------------------------------------------------------------------------------------
    // Internals
    // ---------------------------------------------------------------------------------------------

    /**
     * @dev Strict unix-time bounds, as USDC: valid iff `validAfter < block.timestamp < validBefore`.
     * Replaces the draft ERC3009's dual (timestamp / block number) clock and tells the two edges apart.
     */
    function _checkValidity(uint256 validAfter, uint256 validBefore) internal view override {
        require(
            block.timestamp > validAfter,
            ERC3009AuthorizationNotYetValid(validAfter, block.timestamp)
        );
        require(
            block.timestamp < validBefore,
            ERC3009AuthorizationExpired(validBefore, block.timestamp)
        );
    }

    /**
     * @dev Validates the time window, consumes the nonce and returns the EIP-712 digest the authorizer
     * must have signed. The caller checks the signature, emits and moves the funds; any revert restores
     * the nonce.
     */
    function _useAuthorization(
        bytes32 typehash,
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce
    ) private returns (bytes32) {
        _checkValidity(validAfter, validBefore);
        _consumeNonce(from, nonce);
        bytes32 structHash;
        // Same bytes as keccak256(abi.encode(typehash, from, to, value, validAfter, validBefore, nonce)),
        // hashed in scratch memory past the free pointer without allocating.
        assembly ("memory-safe") {
            let m := mload(0x40)
            mstore(m, typehash)
            mstore(add(m, 0x20), and(from, 0xffffffffffffffffffffffffffffffffffffffff))
            mstore(add(m, 0x40), and(to, 0xffffffffffffffffffffffffffffffffffffffff))
            mstore(add(m, 0x60), value)
            mstore(add(m, 0x80), validAfter)
            mstore(add(m, 0xa0), validBefore)
            mstore(add(m, 0xc0), nonce)
            structHash := keccak256(m, 0xe0)
        }
        return _hashTypedDataV4(structHash);
    }

    /// @dev Consumes the nonce and returns the digest of `CancelAuthorization(authorizer, nonce)`.
    function _useCancellation(address authorizer, bytes32 nonce) private returns (bytes32) {
        _consumeNonce(authorizer, nonce);
        return
            _hashTypedDataV4(
                keccak256(abi.encode(CANCEL_AUTHORIZATION_TYPEHASH, authorizer, nonce))
            );
    }

    /**
     * @dev ECDSA when `signer` has no code (malformed signatures revert with OpenZeppelin's ECDSA errors,
     * as USDC's ECRecover reverts with its strings), ERC-1271 through {SignatureChecker} otherwise.
     */
    function _requireValidSignature(
        address signer,
        bytes32 digest,
        bytes calldata signature
    ) private view {
        if (signer.code.length == 0) {
            require(ECDSA.recoverCalldata(digest, signature) == signer, ERC3009InvalidSignature());
        } else {
            require(
                SignatureChecker.isValidERC1271SignatureNowCalldata(signer, digest, signature),
                ERC3009InvalidSignature()
            );
        }
    }
}
