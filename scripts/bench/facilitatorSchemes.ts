/**
 * The x402 schemes of the facilitator benchmark's rows, client and resource-server side, built
 * from a plain {@link RowSchemeSpec} so a worker thread can build them too. `exact` is the official
 * `@x402/evm` scheme; `routed` and `clearing` are this project's (`src/x402`, loaded when a row
 * needs them).
 */
import type { Network, SchemeNetworkClient, SchemeNetworkServer } from "@x402/core/types";
import { toClientEvmSigner } from "@x402/evm";
import { ExactEvmScheme as ExactEvmClientScheme } from "@x402/evm/exact/client";
import { ExactEvmScheme as ExactEvmServerScheme } from "@x402/evm/exact/server";
import type { Address, Hex, LocalAccount } from "viem";
import { privateKeyToAccount } from "viem/accounts";

import { BenchUsageError } from "./errors.js";

/** The x402 schemes a row pays with. */
export const ROW_SCHEMES = ["exact", "routed", "clearing"] as const;
export type RowScheme = (typeof ROW_SCHEMES)[number];

/** What a client and a resource server need to know of a row: plain data, structured-cloneable. */
export interface RowSchemeSpec {
  scheme: RowScheme;
  network: Network;
  /** The token paid in and its EIP-712 domain. */
  asset: Address;
  domain: { name: string; version: string };
  /** Price of one request, smallest unit, decimal. */
  amount: string;
  payTo: Address;
  /** The token is the network's default asset (USDC): the client's spend controls allow it as is. */
  defaultAsset: boolean;
  /**
   * The resource server calls its facilitator over a keep-alive undici pool
   * (`PooledFacilitatorClient`) instead of the SDK's `HTTPFacilitatorClient` over `fetch`.
   */
  pooledFacilitatorClient?: boolean;
  /** `clearing`: a payer's deposit covers this many payments (the client's deposit policy). */
  depositPayments?: number;
}

/** The constructors of `src/x402` the routed and clearing rows use (docs/SCHEMES.md). */
export interface X402SchemeClasses {
  RoutedClientScheme: new (signer: unknown) => SchemeNetworkClient;
  RoutedServerScheme: new () => SchemeNetworkServer;
  ClearingClientScheme: new (options: {
    signer: PayerInput;
    deposit: { payments: number };
  }) => SchemeNetworkClient;
  ClearingServerScheme: new () => SchemeNetworkServer;
}

// A specifier in a variable: the module is another area's, and the exact rows run without it.
const X402_MODULE = "../../src/x402/index.js";
let x402: Promise<X402SchemeClasses> | undefined;

/** Loads `src/x402`'s scheme classes of `scheme` once; a clear usage error when they are missing. */
export async function loadX402Schemes(scheme: RowScheme): Promise<X402SchemeClasses> {
  x402 ??= import(X402_MODULE) as Promise<X402SchemeClasses>;
  let module: X402SchemeClasses;
  try {
    module = await x402;
  } catch (error) {
    x402 = undefined;
    throw new BenchUsageError(
      `the ${scheme} row needs the x402 scheme classes of src/x402 (${(error as Error).message})`,
    );
  }
  const names =
    scheme === "routed"
      ? (["RoutedClientScheme", "RoutedServerScheme"] as const)
      : (["ClearingClientScheme", "ClearingServerScheme"] as const);
  for (const name of names)
    if (typeof module[name] !== "function")
      throw new BenchUsageError(`the ${scheme} row needs ${name}, which src/x402 does not export`);
  return module;
}

/** The client scheme of `spec` for `payer` (a private key or a local account). */
export async function createClientScheme(
  spec: RowSchemeSpec,
  payer: PayerInput,
): Promise<SchemeNetworkClient> {
  const account = typeof payer === "string" ? privateKeyToAccount(payer) : payer;
  const signer = toClientEvmSigner(account);
  if (spec.scheme === "exact") return new ExactEvmClientScheme(signer);
  const classes = await loadX402Schemes(spec.scheme);
  if (spec.scheme === "routed") return new classes.RoutedClientScheme(signer);
  // The clearing client signs vouchers natively from a private key.
  return new classes.ClearingClientScheme({
    signer: payer,
    deposit: { payments: spec.depositPayments ?? 100 },
  });
}

/** The resource-server scheme of `spec`. */
export async function createServerScheme(spec: RowSchemeSpec): Promise<SchemeNetworkServer> {
  if (spec.scheme === "exact") return new ExactEvmServerScheme();
  const classes = await loadX402Schemes(spec.scheme);
  return spec.scheme === "routed"
    ? new classes.RoutedServerScheme()
    : new classes.ClearingServerScheme();
}

/** A payer's private key, as a worker thread receives it. */
export type PayerKey = Hex;
/** A payer: its private key, or its account in the thread that holds it. */
export type PayerInput = PayerKey | LocalAccount;
