/**
 * The rows of the facilitator benchmark and its open-loop defaults: what the command line needs
 * without loading the HTTP stack (facilitator.ts runs them).
 */

/** The rows of the facilitator benchmark, in the order they run. */
export const FACILITATOR_ROWS = ["official", "exact", "routed", "clearing"] as const;
export type FacilitatorRowName = (typeof FACILITATOR_ROWS)[number];

/** The `method` of each row in the results. */
export const FACILITATOR_ROW_METHODS = {
  official: "facilitator-official",
  exact: "facilitator-batching",
  routed: "facilitator-routed",
  clearing: "facilitator-clearing",
} as const satisfies Record<FacilitatorRowName, string>;

/** Default bound on the p99 latency of an open-loop step that counts as sustained, ms. */
export const DEFAULT_P99_BOUND_MS = 250;
/** Default seconds per open-loop step. */
export const DEFAULT_STEP_SECONDS = 10;
