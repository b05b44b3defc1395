import { keccak256, toHex, type Hex } from "viem";

import { reasonForVersion, reasons } from "./reasons.js";
import { settleResponseOf, type SettleResponse } from "./responses.js";
import type { PaymentRequest } from "./schemas.js";
import type { FacilitatorStore, StoredPayment } from "./store.js";

/** x402's `payment-identifier` extension (`@x402/extensions/payment-identifier`). */
export const PAYMENT_IDENTIFIER = "payment-identifier";
const PAYMENT_ID = /^[A-Za-z0-9_-]{16,128}$/;

/** The payment identifier a request carries: absent, valid, or malformed (answered 400). */
export type IdentifierResult = { ok: true; id?: string } | { ok: false; message: string };

/**
 * Reads `paymentPayload.extensions["payment-identifier"].info.id` as x402 defines it: 16 to 128
 * characters of letters, digits, `-` and `_`. A request without the extension has no identifier.
 *
 * @example
 * paymentIdentifierOf(body); // { ok: true, id: "pay_7d5d747be160e280504c099d984bcfe0" }
 */
export function paymentIdentifierOf(body: unknown): IdentifierResult {
  const extension = (body as { paymentPayload?: { extensions?: Record<string, unknown> } } | null)
    ?.paymentPayload?.extensions?.[PAYMENT_IDENTIFIER];
  if (extension === undefined || extension === null) return { ok: true };
  const id = (extension as { info?: { id?: unknown } }).info?.id;
  if (id === undefined) return { ok: true };
  if (typeof id !== "string" || !PAYMENT_ID.test(id)) {
    return {
      ok: false,
      message: `${PAYMENT_IDENTIFIER}: the id must be 16-128 letters, digits, '-' or '_'`,
    };
  }
  return { ok: true, id };
}

/** The key of a payment: `chainId:token:payer:nonce`, lower case. */
export function paymentKey(chainId: number, request: PaymentRequest): string {
  const { asset } = request.requirements;
  const { from, nonce } = request.authorization;
  return `${chainId}:${asset}:${from}:${nonce}`.toLowerCase();
}

/** Hash of everything a payment request carries; a request with other content is another payment. */
export function fingerprint(request: PaymentRequest): Hex {
  const { requirements: r, authorization: a } = request;
  return keccak256(
    toHex(
      JSON.stringify([
        request.x402Version,
        r.network,
        r.asset.toLowerCase(),
        r.payTo.toLowerCase(),
        r.amount.toString(),
        r.extra.name ?? "",
        r.extra.version ?? "",
        a.from.toLowerCase(),
        a.to.toLowerCase(),
        a.value.toString(),
        a.validAfter.toString(),
        a.validBefore.toString(),
        a.nonce,
        request.signature,
        // Routed payments also commit to their terms (exact fingerprints are unchanged).
        ...(r.scheme === "routed"
          ? [
              "routed",
              r.extra.router?.toLowerCase() ?? "",
              r.extra.fee?.toString() ?? "",
              r.extra.feeRecipient?.toLowerCase() ?? "",
              request.salt ?? "",
            ]
          : []),
      ]),
    ),
  );
}

/** A refusal in the shape of a settle answer. */
export function settleFailure(
  request: PaymentRequest,
  errorReason: string,
  errorMessage?: string,
): SettleResponse {
  return {
    success: false,
    errorReason: reasonForVersion(request.x402Version, errorReason),
    ...(errorMessage ? { errorMessage: errorMessage.slice(0, 300) } : {}),
    payer: request.authorization.from,
    transaction: "",
    network: request.requirements.network,
  };
}

/**
 * The settle answer for one caller of a stored payment, with at most one success answer per
 * payment: a settled payment answers success to the first caller to ask (recorded in the store
 * before the answer leaves, so it holds across restarts) and to retries of that caller's request
 * (same `payment-identifier`); every other caller is refused with the used-nonce reason, as the
 * chain would refuse a second settlement. A failed payment answers its failure to everyone; an
 * unfinished one answers `settlement_pending` (no success given: a later call gets the outcome).
 *
 * @example
 * const body = answerFor(store, store.getPayment(id)!, identifier, pendingTx);
 */
export function answerFor(
  store: FacilitatorStore,
  payment: StoredPayment,
  identifier: string | undefined,
  pendingTransaction?: Hex,
): SettleResponse {
  if (payment.status !== "settled") return settleResponseOf(payment, pendingTransaction);
  const claim = store.claimSuccess(payment.id, identifier);
  if (claim === "claimed" || claim === "repeat") return settleResponseOf(payment);
  return {
    success: false,
    errorReason: reasonForVersion(payment.x402Version, reasons.nonceAlreadyUsed),
    errorMessage: "this payment was already settled and answered",
    payer: payment.payer,
    transaction: "",
    network: payment.network,
  };
}
