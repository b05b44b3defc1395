import { clearingMethod } from "./clearing.js";
import { exactSingleMethod } from "./exactSingle.js";
import { multicall3Method } from "./multicall3.js";
import { permit2SingleMethod } from "./permit2Single.js";
import { routerDirectMethod, routerRoutedMethod } from "./router.js";
import { routerPermit2Method } from "./routerPermit2.js";
import type { BenchmarkMethod } from "./types.js";

/**
 * The library's settlement methods, by name, in the order the results list them. A new method is
 * one file in this folder exporting a {@link BenchmarkMethod}, added here. The Permit2 methods are
 * opt-in (named in `methods`) and also run on the USDT-like token.
 */
export const BENCHMARK_METHODS = {
  "x402-exact-single": exactSingleMethod,
  multicall3: multicall3Method,
  "router-direct": routerDirectMethod,
  "router-routed": routerRoutedMethod,
  clearing: clearingMethod,
  "permit2-single": permit2SingleMethod,
  "router-permit2": routerPermit2Method,
} as const satisfies Record<string, BenchmarkMethod>;

/** The name of a built-in method. */
export type BenchmarkMethodName = keyof typeof BENCHMARK_METHODS;
