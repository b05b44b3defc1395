import type { Address, Hex } from "viem";
import { z } from "zod";

import type { SignedDepositAuthorization, SignedVoucher } from "../../clearing/types.js";
import { reasons } from "../reasons.js";
import { address, bytes32, shortString, signature, uint256String } from "../schemas.js";

/** The `clearing` scheme's name in requirements and `/supported`. */
export const CLEARING_SCHEME = "clearing";

const voucherSchema = z.object({
  payer: address,
  payee: address,
  token: address,
  operator: address,
  cumulativeValue: uint256String,
  cumulativeFee: uint256String,
  signature,
});

const depositSchema = z.object({
  authorization: z.object({
    from: address,
    to: address,
    value: uint256String,
    validAfter: uint256String,
    validBefore: uint256String,
    nonce: bytes32,
  }),
  voucherSigner: address,
  salt: bytes32,
  signature,
});

/** `paymentPayload.payload` of the `clearing` scheme (docs/SCHEMES.md). */
export const clearingPayloadSchema = z.object({
  voucher: voucherSchema,
  deposit: depositSchema.optional(),
});

const decimal = z.union([
  z.number().int().nonnegative(),
  z
    .string()
    .regex(/^[0-9]{1,12}$/)
    .transform(Number),
]);

const requirementsSchema = z
  .object({
    scheme: shortString,
    network: shortString,
    amount: uint256String,
    asset: address,
    payTo: address,
    maxTimeoutSeconds: z.number().int().nonnegative().optional(),
    extra: z
      .object({
        clearingHouse: address,
        operator: address,
        feeBasisPoints: decimal,
        withdrawalDelay: decimal.optional(),
      })
      .passthrough(),
  })
  .passthrough();

const requestSchema = z.object({
  x402Version: z.literal(2).optional(),
  paymentPayload: z
    .object({
      x402Version: z.literal(2),
      accepted: z.object({ scheme: shortString, network: shortString }).passthrough(),
      payload: clearingPayloadSchema,
    })
    .passthrough(),
  paymentRequirements: requirementsSchema,
});

/** A `/verify` or `/settle` body of the `clearing` scheme, validated and normalized. */
export interface ClearingRequest {
  x402Version: 2;
  payloadScheme: string;
  payloadNetwork: string;
  requirements: {
    scheme: string;
    network: string;
    /** The price of this request. */
    amount: bigint;
    asset: Address;
    payTo: Address;
    clearingHouse: Address;
    operator: Address;
    feeBasisPoints: number;
    withdrawalDelay: number | undefined;
  };
  voucher: SignedVoucher;
  /** The deposit riding with the voucher (its operator is the requirements' operator). */
  deposit: SignedDepositAuthorization | undefined;
}

export type ParseClearingRequestResult =
  | { ok: true; request: ClearingRequest }
  | { ok: false; reason: string; message: string; payer?: Address };

/** Whether a body names the `clearing` scheme (its requirements or its payload's `accepted`). */
export function isClearingBody(body: unknown): boolean {
  const b = body as
    | {
        paymentRequirements?: { scheme?: unknown };
        paymentPayload?: { accepted?: { scheme?: unknown } };
      }
    | null
    | undefined;
  return (
    b?.paymentRequirements?.scheme === CLEARING_SCHEME ||
    b?.paymentPayload?.accepted?.scheme === CLEARING_SCHEME
  );
}

function describe(error: z.ZodError): string {
  const problems = error.issues.map(
    (issue) => `${issue.path.join(".") || "body"}: ${issue.message}`,
  );
  return problems.slice(0, 20).join("; ").slice(0, 2_000);
}

/**
 * Validates a `clearing` `/verify` or `/settle` body (x402 v2 only) and normalizes it. Semantic
 * checks (the requirements against this operator, signatures, the ledger's rules) are the
 * facilitator's; this only rejects bodies that are not a clearing payment request at all.
 *
 * @example
 * const parsed = parseClearingRequest(body);
 * if (!parsed.ok) return respond(400, parsed);
 */
export function parseClearingRequest(body: unknown): ParseClearingRequestResult {
  const rawPayer = (body as { paymentPayload?: { payload?: { voucher?: { payer?: unknown } } } })
    ?.paymentPayload?.payload?.voucher?.payer;
  const payerParse = address.safeParse(rawPayer);
  const payer = payerParse.success ? payerParse.data : undefined;
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return { ok: false, reason: reasons.invalidPayload, message: "body must be a JSON object" };
  }
  const version = (body as { paymentPayload?: { x402Version?: unknown } }).paymentPayload
    ?.x402Version;
  if (version !== 2) {
    return {
      ok: false,
      reason: reasons.invalidX402Version,
      message: "the clearing scheme is served under x402 version 2",
      ...(payer ? { payer } : {}),
    };
  }
  const parsed = requestSchema.safeParse(body);
  if (!parsed.success) {
    const aboutRequirements = parsed.error.issues.every(
      (issue) => issue.path[0] === "paymentRequirements",
    );
    return {
      ok: false,
      reason: aboutRequirements ? reasons.invalidPaymentRequirements : reasons.invalidPayload,
      message: describe(parsed.error),
      ...(payer ? { payer } : {}),
    };
  }
  const { paymentPayload, paymentRequirements: r } = parsed.data;
  const { voucher, deposit } = paymentPayload.payload;
  return {
    ok: true,
    request: {
      x402Version: 2,
      payloadScheme: paymentPayload.accepted.scheme,
      payloadNetwork: paymentPayload.accepted.network,
      requirements: {
        scheme: r.scheme,
        network: r.network,
        amount: r.amount,
        asset: r.asset,
        payTo: r.payTo,
        clearingHouse: r.extra.clearingHouse,
        operator: r.extra.operator,
        feeBasisPoints: r.extra.feeBasisPoints,
        withdrawalDelay: r.extra.withdrawalDelay,
      },
      voucher: { ...voucher, signature: voucher.signature as Hex },
      deposit: deposit && {
        kind: "deposit",
        ...deposit.authorization,
        operator: r.extra.operator,
        voucherSigner: deposit.voucherSigner,
        salt: deposit.salt,
        signature: deposit.signature,
      },
    },
  };
}

/** The key of a deposit: `token:from:nonce`, lower case. */
export function depositKey(token: Address, deposit: { from: Address; nonce: Hex }): string {
  return `${token}:${deposit.from}:${deposit.nonce}`.toLowerCase();
}
