/**
 * Gas a `SettlementRouter.settle` transaction uses, as a linear model the batch planner sums:
 *
 *   base + Σ perItem[kind] + distinct direct payees × perDirectPayee
 *        + (any routed item ? routedFixed : 0) + routed groups × perRoutedGroup
 *
 * in receipt gas (21k intrinsic and calldata included). Payee terms assume the payee's (and the
 * fee recipient's) balance starts at zero, the costly case. Measured on the simulated Base with the
 * SettlementRouter of commit f6a6a51 against batches of 100 and 200 distinct funded payers paying 1
 * or 20 payees, rounded up about 1%; a failing item costs less than a settled one.
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
  base: 40_400n,
  perItem: { direct: 47_400n, routed: 47_800n },
  perDirectPayee: 22_200n,
  routedFixed: 30_800n,
  perRoutedGroup: 30_300n,
  perContractSignature: 40_000n,
};

/** The project's OpenZeppelin-based EIP-3009 test token (X402TestToken). */
export const X402_TEST_TOKEN_GAS_PROFILE: SettleGasProfile = {
  base: 29_300n,
  perItem: { direct: 40_200n, routed: 40_700n },
  perDirectPayee: 22_200n,
  routedFixed: 26_300n,
  perRoutedGroup: 28_200n,
  perContractSignature: 40_000n,
};
