// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {vm} from "../utils/Vm.sol";

/// @notice The ClearingHouse's packed layouts and EIP-712 digests, written independently of the
/// contract with `abi.encodePacked` and the typed-data definitions, for Solidity tests.
library ClearingItems {
    bytes32 internal constant DOMAIN_TYPEHASH = keccak256(
        "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
    );
    bytes32 internal constant VOUCHER_TYPEHASH = keccak256(
        "Voucher(address payer,address payee,address token,address operator,"
        "uint128 cumulativeValue,uint128 cumulativeFee)"
    );
    bytes32 internal constant RECEIVE_TYPEHASH = keccak256(
        "ReceiveWithAuthorization(address from,address to,uint256 value,"
        "uint256 validAfter,uint256 validBefore,bytes32 nonce)"
    );
    bytes32 internal constant RELEASE_TYPEHASH = keccak256(
        "Release(address payer,address operator,address token,uint128 amount,bytes32 salt,uint48 deadline)"
    );
    /// @dev secp256k1 group order.
    uint256 internal constant N =
        0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;

    struct Voucher {
        address payer;
        address payee;
        address token;
        address operator;
        uint128 value;
        uint128 fee;
    }

    function domainSeparator(address house) internal view returns (bytes32) {
        return
            keccak256(
                abi.encode(
                    DOMAIN_TYPEHASH,
                    keccak256("x402 ClearingHouse"),
                    keccak256("1"),
                    block.chainid,
                    house
                )
            );
    }

    function voucherDigest(address house, Voucher memory v) internal view returns (bytes32) {
        bytes32 structHash = keccak256(
            abi.encode(VOUCHER_TYPEHASH, v.payer, v.payee, v.token, v.operator, v.value, v.fee)
        );
        return keccak256(abi.encodePacked("\x19\x01", domainSeparator(house), structHash));
    }

    /// @notice `r ‖ yParityAndS` from `(v, r, s)`.
    function compact(uint8 v, bytes32 r, bytes32 s) internal pure returns (bytes memory) {
        return abi.encodePacked(r, bytes32((uint256(v - 27) << 255) | uint256(s)));
    }

    /// @notice The same signature with `s' = n - s` and the other parity: valid for ecrecover,
    /// rejected by EIP-2.
    function highS(uint8 v, bytes32 r, bytes32 s) internal pure returns (bytes memory) {
        uint8 flipped = v == 27 ? 28 : 27;
        return compact(flipped, r, bytes32(N - uint256(s)));
    }

    /// @notice A packed voucher with an EIP-2098 signature (157 bytes).
    function packEOA(
        Voucher memory v,
        bytes memory compactSig
    ) internal pure returns (bytes memory) {
        return abi.encodePacked(uint8(0), v.payer, v.payee, v.operator, v.value, v.fee, compactSig);
    }

    /// @notice A packed voucher with a contract signature.
    function packContract(
        Voucher memory v,
        bytes memory signature
    ) internal pure returns (bytes memory) {
        return
            abi.encodePacked(
                uint8(1),
                v.payer,
                v.payee,
                v.operator,
                v.value,
                v.fee,
                uint16(signature.length),
                signature
            );
    }

    /// @notice Signs `v` for `house` with `key`, packed.
    function signed(
        address house,
        Voucher memory v,
        uint256 key
    ) internal view returns (bytes memory) {
        (uint8 sv, bytes32 r, bytes32 s) = vm.sign(key, voucherDigest(house, v));
        return packEOA(v, compact(sv, r, s));
    }

    /// @notice The deposit nonce (ClearingHouse.depositNonce).
    function depositNonce(
        address operator,
        address signer,
        bytes32 salt
    ) internal pure returns (bytes32) {
        return keccak256(abi.encode(operator, signer, salt));
    }

    struct Deposit {
        address payer;
        address operator;
        address signer;
        uint128 value;
        uint48 validAfter;
        uint48 validBefore;
        bytes32 salt;
    }

    /// @notice The EIP-3009 digest a deposit's payer signs under `tokenDomain`.
    function depositDigest(
        bytes32 tokenDomain,
        address house,
        Deposit memory d
    ) internal pure returns (bytes32) {
        bytes32 structHash = keccak256(
            abi.encode(
                RECEIVE_TYPEHASH,
                d.payer,
                house,
                uint256(d.value),
                uint256(d.validAfter),
                uint256(d.validBefore),
                depositNonce(d.operator, d.signer, d.salt)
            )
        );
        return keccak256(abi.encodePacked("\x19\x01", tokenDomain, structHash));
    }

    /// @notice A packed deposit item (184 bytes).
    function packDeposit(
        Deposit memory d,
        bytes memory compactSig
    ) internal pure returns (bytes memory) {
        return
            abi.encodePacked(
                d.payer,
                d.operator,
                d.signer,
                d.value,
                d.validAfter,
                d.validBefore,
                d.salt,
                compactSig
            );
    }

    /// @notice Permit2's canonical address.
    address internal constant PERMIT2 = 0x000000000022D473030F116dDEE9F6B43aC78BA3;

    /// @notice A Permit2 deposit into a ClearingHouse (the fields of a 178-byte packed item).
    struct Permit2Deposit {
        address payer;
        address operator;
        address signer;
        uint128 amount;
        uint256 nonce;
        uint48 deadline;
    }

    /// @notice The digest the payer signs: Permit2's `PermitWitnessTransferFrom` of `token` with
    /// `house` as spender and the `ClearingDeposit(operator, signer)` witness.
    function permit2DepositDigest(
        address token,
        address house,
        Permit2Deposit memory d
    ) internal view returns (bytes32) {
        bytes32 structHash = keccak256(
            abi.encode(
                keccak256(
                    "PermitWitnessTransferFrom(TokenPermissions permitted,address spender,uint256 nonce,"
                    "uint256 deadline,ClearingDeposit witness)ClearingDeposit(address operator,"
                    "address voucherSigner)TokenPermissions(address token,uint256 amount)"
                ),
                keccak256(
                    abi.encode(
                        keccak256("TokenPermissions(address token,uint256 amount)"),
                        token,
                        d.amount
                    )
                ),
                house,
                d.nonce,
                d.deadline,
                keccak256(
                    abi.encode(
                        keccak256("ClearingDeposit(address operator,address voucherSigner)"),
                        d.operator,
                        d.signer
                    )
                )
            )
        );
        (bool ok, bytes memory separator) = PERMIT2.staticcall(
            abi.encodeWithSignature("DOMAIN_SEPARATOR()")
        );
        require(ok && separator.length == 32, "no Permit2");
        return
            keccak256(abi.encodePacked("\x19\x01", abi.decode(separator, (bytes32)), structHash));
    }

    /// @notice A packed Permit2 deposit with an EIP-2098 signature (178 bytes).
    function packPermit2Deposit(
        Permit2Deposit memory d,
        bytes memory compactSig
    ) internal pure returns (bytes memory) {
        return
            abi.encodePacked(
                d.payer,
                d.operator,
                d.signer,
                d.amount,
                d.nonce,
                d.deadline,
                compactSig
            );
    }

    /// @notice Whether `owner` has used Permit2 nonce `nonce`.
    function permit2NonceUsed(address owner, uint256 nonce) internal view returns (bool) {
        (bool ok, bytes memory word) = PERMIT2.staticcall(
            abi.encodeWithSignature("nonceBitmap(address,uint256)", owner, nonce >> 8)
        );
        require(ok, "no Permit2");
        return (abi.decode(word, (uint256)) >> (nonce & 0xff)) & 1 == 1;
    }
}
