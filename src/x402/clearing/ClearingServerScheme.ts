import type {
  AssetAmount,
  Network,
  PaymentFlowConfig,
  PaymentRequirements,
  Price,
  SchemeEnrichPaymentRequiredResponseHook,
  SchemeNetworkServer,
  SupportedKind,
} from "@x402/core/types";
import { type Address, isAddress, isAddressEqual, parseUnits } from "viem";

import { getTokenDomain } from "../../authorization/getTokenDomain.js";
import { USDC_DECIMALS } from "../../chain/base.js";
import { ClearingServerError } from "./errors.js";
import { CLEARING_SCHEME, decodePairState, encodePairState } from "./payload.js";
import { CLEARING_NETWORKS } from "./requirements.js";
import { checksumAddress } from "../../crypto/checksumAddress.js";

/** The payment flows the server scheme offers: see {@link ClearingServerSchemeOptions.paymentFlow}. */
export type ClearingPaymentFlow = "upfront" | "authorization";

export type ClearingServerSchemeOptions = {
  /**
   * `upfront` (default): the voucher is settled (accepted and written durably by the facilitator)
   * before the handler runs, one facilitator call per request and no `/verify` round trip.
   * `authorization`: verified before the handler and settled after it, as `exact` does.
   */
  paymentFlow?: ClearingPaymentFlow;
  /**
   * The facilitator's URL. Given, a 402 answering a failed payment carries the pair's state in
   * `extra.pair`, read from the facilitator's `POST /clearing/pair`.
   */
  facilitatorUrl?: string;
  /** How long to wait for `/clearing/pair`, ms. Default 2,000. */
  pairTimeoutMs?: number;
  /** Default: the global fetch. */
  fetch?: typeof fetch;
  /**
   * Assets whose deposits go through Permit2 whatever the facilitator's kind lists (its
   * `extra.permit2Assets` are always honoured): tokens without EIP-3009, or one with it that the
   * server prefers to take through Permit2.
   */
  permit2Assets?: readonly Address[];
};

const TERMS = ["clearingHouse", "operator", "feeBasisPoints", "withdrawalDelay"] as const;

/**
 * The `clearing` scheme for the official `@x402/core` resource server (`x402ResourceServer`,
 * `@x402/express`): prices in USDC on Base and Base Sepolia as `exact` does, requirements filled
 * with the facilitator's clearing terms from its `/supported` kind (ClearingHouse, operator, fee
 * basis points, withdrawal delay) and the token's EIP-712 name and version. An asset deposited
 * through Permit2 (listed in the kind's `extra.permit2Assets`, or in the `permit2Assets` option;
 * a token without EIP-3009 such as USDT) gets `extra.assetTransferMethod: "permit2"` instead of a
 * token domain (price it with an `AssetAmount`). It keeps no state: after a failed payment it can
 * fill the 402's `extra.pair` from the facilitator.
 *
 * @example
 * const server = new x402ResourceServer(new HTTPFacilitatorClient({ url }))
 *   .register("eip155:8453", new ClearingServerScheme({ facilitatorUrl: url }));
 * app.use(paymentMiddleware({ "GET /weather": { accepts: { scheme: "clearing", price: "$0.001",
 *   network: "eip155:8453", payTo } } }, server));
 */
export class ClearingServerScheme implements SchemeNetworkServer {
  readonly scheme = CLEARING_SCHEME;
  readonly defaultAssetTransferMethod = "default";
  readonly paymentFlows: Readonly<Record<string, PaymentFlowConfig>>;
  /** `extra.pair` differs between the 402 and the payment: matching ignores it. */
  readonly dynamicExtraFields = ["pair"];
  readonly enrichPaymentRequiredResponse: SchemeEnrichPaymentRequiredResponseHook | undefined;
  readonly #facilitatorUrl: string | undefined;
  readonly #pairTimeoutMs: number;
  readonly #fetch: typeof fetch;
  readonly #permit2Assets: readonly Address[];

  constructor(options: ClearingServerSchemeOptions = {}) {
    const flow = options.paymentFlow ?? "upfront";
    if (flow !== "upfront" && flow !== "authorization") {
      throw new ClearingServerError("Unknown clearing payment flow.", String(flow));
    }
    const flows: PaymentFlowConfig = { supported: ["upfront", "authorization"], default: flow };
    // `permit2`: requirements whose deposits go through Permit2 (extra.assetTransferMethod).
    this.paymentFlows = { default: flows, permit2: flows };
    this.#facilitatorUrl = options.facilitatorUrl?.replace(/\/+$/, "");
    this.#pairTimeoutMs = options.pairTimeoutMs ?? 2_000;
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#permit2Assets = (options.permit2Assets ?? []).map((asset) => checksumAddress(asset));
    this.enrichPaymentRequiredResponse = this.#facilitatorUrl
      ? (ctx) => this.#fillPairs(ctx.requirements, ctx.paymentPayload?.payload)
      : undefined;
  }

  /** USDC's 6 decimals for USDC on the scheme's networks. */
  getAssetDecimals(asset: string, network: Network): number | undefined {
    const usdc = usdcOf(network);
    return usdc && isAddress(asset) && isAddressEqual(asset, usdc.verifyingContract)
      ? USDC_DECIMALS
      : undefined;
  }

  /**
   * A price as `exact` reads it: an `AssetAmount` unchanged, money (`"$0.001"`, `"0.001"`,
   * `"0.001 USDC"`, `0.001`) in USDC on the network, with USDC's EIP-712 name and version.
   */
  async parsePrice(price: Price, network: Network): Promise<AssetAmount> {
    if (typeof price === "object" && price !== null && "amount" in price) {
      if (!price.asset) {
        throw new ClearingServerError(
          `An AssetAmount needs an asset on ${network}.`,
          JSON.stringify(price),
        );
      }
      return { amount: price.amount, asset: price.asset, extra: price.extra ?? {} };
    }
    const usdc = usdcOf(network);
    if (!usdc) {
      throw new ClearingServerError(
        `The clearing scheme has no default asset on ${network}.`,
        "networks: eip155:8453, eip155:84532",
      );
    }
    const text = String(price)
      .trim()
      .replace(/^\$/, "")
      .replace(/\s*USDC$/i, "");
    if (!/^[0-9]+(\.[0-9]+)?$/.test(text)) {
      throw new ClearingServerError("The price is not an amount of money.", JSON.stringify(price));
    }
    const amount = parseUnits(text, USDC_DECIMALS);
    return {
      amount: amount.toString(),
      asset: usdc.verifyingContract,
      extra: { name: usdc.name, version: usdc.version },
    };
  }

  /**
   * Fills `extra` with the facilitator's clearing terms, and the deposit's transfer method:
   * `assetTransferMethod: "permit2"` for a Permit2 asset, else the token's domain when missing.
   */
  async enhancePaymentRequirements(
    requirements: PaymentRequirements,
    supportedKind: SupportedKind,
    _facilitatorExtensions: string[],
  ): Promise<PaymentRequirements> {
    const problem = this.validateFacilitatorSupport(requirements.network, supportedKind);
    if (problem) throw new ClearingServerError(problem);
    const kind = supportedKind.extra as Record<string, unknown>;
    const extra: Record<string, unknown> = { ...requirements.extra };
    for (const field of TERMS) extra[field] = kind[field];
    extra.clearingHouse = checksumAddress(kind.clearingHouse as string);
    extra.operator = checksumAddress(kind.operator as string);
    const listed = Array.isArray(kind.permit2Assets) ? (kind.permit2Assets as unknown[]) : [];
    const permit2 =
      isAddress(requirements.asset, { strict: false }) &&
      [...this.#permit2Assets, ...listed].some(
        (asset) =>
          typeof asset === "string" &&
          isAddress(asset, { strict: false }) &&
          isAddressEqual(asset, requirements.asset as Address),
      );
    if (permit2) {
      extra.assetTransferMethod = "permit2";
    } else if (extra.name === undefined || extra.version === undefined) {
      const domain = tokenDomainOf(requirements, kind.assets);
      if (!domain) {
        throw new ClearingServerError(
          "The clearing requirements need the token's EIP-712 name and version.",
          `give extra.name and extra.version for ${requirements.asset}`,
        );
      }
      extra.name = domain.name;
      extra.version = domain.version;
    }
    return { ...requirements, extra };
  }

  /** A problem line when the facilitator's kind lacks the clearing terms, else undefined. */
  validateFacilitatorSupport(network: Network, supportedKind: SupportedKind): string | undefined {
    const extra = supportedKind.extra;
    if (!extra || typeof extra !== "object") {
      return `the facilitator's clearing kind on ${network} has no extra (clearing terms)`;
    }
    for (const field of ["clearingHouse", "operator"] as const) {
      const value = extra[field];
      if (typeof value !== "string" || !isAddress(value, { strict: false })) {
        return `the facilitator's clearing kind on ${network} has no valid extra.${field}`;
      }
    }
    const bps = extra.feeBasisPoints;
    if (typeof bps !== "number" || !Number.isInteger(bps) || bps < 0 || bps > 10_000) {
      return `the facilitator's clearing kind on ${network} has no valid extra.feeBasisPoints`;
    }
    const delay = extra.withdrawalDelay;
    if (typeof delay !== "number" || !Number.isInteger(delay) || delay <= 0) {
      return `the facilitator's clearing kind on ${network} has no valid extra.withdrawalDelay`;
    }
    return undefined;
  }

  async #fillPairs(
    accepts: PaymentRequirements[],
    payload: unknown,
  ): Promise<PaymentRequirements[] | undefined> {
    const payer = payerOf(payload);
    if (!payer) return undefined;
    let changed = false;
    const out = await Promise.all(
      accepts.map(async (accept) => {
        if (accept.scheme !== CLEARING_SCHEME || !(accept.network in CLEARING_NETWORKS)) {
          return accept;
        }
        if (accept.extra?.pair !== undefined) return accept;
        const pair = await this.#fetchPair(payer, accept).catch(() => undefined);
        if (!pair) return accept;
        changed = true;
        return { ...accept, extra: { ...accept.extra, pair } };
      }),
    );
    return changed ? out : undefined;
  }

  async #fetchPair(payer: Address, accept: PaymentRequirements) {
    const response = await this.#fetch(`${this.#facilitatorUrl}/clearing/pair`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ payer, payee: accept.payTo, token: accept.asset }),
      signal: AbortSignal.timeout(this.#pairTimeoutMs),
    });
    if (!response.ok) return undefined;
    const body = (await response.json()) as Record<string, unknown>;
    const raw = body && typeof body === "object" && "pair" in body ? body.pair : body;
    // Re-encoded from the decoded form: only a well-formed pair reaches the client.
    return encodePairState(decodePairState(raw));
  }
}

/** The token's EIP-712 name and version: from the kind's `assets` list, or USDC's. */
function tokenDomainOf(
  requirements: PaymentRequirements,
  assets: unknown,
): { name: string; version: string } | undefined {
  if (!isAddress(requirements.asset, { strict: false })) return undefined;
  if (Array.isArray(assets)) {
    for (const entry of assets as { asset?: unknown; name?: unknown; version?: unknown }[]) {
      if (
        typeof entry?.asset === "string" &&
        isAddress(entry.asset, { strict: false }) &&
        isAddressEqual(entry.asset, requirements.asset) &&
        typeof entry.name === "string" &&
        entry.name.length > 0 &&
        typeof entry.version === "string" &&
        entry.version.length > 0
      ) {
        return { name: entry.name, version: entry.version };
      }
    }
  }
  const usdc = usdcOf(requirements.network);
  return usdc && isAddressEqual(requirements.asset, usdc.verifyingContract) ? usdc : undefined;
}

function usdcOf(network: string) {
  const chainId = CLEARING_NETWORKS[network];
  return chainId === undefined ? undefined : getTokenDomain({ chainId });
}

function payerOf(payload: unknown): Address | undefined {
  const payer = (payload as { voucher?: { payer?: unknown } } | undefined)?.voucher?.payer;
  return typeof payer === "string" && isAddress(payer, { strict: false })
    ? checksumAddress(payer)
    : undefined;
}
