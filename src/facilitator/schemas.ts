import { type Address, type Hex } from "viem";
import { z } from "zod";

import type { AuthorizationFields } from "../authorization/types.js";
import { checksumAddress } from "../crypto/checksumAddress.js";

import { reasons, type Reason } from "./reasons.js";

const MAX_UINT256 = (1n << 256n) - 1n;

/** A 20-byte 0x address, checksummed. */
export const address = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/, "expected a 20-byte 0x address")
  .transform((value) => checksumAddress(value.toLowerCase()));
/** A decimal integer string below 2^256, as a bigint. */
export const uint256String = z
  .string()
  .regex(/^[0-9]{1,78}$/, "expected a decimal integer string")
  .transform((value) => BigInt(value))
  .refine((value) => value <= MAX_UINT256, "does not fit in uint256");
/** 32 bytes of 0x hex, lower case. */
export const bytes32 = z
  .string()
  .regex(/^0x[0-9a-fA-F]{64}$/, "expected a 0x bytes32")
  .transform((value) => value.toLowerCase() as Hex);
/** ECDSA (65 bytes), ERC-1271 or ERC-6492 signatures; bounded so a body cannot smuggle megabytes. */
export const signature = z
  .string()
  .regex(/^0x(?:[0-9a-fA-F]{2}){1,4096}$/, "expected 0x-prefixed signature bytes")
  .transform((value) => value.toLowerCase() as Hex);
/** A string of at most 128 characters. */
export const shortString = z.string().max(128);

/** An `extra` field read leniently: a malformed one is absent (the verifier names what is missing). */
function optionalAddress(value: unknown): Address | undefined {
  const parsed = address.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

function optionalUint(value: unknown): bigint | undefined {
  const parsed = uint256String.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

const extra = z
  .record(z.unknown())
  .optional()
  .transform((value) => ({
    name: typeof value?.name === "string" ? value.name : undefined,
    version: typeof value?.version === "string" ? value.version : undefined,
    // The `routed` scheme's terms (docs/SCHEMES.md).
    router: optionalAddress(value?.router),
    fee: optionalUint(value?.fee),
    feeRecipient: optionalAddress(value?.feeRecipient),
  }));

/** An EIP-3009 authorization's fields, as JSON (decimal strings, a bytes32 nonce). */
export const authorization = z.object({
  from: address,
  to: address,
  value: uint256String,
  validAfter: uint256String,
  validBefore: uint256String,
  nonce: bytes32,
});

/** The `payload` of the `exact` EVM scheme with an EIP-3009 authorization (x402 v1 and v2). */
export const exactEvmPayloadSchema = z.object({ signature, authorization });

/**
 * The `payload` of the `routed` scheme (docs/SCHEMES.md): a `ReceiveWithAuthorization` to the
 * router whose nonce commits to the payee, the fee, the fee recipient and `salt`.
 */
export const routedPayloadSchema = z.object({ signature, authorization, salt: bytes32 });

/** x402 v1 PaymentRequirements. */
export const paymentRequirementsV1Schema = z
  .object({
    scheme: shortString,
    network: shortString,
    maxAmountRequired: uint256String,
    asset: address,
    payTo: address,
    maxTimeoutSeconds: z.number().int().nonnegative().optional(),
    extra,
  })
  .passthrough();

/** x402 v2 PaymentRequirements. */
export const paymentRequirementsV2Schema = z
  .object({
    scheme: shortString,
    network: shortString,
    amount: uint256String,
    asset: address,
    payTo: address,
    maxTimeoutSeconds: z.number().int().nonnegative().optional(),
    extra,
  })
  .passthrough();

const requestV1Schema = z.object({
  x402Version: z.literal(1).optional(),
  paymentPayload: z
    .object({
      x402Version: z.literal(1),
      scheme: shortString,
      network: shortString,
      payload: exactEvmPayloadSchema,
    })
    .passthrough(),
  paymentRequirements: paymentRequirementsV1Schema,
});

const requestV2Schema = z.object({
  x402Version: z.literal(2).optional(),
  paymentPayload: z
    .object({
      x402Version: z.literal(2),
      accepted: paymentRequirementsV2Schema,
      payload: exactEvmPayloadSchema,
    })
    .passthrough(),
  paymentRequirements: paymentRequirementsV2Schema,
});

const routedRequestSchema = requestV2Schema.extend({
  paymentPayload: z
    .object({
      x402Version: z.literal(2),
      accepted: paymentRequirementsV2Schema,
      payload: routedPayloadSchema,
    })
    .passthrough(),
});

/** The requirements of a payment, the same shape for both protocol versions. */
export interface NormalizedRequirements {
  scheme: string;
  network: string;
  /** v2 `amount`, v1 `maxAmountRequired`. */
  amount: bigint;
  asset: Address;
  payTo: Address;
  extra: {
    name?: string;
    version?: string;
    /** `routed`: the SettlementRouter. */
    router?: Address;
    /** `routed`: the facilitator's fee on top of `amount`. */
    fee?: bigint;
    /** `routed`: where the fee goes. */
    feeRecipient?: Address;
  };
}

/** An EIP-3009 `TransferWithAuthorization` as carried in an `exact` payload. */
export type ExactAuthorization = AuthorizationFields;

/** A /verify or /settle request body, validated and normalized. */
export interface PaymentRequest {
  x402Version: 1 | 2;
  /** v1 `paymentPayload.scheme`, v2 `paymentPayload.accepted.scheme`. */
  payloadScheme: string;
  /** v1 `paymentPayload.network`, v2 `paymentPayload.accepted.network`. */
  payloadNetwork: string;
  requirements: NormalizedRequirements;
  authorization: ExactAuthorization;
  signature: Hex;
  /** `routed` payloads: the salt of the routed nonce. */
  salt?: Hex;
}

/** Why a body was rejected before any payment check: answered with HTTP 400. */
export interface RequestRejection {
  reason: Reason;
  message: string;
  /** `authorization.from` when it could be read. */
  payer?: Address;
}

export type ParseRequestResult =
  { ok: true; request: PaymentRequest } | { ok: false; rejection: RequestRejection };

/** Every problem (at most 20), each with its path, in at most 2,000 characters. */
function describe(error: z.ZodError): string {
  const problems = error.issues.map(
    (issue) => `${issue.path.join(".") || "body"}: ${issue.message}`,
  );
  const shown = problems.slice(0, 20).join("; ");
  const more = problems.length > 20 ? ` (and ${problems.length - 20} more)` : "";
  return (shown + more).slice(0, 2_000);
}

function payerOf(body: unknown): Address | undefined {
  const from = (body as { paymentPayload?: { payload?: { authorization?: { from?: unknown } } } })
    ?.paymentPayload?.payload?.authorization?.from;
  const parsed = address.safeParse(from);
  return parsed.success ? parsed.data : undefined;
}

/**
 * Validates a /verify or /settle body (`{x402Version, paymentPayload, paymentRequirements}`) of
 * x402 v1 or v2 with an `exact` EVM payload, or x402 v2 with a `routed` payload (its `accepted`
 * scheme is `routed`: the payload must carry `salt`), and normalizes it. Semantic checks (scheme, network,
 * signature, amounts, time window, chain state) are the verifier's; this only rejects bodies that
 * are not a payment request at all.
 *
 * @example
 * const parsed = parsePaymentRequest(JSON.parse(body));
 * if (!parsed.ok) return respond(400, parsed.rejection);
 */
export function parsePaymentRequest(body: unknown): ParseRequestResult {
  const payer = payerOf(body);
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    return {
      ok: false,
      rejection: { reason: reasons.invalidPayload, message: "body must be a JSON object" },
    };
  }
  const version = (body as { paymentPayload?: { x402Version?: unknown } }).paymentPayload
    ?.x402Version;
  if (version !== 1 && version !== 2) {
    return {
      ok: false,
      rejection: {
        reason: reasons.invalidX402Version,
        message: "paymentPayload.x402Version must be 1 or 2",
        payer,
      },
    };
  }
  const topVersion = (body as { x402Version?: unknown }).x402Version;
  if (topVersion !== undefined && topVersion !== version) {
    return {
      ok: false,
      rejection: {
        reason: reasons.invalidX402Version,
        message: "x402Version differs from paymentPayload.x402Version",
        payer,
      },
    };
  }
  const acceptedScheme = (body as { paymentPayload?: { accepted?: { scheme?: unknown } } })
    .paymentPayload?.accepted?.scheme;
  const parsed =
    version === 1
      ? requestV1Schema.safeParse(body)
      : acceptedScheme === "routed"
        ? routedRequestSchema.safeParse(body)
        : requestV2Schema.safeParse(body);
  if (!parsed.success) {
    // The requirements are to blame only when nothing else is wrong: a payload missing its own
    // fields (its `accepted` copy included) is an invalid payload, whatever else is missing.
    const aboutRequirements = parsed.error.issues.every(
      (issue) =>
        issue.path[0] === "paymentRequirements" ||
        (issue.path[0] === "paymentPayload" &&
          issue.path[1] === "accepted" &&
          issue.path.length > 2),
    );
    return {
      ok: false,
      rejection: {
        reason: aboutRequirements ? reasons.invalidPaymentRequirements : reasons.invalidPayload,
        message: describe(parsed.error),
        payer,
      },
    };
  }
  const data = parsed.data;
  const { payload } = data.paymentPayload;
  if (version === 1) {
    const { paymentPayload, paymentRequirements: requirements } = data as z.infer<
      typeof requestV1Schema
    >;
    return {
      ok: true,
      request: {
        x402Version: 1,
        payloadScheme: paymentPayload.scheme,
        payloadNetwork: paymentPayload.network,
        requirements: {
          scheme: requirements.scheme,
          network: requirements.network,
          amount: requirements.maxAmountRequired,
          asset: requirements.asset,
          payTo: requirements.payTo,
          extra: requirements.extra,
        },
        authorization: payload.authorization,
        signature: payload.signature,
      },
    };
  }
  const v2 = data as z.infer<typeof requestV2Schema>;
  return {
    ok: true,
    request: {
      x402Version: 2,
      payloadScheme: v2.paymentPayload.accepted.scheme,
      payloadNetwork: v2.paymentPayload.accepted.network,
      requirements: {
        scheme: v2.paymentRequirements.scheme,
        network: v2.paymentRequirements.network,
        amount: v2.paymentRequirements.amount,
        asset: v2.paymentRequirements.asset,
        payTo: v2.paymentRequirements.payTo,
        extra: v2.paymentRequirements.extra,
      },
      authorization: payload.authorization,
      signature: payload.signature,
      ...("salt" in payload ? { salt: payload.salt as Hex } : {}),
    },
  };
}
