import { encodeFunctionData, getAddress, type Account, type Address, type Client } from "viem";
import { estimateGas } from "viem/actions";

import { settlementRouterAbi } from "../abi/settlementRouter.js";
import type { SignedAuthorization } from "../authorization/types.js";
import { encodeItems } from "./encodeItems.js";
import { InvalidBatchInputError } from "./errors.js";
import { FIAT_TOKEN_V2_2_GAS_PROFILE, type SettleGasProfile } from "./gasProfiles.js";

export type EstimateGasProfileParameters = {
  router: Address;
  token: Address;
  feeRecipient: Address;
  /**
   * Real, unsettled authorizations to measure (the ones about to be settled): at least two of a
   * kind for that kind to be measured. Items of one kind should share one payee.
   */
  sample: readonly SignedAuthorization[];
  /** Terms not measured (payee, routed group, contract signature) and kinds without a sample. */
  fallback?: SettleGasProfile;
  /** Who would send the transactions. */
  account?: Account | Address;
};

/**
 * Measures a gas profile for the planner on the chain at hand with `eth_estimateGas`: for each
 * kind with at least two sample items, `settle` is estimated for the first half and for all of
 * them; the difference per item is that kind's marginal cost and the rest of the first estimate
 * fixes `base`. Payee and group terms come from `fallback` (default: the FiatTokenV2_2 profile).
 * Nothing is sent. Useful for another token, a forked chain or a new router build. Estimates
 * count no gas refunds, so items that empty a payer's balance use a few thousand gas less than
 * predicted (the safe direction).
 *
 * @example
 * const gasProfile = await estimateGasProfile(publicClient, {
 *   router, token, feeRecipient, sample: signed.slice(0, 20),
 * });
 * const { batches } = planBatches({ items: signed, gasProfile });
 */
export async function estimateGasProfile(
  client: Client,
  parameters: EstimateGasProfileParameters,
): Promise<SettleGasProfile> {
  const fallback = parameters.fallback ?? FIAT_TOKEN_V2_2_GAS_PROFILE;
  const router = getAddress(parameters.router);
  const args = [getAddress(parameters.token), getAddress(parameters.feeRecipient)] as const;
  const estimate = (items: readonly SignedAuthorization[]) =>
    estimateGas(client, {
      ...(parameters.account ? { account: parameters.account } : {}),
      to: router,
      data: encodeFunctionData({
        abi: settlementRouterAbi,
        functionName: "settle",
        args: [...args, encodeItems(items)],
      }),
    });

  const profile: SettleGasProfile = { ...fallback, perItem: { ...fallback.perItem } };
  const bases: bigint[] = [];
  for (const kind of ["direct", "routed"] as const) {
    const items = parameters.sample.filter((item) => item.kind === kind);
    if (items.length < 2) continue;
    const half = Math.floor(items.length / 2);
    const [small, large] = await Promise.all([
      estimate(items.slice(0, half)),
      estimate(items.slice(0, 2 * half)),
    ]);
    const perItem = (large - small + BigInt(half) - 1n) / BigInt(half);
    profile.perItem[kind] = perItem;
    const extras =
      kind === "direct" ? fallback.perDirectPayee : fallback.routedFixed + fallback.perRoutedGroup;
    bases.push(small - BigInt(half) * perItem - extras);
  }
  if (bases.length === 0) {
    throw new InvalidBatchInputError("sample", "needs at least two items of one kind");
  }
  const base = bases.reduce((a, b) => (a > b ? a : b));
  profile.base = base > 21_000n ? base : 21_000n;
  return profile;
}
