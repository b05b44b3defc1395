/**
 * Gas a `SettlementRouter.settle` transaction uses, as a linear model the batch planner sums:
 *
 *   base + Σ perItem[kind] + distinct direct payees × perDirectPayee
 *        + (any routed item ? routedFixed : 0) + routed groups × perRoutedGroup
 *
 * in receipt gas (21k intrinsic and calldata included). Payee terms assume the payee's balance
 * starts at zero (the costly case). Measured on the simulated Base against batches of 100 and 200
 * distinct funded payers and rounded up about 1%; a failing item costs less than a settled one.
 * Contract-wallet items add `perContractSignature` plus 16 gas per signature byte (wallet-dependent).
 * `settleAuthorizations` does not rely on the model alone: a batch the router says does not fit is
 * cut where it ran short.
 */
export type SettleGasProfile = {
  /** Fixed cost of one settle transaction. */
  base: bigint;
  /** Marginal cost of one item. */
  perItem: { direct: bigint; routed: bigint };
  /** First credit to each distinct payee of direct items. */
  perDirectPayee: bigint;
  /** Once per transaction with routed items: the fee payout. */
  routedFixed: bigint;
  /** Netted payout of one group of consecutive routed items with the same payee. */
  perRoutedGroup: bigint;
  /** Extra for an ERC-1271 signature check (an estimate). */
  perContractSignature: bigint;
};

/** Circle's FiatTokenV2_2 (USDC on Base). */
export const FIAT_TOKEN_V2_2_GAS_PROFILE: SettleGasProfile = {
  base: 62_000n,
  perItem: { direct: 49_800n, routed: 50_400n },
  perDirectPayee: 22_500n,
  routedFixed: 26_000n,
  perRoutedGroup: 29_500n,
  perContractSignature: 40_000n,
};

/** The project's OpenZeppelin-based EIP-3009 test token (X402TestToken). */
export const X402_TEST_TOKEN_GAS_PROFILE: SettleGasProfile = {
  base: 49_500n,
  perItem: { direct: 42_600n, routed: 43_300n },
  perDirectPayee: 22_500n,
  routedFixed: 22_000n,
  perRoutedGroup: 27_500n,
  perContractSignature: 40_000n,
};
