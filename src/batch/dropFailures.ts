import type { PredictedOutcome, SimulateBatchReturnType } from "./simulateBatch.js";

export type DropFailuresParameters<item> = {
  /** The items that were simulated, in the same order. */
  items: readonly item[];
  simulation: SimulateBatchReturnType;
};

export type DropFailuresReturnType<item> = {
  /** Items predicted to settle, in their original order. */
  items: item[];
  /** `kept[i]` is the position of `items[i]` in the input. */
  kept: number[];
  /** Items predicted to fail, with the prediction. */
  dropped: { item: item; outcome: Extract<PredictedOutcome, { status: "failure" }> }[];
};

/**
 * Removes the items a simulation predicts to fail, so the transaction only pays for payments that
 * will settle. The dropped items keep their predicted reason for the caller's report.
 *
 * @example
 * const simulation = await simulateBatch(publicClient, { router, token, feeRecipient, items });
 * const { items: settleable, dropped } = dropFailures({ items, simulation });
 */
export function dropFailures<item>(
  parameters: DropFailuresParameters<item>,
): DropFailuresReturnType<item> {
  const { items, simulation } = parameters;
  if (simulation.outcomes.length !== items.length) {
    throw new RangeError(
      `dropFailures: ${simulation.outcomes.length} outcomes for ${items.length} items`,
    );
  }
  const result: DropFailuresReturnType<item> = { items: [], kept: [], dropped: [] };
  simulation.outcomes.forEach((outcome, index) => {
    const item = items[index]!;
    if (outcome.status === "success") {
      result.items.push(item);
      result.kept.push(index);
    } else {
      result.dropped.push({ item, outcome });
    }
  });
  return result;
}
