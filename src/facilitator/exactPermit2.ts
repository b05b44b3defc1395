import {
  decodeEventLog,
  encodeFunctionData,
  erc20Abi,
  isAddressEqual,
  parseAbi,
  type Address,
  type Hex,
  type PublicClient,
  type TransactionReceipt,
  WaitForTransactionReceiptTimeoutError,
} from "viem";
import { z } from "zod";

import { PERMIT2_ADDRESS } from "../chain/base.js";
import { isPermit2NonceUsed } from "../permit2/nonces.js";
import type { Permit2Witness } from "../permit2/types.js";
import { verifyPermitWitnessTransferFrom } from "../permit2/verify.js";
import type { X402Network } from "./networks.js";
import type { SettleResponse } from "./responses.js";
import { address, uint256String } from "./schemas.js";
import type { VerifyResponse } from "./verify.js";

/**
 * x402's `x402ExactPermit2Proxy` (the spender of official `exact` Permit2 payloads), at its
 * CREATE2 address (the same on every chain where it is deployed).
 */
export const X402_EXACT_PERMIT2_PROXY_ADDRESS: Address =
  "0x402085c248EeA27D92E8b30b2C58ed07f9E20001";

/** The proxy's entry point: pulls `permit` through Permit2 and pays `witness.to`. */
export const x402ExactPermit2ProxyAbi = parseAbi([
  "function settle(((address token, uint256 amount) permitted, uint256 nonce, uint256 deadline) permit, address owner, (address to, uint256 validAfter) witness, bytes signature)",
]);

/**
 * The reason codes of official `exact` Permit2 payloads, spelled as `@x402/evm` 2.27 spells them,
 * so clients that branch on them behave the same here and against the official facilitator.
 */
export const exactPermit2Reasons = {
  invalidSpender: "invalid_permit2_spender",
  recipientMismatch: "invalid_permit2_recipient_mismatch",
  deadlineExpired: "permit2_deadline_expired",
  notYetValid: "permit2_not_yet_valid",
  amountMismatch: "permit2_amount_mismatch",
  tokenMismatch: "permit2_token_mismatch",
  invalidSignature: "invalid_permit2_signature",
  allowanceRequired: "permit2_allowance_required",
  simulationFailed: "permit2_simulation_failed",
  insufficientBalance: "permit2_insufficient_balance",
  proxyNotDeployed: "permit2_proxy_not_deployed",
  invalidNonce: "permit2_invalid_nonce",
  transactionFailed: "invalid_exact_evm_transaction_failed",
  settlementPending: "settlement_pending",
} as const;

const uint = uint256String;

/** The `payload` of an official `exact` payment made through Permit2 (`@x402/evm`'s client). */
export const exactPermit2PayloadSchema = z.object({
  signature: z
    .string()
    .regex(/^0x(?:[0-9a-fA-F]{2}){64,65}$/, "expected a 64- or 65-byte signature"),
  permit2Authorization: z.object({
    from: address,
    permitted: z.object({ token: address, amount: uint }),
    spender: address,
    nonce: uint,
    deadline: uint,
    witness: z.object({ to: address, validAfter: uint }),
  }),
});

/** A parsed official Permit2 `exact` payload. */
export type ExactPermit2Payload = z.infer<typeof exactPermit2PayloadSchema>;

/** Whether an `exact` payload carries a Permit2 authorization rather than an EIP-3009 one. */
export function isExactPermit2Payload(payload: unknown): boolean {
  return (
    typeof payload === "object" &&
    payload !== null &&
    "permit2Authorization" in payload &&
    !("authorization" in payload)
  );
}

/** The witness the official client signs: `Witness(address to,uint256 validAfter)`. */
function witnessOf(payload: ExactPermit2Payload): Permit2Witness {
  return {
    typeName: "Witness",
    fields: [
      { name: "to", type: "address" },
      { name: "validAfter", type: "uint256" },
    ],
    value: {
      to: payload.permit2Authorization.witness.to,
      validAfter: payload.permit2Authorization.witness.validAfter,
    },
  };
}

/** What {@link verifyExactPermit2} needs: the chain, the network and the payment's terms. */
export type ExactPermit2Context = {
  client: PublicClient;
  network: X402Network;
  /** Unix seconds. */
  now: () => number;
  /** The account that will send the proxy's `settle` (the simulation runs from it). */
  sender: Address;
};

/** The requirements an official Permit2 payment must meet. */
export type ExactPermit2Terms = { asset: Address; amount: bigint; payTo: Address };

function refuse(reason: string, payer: Address, message?: string): VerifyResponse {
  return message
    ? { isValid: false, invalidReason: reason, invalidMessage: message, payer }
    : { isValid: false, invalidReason: reason, payer };
}

/**
 * Verifies an official `exact` Permit2 payment: the spender is x402's Permit2 proxy and that proxy
 * is deployed on this chain (else `permit2_proxy_not_deployed`: nothing can settle it here), the
 * token, amount and recipient are the requirements', the time window is open (deadline at least
 * 6 s ahead), the owner's EOA signature verifies offline as Permit2 checks it, the nonce is
 * unused, the balance and the allowance to Permit2 cover the amount, and the proxy's `settle`
 * succeeds in simulation.
 *
 * @example
 * const response = await verifyExactPermit2(context, terms, payload);
 */
export async function verifyExactPermit2(
  context: ExactPermit2Context,
  terms: ExactPermit2Terms,
  payload: ExactPermit2Payload,
): Promise<VerifyResponse> {
  const permit = payload.permit2Authorization;
  const owner = permit.from;
  if (!isAddressEqual(permit.spender, X402_EXACT_PERMIT2_PROXY_ADDRESS)) {
    return refuse(exactPermit2Reasons.invalidSpender, owner);
  }
  const code = await context.client.getCode({ address: X402_EXACT_PERMIT2_PROXY_ADDRESS });
  if (!code || code === "0x") {
    return refuse(
      exactPermit2Reasons.proxyNotDeployed,
      owner,
      `x402's exact Permit2 proxy ${X402_EXACT_PERMIT2_PROXY_ADDRESS} has no code on chain ${context.network.chainId}`,
    );
  }
  if (!isAddressEqual(permit.permitted.token, terms.asset)) {
    return refuse(exactPermit2Reasons.tokenMismatch, owner);
  }
  if (!isAddressEqual(permit.witness.to, terms.payTo)) {
    return refuse(exactPermit2Reasons.recipientMismatch, owner);
  }
  if (permit.permitted.amount !== terms.amount) {
    return refuse(exactPermit2Reasons.amountMismatch, owner);
  }
  const now = BigInt(Math.floor(context.now()));
  if (permit.deadline < now + 6n) return refuse(exactPermit2Reasons.deadlineExpired, owner);
  if (permit.witness.validAfter > now) return refuse(exactPermit2Reasons.notYetValid, owner);
  const ownerCode = await context.client.getCode({ address: owner });
  if (!ownerCode || ownerCode === "0x") {
    const check = verifyPermitWitnessTransferFrom({
      chainId: context.network.chainId,
      permit: {
        token: permit.permitted.token,
        amount: permit.permitted.amount,
        nonce: permit.nonce,
        deadline: permit.deadline,
        spender: X402_EXACT_PERMIT2_PROXY_ADDRESS,
      },
      witness: witnessOf(payload),
      owner,
      signature: payload.signature as Hex,
    });
    if (!check.valid) return refuse(exactPermit2Reasons.invalidSignature, owner, check.reason);
  }
  const [used, balance, allowance] = await Promise.all([
    isPermit2NonceUsed(context.client, { owner, nonce: permit.nonce }),
    context.client.readContract({
      address: permit.permitted.token,
      abi: erc20Abi,
      functionName: "balanceOf",
      args: [owner],
    }),
    context.client.readContract({
      address: permit.permitted.token,
      abi: erc20Abi,
      functionName: "allowance",
      args: [owner, PERMIT2_ADDRESS],
    }),
  ]);
  if (used) return refuse(exactPermit2Reasons.invalidNonce, owner);
  if (balance < permit.permitted.amount) {
    return refuse(exactPermit2Reasons.insufficientBalance, owner);
  }
  if (allowance < permit.permitted.amount) {
    return refuse(exactPermit2Reasons.allowanceRequired, owner);
  }
  try {
    await context.client.call({
      account: context.sender,
      to: X402_EXACT_PERMIT2_PROXY_ADDRESS,
      data: settleCalldata(payload),
    });
  } catch (error) {
    const text = error instanceof Error ? error.message.split("\n")[0]! : String(error);
    return refuse(exactPermit2Reasons.simulationFailed, owner, text.slice(0, 300));
  }
  return { isValid: true, payer: owner };
}

/** The proxy's `settle` calldata for a payload. */
export function settleCalldata(payload: ExactPermit2Payload): Hex {
  const permit = payload.permit2Authorization;
  return encodeFunctionData({
    abi: x402ExactPermit2ProxyAbi,
    functionName: "settle",
    args: [
      { permitted: permit.permitted, nonce: permit.nonce, deadline: permit.deadline },
      permit.from,
      permit.witness,
      payload.signature as Hex,
    ],
  });
}

/**
 * Whether a mined receipt settled the payment: it succeeded and the token logged
 * `Transfer(owner, payTo, amount)` (Permit2 pays the recipient straight from the owner).
 */
export function provesExactPermit2(
  receipt: TransactionReceipt,
  terms: ExactPermit2Terms,
  payload: ExactPermit2Payload,
): boolean {
  if (receipt.status !== "success") return false;
  const owner = payload.permit2Authorization.from;
  return receipt.logs.some((log) => {
    if (!isAddressEqual(log.address, terms.asset)) return false;
    try {
      const event = decodeEventLog({ abi: erc20Abi, data: log.data, topics: log.topics });
      return (
        event.eventName === "Transfer" &&
        isAddressEqual(event.args.from, owner) &&
        isAddressEqual(event.args.to, terms.payTo) &&
        event.args.value === terms.amount
      );
    } catch {
      return false;
    }
  });
}

/** Sends one transaction from the facilitator's relayer and returns its hash. */
export type SendCall = (call: { to: Address; data: Hex; gas: bigint }) => Promise<Hex>;

/** The gas an official proxy `settle` is sent with (Permit2 transfer plus the proxy's checks). */
const PROXY_SETTLE_GAS = 200_000n;

/** What {@link settleExactPermit2} needs beyond the verification context. */
export type SettleExactPermit2Context = ExactPermit2Context & {
  send: SendCall;
  /**
   * How long to wait for the receipt (default: no bound). When it passes, the answer is
   * `success: false, errorReason: "settlement_pending"` with the transaction's hash: sent, not yet
   * mined.
   */
  timeoutMs?: number;
  /** A transaction already sent for this payload (an earlier call's pending answer): awaited again, nothing new is sent. */
  sent?: Hex;
};

/**
 * Settles a verified official Permit2 payment through x402's proxy, one transaction as the
 * official facilitator sends it, and answers from its receipt, or `settlement_pending` with the
 * transaction's hash when the receipt takes longer than `timeoutMs`.
 *
 * @example
 * const response = await settleExactPermit2({ ...context, send, timeoutMs: 60_000 }, terms, payload);
 */
export async function settleExactPermit2(
  context: SettleExactPermit2Context,
  terms: ExactPermit2Terms,
  payload: ExactPermit2Payload,
): Promise<SettleResponse> {
  const payer = payload.permit2Authorization.from;
  const network = context.network.v2;
  if (context.sent) return answerFromReceipt(context, terms, payload, context.sent);
  const verdict = await verifyExactPermit2(context, terms, payload);
  if (!verdict.isValid) {
    return {
      success: false,
      errorReason: verdict.invalidReason!,
      ...(verdict.invalidMessage ? { errorMessage: verdict.invalidMessage } : {}),
      payer,
      transaction: "",
      network,
    };
  }
  const hash = await context.send({
    to: X402_EXACT_PERMIT2_PROXY_ADDRESS,
    data: settleCalldata(payload),
    gas: PROXY_SETTLE_GAS,
  });
  return answerFromReceipt(context, terms, payload, hash);
}

async function answerFromReceipt(
  context: SettleExactPermit2Context,
  terms: ExactPermit2Terms,
  payload: ExactPermit2Payload,
  hash: Hex,
): Promise<SettleResponse> {
  const payer = payload.permit2Authorization.from;
  const network = context.network.v2;
  let receipt: TransactionReceipt;
  try {
    receipt = await context.client.waitForTransactionReceipt({
      hash,
      ...(context.timeoutMs === undefined ? {} : { timeout: context.timeoutMs }),
    });
  } catch (error) {
    if (!(error instanceof WaitForTransactionReceiptTimeoutError)) throw error;
    return {
      success: false,
      errorReason: exactPermit2Reasons.settlementPending,
      errorMessage: `not mined within ${context.timeoutMs} ms`,
      payer,
      transaction: hash,
      network,
    };
  }
  if (!provesExactPermit2(receipt, terms, payload)) {
    return {
      success: false,
      errorReason: exactPermit2Reasons.transactionFailed,
      payer,
      transaction: hash,
      network,
    };
  }
  return { success: true, payer, transaction: hash, network };
}

const requirementsSchema = z.object({
  scheme: z.literal("exact"),
  network: z.string().max(64),
  asset: address,
  amount: uint,
  payTo: address,
});

/** A v2 request whose `exact` payload is a Permit2 authorization, parsed. */
export type ExactPermit2Request = {
  terms: ExactPermit2Terms;
  payload: ExactPermit2Payload;
  network: string;
};

/**
 * Recognizes an x402 v2 `/verify` or `/settle` body whose `exact` payload carries a Permit2
 * authorization: undefined for any other body (the EIP-3009 path parses it), else the parsed
 * request or the reason it is malformed.
 */
export function parseExactPermit2Request(
  body: unknown,
):
  | undefined
  | { ok: true; request: ExactPermit2Request }
  | { ok: false; reason: "invalid_payload" | "invalid_payment_requirements"; message: string } {
  const candidate = body as {
    x402Version?: unknown;
    paymentPayload?: { payload?: unknown };
    paymentRequirements?: unknown;
  } | null;
  if (candidate?.x402Version !== 2 || !isExactPermit2Payload(candidate.paymentPayload?.payload)) {
    return undefined;
  }
  const payload = exactPermit2PayloadSchema.safeParse(candidate.paymentPayload!.payload);
  if (!payload.success) {
    return { ok: false, reason: "invalid_payload", message: payload.error.issues[0]!.message };
  }
  const requirements = requirementsSchema.safeParse(candidate.paymentRequirements);
  if (!requirements.success) {
    return {
      ok: false,
      reason: "invalid_payment_requirements",
      message: requirements.error.issues[0]!.message,
    };
  }
  const { asset, amount, payTo, network } = requirements.data;
  return { ok: true, request: { terms: { asset, amount, payTo }, payload: payload.data, network } };
}
