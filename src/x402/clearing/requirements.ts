import type { PaymentRequirements } from "@x402/core/types";
import { type Address, isAddress } from "viem";

import { BASE_CHAIN_ID, BASE_SEPOLIA_CHAIN_ID } from "../../chain/base.js";
import { ClearingClientError } from "./errors.js";
import { CLEARING_SCHEME } from "./payload.js";
import { checksumAddress } from "../../crypto/checksumAddress.js";

/** The networks `clearing` is offered on, by CAIP-2 id, with their chain ids. */
export const CLEARING_NETWORKS: Readonly<Record<string, number>> = {
  "eip155:8453": BASE_CHAIN_ID,
  "eip155:84532": BASE_SEPOLIA_CHAIN_ID,
};

const UINT128_LIMIT = 1n << 128n;

/** The terms of one `clearing` offer, read from its requirements. */
export type ClearingTerms = {
  network: string;
  chainId: number;
  /** The price of this request (`amount`), in token base units, > 0. */
  price: bigint;
  token: Address;
  payee: Address;
  clearingHouse: Address;
  operator: Address;
  feeBasisPoints: number;
  withdrawalDelay: number;
  /**
   * How a deposit moves the token: `eip3009` (a `ReceiveWithAuthorization` under the token's
   * EIP-712 domain) or `permit2` (Permit2's `PermitWitnessTransferFrom`, for tokens without
   * EIP-3009). From `extra.assetTransferMethod`; absent, `eip3009` when the requirements carry
   * the token's domain, else `permit2`.
   */
  assetTransferMethod: "eip3009" | "permit2";
  /** The token's EIP-712 domain, for an EIP-3009 deposit authorization (empty for `permit2`). */
  tokenName: string;
  tokenVersion: string;
  maxTimeoutSeconds: number;
};

/**
 * Reads and checks a `clearing` offer: the scheme, a supported network, checksummable addresses,
 * a positive amount below 2^128, fee basis points in [0, 10,000], a positive withdrawal delay, and
 * the deposit's transfer method: `extra.assetTransferMethod` "eip3009" needs the token's EIP-712
 * name and version, "permit2" does not; without it, the token's domain (name and version) means
 * EIP-3009 and its absence Permit2. Throws {@link ClearingClientError} (`invalid_requirements`)
 * naming the first bad field.
 *
 * @example
 * const terms = parseClearingRequirements(paymentRequired.accepts[0]);
 */
export function parseClearingRequirements(requirements: PaymentRequirements): ClearingTerms {
  const fail = (field: string, details: string): never => {
    throw new ClearingClientError("invalid_requirements", details, { field });
  };
  if (typeof requirements !== "object" || requirements === null) {
    return fail("requirements", "expected an object");
  }
  if (requirements.scheme !== CLEARING_SCHEME) {
    fail("scheme", `expected "${CLEARING_SCHEME}", got ${JSON.stringify(requirements.scheme)}`);
  }
  const chainId = CLEARING_NETWORKS[requirements.network];
  if (chainId === undefined) {
    fail("network", `${JSON.stringify(requirements.network)} is not eip155:8453 or eip155:84532`);
  }
  const extra = (requirements.extra ?? {}) as Record<string, unknown>;
  if (typeof extra !== "object" || Array.isArray(extra)) fail("extra", "expected an object");
  const address = (field: string, value: unknown): Address => {
    if (typeof value !== "string" || !isAddress(value, { strict: false })) {
      return fail(field, `expected an address, got ${JSON.stringify(value)}`);
    }
    return checksumAddress(value);
  };
  const integer = (field: string, value: unknown, min: number, max: number): number => {
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
      return fail(field, `expected an integer in [${min}, ${max}], got ${JSON.stringify(value)}`);
    }
    return value;
  };
  const text = (field: string, value: unknown): string => {
    if (typeof value !== "string" || value.length === 0 || value.length > 100) {
      return fail(field, `expected a non-empty string, got ${JSON.stringify(value)}`);
    }
    return value;
  };
  if (typeof requirements.amount !== "string" || !/^[1-9][0-9]{0,38}$/.test(requirements.amount)) {
    fail(
      "amount",
      `expected a positive decimal string, got ${JSON.stringify(requirements.amount)}`,
    );
  }
  const price = BigInt(requirements.amount);
  if (price >= UINT128_LIMIT) fail("amount", "must be below 2^128");
  const method = extra.assetTransferMethod;
  if (method !== undefined && method !== "eip3009" && method !== "permit2") {
    fail(
      "extra.assetTransferMethod",
      `expected "eip3009" or "permit2", got ${JSON.stringify(method)}`,
    );
  }
  const assetTransferMethod: "eip3009" | "permit2" =
    (method as "eip3009" | "permit2" | undefined) ??
    (extra.name === undefined && extra.version === undefined ? "permit2" : "eip3009");
  const permit2 = assetTransferMethod === "permit2";
  return {
    network: requirements.network,
    chainId: chainId!,
    price,
    token: address("asset", requirements.asset),
    payee: address("payTo", requirements.payTo),
    clearingHouse: address("extra.clearingHouse", extra.clearingHouse),
    operator: address("extra.operator", extra.operator),
    feeBasisPoints: integer("extra.feeBasisPoints", extra.feeBasisPoints, 0, 10_000),
    withdrawalDelay: integer("extra.withdrawalDelay", extra.withdrawalDelay, 1, 2 ** 32 - 1),
    assetTransferMethod,
    tokenName: permit2 ? "" : text("extra.name", extra.name),
    tokenVersion: permit2 ? "" : text("extra.version", extra.version),
    maxTimeoutSeconds: integer("maxTimeoutSeconds", requirements.maxTimeoutSeconds, 1, 86_400),
  };
}
