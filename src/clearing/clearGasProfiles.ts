/**
 * Gas a `ClearingHouse.clear` transaction uses, as a linear model the clear planner sums:
 *
 *   base + Σ (perPair + (first clear of the pair ? perFirstPair : 0)) + distinct payers × perPayer
 *        + distinct payees × perPayee + contract signatures × (perContractSignature + 16 × bytes)
 *
 * in receipt gas (21k intrinsic and the 157 calldata bytes per voucher included). Fitted to the
 * gas snapshots in gas-snapshots/clearing.json (100 pairs; 10 payers × 10 payees, and 100 payers
 * × 10 payees; steady and first clears; payees and fee recipient already funded) and rounded up
 * about 1%: the 90 extra payers add 4,800 each, a pair's first clear 17,100 more; the payee
 * payout (12,000 each, a warm transfer) and the base (the fee payout and the event) are
 * estimates that the snapshots do not separate. A payee or fee recipient starting at zero
 * balance costs about 17,000 more per payout. Items that fail cost less than cleared ones.
 */
export type ClearGasProfile = {
  base: bigint;
  perPair: bigint;
  perFirstPair: bigint;
  perPayer: bigint;
  perPayee: bigint;
  /** Extra for an ERC-1271 check (an estimate; wallet-dependent), plus 16 gas per byte. */
  perContractSignature: bigint;
};

/** Circle's FiatTokenV2_2 (USDC on Base). */
export const FIAT_TOKEN_V2_2_CLEAR_GAS_PROFILE: ClearGasProfile = {
  base: 60_000n,
  perPair: 13_100n,
  perFirstPair: 17_300n,
  perPayer: 4_850n,
  perPayee: 12_000n,
  perContractSignature: 40_000n,
};

/** The project's OpenZeppelin-based EIP-3009 test token (X402TestToken). */
export const X402_TEST_TOKEN_CLEAR_GAS_PROFILE: ClearGasProfile = {
  base: 60_000n,
  perPair: 12_800n,
  perFirstPair: 17_300n,
  perPayer: 4_850n,
  perPayee: 12_000n,
  perContractSignature: 40_000n,
};
