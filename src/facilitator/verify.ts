import {
  hexToBytes,
  isAddressEqual,
  size,
  type Address,
  type Hex,
  type MulticallReturnType,
  type PublicClient,
} from "viem";

import { settlementRouterAbi } from "../abi/settlementRouter.js";
import { computeRoutedNonce } from "../authorization/computeRoutedNonce.js";
import { getAuthorizationStates } from "../authorization/getAuthorizationStates.js";
import { hashAuthorization } from "../authorization/hashAuthorization.js";
import type { Authorization, TokenDomain } from "../authorization/types.js";
import { verifyAuthorization } from "../authorization/verifyAuthorization.js";
import { encodeItems } from "../batch/encodeItems.js";
import { MULTICALL3_ADDRESS } from "../chain/base.js";
import { eip3009Abi, erc1271Abi, ERC1271_MAGIC_VALUE } from "./abi.js";
import type { X402Network } from "./networks.js";
import { reasons, type Reason } from "./reasons.js";
import type { PaymentRequest } from "./schemas.js";
import { classifySignature } from "./classifySignature.js";

/** The x402 `VerifyResponse`. */
export interface VerifyResponse {
  isValid: boolean;
  invalidReason?: string;
  invalidMessage?: string;
  payer?: Address;
  /** Scheme-specific detail (`clearing`: the pair's state on a refusal). */
  extra?: Record<string, unknown>;
}

/** What the verifier needs: a chain to read and the network it serves. */
export interface VerifyContext {
  client: PublicClient;
  network: X402Network;
  /** Wall clock in seconds; the official facilitator checks time windows against it. */
  now?: () => number;
  /** ERC-6492 factories allowed to deploy counterfactual wallets (none by default, like the official). */
  allowedFactories?: readonly Address[];
  /** The `routed` scheme's terms; without them `routed` payments are an unsupported scheme. */
  routed?: RoutedTerms;
}

/** What a `routed` payment must commit to for this facilitator to settle it. */
export interface RoutedTerms {
  /** The SettlementRouter: the authorization's `to` and `extra.router`. */
  router: Address;
  /** The smallest `extra.fee` accepted, in the token's base units. */
  fee: bigint;
  /** The fee recipient passed to `settle`: `extra.feeRecipient` must be it. */
  feeRecipient: Address;
}

/** Options of {@link verifyPayment}. */
export interface VerifyPaymentOptions {
  /**
   * Simulate the transfer on chain (default true). Settle's re-verification skips it, as the
   * official facilitator does by default (`simulateInSettle: false`): the batch reports any
   * failure per payment, and the state check still rejects a used nonce or a short balance.
   */
  simulate?: boolean;
}

/** The verdict and what settlement needs to know about the payer. */
export interface VerifyOutcome {
  response: VerifyResponse;
  /** The payer has code: the token checks the signature through ERC-1271. */
  payerHasCode: boolean;
  /** The signature to put on chain (ERC-6492 unwrapped). */
  signature: Hex;
  /** The payer's token balance, when it was read. */
  balance?: bigint;
}

/** The router's packed items carry a uint128 value and uint48 time bounds. */
const MAX_UINT128 = (1n << 128n) - 1n;
const MAX_UINT48 = (1n << 48n) - 1n;

const positiveAssetCache = new Map<string, true>();

function invalid(reason: Reason, payer: Address, message?: string): VerifyResponse {
  return message
    ? { isValid: false, invalidReason: reason, invalidMessage: message.slice(0, 300), payer }
    : { isValid: false, invalidReason: reason, payer };
}

/**
 * Verifies an x402 `exact` EVM payment (EIP-3009 `transferWithAuthorization`, x402 v1 or v2), or a
 * `routed` one (x402 v2, with `context.routed`: its terms checked first, see docs/SCHEMES.md),
 * with every check the official `@x402/evm` facilitator makes, in its order: scheme, EIP-712
 * domain, network, signature (ECDSA for EOAs, ERC-1271 for contract wallets, ERC-6492 only for
 * allowed factories), recipient, `validBefore ≥ now + 6 s`, `validAfter ≤ now`, exact value,
 * asset code, then an on-chain simulation of the transfer, diagnosed on failure (EIP-3009
 * support, nonce used, token name/version, balance). All chain reads of one verification go out
 * as one batch: the payer's and the asset's code plus one Multicall3 call holding the balance,
 * the nonce state, name, version, the ERC-1271 check and the transfer simulation.
 *
 * @example
 * const { response } = await verifyPayment({ client, network }, request);
 * if (!response.isValid) console.log(response.invalidReason);
 */
export async function verifyPayment(
  context: VerifyContext,
  request: PaymentRequest,
  options: VerifyPaymentOptions = {},
): Promise<VerifyOutcome> {
  const { requirements, authorization } = request;
  const payer = authorization.from;
  const fail = (reason: Reason, message?: string): VerifyOutcome => ({
    response: invalid(reason, payer, message),
    payerHasCode: false,
    signature: request.signature,
  });
  const servedNetwork = request.x402Version === 1 ? context.network.v1 : context.network.v2;

  // What the official x402Facilitator does before reaching the scheme: find a registered kind.
  const routed = requirements.scheme === "routed" && request.x402Version === 2;
  if (requirements.scheme !== "exact" && !(routed && context.routed)) {
    return fail(reasons.unsupportedScheme);
  }
  if (requirements.network !== servedNetwork) {
    return fail(reasons.invalidNetwork, `this facilitator serves ${servedNetwork}`);
  }
  // The exact EVM scheme's checks, in the official order (routed: the same, on its own terms).
  if (request.payloadScheme !== requirements.scheme) {
    return fail(routed ? reasons.routedInvalidScheme : reasons.invalidScheme);
  }
  const { name, version } = requirements.extra;
  if (!name || !version) return fail(reasons.missingEip712Domain);
  if (request.payloadNetwork !== requirements.network) return fail(reasons.networkMismatch);
  // Routed terms, before anything is read from the chain: a payload on other terms costs no RPC.
  const terms = routed ? routedTermsOf(request, context.routed!) : undefined;
  if (terms && "reason" in terms) return fail(terms.reason, terms.message);
  const expectedTo = terms ? terms.router : requirements.payTo;
  const expectedValue = terms ? terms.value : requirements.amount;

  const domain = {
    name,
    version,
    chainId: context.network.chainId,
    verifyingContract: requirements.asset,
  };
  const simulate = options.simulate ?? true;
  const state = await readChainState(context.client, request, domain, simulate, terms);
  const classification = classifySignature(request.signature, state.payerHasCode);
  const outcome = (response: VerifyResponse): VerifyOutcome => ({
    response,
    payerHasCode: state.payerHasCode,
    signature: classification.innerSignature,
    ...(state.balance !== undefined ? { balance: state.balance } : {}),
  });
  const valueReason =
    request.x402Version === 1
      ? reasons.invalidAuthorizationValue
      : reasons.authorizationValueMismatch;

  if (classification.counterfactual) {
    const allowed = (context.allowedFactories ?? []).some(
      (factory) => factory.toLowerCase() === classification.factory?.toLowerCase(),
    );
    // Deploying wallets is not supported by batch settlement: counterfactual signatures are refused.
    return outcome(
      invalid(
        reasons.factoryNotAllowed,
        payer,
        allowed ? "counterfactual wallets cannot be settled in a batch" : undefined,
      ),
    );
  }
  const now = Math.floor(context.now ? context.now() : Date.now() / 1000);
  if (state.payerHasCode) {
    // ERC-1271 wallet: the signature check is the wallet's; then the same checks as for an EOA.
    if (!state.erc1271Valid) return outcome(invalid(reasons.invalidSignature, payer));
    if (!isAddressEqual(authorization.to, expectedTo)) {
      return outcome(invalid(reasons.recipientMismatch, payer));
    }
    if (authorization.validBefore < BigInt(now + 6)) {
      return outcome(invalid(reasons.validBeforeExpired, payer));
    }
    if (authorization.validAfter > BigInt(now)) {
      return outcome(invalid(reasons.validAfterInFuture, payer));
    }
    if (authorization.value !== expectedValue) return outcome(invalid(valueReason, payer));
    if (
      authorization.value > MAX_UINT128 ||
      authorization.validAfter > MAX_UINT48 ||
      authorization.validBefore > MAX_UINT48
    ) {
      return outcome(invalid(reasons.unsettleableFieldOutOfRange, payer));
    }
  } else {
    // EOA: the toolkit's offline verification makes the official checks in the official order:
    // signature (ECDSA, low s), recipient, validBefore ≥ now + 6 s, validAfter ≤ now, value, and
    // that the fields fit the router's packed layout.
    const signature = classification.innerSignature;
    const offline =
      size(signature) === 65
        ? await verifyAuthorization({
            domain,
            authorization: { ...authorizationOf(request, terms), signature },
            now,
            expected: terms
              ? {
                  payTo: requirements.payTo,
                  value: terms.value,
                  router: terms.router,
                  feeRecipient: terms.feeRecipient,
                }
              : { payTo: requirements.payTo, value: requirements.amount },
          })
        : ({ valid: false, reason: reasons.invalidSignature } as const);
    if (!offline.valid) {
      const reason = OFFLINE_REASONS[offline.reason] ?? offline.reason;
      const message = "message" in offline ? offline.message : undefined;
      if (reason === reasons.authorizationValueMismatch)
        return outcome(invalid(valueReason, payer));
      return outcome(invalid(reason as Reason, payer, message));
    }
  }
  if (!state.assetHasCode) return outcome(invalid(reasons.assetNotDeployedContract, payer));
  if (!state.simulation.ok) return outcome(diagnose(request, state, payer));
  if (!simulate) {
    // The batched state check alone: the nonce must be unused and the balance sufficient.
    if (state.authorizationStateFailed) return outcome(invalid(reasons.eip3009NotSupported, payer));
    if (state.nonceUsed) return outcome(invalid(reasons.nonceAlreadyUsed, payer));
    if (state.balance !== undefined && state.balance < authorization.value) {
      return outcome(invalid(reasons.insufficientBalance, payer));
    }
  }
  return outcome({ isValid: true, payer });
}

/** A routed payment's terms, checked against this facilitator's. */
type CheckedRoutedTerms = RoutedTerms & { salt: Hex; value: bigint };

/**
 * The routed terms a request commits to, or why they are not this facilitator's: `extra.router`,
 * `extra.fee` and `extra.feeRecipient` present; the router and the fee recipient this
 * facilitator's, `payTo` not the router; the fee at least its fee; `to` the router; `value = amount + fee`; and the nonce
 * the commitment to `(payTo, fee, feeRecipient, salt)`. The signature is checked afterwards.
 */
function routedTermsOf(
  request: PaymentRequest,
  ours: RoutedTerms,
): CheckedRoutedTerms | { reason: Reason; message: string } {
  const { requirements, authorization, salt } = request;
  const { router, fee, feeRecipient } = requirements.extra;
  if (router === undefined || fee === undefined || feeRecipient === undefined || !salt) {
    return {
      reason: reasons.routedMissingExtra,
      message: "routed requirements carry extra.router, extra.fee and extra.feeRecipient",
    };
  }
  if (!isAddressEqual(router, ours.router)) {
    return {
      reason: reasons.routedRouterMismatch,
      message: `this facilitator's router is ${ours.router}`,
    };
  }
  if (isAddressEqual(requirements.payTo, ours.router)) {
    // The router's payout to itself undoes the group: refused before any chain read.
    return {
      reason: reasons.payToIsRouter,
      message: "a payment to the SettlementRouter would lock its funds there",
    };
  }
  if (!isAddressEqual(feeRecipient, ours.feeRecipient)) {
    return {
      reason: reasons.routedFeeRecipientMismatch,
      message: `this facilitator's fee recipient is ${ours.feeRecipient}`,
    };
  }
  if (fee < ours.fee) {
    return {
      reason: reasons.routedFeeBelowMinimum,
      message: `this facilitator's fee is ${ours.fee}`,
    };
  }
  if (!isAddressEqual(authorization.to, ours.router)) {
    return {
      reason: reasons.routedRouterMismatch,
      message: `the authorization is to ${authorization.to}, not the router ${ours.router}`,
    };
  }
  if (authorization.value !== requirements.amount + fee) {
    return {
      reason: reasons.routedValueMismatch,
      message: `value ${authorization.value}; expected amount ${requirements.amount} + fee ${fee}`,
    };
  }
  const nonce = computeRoutedNonce({ payee: requirements.payTo, fee, feeRecipient, salt });
  if (nonce.toLowerCase() !== authorization.nonce.toLowerCase()) {
    return {
      reason: reasons.routedNonceCommitment,
      message: "nonce is not keccak256(abi.encode(payTo, fee, feeRecipient, salt))",
    };
  }
  return {
    router: ours.router,
    fee,
    feeRecipient: ours.feeRecipient,
    salt,
    value: authorization.value,
  };
}

/** The toolkit's authorization a request carries: direct (`exact`) or routed. */
function authorizationOf(request: PaymentRequest, terms?: CheckedRoutedTerms): Authorization {
  return terms
    ? {
        kind: "routed",
        ...request.authorization,
        payee: request.requirements.payTo,
        fee: terms.fee,
        feeRecipient: terms.feeRecipient,
        salt: terms.salt,
      }
    : { kind: "direct", ...request.authorization };
}

/** Toolkit reasons that the official facilitator spells differently. */
const OFFLINE_REASONS: Partial<Record<string, string>> = {
  // The official facilitator treats a signature it cannot parse as an invalid signature.
  invalid_exact_evm_failed_to_parse_signature: reasons.invalidSignature,
};

interface ChainState {
  payerHasCode: boolean;
  assetHasCode: boolean;
  erc1271Valid: boolean;
  balance?: bigint;
  nonceUsed?: boolean;
  authorizationStateFailed: boolean;
  name?: string;
  version?: string;
  simulation: { ok: boolean; message?: string };
}

function diagnose(request: PaymentRequest, state: ChainState, payer: Address): VerifyResponse {
  const message = state.simulation.message;
  if (state.authorizationStateFailed) return invalid(reasons.eip3009NotSupported, payer, message);
  if (state.nonceUsed) return invalid(reasons.nonceAlreadyUsed, payer, message);
  const { name, version } = request.requirements.extra;
  if (state.name !== undefined && state.name !== name) {
    return invalid(reasons.tokenNameMismatch, payer, message);
  }
  if (state.version !== undefined && state.version !== version) {
    return invalid(reasons.tokenVersionMismatch, payer, message);
  }
  if (state.balance !== undefined && state.balance < request.authorization.value) {
    return invalid(reasons.insufficientBalance, payer, message);
  }
  return invalid(reasons.simulationFailed, payer, message);
}

async function assetHasCode(client: PublicClient, asset: Address): Promise<boolean> {
  const key = `${client.chain?.id ?? ""}:${asset.toLowerCase()}`;
  if (positiveAssetCache.has(key)) return true;
  const code = await client.getCode({ address: asset });
  const hasCode = code !== undefined && code !== "0x";
  if (hasCode) positiveAssetCache.set(key, true);
  return hasCode;
}

/**
 * Everything one verification reads, sent together (one round trip with a batching transport):
 * the toolkit's batched state check (balance, nonce state, payer code), the asset's code, and one
 * Multicall3 call holding the transfer simulation, the token's name and version and the payer's
 * ERC-1271 answer. A routed payment's transfer is simulated as the router's `settle` of that one
 * item (only the router may call `receiveWithAuthorization` for it); it passes when the router
 * reports the item settled.
 */
async function readChainState(
  client: PublicClient,
  request: PaymentRequest,
  domain: TokenDomain,
  simulate: boolean,
  terms?: CheckedRoutedTerms,
): Promise<ChainState> {
  const { authorization, requirements } = request;
  const asset = requirements.asset;
  const payer = authorization.from;
  const innerSignature = classifySignature(request.signature, true).innerSignature;
  const digest = hashAuthorization({ domain, authorization: authorizationOf(request, terms) });
  const transfer = terms
    ? ({
        address: terms.router,
        abi: settlementRouterAbi,
        functionName: "settle",
        args: [
          asset,
          terms.feeRecipient,
          encodeItems([
            {
              kind: "routed",
              from: payer,
              payee: requirements.payTo,
              value: authorization.value,
              validAfter: authorization.validAfter,
              validBefore: authorization.validBefore,
              fee: terms.fee,
              salt: terms.salt,
              signature: innerSignature,
              contractSignature: size(innerSignature) !== 65,
            },
          ]),
        ],
      } as const)
    : undefined;
  const calls = [
    { address: asset, abi: eip3009Abi, functionName: "name" },
    { address: asset, abi: eip3009Abi, functionName: "version" },
    {
      address: asset,
      abi: eip3009Abi,
      functionName: "transferWithAuthorization",
      args: [
        payer,
        authorization.to,
        authorization.value,
        authorization.validAfter,
        authorization.validBefore,
        authorization.nonce,
        innerSignature,
      ],
    },
    {
      address: payer,
      abi: erc1271Abi,
      functionName: "isValidSignature",
      args: [digest, innerSignature],
    },
  ] as const;
  const [states, hasAssetCode, results] = await Promise.all([
    getAuthorizationStates(client, {
      token: asset,
      items: [{ from: payer, nonce: authorization.nonce }],
    }).catch(() => undefined),
    assetHasCode(client, asset),
    // Without simulation the multicall is only needed for a contract wallet's ERC-1271 answer;
    // it is sent anyway (cheap, same round trip) so both paths read the same way.
    client.multicall({
      contracts: (simulate
        ? [calls[0], calls[1], transfer ?? calls[2], calls[3]]
        : [calls[0], calls[1], calls[3]]) as unknown as typeof calls,
      allowFailure: true,
      multicallAddress: MULTICALL3_ADDRESS,
    }) as Promise<MulticallReturnType<typeof calls, true>>,
  ]);
  const [name, version, simulation, erc1271] = simulate
    ? results
    : ([results[0], results[1], { status: "success", result: undefined }, results[2]] as const);
  const state = states?.[0];
  const payerHasCode =
    state?.payerHasCode ?? ((await client.getCode({ address: payer })) ?? "0x") !== "0x";
  return {
    payerHasCode,
    assetHasCode: hasAssetCode,
    erc1271Valid:
      erc1271.status === "success" &&
      typeof erc1271.result === "string" &&
      erc1271.result.toLowerCase() === ERC1271_MAGIC_VALUE,
    balance: state?.balance,
    name: name.status === "success" ? (name.result as string) : undefined,
    version: version.status === "success" ? (version.result as string) : undefined,
    nonceUsed: state?.nonceUsed,
    // The token answers no authorizationState (the toolkit's read fails): it is not EIP-3009.
    authorizationStateFailed: state === undefined,
    simulation:
      simulation.status !== "success"
        ? { ok: false, message: simulationMessage(simulation.error) }
        : transfer && !routedItemSettled(simulation.result)
          ? { ok: false, message: "the router reports the item not settled" }
          : { ok: true },
  };
}

/** The router's `results` of a one-item `settle`: status byte 0 is `Settled`. */
function routedItemSettled(results: unknown): boolean {
  if (typeof results !== "string" || !results.startsWith("0x")) return false;
  const bytes = hexToBytes(results as Hex);
  return bytes.length === 1 && bytes[0] === 0;
}

function simulationMessage(error: unknown): string | undefined {
  if (!(error instanceof Error)) return undefined;
  const short = (error as { shortMessage?: string }).shortMessage ?? error.message;
  const reason = (error as { reason?: string }).reason;
  return (reason ? `${short} ${reason}` : short).split("\n").join(" ").slice(0, 300);
}
