import { clearingMethod } from "./clearing.js";
import { exactSingleMethod } from "./exactSingle.js";
import { multicall3Method } from "./multicall3.js";
import { routerDirectMethod, routerRoutedMethod } from "./router.js";
import type { BenchmarkMethod } from "./types.js";

/**
 * The library's settlement methods, by name, in the order the results list them. A new method is
 * one file in this folder exporting a {@link BenchmarkMethod}, added here.
 */
export const BENCHMARK_METHODS = {
  "x402-exact-single": exactSingleMethod,
  multicall3: multicall3Method,
  "router-direct": routerDirectMethod,
  "router-routed": routerRoutedMethod,
  clearing: clearingMethod,
} as const satisfies Record<string, BenchmarkMethod>;

/** The name of a built-in method. */
export type BenchmarkMethodName = keyof typeof BENCHMARK_METHODS;
