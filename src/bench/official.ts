/**
 * The official x402 SDK (`@x402/evm`, with `@x402/core`), loaded when a method needs it: it is an
 * optional peer of the library (a devDependency of this project), so nothing here imports it at
 * load time. The `x402-exact-single` method settles through its `exact` facilitator scheme; the
 * facilitator benchmark of `npm run bench` drives its client and server.
 */
import type {
  Network,
  PaymentPayload,
  PaymentRequirements,
  SettleResponse,
  VerifyResponse,
} from "@x402/core/types";
import type {
  Account,
  Address,
  Chain,
  LocalAccount,
  PublicClient,
  Transport,
  WalletClient,
} from "viem";

import { BenchmarkDependencyError } from "./errors.js";

type EvmModule = typeof import("@x402/evm");
type ClientModule = typeof import("@x402/evm/exact/client");
type FacilitatorModule = typeof import("@x402/evm/exact/facilitator");

/** The official SDK's modules the benchmark uses. */
export interface OfficialSdk {
  evm: EvmModule;
  client: ClientModule;
  facilitator: FacilitatorModule;
}

let loaded: Promise<OfficialSdk> | undefined;

/**
 * Imports the official SDK once; throws {@link BenchmarkDependencyError} naming `method` when it
 * is not installed.
 */
export function loadOfficialSdk(method: string): Promise<OfficialSdk> {
  loaded ??= Promise.all([
    import("@x402/evm"),
    import("@x402/evm/exact/client"),
    import("@x402/evm/exact/facilitator"),
  ]).then(([evm, client, facilitator]) => ({ evm, client, facilitator }));
  return loaded.catch((error: unknown) => {
    loaded = undefined;
    const code = (error as { code?: string }).code;
    if (code === "ERR_MODULE_NOT_FOUND" || code === "MODULE_NOT_FOUND")
      throw new BenchmarkDependencyError(method, ["@x402/evm", "@x402/core"], error);
    throw error;
  });
}

/** What the official facilitator needs from the chain: reads and receipts, and a funded sender. */
export interface OfficialFacilitatorClients {
  publicClient: PublicClient;
  /** Sends the settlement transactions; must carry an account (JSON-RPC or local). */
  walletClient: WalletClient<Transport, Chain | undefined, Account>;
}

/** An official `exact` facilitator bound to one submitter account. */
export interface OfficialFacilitator {
  /** The account that pays gas for every settlement. */
  readonly address: Address;
  /** The SDK's `verify`: signature, recipient, time window, amount, simulation. */
  verify(payload: PaymentPayload, requirements: PaymentRequirements): Promise<VerifyResponse>;
  /** The SDK's `settle`: re-verifies, sends one `transferWithAuthorization`, waits for it. */
  settle(payload: PaymentPayload, requirements: PaymentRequirements): Promise<SettleResponse>;
}

/**
 * The official `@x402/evm` facilitator `ExactEvmScheme` over viem clients: the SDK's signer
 * interface is filled in from the public client (reads, receipts) and the wallet client (writes).
 *
 * @example
 * const facilitator = createOfficialFacilitator(await loadOfficialSdk("x402-exact-single"), { publicClient, walletClient });
 * const verified = await facilitator.verify(payload, requirements);
 */
export function createOfficialFacilitator(
  sdk: OfficialSdk,
  { publicClient, walletClient }: OfficialFacilitatorClients,
  options: { confirmationTimeoutMs?: number } = {},
): OfficialFacilitator {
  const account = walletClient.account;
  const chain = walletClient.chain;
  // The SDK's signer interface types its arguments loosely (`Record<string, unknown>` shapes);
  // viem's actions check them at run time.
  type Loose = Parameters<typeof publicClient.readContract>[0];
  const signer = sdk.evm.toFacilitatorEvmSigner(
    {
      address: account.address,
      readContract: (args) => publicClient.readContract(args as Loose),
      verifyTypedData: (args) =>
        publicClient.verifyTypedData(args as Parameters<typeof publicClient.verifyTypedData>[0]),
      writeContract: (args) =>
        walletClient.writeContract({ ...args, account, chain } as Parameters<
          typeof walletClient.writeContract
        >[0]),
      sendTransaction: (args) =>
        walletClient.sendTransaction({ ...args, account, chain } as Parameters<
          typeof walletClient.sendTransaction
        >[0]),
      waitForTransactionReceipt: (args) => publicClient.waitForTransactionReceipt(args),
      getCode: (args) => publicClient.getCode(args),
    },
    { confirmationTimeoutMs: options.confirmationTimeoutMs ?? 120_000 },
  );
  const scheme = new sdk.facilitator.ExactEvmScheme(signer);
  return {
    address: account.address,
    verify: (payload, requirements) => scheme.verify(payload, requirements),
    settle: (payload, requirements) => scheme.settle(payload, requirements),
  };
}

/** The fields of a v2 `exact` PaymentRequirements for an EIP-3009 token. */
export interface ExactRequirementsParameters {
  chainId: number;
  /** The token: USDC's proxy or any EIP-3009 token. */
  asset: Address;
  /** The token's EIP-712 domain name and version. */
  name: string;
  version: string;
  payTo: Address;
  /** Amount in the token's smallest unit. */
  amount: bigint;
  maxTimeoutSeconds?: number;
}

/** The PaymentRequirements a v2 resource server advertises for an `exact` EIP-3009 payment. */
export function exactRequirements(parameters: ExactRequirementsParameters): PaymentRequirements {
  return {
    scheme: "exact",
    network: `eip155:${parameters.chainId}` as Network,
    asset: parameters.asset,
    amount: parameters.amount.toString(),
    payTo: parameters.payTo,
    maxTimeoutSeconds: parameters.maxTimeoutSeconds ?? 300,
    extra: { name: parameters.name, version: parameters.version },
  };
}

/**
 * Signs a payment exactly as the official v2 client does (`ExactEvmScheme` with
 * `toClientEvmSigner`): validAfter 0, validBefore now + maxTimeoutSeconds, a random nonce.
 * Returns the full v2 PaymentPayload a client sends in `PAYMENT-SIGNATURE`.
 */
export async function createOfficialPayment(
  sdk: OfficialSdk,
  account: LocalAccount,
  requirements: PaymentRequirements,
  resourceUrl = "http://localhost/bench",
): Promise<PaymentPayload> {
  const scheme = new sdk.client.ExactEvmScheme(sdk.evm.toClientEvmSigner(account));
  const result = await scheme.createPaymentPayload(2, requirements);
  return {
    x402Version: result.x402Version,
    resource: { url: resourceUrl, description: "benchmark payment", mimeType: "application/json" },
    accepted: requirements,
    payload: result.payload,
  };
}
