import type {
  PaymentPayloadContext,
  PaymentPayloadResult,
  PaymentRequirements,
  SchemeNetworkClient,
} from "@x402/core/types";
import {
  erc20Abi,
  getAddress,
  isAddress,
  isAddressEqual,
  maxUint256,
  type Address,
  type Hex,
} from "viem";

import { buildRoutedAuthorization } from "../../authorization/buildRoutedAuthorization.js";
import { getAuthorizationTypedData } from "../../authorization/getAuthorizationTypedData.js";
import { PERMIT2_ADDRESS } from "../../chain/base.js";
import { EIP2612_GAS_SPONSORING_KEY, eip2612Abi } from "../../permit2/approval.js";
import {
  buildRouterPermit2Payment,
  getPermit2ApprovalTypedData,
  getRouterPermit2TypedData,
} from "../../permit2/router.js";
import { RoutedRequirementsError } from "./errors.js";
import { ROUTED_NETWORKS, routedDefaultAsset } from "./networks.js";

/** The signer of a routed payment: a viem `LocalAccount`, or `@x402/evm`'s `ClientEvmSigner`. */
export interface RoutedClientSigner {
  readonly address: Address;
  signTypedData(parameters: {
    domain: Record<string, unknown>;
    types: Record<string, unknown>;
    primaryType: string;
    message: Record<string, unknown>;
  }): Promise<Hex>;
  /** Chain reads (`@x402/evm`'s `toClientEvmSigner(account, publicClient)` has it): for the Permit2 approval. */
  readContract?: RoutedClientReadContract;
}

/** A contract read, as `@x402/evm`'s `ClientEvmSigner.readContract` and viem's take it. */
export type RoutedClientReadContract = (parameters: {
  address: Address;
  abi: readonly unknown[];
  functionName: string;
  args?: readonly unknown[];
}) => Promise<unknown>;

/**
 * How the client approves Permit2 for a payer that has not yet (x402's `eip2612GasSponsoring`):
 * for an asset with EIP-2612 whose EIP-712 domain the client knows (USDC on Base and Base Sepolia,
 * or `domains`), it signs a permit approving Permit2 and attaches it to the Permit2 payment, so
 * the facilitator runs it in the same router batch. Never for an asset without a known domain.
 */
export interface RoutedPermit2ApprovalOptions {
  /** Reads the token's `nonces(owner)` and `allowance(owner, Permit2)`. Default: the signer's `readContract`. */
  readContract?: RoutedClientReadContract;
  /** Sign the permit without reading the allowance first (the nonce is still read). Default false. */
  force?: boolean;
  /** The value approved. Default: `maxUint256`, the one-time approval. Below amount + fee, no permit is signed. */
  value?: bigint;
  /** EIP-712 domains (`name`, `version`) of other EIP-2612 assets, by address. */
  domains?: Readonly<Record<Address, { name: string; version: string }>>;
}

/** Options of {@link RoutedClientScheme}. */
export interface RoutedClientSchemeOptions {
  /**
   * The highest fee (base units of the asset) the client pays on top of a price; requirements
   * asking more are refused. Default: no cap of its own (the payment's spend cap, when the
   * `x402Client` has one, still bounds amount + fee).
   */
  maxFee?: bigint;
  /**
   * Routers the client signs for (default: any the requirements name). Pin the SettlementRouter's
   * canonical address here to refuse requirements that name another contract.
   */
  routers?: readonly Address[];
  /** Wall clock in seconds, for the authorization's `validBefore` (default: `Date.now()`). */
  now?: () => number;
  /**
   * The Permit2 approval riding with a Permit2 payment ({@link RoutedPermit2ApprovalOptions}).
   * Default: attempted when the 402 declares the `eip2612GasSponsoring` extension and the signer
   * can read the chain; `false` never signs one.
   */
  permit2Approval?: RoutedPermit2ApprovalOptions | false;
}

/** The `payload` of a `routed` payment (docs/SCHEMES.md). */
export interface RoutedPayload {
  authorization: {
    from: Address;
    to: Address;
    value: string;
    validAfter: string;
    validBefore: string;
    nonce: Hex;
  };
  salt: Hex;
  signature: Hex;
  [key: string]: unknown;
}

/**
 * The `payload` of a `routed` payment through Permit2 (requirements with
 * `extra.assetTransferMethod: "permit2"`, docs/SCHEMES.md): a `PermitWitnessTransferFrom` of
 * `amount + fee` with the SettlementRouter as spender and the router's `RouterPayment` witness.
 */
export interface RoutedPermit2Payload {
  permit2Authorization: {
    from: Address;
    permitted: { token: Address; amount: string };
    spender: Address;
    nonce: string;
    deadline: string;
    witness: { payee: Address; fee: string; feeRecipient: Address; validAfter: string };
  };
  signature: Hex;
  [key: string]: unknown;
}

const UINT = /^[0-9]{1,78}$/;
const MAX_UINT128 = (1n << 128n) - 1n;

function refuse(field: string, message: string, details?: string): never {
  throw new RoutedRequirementsError(field, message, details === undefined ? {} : { details });
}

function addressField(extra: Record<string, unknown>, field: string): Address {
  const value = extra[field];
  if (typeof value !== "string" || !isAddress(value, { strict: false })) {
    refuse(`extra.${field}`, `The requirements carry no valid extra.${field}.`, String(value));
  }
  return getAddress(value);
}

function uintField(value: unknown, field: string): bigint {
  if (typeof value !== "string" || !UINT.test(value)) {
    refuse(field, `The requirements carry no valid ${field}.`, String(value));
  }
  return BigInt(value);
}

/**
 * The client side of the `routed` x402 scheme (an `@x402/core` `SchemeNetworkClient`): when the
 * requirements name the SettlementRouter (`extra.router`), the facilitator's fee (`extra.fee`)
 * and its fee recipient (`extra.feeRecipient`), it signs an EIP-3009 `ReceiveWithAuthorization`
 * of `amount + fee` to the router whose nonce commits to `payTo`, the fee, the fee recipient and a
 * random salt, so only the router can execute it and nobody can redirect the payment or raise the
 * fee. When the requirements say `extra.assetTransferMethod: "permit2"` (a token without EIP-3009)
 * it signs Permit2's `PermitWitnessTransferFrom` of `amount + fee` instead, the router as spender
 * and a `RouterPayment` witness binding `payTo`, the fee, the fee recipient and a not-before time
 * (the payer must have approved Permit2 once: for USDC, or another asset with EIP-2612 and a known
 * domain, it signs that approval as an EIP-2612 permit riding in the payment's
 * `eip2612GasSponsoring` extension when the payer's allowance to Permit2 is short; see
 * {@link RoutedPermit2ApprovalOptions}). It refuses (with {@link RoutedRequirementsError}, nothing signed) x402 v1, networks other
 * than Base and Base Sepolia, requirements without the routed terms or with malformed ones, a fee
 * above `maxFee`, a router outside `routers`, and amount + fee above the payment's spend cap.
 *
 * @example
 * const client = new x402Client().register("eip155:8453", new RoutedClientScheme(account, { maxFee: 100n }));
 * const pay = wrapFetchWithPayment(fetch, client);
 */
export class RoutedClientScheme implements SchemeNetworkClient {
  readonly scheme = "routed";
  /**
   * USDC on Base and Base Sepolia, for the `x402Client`'s USD spend controls (as `@x402/evm`'s
   * `exact` reports it): other assets are not default ones.
   */
  readonly findDefaultAsset = (asset: string, network: string) => {
    const usdc = routedDefaultAsset(network);
    if (!usdc || !isAddress(asset, { strict: false }) || !isAddressEqual(asset, usdc.asset)) {
      return undefined;
    }
    return { asset: usdc.asset, decimals: usdc.decimals, symbol: "USDC" };
  };
  readonly #signer: RoutedClientSigner;
  readonly #options: RoutedClientSchemeOptions;

  constructor(signer: RoutedClientSigner, options: RoutedClientSchemeOptions = {}) {
    this.#signer = signer;
    this.#options = options;
  }

  async createPaymentPayload(
    x402Version: number,
    requirements: PaymentRequirements,
    context?: PaymentPayloadContext,
  ): Promise<PaymentPayloadResult> {
    if (x402Version !== 2) {
      refuse("x402Version", "The routed scheme is an x402 v2 scheme.", String(x402Version));
    }
    if (requirements.scheme !== this.scheme) {
      refuse("scheme", "The requirements are not for the routed scheme.", requirements.scheme);
    }
    const chainId = ROUTED_NETWORKS[requirements.network];
    if (chainId === undefined) {
      refuse(
        "network",
        "The routed scheme serves Base (eip155:8453) and Base Sepolia (eip155:84532).",
        requirements.network,
      );
    }
    const extra = (requirements.extra ?? {}) as Record<string, unknown>;
    const method = extra.assetTransferMethod ?? "eip3009";
    if (method !== "eip3009" && method !== "permit2") {
      refuse(
        "extra.assetTransferMethod",
        'The routed scheme transfers with "eip3009" or "permit2".',
        String(method),
      );
    }
    const name = extra.name;
    const version = extra.version;
    if (
      method === "eip3009" &&
      (typeof name !== "string" || typeof version !== "string" || !name || !version)
    ) {
      refuse("extra.name", "The requirements carry no EIP-712 domain (extra.name, extra.version).");
    }
    const router = addressField(extra, "router");
    const feeRecipient = addressField(extra, "feeRecipient");
    const fee = uintField(extra.fee, "extra.fee");
    const amount = uintField(requirements.amount, "amount");
    if (!isAddress(requirements.payTo, { strict: false })) {
      refuse("payTo", "The requirements' payTo is not an address.", requirements.payTo);
    }
    if (!isAddress(requirements.asset, { strict: false })) {
      refuse("asset", "The requirements' asset is not an address.", requirements.asset);
    }
    const payTo = getAddress(requirements.payTo);
    if (isAddressEqual(payTo, router)) {
      refuse("payTo", "The requirements pay the router itself.", payTo);
    }
    const { maxFee, routers } = this.#options;
    if (maxFee !== undefined && fee > maxFee) {
      refuse("extra.fee", "The fee is above the client's maxFee.", `${fee} > ${maxFee}`);
    }
    if (routers && !routers.some((allowed) => isAddressEqual(allowed, router))) {
      refuse("extra.router", "The router is not one this client signs for.", router);
    }
    const value = amount + fee;
    if (value > MAX_UINT128) refuse("amount", "amount + fee does not fit in uint128.");
    const cap = context?.maxAmountPerPayment;
    if (cap !== undefined && UINT.test(cap) && value > BigInt(cap)) {
      refuse("amount", "amount + fee is above the payment's spend cap.", `${value} > ${cap}`);
    }
    const now = this.#options.now?.() ?? Math.floor(Date.now() / 1000);
    const maxTimeoutSeconds = Math.max(1, requirements.maxTimeoutSeconds || 300);
    if (method === "permit2") {
      const payment = buildRouterPermit2Payment({
        owner: this.#signer.address,
        token: getAddress(requirements.asset),
        router,
        payee: payTo,
        amount: value,
        fee,
        feeRecipient,
        maxTimeoutSeconds,
        now,
      });
      const signature = await this.#signer.signTypedData(
        getRouterPermit2TypedData({ chainId, payment }) as unknown as Parameters<
          RoutedClientSigner["signTypedData"]
        >[0],
      );
      const payload: RoutedPermit2Payload = {
        permit2Authorization: {
          from: payment.owner,
          permitted: { token: payment.token, amount: payment.amount.toString() },
          spender: payment.router,
          nonce: payment.nonce.toString(),
          deadline: payment.deadline.toString(),
          witness: {
            payee: payment.payee,
            fee: payment.fee.toString(),
            feeRecipient: payment.feeRecipient,
            validAfter: payment.validAfter.toString(),
          },
        },
        signature,
      };
      const info = await this.#permit2Approval(
        requirements,
        chainId,
        payment.deadline,
        value,
        context,
      );
      return info
        ? { x402Version, payload, extensions: { [EIP2612_GAS_SPONSORING_KEY]: { info } } }
        : { x402Version, payload };
    }
    const authorization = buildRoutedAuthorization({
      from: this.#signer.address,
      router,
      payee: payTo,
      value,
      fee,
      feeRecipient,
      validAfter: 0n,
      validBefore: BigInt(now + maxTimeoutSeconds),
    });
    const typedData = getAuthorizationTypedData({
      domain: {
        name: name as string,
        version: version as string,
        chainId,
        verifyingContract: getAddress(requirements.asset),
      },
      authorization,
    });
    const signature = await this.#signer.signTypedData(
      typedData as unknown as Parameters<RoutedClientSigner["signTypedData"]>[0],
    );
    const payload: RoutedPayload = {
      authorization: {
        from: authorization.from,
        to: authorization.to,
        value: authorization.value.toString(),
        validAfter: authorization.validAfter.toString(),
        validBefore: authorization.validBefore.toString(),
        nonce: authorization.nonce,
      },
      salt: authorization.salt,
      signature,
    };
    return { x402Version, payload };
  }

  /**
   * The `eip2612GasSponsoring` info for a Permit2 payment of `needed` (amount + fee), or undefined:
   * no approval wanted (option `false`, or neither option nor the 402 asks), no known EIP-712
   * domain for the asset, no way to read the chain, a nonce that cannot be read (no EIP-2612), an
   * allowance to Permit2 that already covers the payment, or a configured value below it.
   */
  async #permit2Approval(
    requirements: PaymentRequirements,
    chainId: number,
    deadline: bigint,
    needed: bigint,
    context: PaymentPayloadContext | undefined,
  ): Promise<Eip2612GasSponsoringInfo | undefined> {
    const option = this.#options.permit2Approval;
    if (option === false) return undefined;
    if (!option && !context?.extensions?.[EIP2612_GAS_SPONSORING_KEY]) return undefined;
    const asset = getAddress(requirements.asset);
    const usdc = routedDefaultAsset(requirements.network);
    const known =
      usdc && isAddressEqual(usdc.asset, asset)
        ? { name: usdc.name, version: usdc.version }
        : Object.entries(option?.domains ?? {}).find(([token]) =>
            isAddressEqual(token as Address, asset),
          )?.[1];
    const read = option?.readContract ?? this.#signer.readContract?.bind(this.#signer);
    const value = option?.value ?? maxUint256;
    if (!known || !read || value < needed) return undefined;
    const owner = this.#signer.address;
    if (!option?.force) {
      try {
        const allowance = (await read({
          address: asset,
          abi: erc20Abi,
          functionName: "allowance",
          args: [owner, PERMIT2_ADDRESS],
        })) as bigint;
        if (allowance >= needed) return undefined;
      } catch {
        // Unknown allowance: the permit is signed; the facilitator drops it if it is not needed.
      }
    }
    let nonce: bigint;
    try {
      nonce = (await read({
        address: asset,
        abi: eip2612Abi,
        functionName: "nonces",
        args: [owner],
      })) as bigint;
    } catch {
      return undefined;
    }
    const signature = await this.#signer.signTypedData(
      getPermit2ApprovalTypedData({
        token: { ...known, chainId, verifyingContract: asset },
        owner,
        value,
        nonce,
        deadline,
      }) as unknown as Parameters<RoutedClientSigner["signTypedData"]>[0],
    );
    return {
      from: owner,
      asset,
      spender: PERMIT2_ADDRESS,
      amount: value.toString(),
      nonce: nonce.toString(),
      deadline: deadline.toString(),
      signature,
      version: "1",
    };
  }
}

/**
 * `paymentPayload.extensions.eip2612GasSponsoring.info` (x402's field names): the payer's EIP-2612
 * permit approving Permit2, `amount` its value, `nonce` the token nonce it was signed with.
 */
export interface Eip2612GasSponsoringInfo {
  from: Address;
  asset: Address;
  spender: Address;
  amount: string;
  nonce: string;
  deadline: string;
  signature: Hex;
  version: string;
}
