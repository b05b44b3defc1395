import {
  decodeFunctionData,
  getAddress,
  hexToBigInt,
  isAddressEqual,
  keccak256,
  numberToHex,
  slice,
  toHex,
  type Address,
  type Hex,
} from "viem";
import { z } from "zod";

import { settlementRouterAbi } from "../abi/settlementRouter.js";
import { settleGasBound, type SettleGasProfile } from "../batch/gasProfiles.js";
import { PERMIT2_ADDRESS } from "../chain/base.js";
import {
  EIP2612_GAS_SPONSORING_KEY,
  verifyPermit2Approval,
  type Permit2Approval,
} from "../permit2/approval.js";
import { InvalidPermit2InputError } from "../permit2/errors.js";
import {
  checkRouterPermit2Payment,
  decodePermit2Items,
  type DecodedPermit2Item,
  type SignedRouterPermit2Payment,
} from "../permit2/router.js";
import type { RoutedTerms } from "./verify.js";
import type { NewPayment, StoredPayment } from "./store.js";

const address = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/)
  .transform((value) => getAddress(value.toLowerCase()));
const uint = z
  .string()
  .regex(/^[0-9]{1,78}$/)
  .transform((value) => BigInt(value))
  .refine((value) => value < 1n << 256n, "out of uint256 range");

/**
 * The `payload` of a `routed` payment through Permit2 (docs/SCHEMES.md): a
 * `PermitWitnessTransferFrom` of `amount + fee` to the SettlementRouter with the router's
 * `RouterPayment` witness. EOA signatures only (65 or 64 bytes).
 */
export const routedPermit2PayloadSchema = z.object({
  signature: z
    .string()
    .regex(/^0x(?:[0-9a-fA-F]{2}){64,65}$/, "expected a 64- or 65-byte signature")
    .transform((value) => value.toLowerCase() as Hex),
  permit2Authorization: z.object({
    from: address,
    permitted: z.object({ token: address, amount: uint }),
    spender: address,
    nonce: uint,
    deadline: uint,
    witness: z.object({ payee: address, fee: uint, feeRecipient: address, validAfter: uint }),
  }),
});

/**
 * `paymentPayload.extensions.eip2612GasSponsoring.info` as `@x402/evm` signs it: the payer's
 * EIP-2612 permit approving Permit2 (`amount` its `value`, `nonce` the token's nonce it was signed
 * with). `version` is the extension's schema version.
 */
export const eip2612GasSponsoringInfoSchema = z.object({
  from: address,
  asset: address,
  spender: address,
  amount: uint,
  nonce: uint,
  deadline: uint,
  signature: z
    .string()
    .regex(/^0x(?:[0-9a-fA-F]{2}){64,65}$/, "expected a 64- or 65-byte signature")
    .transform((value) => value.toLowerCase() as Hex),
  version: z.string().regex(/^[0-9]+(\.[0-9]+)*$/),
});

const PERMIT_FIELDS = ["from", "asset", "spender", "amount", "nonce", "deadline", "signature"];

/** The EIP-2612 permit of a routed Permit2 request (its `eip2612GasSponsoring` extension). */
export type RoutedPermit2Approval = Permit2Approval & { asset: Address; spender: Address };

const requirementsSchema = z
  .object({
    scheme: z.literal("routed"),
    network: z.string().max(64),
    amount: uint,
    asset: address,
    payTo: address,
    extra: z.record(z.unknown()).optional(),
  })
  .passthrough();

/** The reason codes of routed Permit2 payments (docs/SCHEMES.md), Permit2's as x402 spells them. */
export const routedPermit2Reasons = {
  invalidSpender: "invalid_permit2_spender",
  tokenMismatch: "permit2_token_mismatch",
  recipientMismatch: "invalid_permit2_recipient_mismatch",
  amountMismatch: "permit2_amount_mismatch",
  deadlineExpired: "permit2_deadline_expired",
  invalidNonce: "permit2_invalid_nonce",
  notPermit2Asset: "invalid_routed_asset_transfer_method",
  eip2612Format: "invalid_eip2612_extension_format",
  eip2612FromMismatch: "eip2612_from_mismatch",
  eip2612AssetMismatch: "eip2612_asset_mismatch",
  eip2612SpenderNotPermit2: "eip2612_spender_not_permit2",
  eip2612DeadlineExpired: "eip2612_deadline_expired",
  eip2612AmountInsufficient: "eip2612_amount_insufficient",
  eip2612NotSupported: "eip2612_not_supported",
  eip2612InvalidSignature: "eip2612_invalid_signature",
  eip2612NonceMismatch: "eip2612_nonce_mismatch",
  eip2612NonceUsed: "eip2612_nonce_used",
} as const;

/** A parsed routed Permit2 request: the requirements it pays and the payment it signs. */
export interface RoutedPermit2Request {
  network: string;
  /** What the payee receives (the requirements' `amount`). */
  amount: bigint;
  asset: Address;
  payTo: Address;
  /** The requirements' `extra.router`, `extra.fee`, `extra.feeRecipient` (when well-formed). */
  extra: { router?: Address; fee?: bigint; feeRecipient?: Address };
  payment: SignedRouterPermit2Payment;
  /** The payer's EIP-2612 permit approving Permit2, when one rides along (`eip2612GasSponsoring`). */
  approval?: RoutedPermit2Approval;
  /** The request as received, for the payment's fingerprint. */
  raw: unknown;
}

export type ParseRoutedPermit2Result =
  | { ok: true; request: RoutedPermit2Request }
  | {
      ok: false;
      reason:
        "invalid_payload" | "invalid_payment_requirements" | "invalid_eip2612_extension_format";
      message: string;
    };

/**
 * A request body carrying a `routed` Permit2 payload (x402 v2, requirements of scheme `routed`,
 * a `permit2Authorization` and no `authorization`), parsed; undefined for any other body.
 *
 * @example
 * const parsed = parseRoutedPermit2Request(body);
 * if (parsed && !parsed.ok) answer400(parsed.reason);
 */
export function parseRoutedPermit2Request(body: unknown): ParseRoutedPermit2Result | undefined {
  const candidate = body as {
    x402Version?: unknown;
    paymentPayload?: {
      payload?: unknown;
      accepted?: { scheme?: unknown };
      extensions?: Record<string, unknown>;
    };
    paymentRequirements?: { scheme?: unknown };
  } | null;
  const payload = candidate?.paymentPayload?.payload as Record<string, unknown> | undefined;
  if (
    candidate?.x402Version !== 2 ||
    typeof payload !== "object" ||
    payload === null ||
    !("permit2Authorization" in payload) ||
    "authorization" in payload ||
    (candidate.paymentRequirements?.scheme !== "routed" &&
      candidate.paymentPayload?.accepted?.scheme !== "routed")
  ) {
    return undefined;
  }
  const parsedPayload = routedPermit2PayloadSchema.safeParse(payload);
  if (!parsedPayload.success) {
    const issue = parsedPayload.error.issues[0]!;
    return {
      ok: false,
      reason: "invalid_payload",
      message: `${issue.path.join(".")}: ${issue.message}`,
    };
  }
  const requirements = requirementsSchema.safeParse(candidate.paymentRequirements);
  if (!requirements.success) {
    const issue = requirements.error.issues[0]!;
    return {
      ok: false,
      reason: "invalid_payment_requirements",
      message: `${issue.path.join(".")}: ${issue.message}`,
    };
  }
  // The server's declaration of the extension (a description and a version) is echoed back by
  // clients that did not sign a permit: an info with any of the permit's fields is a permit.
  const sponsoring = candidate.paymentPayload?.extensions?.[EIP2612_GAS_SPONSORING_KEY] as
    { info?: Record<string, unknown> } | undefined;
  let approval: RoutedPermit2Approval | undefined;
  const info = sponsoring?.info;
  if (
    info &&
    typeof info === "object" &&
    PERMIT_FIELDS.some((field) => Object.prototype.hasOwnProperty.call(info, field))
  ) {
    const parsedInfo = eip2612GasSponsoringInfoSchema.safeParse(info);
    if (!parsedInfo.success) {
      const issue = parsedInfo.error.issues[0]!;
      return {
        ok: false,
        reason: routedPermit2Reasons.eip2612Format,
        message: `extensions.${EIP2612_GAS_SPONSORING_KEY}.info.${issue.path.join(".")}: ${issue.message}`,
      };
    }
    approval = {
      owner: parsedInfo.data.from,
      asset: parsedInfo.data.asset,
      spender: parsedInfo.data.spender,
      value: parsedInfo.data.amount,
      nonce: parsedInfo.data.nonce,
      deadline: parsedInfo.data.deadline,
      signature: parsedInfo.data.signature,
    };
  }
  const permit = parsedPayload.data.permit2Authorization;
  const extra = requirements.data.extra ?? {};
  const optionalAddress = (value: unknown) => {
    const parsed = address.safeParse(value);
    return parsed.success ? parsed.data : undefined;
  };
  const optionalUint = (value: unknown) => {
    const parsed = uint.safeParse(value);
    return parsed.success ? parsed.data : undefined;
  };
  return {
    ok: true,
    request: {
      network: requirements.data.network,
      amount: requirements.data.amount,
      asset: requirements.data.asset,
      payTo: requirements.data.payTo,
      extra: {
        router: optionalAddress(extra.router),
        fee: optionalUint(extra.fee),
        feeRecipient: optionalAddress(extra.feeRecipient),
      },
      payment: {
        owner: permit.from,
        token: permit.permitted.token,
        router: permit.spender,
        payee: permit.witness.payee,
        amount: permit.permitted.amount,
        fee: permit.witness.fee,
        feeRecipient: permit.witness.feeRecipient,
        validAfter: permit.witness.validAfter,
        deadline: permit.deadline,
        nonce: permit.nonce,
        signature: parsedPayload.data.signature,
      },
      ...(approval ? { approval } : {}),
      raw: body,
    },
  };
}

/** A refusal: an x402 reason and what was wrong. */
export type RoutedPermit2Refusal = { reason: string; message: string };

/**
 * The routed terms of a Permit2 payment checked against the requirements and this facilitator's
 * (no chain read): the spender and `extra.router` are the router, the token is the asset, the
 * witness pays `payTo` (not the router), its fee equals `extra.fee` and is at least the
 * facilitator's, its fee recipient is the facilitator's, the permitted amount is
 * `amount + fee`, and the values fit the router's packed item (`checkRouterPermit2Payment`).
 *
 * @example
 * const refusal = checkRoutedPermit2Terms(request, facilitator.routedTerms);
 */
export function checkRoutedPermit2Terms(
  request: RoutedPermit2Request,
  terms: RoutedTerms,
): RoutedPermit2Refusal | undefined {
  const { payment, extra } = request;
  if (!extra.router || extra.fee === undefined || !extra.feeRecipient) {
    return {
      reason: "invalid_routed_missing_extra",
      message: "routed requirements carry extra.router, extra.fee and extra.feeRecipient",
    };
  }
  if (!isAddressEqual(extra.router, terms.router)) {
    return {
      reason: "invalid_routed_router_mismatch",
      message: `this facilitator settles through ${terms.router}`,
    };
  }
  if (!isAddressEqual(payment.router, terms.router)) {
    return {
      reason: routedPermit2Reasons.invalidSpender,
      message: `the spender is ${payment.router}, not the router ${terms.router}`,
    };
  }
  if (!isAddressEqual(payment.token, request.asset)) {
    return {
      reason: routedPermit2Reasons.tokenMismatch,
      message: "permitted.token is not the asset",
    };
  }
  if (
    isAddressEqual(request.payTo, terms.router) ||
    !isAddressEqual(payment.payee, request.payTo)
  ) {
    return {
      reason: routedPermit2Reasons.recipientMismatch,
      message: "the witness's payee is not payTo (or payTo is the router)",
    };
  }
  if (
    !isAddressEqual(extra.feeRecipient, terms.feeRecipient) ||
    !isAddressEqual(payment.feeRecipient, terms.feeRecipient)
  ) {
    return {
      reason: "invalid_routed_fee_recipient_mismatch",
      message: `this facilitator's fee recipient is ${terms.feeRecipient}`,
    };
  }
  if (extra.fee < terms.fee || payment.fee !== extra.fee) {
    return {
      reason: "invalid_routed_fee_below_minimum",
      message: `the witness's fee ${payment.fee} must equal extra.fee ${extra.fee}, at least ${terms.fee}`,
    };
  }
  if (payment.amount !== request.amount + payment.fee) {
    return {
      reason: routedPermit2Reasons.amountMismatch,
      message: `permitted.amount ${payment.amount} is not amount + fee = ${request.amount + payment.fee}`,
    };
  }
  try {
    // The item layout's ranges, as the encoder checks them (one bad payment must not make a
    // batch unencodable).
    checkRouterPermit2Payment(payment);
  } catch (error) {
    if (!(error instanceof InvalidPermit2InputError)) throw error;
    return { reason: "unsettleable_field_out_of_range", message: error.details ?? error.message };
  }
  return undefined;
}

/**
 * The EIP-2612 permit riding with a routed Permit2 payment checked offline, before any chain read:
 * it is the payer's (`from`), for the asset, approves Permit2, approves at least the permitted
 * amount, and leaves time to settle (x402's 6 seconds). Its signature and nonce need the token's
 * domain separator and nonce: {@link decidePermit2Approval}.
 *
 * @example
 * const refusal = checkRoutedPermit2Approval(request, now);
 */
export function checkRoutedPermit2Approval(
  request: RoutedPermit2Request,
  now: bigint,
  permit2: Address = PERMIT2_ADDRESS,
): RoutedPermit2Refusal | undefined {
  const { approval, payment } = request;
  if (!approval) return undefined;
  if (!isAddressEqual(approval.owner, payment.owner)) {
    return {
      reason: routedPermit2Reasons.eip2612FromMismatch,
      message: `the permit's owner ${approval.owner} is not the payer ${payment.owner}`,
    };
  }
  if (!isAddressEqual(approval.asset, request.asset)) {
    return {
      reason: routedPermit2Reasons.eip2612AssetMismatch,
      message: `the permit is for ${approval.asset}, not the asset ${request.asset}`,
    };
  }
  if (!isAddressEqual(approval.spender, permit2)) {
    return {
      reason: routedPermit2Reasons.eip2612SpenderNotPermit2,
      message: `the permit approves ${approval.spender}, not Permit2 ${permit2}`,
    };
  }
  if (approval.deadline < now + 6n) {
    return {
      reason: routedPermit2Reasons.eip2612DeadlineExpired,
      message: `the permit's deadline ${approval.deadline} leaves no time to settle`,
    };
  }
  if (approval.value < payment.amount) {
    return {
      reason: routedPermit2Reasons.eip2612AmountInsufficient,
      message: `the permit approves ${approval.value} < the permitted amount ${payment.amount}`,
    };
  }
  return undefined;
}

/** What a payment's EIP-2612 permit comes to once the token is read: carry it, drop it, or refuse. */
export type Permit2ApprovalDecision =
  { use: true } | { use: false } | { use: false; refusal: RoutedPermit2Refusal };

/**
 * Decides a permit that passed {@link checkRoutedPermit2Approval} against the token's state:
 * no `DOMAIN_SEPARATOR()` (no EIP-2612) or a signature that does not recover to the payer under
 * it is refused; a nonce ahead of the token's is refused; a nonce behind it (the permit is used,
 * say by the payer's other payment that carried it) is dropped when the allowance to Permit2 now
 * covers the payment and refused otherwise; a current permit is carried unless the allowance
 * already covers the payment (then it would only cost gas).
 *
 * @example
 * const decision = decidePermit2Approval(approval, { domainSeparator, nonce, allowance }, amount);
 */
export function decidePermit2Approval(
  approval: Permit2Approval,
  state: { domainSeparator: Hex | undefined; nonce: bigint | undefined; allowance: bigint },
  amount: bigint,
  permit2: Address = PERMIT2_ADDRESS,
): Permit2ApprovalDecision {
  const refuse = (reason: string, message: string): Permit2ApprovalDecision => ({
    use: false,
    refusal: { reason, message },
  });
  if (state.domainSeparator === undefined || state.nonce === undefined) {
    return refuse(
      routedPermit2Reasons.eip2612NotSupported,
      "the asset has no DOMAIN_SEPARATOR() or nonces(owner): no EIP-2612 permit",
    );
  }
  const signature = verifyPermit2Approval({
    domainSeparator: state.domainSeparator,
    approval,
    permit2,
  });
  if (!signature.valid) {
    return refuse(routedPermit2Reasons.eip2612InvalidSignature, signature.reason);
  }
  if (approval.nonce > state.nonce) {
    return refuse(
      routedPermit2Reasons.eip2612NonceMismatch,
      `the permit's nonce ${approval.nonce} is ahead of the token's ${state.nonce}`,
    );
  }
  if (state.allowance >= amount) return { use: false };
  if (approval.nonce < state.nonce) {
    return refuse(
      routedPermit2Reasons.eip2612NonceUsed,
      `the permit's nonce ${approval.nonce} is used and the allowance to Permit2 ${state.allowance} < ${amount}`,
    );
  }
  return { use: true };
}

/** The store id of a routed Permit2 payment: chain, token, payer and Permit2 nonce. */
export function permit2PaymentKey(chainId: number, payment: SignedRouterPermit2Payment): string {
  return `${chainId}:${payment.token}:${payment.owner}:permit2:${payment.nonce}`.toLowerCase();
}

/** Hash of everything a routed Permit2 request carries: another content is another payment. */
export function permit2Fingerprint(request: RoutedPermit2Request): Hex {
  const p = request.payment;
  return keccak256(
    toHex(
      JSON.stringify([
        request.network,
        request.asset,
        request.payTo,
        request.amount.toString(),
        p.owner,
        p.router,
        p.payee,
        p.amount.toString(),
        p.fee.toString(),
        p.feeRecipient,
        p.validAfter.toString(),
        p.deadline.toString(),
        p.nonce.toString(),
        p.signature,
        ...(request.approval
          ? [
              request.approval.owner,
              request.approval.asset,
              request.approval.spender,
              request.approval.value.toString(),
              request.approval.nonce.toString(),
              request.approval.deadline.toString(),
              request.approval.signature,
            ]
          : []),
      ]),
    ),
  );
}

/**
 * The stored form of a routed Permit2 payment (kind `permit2`): `value` the permitted amount,
 * `validAfter` the witness's, `validBefore` Permit2's deadline, `nonce` Permit2's nonce as 32
 * bytes, `payee`, `fee` and `feeRecipient` the witness's, `permit` the EIP-2612 permit its item carries.
 */
export function newPermit2Payment(
  request: RoutedPermit2Request,
  fields: { id: string; fingerprint: Hex; fromBlock: bigint },
  /** The permit to carry into the router item (one {@link decidePermit2Approval} said to use). */
  permit?: Permit2Approval,
): NewPayment {
  const p = request.payment;
  return {
    ...fields,
    x402Version: 2,
    network: request.network,
    token: p.token,
    payer: p.owner,
    payee: p.payee,
    value: p.amount,
    validAfter: p.validAfter,
    validBefore: p.deadline,
    nonce: numberToHex(p.nonce, { size: 32 }),
    signature: p.signature,
    contractSignature: false,
    kind: "permit2",
    fee: p.fee,
    feeRecipient: p.feeRecipient,
    ...(permit ? { permit } : {}),
  };
}

/** The signed router payment a stored `permit2` payment is settled as. */
export function permit2ItemOf(payment: StoredPayment, router: Address): SignedRouterPermit2Payment {
  return {
    owner: payment.payer,
    token: payment.token,
    router,
    payee: payment.payee,
    amount: payment.value,
    fee: payment.fee,
    feeRecipient: payment.feeRecipient ?? router,
    validAfter: payment.validAfter,
    deadline: payment.validBefore,
    nonce: hexToBigInt(payment.nonce),
    signature: payment.signature,
    ...(payment.permit
      ? {
          permit: {
            value: payment.permit.value,
            deadline: payment.permit.deadline,
            signature: payment.permit.signature,
          },
        }
      : {}),
  };
}

/**
 * The gas a `settlePermit2` batch is signed with: per item the router's whole allowance for the
 * Permit2 call (`ITEM_GAS_LIMIT`), the nonce-bitmap read that reports a failure, and the item's
 * overhead; per payee group the netted payout in its self-call; the fee payout. A Permit2 item has
 * the same shape as a routed EIP-3009 item, so it is the routed bound of {@link settleGasBound},
 * plus {@link ROUTER_PERMIT_GAS} per item carrying an EIP-2612 permit.
 *
 * @example
 * const gas = settlePermit2GasBound(payments);
 */
export function settlePermit2GasBound(
  payments: readonly StoredPayment[],
  profile?: SettleGasProfile,
): bigint {
  const permits = BigInt(payments.filter((payment) => payment.permit).length);
  return (
    permits * ROUTER_PERMIT_GAS +
    settleGasBound({
      items: payments.map((payment) => ({
        kind: "routed" as const,
        payee: payment.payee,
        signature: payment.signature,
        contractSignature: false,
      })),
      ...(profile ? { profile } : {}),
    })
  );
}

/**
 * An item's EIP-2612 permit: the router's `PERMIT_GAS_LIMIT` (100,000) for the `permit` call, the
 * allowance read after a failed one (`_READ_GAS`, 30,000) and its 128 calldata bytes.
 */
export const ROUTER_PERMIT_GAS = 100_000n + 30_000n + 128n * 16n;

/**
 * The owner, payee, amount, fee, validAfter, deadline and nonce of each packed Permit2 item of a
 * `settlePermit2` call (see ISettlementRouter, "Permit2 items"; read by `decodePermit2Items`), or
 * undefined for calldata that is not a well-formed `settlePermit2` call.
 */
export function decodeSettlePermit2Call(data: Hex):
  | {
      token: Address;
      feeRecipient: Address;
      items: Pick<
        DecodedPermit2Item,
        "owner" | "payee" | "amount" | "fee" | "validAfter" | "deadline" | "nonce"
      >[];
    }
  | undefined {
  let call;
  try {
    call = decodeFunctionData({ abi: settlementRouterAbi, data });
  } catch {
    return undefined;
  }
  if (call.functionName !== "settlePermit2") return undefined;
  const [token, feeRecipient, packed] = call.args as readonly [Address, Address, Hex];
  let decoded;
  try {
    decoded = decodePermit2Items(packed);
  } catch {
    return undefined;
  }
  const items = decoded.map(({ owner, payee, amount, fee, validAfter, deadline, nonce }) => ({
    owner,
    payee,
    amount,
    fee,
    validAfter,
    deadline,
    nonce,
  }));
  return { token: getAddress(token), feeRecipient: getAddress(feeRecipient), items };
}
