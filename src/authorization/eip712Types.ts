/**
 * EIP-712 types of EIP-3009, as USDC (FiatTokenV2_2) and OpenZeppelin's ERC3009 define them.
 * `TransferWithAuthorization` is what an x402 `exact` client signs; routed payments sign
 * `ReceiveWithAuthorization`; `CancelAuthorization` burns a nonce.
 */
const authorizationFields = [
  { name: "from", type: "address" },
  { name: "to", type: "address" },
  { name: "value", type: "uint256" },
  { name: "validAfter", type: "uint256" },
  { name: "validBefore", type: "uint256" },
  { name: "nonce", type: "bytes32" },
] as const;

/** `TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)` */
export const transferWithAuthorizationTypes = {
  TransferWithAuthorization: authorizationFields,
} as const;

/** `ReceiveWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)` */
export const receiveWithAuthorizationTypes = {
  ReceiveWithAuthorization: authorizationFields,
} as const;

/** `CancelAuthorization(address authorizer,bytes32 nonce)` */
export const cancelAuthorizationTypes = {
  CancelAuthorization: [
    { name: "authorizer", type: "address" },
    { name: "nonce", type: "bytes32" },
  ],
} as const;
