import type { Address, Hex } from "viem";

import type { X402Network } from "./networks.js";
import { reasonForVersion } from "./reasons.js";
import type { StoredPayment } from "./store.js";

/** The x402 `SettleResponse`. */
export interface SettleResponse {
  success: boolean;
  errorReason?: string;
  errorMessage?: string;
  payer?: Address;
  /** The settling transaction's hash; `""` when none was sent. */
  transaction: Hex | "";
  network: string;
  /** Scheme-specific detail (`clearing`: the pair's totals, or `pair` on a refusal). */
  extra?: Record<string, unknown>;
}

/** One kind in the x402 `SupportedResponse`. */
export interface SupportedKind {
  x402Version: 1 | 2;
  /** `exact`, `routed`; `clearing` when a ClearingHouse is configured. */
  scheme: string;
  network: string;
  /**
   * The scheme's terms: `routed` the router, fee and fee recipient; `clearing` the ClearingHouse,
   * operator, fee, withdrawal delay and token domain (docs/SCHEMES.md).
   */
  extra?: Record<string, unknown>;
}

/** The x402 `SupportedResponse`. */
export interface SupportedResponse {
  kinds: SupportedKind[];
  extensions: string[];
  signers: Record<string, Address[]>;
}

/**
 * The `/supported` answer: the `exact` scheme on the served network under both protocol versions,
 * the `routed` scheme under v2 when its terms are given (router, fee as a decimal string, fee
 * recipient in `extra`), the `payment-identifier` extension (a `/settle` retry with the same
 * identifier gets the same answer), and the relayer as the signer for every EVM chain.
 *
 * @example
 * supportedResponse(resolveX402Network("base"), relayer.address, { router, fee: 0n, feeRecipient });
 */
export function supportedResponse(
  network: X402Network,
  relayer: Address,
  routed?: {
    router: Address;
    fee: bigint;
    feeRecipient: Address;
    /** Assets settled through Permit2 (tokens without EIP-3009), listed when any. */
    permit2Assets?: readonly Address[];
  },
): SupportedResponse {
  return {
    kinds: [
      { x402Version: 1, scheme: "exact", network: network.v1 },
      { x402Version: 2, scheme: "exact", network: network.v2 },
      ...(routed
        ? [
            {
              x402Version: 2 as const,
              scheme: "routed" as const,
              network: network.v2,
              extra: {
                router: routed.router,
                fee: routed.fee.toString(),
                feeRecipient: routed.feeRecipient,
                ...(routed.permit2Assets?.length
                  ? { permit2Assets: [...routed.permit2Assets] }
                  : {}),
              },
            },
          ]
        : []),
    ],
    extensions: ["payment-identifier"],
    signers: { "eip155:*": [relayer] },
  };
}

/**
 * The settle answer for a stored payment: its outcome when resolved, otherwise
 * `settlement_pending` with the batch transaction when one was sent.
 */
export function settleResponseOf(payment: StoredPayment, pendingTransaction?: Hex): SettleResponse {
  const base = { payer: payment.payer, network: payment.network };
  if (payment.status === "settled" && payment.txHash) {
    return { success: true, transaction: payment.txHash, ...base };
  }
  if (payment.status === "failed") {
    return {
      success: false,
      errorReason: reasonForVersion(
        payment.x402Version,
        payment.errorReason ?? "unexpected_settle_error",
      ),
      ...(payment.errorMessage ? { errorMessage: payment.errorMessage } : {}),
      transaction: payment.txHash ?? "",
      ...base,
    };
  }
  return {
    success: false,
    errorReason: "settlement_pending",
    transaction: pendingTransaction ?? "",
    ...base,
  };
}
