import { type Address, type Hex, maxUint256 } from "viem";
import { z } from "zod";

import { checksumAddress } from "../../crypto/checksumAddress.js";
import type {
  SignedDepositAuthorization,
  SignedPermit2Deposit,
  SignedVoucher,
} from "../../clearing/types.js";
import { reasons } from "../reasons.js";
import {
  address,
  authorization,
  bytes32,
  shortString,
  signature,
  uint256String,
} from "../schemas.js";

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

const depositSchema = z
  .object({
    authorization,
    voucherSigner: address,
    salt: bytes32,
    signature,
  })
  .strict();

/** A Permit2 deposit (docs/SCHEMES.md): EOA signatures only (65 or 64 bytes). */
const permit2DepositSchema = z
  .object({
    permit2Authorization: z
      .object({
        from: address,
        permitted: z.object({ token: address, amount: uint256String }).strict(),
        spender: address,
        nonce: uint256String,
        deadline: uint256String,
        witness: z.object({ operator: address, voucherSigner: address }).strict(),
      })
      .strict(),
    signature: z
      .string()
      .regex(/^0x(?:[0-9a-fA-F]{2}){64,65}$/, "expected a 64- or 65-byte signature")
      .transform((value) => value.toLowerCase() as Hex),
  })
  .strict();

/** `paymentPayload.payload` of the `clearing` scheme (docs/SCHEMES.md). */
export const clearingPayloadSchema = z.object({
  voucher: voucherSchema,
  deposit: z.union([depositSchema, permit2DepositSchema]).optional(),
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
  /**
   * The deposit riding with the voucher: an EIP-3009 authorization (its operator is the
   * requirements' operator, which its nonce must commit to) or a Permit2 one (its operator is
   * its witness's).
   */
  deposit: SignedDepositAuthorization | SignedPermit2Deposit | undefined;
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
  const voucherOnly = parseVoucherOnlyRequest(body);
  return voucherOnly ? { ok: true, request: voucherOnly } : parseClearingRequestBySchema(body);
}

/** {@link parseClearingRequest} by the schema alone, for any body (the differential test's reference). */
export function parseClearingRequestBySchema(body: unknown): ParseClearingRequestResult {
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
      deposit: deposit && toDeposit(deposit, r.extra.operator),
    },
  };
}

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const UINT256 = /^[0-9]{1,78}$/;
const SIGNATURE = /^0x(?:[0-9a-fA-F]{2}){1,4096}$/;
const DECIMAL = /^[0-9]{1,12}$/;

type Fields = Record<string, unknown>;

function plainObject(value: unknown): value is Fields {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function shortText(value: unknown): value is string {
  return typeof value === "string" && value.length <= 128;
}

function addressOf(value: unknown): Address | undefined {
  return typeof value === "string" && ADDRESS.test(value)
    ? checksumAddress(value.toLowerCase())
    : undefined;
}

function uintOf(value: unknown): bigint | undefined {
  if (typeof value !== "string" || !UINT256.test(value)) return undefined;
  const parsed = BigInt(value);
  return parsed <= maxUint256 ? parsed : undefined;
}

/** `decimal` above: a non-negative integer, or its decimal string of at most 12 digits. */
function decimalOf(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isInteger(value) && value >= 0 ? value : undefined;
  return typeof value === "string" && DECIMAL.test(value) ? Number(value) : undefined;
}

/**
 * The hot path of {@link parseClearingRequest}: a well-formed body carrying a voucher and no
 * deposit, checked field by field with exactly the rules of `requestSchema` (the differential test
 * in test/facilitator/clearing-payload.test.ts holds them equal). Anything else, malformed or not,
 * is left to the schema, which names what is wrong: undefined.
 */
export function parseVoucherOnlyRequest(body: unknown): ClearingRequest | undefined {
  if (!plainObject(body)) return undefined;
  if (body.x402Version !== undefined && body.x402Version !== 2) return undefined;
  const payload = body.paymentPayload;
  const r = body.paymentRequirements;
  if (!plainObject(payload) || payload.x402Version !== 2 || !plainObject(r)) return undefined;
  const accepted = payload.accepted;
  const inner = payload.payload;
  if (!plainObject(accepted) || !shortText(accepted.scheme) || !shortText(accepted.network))
    return undefined;
  if (!plainObject(inner) || inner.deposit !== undefined || !plainObject(inner.voucher))
    return undefined;
  const v = inner.voucher;
  const payer = addressOf(v.payer);
  const payee = addressOf(v.payee);
  const token = addressOf(v.token);
  const operator = addressOf(v.operator);
  const cumulativeValue = uintOf(v.cumulativeValue);
  const cumulativeFee = uintOf(v.cumulativeFee);
  const signature = v.signature;
  if (
    !payer ||
    !payee ||
    !token ||
    !operator ||
    cumulativeValue === undefined ||
    cumulativeFee === undefined ||
    typeof signature !== "string" ||
    !SIGNATURE.test(signature)
  )
    return undefined;
  const extra = r.extra;
  if (!shortText(r.scheme) || !shortText(r.network) || !plainObject(extra)) return undefined;
  const amount = uintOf(r.amount);
  const asset = addressOf(r.asset);
  const payTo = addressOf(r.payTo);
  const clearingHouse = addressOf(extra.clearingHouse);
  const requirementsOperator = addressOf(extra.operator);
  const feeBasisPoints = decimalOf(extra.feeBasisPoints);
  const withdrawalDelay =
    extra.withdrawalDelay === undefined ? undefined : decimalOf(extra.withdrawalDelay);
  const timeout = r.maxTimeoutSeconds;
  if (
    amount === undefined ||
    !asset ||
    !payTo ||
    !clearingHouse ||
    !requirementsOperator ||
    feeBasisPoints === undefined ||
    (extra.withdrawalDelay !== undefined && withdrawalDelay === undefined) ||
    (timeout !== undefined &&
      (typeof timeout !== "number" || !Number.isInteger(timeout) || timeout < 0))
  )
    return undefined;
  return {
    x402Version: 2,
    payloadScheme: accepted.scheme,
    payloadNetwork: accepted.network,
    requirements: {
      scheme: r.scheme,
      network: r.network,
      amount,
      asset,
      payTo,
      clearingHouse,
      operator: requirementsOperator,
      feeBasisPoints,
      withdrawalDelay,
    },
    voucher: {
      payer,
      payee,
      token,
      operator,
      cumulativeValue,
      cumulativeFee,
      signature: signature.toLowerCase() as Hex,
    },
    deposit: undefined,
  };
}

function toDeposit(
  deposit: z.infer<typeof depositSchema> | z.infer<typeof permit2DepositSchema>,
  operator: Address,
): SignedDepositAuthorization | SignedPermit2Deposit {
  if ("permit2Authorization" in deposit) {
    const permit = deposit.permit2Authorization;
    return {
      kind: "permit2-deposit",
      payer: permit.from,
      clearingHouse: permit.spender,
      token: permit.permitted.token,
      operator: permit.witness.operator,
      voucherSigner: permit.witness.voucherSigner,
      amount: permit.permitted.amount,
      nonce: permit.nonce,
      deadline: permit.deadline,
      signature: deposit.signature,
    };
  }
  return {
    kind: "deposit",
    ...deposit.authorization,
    operator,
    voucherSigner: deposit.voucherSigner,
    salt: deposit.salt,
    signature: deposit.signature,
  };
}

/**
 * The key of a deposit, lower case: `token:from:nonce` for an EIP-3009 authorization (its nonce
 * is the token's), `token:payer:permit2:nonce` for a Permit2 one (its nonce is Permit2's).
 */
export function depositKey(
  token: Address,
  deposit: SignedDepositAuthorization | SignedPermit2Deposit,
): string {
  if (deposit.kind === "permit2-deposit") {
    return `${token}:${deposit.payer}:permit2:${deposit.nonce}`.toLowerCase();
  }
  return `${token}:${deposit.from}:${deposit.nonce}`.toLowerCase();
}

/** The payer of a deposit of either kind. */
export function depositPayer(deposit: SignedDepositAuthorization | SignedPermit2Deposit): Address {
  return deposit.kind === "permit2-deposit" ? deposit.payer : deposit.from;
}

/** The amount a deposit of either kind moves. */
export function depositAmount(deposit: SignedDepositAuthorization | SignedPermit2Deposit): bigint {
  return deposit.kind === "permit2-deposit" ? deposit.amount : deposit.value;
}
