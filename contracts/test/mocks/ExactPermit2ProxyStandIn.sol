// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @dev The part of Permit2's SignatureTransfer the stand-in calls.
interface IPermit2WitnessTransfer {
    struct TokenPermissions {
        address token;
        uint256 amount;
    }

    struct PermitTransferFrom {
        TokenPermissions permitted;
        uint256 nonce;
        uint256 deadline;
    }

    struct SignatureTransferDetails {
        address to;
        uint256 requestedAmount;
    }

    function permitWitnessTransferFrom(
        PermitTransferFrom calldata permit,
        SignatureTransferDetails calldata transferDetails,
        address owner,
        bytes32 witness,
        string calldata witnessTypeString,
        bytes calldata signature
    ) external;
}

/// @title ExactPermit2ProxyStandIn
/// @notice A stand-in for x402's `x402ExactPermit2Proxy` with the same `settle` entry point and witness type, for
/// tests that need the proxy at its address (it is deployed on Base, not on a fresh simulated chain): it pulls the
/// permitted amount through Permit2 to `witness.to`, once `witness.validAfter` has passed.
contract ExactPermit2ProxyStandIn {
    struct Witness {
        address to;
        uint256 validAfter;
    }

    IPermit2WitnessTransfer private constant PERMIT2 = IPermit2WitnessTransfer(
        0x000000000022D473030F116dDEE9F6B43aC78BA3
    );
    bytes32 private constant WITNESS_TYPEHASH = keccak256("Witness(address to,uint256 validAfter)");
    string private constant WITNESS_TYPE_STRING =
        "Witness witness)TokenPermissions(address token,uint256 amount)Witness(address to,uint256 validAfter)";

    error PaymentTooEarly();

    function settle(
        IPermit2WitnessTransfer.PermitTransferFrom calldata permit,
        address owner,
        Witness calldata witness,
        bytes calldata signature
    ) external {
        if (block.timestamp < witness.validAfter) revert PaymentTooEarly();
        PERMIT2.permitWitnessTransferFrom(
            permit,
            IPermit2WitnessTransfer.SignatureTransferDetails({
                to: witness.to,
                requestedAmount: permit.permitted.amount
            }),
            owner,
            keccak256(abi.encode(WITNESS_TYPEHASH, witness.to, witness.validAfter)),
            WITNESS_TYPE_STRING,
            signature
        );
    }
}
