import type {
  AssetAmount,
  MoneyParser,
  Network,
  PaymentRequirements,
  Price,
  SchemeNetworkServer,
} from "@x402/core/types";
import { getAddress, isAddress, isAddressEqual, type Address } from "viem";

import { RoutedServerSchemeError } from "./errors.js";
import { routedDefaultAsset } from "./networks.js";

type SupportedKind = {
  x402Version: number;
  scheme: string;
  network: Network;
  extra?: Record<string, unknown>;
};

const MONEY = /^\$?\s*(\d+(?:\.\d+)?)(?:\s+([A-Za-z][A-Za-z0-9.]*))?$/;
const UINT = /^[0-9]{1,78}$/;

/** A decimal amount (`"0.001"`) in base units of a token with `decimals` (truncated, as x402's). */
function toBaseUnits(amount: string, decimals: number): string {
  const [whole, fraction = ""] = amount.split(".");
  return (whole + fraction.padEnd(decimals, "0").slice(0, decimals)).replace(/^0+/, "") || "0";
}

/**
 * The resource-server side of the `routed` x402 scheme (an `@x402/core` `SchemeNetworkServer`).
 * `parsePrice` turns a price into USDC base units on Base and Base Sepolia as `@x402/evm`'s `exact`
 * does (`"$0.001"`, `"0.001"`, `0.001`, `"0.001 USDC"`, or an `AssetAmount` as is; registered
 * money parsers are tried first). `enhancePaymentRequirements` copies the facilitator's routed
 * terms from its `/supported` kind's `extra` (`router`, `fee`, `feeRecipient`) into the
 * requirements, so the server stays stateless and always offers the facilitator's current fee.
 * `amount` stays what the payee receives; the client signs `amount + fee`. An asset settled through
 * Permit2 (listed in the kind's `extra.permit2Assets`, or in the `permit2Assets` option) gets
 * `extra.assetTransferMethod: "permit2"`, so clients sign a Permit2 witness transfer instead of
 * EIP-3009 (price such a token with an `AssetAmount`).
 *
 * @example
 * const server = new x402ResourceServer(new HTTPFacilitatorClient({ url })).register(
 *   "eip155:8453",
 *   new RoutedServerScheme(),
 * );
 * app.use(paymentMiddleware({ "GET /weather": { accepts: { scheme: "routed", price: "$0.001", network: "eip155:8453", payTo } } }, server));
 */
export class RoutedServerScheme implements SchemeNetworkServer {
  readonly scheme = "routed";
  readonly defaultAssetTransferMethod = "eip3009";
  readonly paymentFlows = {
    eip3009: { supported: ["authorization"], default: "authorization" },
    permit2: { supported: ["authorization"], default: "authorization" },
  } as const;
  readonly #moneyParsers: MoneyParser[] = [];
  readonly #permit2Assets: readonly Address[];

  /**
   * @param options.permit2Assets Assets to settle through Permit2 whatever the facilitator's kind
   * lists (tokens without EIP-3009).
   */
  constructor(options: { permit2Assets?: readonly Address[] } = {}) {
    this.#permit2Assets = (options.permit2Assets ?? []).map((asset) => getAddress(asset));
  }

  /** Adds a money parser, tried before the USDC default (in registration order). */
  registerMoneyParser(parser: MoneyParser): this {
    this.#moneyParsers.push(parser);
    return this;
  }

  getAssetDecimals(asset: string, network: Network): number | undefined {
    const usdc = routedDefaultAsset(network);
    return usdc && isAddress(asset, { strict: false }) && getAddress(asset) === usdc.asset
      ? usdc.decimals
      : undefined;
  }

  async parsePrice(price: Price, network: Network): Promise<AssetAmount> {
    if (typeof price === "object" && price !== null) {
      if (!price.asset) {
        throw new RoutedServerSchemeError("An AssetAmount needs its asset.", { details: network });
      }
      return { amount: price.amount, asset: price.asset, extra: price.extra ?? {} };
    }
    let amount: string;
    let symbol: string | undefined;
    if (typeof price === "number") {
      if (!Number.isFinite(price) || price < 0) {
        throw new RoutedServerSchemeError("Invalid price.", { details: String(price) });
      }
      amount = price.toFixed(6).replace(/\.?0+$/, "") || "0";
    } else {
      const match = MONEY.exec(price.trim());
      if (!match) throw new RoutedServerSchemeError("Invalid price.", { details: price });
      amount = match[1]!;
      symbol = match[2]?.toUpperCase();
    }
    for (const parser of this.#moneyParsers) {
      const parsed = await parser(amount, network);
      if (parsed !== null) return parsed;
    }
    const usdc = routedDefaultAsset(network);
    if (!usdc) {
      throw new RoutedServerSchemeError("The routed scheme has no default asset on this network.", {
        details: `${network}; it serves eip155:8453 and eip155:84532`,
      });
    }
    if (symbol !== undefined && symbol !== "USD" && symbol !== "USDC") {
      throw new RoutedServerSchemeError("Unknown price symbol.", { details: symbol });
    }
    return {
      amount: toBaseUnits(amount, usdc.decimals),
      asset: usdc.asset,
      extra: { name: usdc.name, version: usdc.version },
    };
  }

  async enhancePaymentRequirements(
    requirements: PaymentRequirements,
    supportedKind: SupportedKind,
    facilitatorExtensions: string[],
  ): Promise<PaymentRequirements> {
    void facilitatorExtensions;
    const terms = routedTermsOf(supportedKind.extra);
    if (!terms) {
      throw new RoutedServerSchemeError(
        "The facilitator's routed kind carries no router, fee and fee recipient.",
        { details: JSON.stringify(supportedKind.extra ?? null).slice(0, 300) },
      );
    }
    const listed = supportedKind.extra?.permit2Assets;
    const permit2Assets = [
      ...this.#permit2Assets,
      ...(Array.isArray(listed)
        ? listed.filter(
            (asset): asset is string =>
              typeof asset === "string" && isAddress(asset, { strict: false }),
          )
        : []),
    ];
    const permit2 =
      isAddress(requirements.asset, { strict: false }) &&
      permit2Assets.some((asset) =>
        isAddressEqual(asset as Address, requirements.asset as Address),
      );
    return {
      ...requirements,
      extra: {
        ...requirements.extra,
        ...terms,
        ...(permit2 ? { assetTransferMethod: "permit2" } : {}),
      },
    };
  }

  validateFacilitatorSupport(network: Network, supportedKind: SupportedKind): string | void {
    if (!routedTermsOf(supportedKind.extra)) {
      return `routed on ${network}: the facilitator's kind lacks extra.router, extra.fee or extra.feeRecipient`;
    }
  }
}

function routedTermsOf(
  extra: Record<string, unknown> | undefined,
): { router: string; fee: string; feeRecipient: string } | undefined {
  const router = extra?.router;
  const fee = extra?.fee;
  const feeRecipient = extra?.feeRecipient;
  if (typeof router !== "string" || !isAddress(router, { strict: false })) return undefined;
  if (typeof feeRecipient !== "string" || !isAddress(feeRecipient, { strict: false })) {
    return undefined;
  }
  if (typeof fee !== "string" || !UINT.test(fee)) return undefined;
  return { router: getAddress(router), fee, feeRecipient: getAddress(feeRecipient) };
}
