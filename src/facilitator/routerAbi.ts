/** The SettlementRouter surface the facilitator uses (see contracts/interfaces/ISettlementRouter.sol). */
export const settlementRouterAbi = [
  {
    type: "function",
    name: "settle",
    stateMutability: "nonpayable",
    inputs: [
      { name: "token", type: "address" },
      { name: "feeRecipient", type: "address" },
      { name: "items", type: "bytes" },
    ],
    outputs: [{ name: "results", type: "bytes" }],
  },
  {
    type: "event",
    name: "PaymentSettled",
    inputs: [
      { name: "index", type: "uint256", indexed: true },
      { name: "authorizer", type: "address", indexed: true },
      { name: "nonce", type: "bytes32", indexed: false },
    ],
  },
  {
    type: "event",
    name: "PaymentFailed",
    inputs: [
      { name: "index", type: "uint256", indexed: true },
      { name: "authorizer", type: "address", indexed: true },
      { name: "nonce", type: "bytes32", indexed: false },
      { name: "status", type: "uint8", indexed: false },
      { name: "reason", type: "bytes", indexed: false },
    ],
  },
] as const;

/** `ISettlementRouter.ItemStatus`. */
export const ItemStatus = {
  Settled: 0,
  AuthorizationUsed: 1,
  TokenReverted: 2,
  FeeExceedsValue: 3,
  PayoutFailed: 4,
  InvalidSignatureLength: 5,
} as const;
