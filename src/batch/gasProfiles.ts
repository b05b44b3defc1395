/**
 * Gas a `SettlementRouter.settle` transaction uses, as a linear model the batch planner sums:
 * `base + Σ perItem[kind] + routedGroups × perRoutedGroup`, receipt gas (21k intrinsic and
 * calldata included). Measured on the simulated Base with a batch of 100 distinct funded payers,
 * rounded up; a failing item costs less than a settled one, so the model is an upper bound for
 * EOA signatures. Contract-wallet items add `perContractSignature` plus 16 gas per signature byte.
 */
export type SettleGasProfile = {
  /** Fixed cost of one settle transaction. */
  base: bigint;
  /** Marginal cost of one item. */
  perItem: { direct: bigint; routed: bigint };
  /** Netted payout of one group of consecutive routed items with the same payee. */
  perRoutedGroup: bigint;
  /** Extra for an ERC-1271 signature check (wallet-dependent; an estimate). */
  perContractSignature: bigint;
};

/** Circle's FiatTokenV2_2 (USDC on Base). */
export const FIAT_TOKEN_V2_2_GAS_PROFILE: SettleGasProfile = {
  base: 45_000n,
  perItem: { direct: 48_500n, routed: 48_500n },
  perRoutedGroup: 20_000n,
  perContractSignature: 40_000n,
};

/** The project's OpenZeppelin-based EIP-3009 test token (X402TestToken). */
export const X402_TEST_TOKEN_GAS_PROFILE: SettleGasProfile = {
  base: 45_000n,
  perItem: { direct: 42_000n, routed: 42_000n },
  perRoutedGroup: 20_000n,
  perContractSignature: 40_000n,
};
