/**
 * The x402 `exact` baseline, driven through the official SDK: the `@x402/evm` facilitator
 * scheme verifies and settles one payment per transaction, and the official client scheme
 * signs the payloads. Nothing here re-implements the protocol; it only wires viem clients
 * into the SDK's signer interfaces so the benchmark (and the facilitator's HTTP benchmark)
 * can run the real thing against a local or forked Base.
 */
import type {
  Network,
  PaymentPayload,
  PaymentRequirements,
  SettleResponse,
  VerifyResponse,
} from "@x402/core/types";
import { toClientEvmSigner, toFacilitatorEvmSigner } from "@x402/evm";
import { ExactEvmScheme as ExactEvmClientScheme } from "@x402/evm/exact/client";
import { ExactEvmScheme as ExactEvmFacilitatorScheme } from "@x402/evm/exact/facilitator";
import type {
  Account,
  Address,
  Chain,
  Hex,
  LocalAccount,
  PublicClient,
  Transport,
  WalletClient,
} from "viem";
import { fromX402Payload } from "../../src/authorization/fromX402Payload.js";

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
 * Builds the official `@x402/evm` facilitator `ExactEvmScheme` on top of a viem client that
 * carries an account (a JSON-RPC account of the node, or a local account).
 *
 * @example
 * const facilitator = createOfficialFacilitator({ publicClient, walletClient });
 * const verified = await facilitator.verify(payload, requirements);
 * if (verified.isValid) await facilitator.settle(payload, requirements);
 */
export function createOfficialFacilitator(
  { publicClient, walletClient }: OfficialFacilitatorClients,
  options: { confirmationTimeoutMs?: number } = {},
): OfficialFacilitator {
  const account = walletClient.account;
  const chain = walletClient.chain;
  const signer = toFacilitatorEvmSigner(
    {
      address: account.address,
      readContract: (args) => publicClient.readContract(args as never),
      verifyTypedData: (args) => publicClient.verifyTypedData(args as never),
      writeContract: (args) => walletClient.writeContract({ ...args, account, chain } as never),
      sendTransaction: (args) => walletClient.sendTransaction({ ...args, account, chain } as never),
      waitForTransactionReceipt: (args) => publicClient.waitForTransactionReceipt(args),
      getCode: (args) => publicClient.getCode(args),
    },
    { confirmationTimeoutMs: options.confirmationTimeoutMs ?? 120_000 },
  );
  const scheme = new ExactEvmFacilitatorScheme(signer);
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

/**
 * The PaymentRequirements a v2 resource server advertises for an `exact` EIP-3009 payment.
 *
 * @example
 * const requirements = exactRequirements({ chainId: 8453, asset: USDC_ADDRESS,
 *   name: "USD Coin", version: "2", payTo, amount: 10_000n });
 */
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
 * Returns the full v2 PaymentPayload a client would send in `PAYMENT-SIGNATURE`.
 *
 * @example
 * const payload = await createOfficialPayment(privateKeyToAccount(key), requirements);
 */
export async function createOfficialPayment(
  account: LocalAccount,
  requirements: PaymentRequirements,
  resourceUrl = "http://localhost/bench",
): Promise<PaymentPayload> {
  const scheme = new ExactEvmClientScheme(toClientEvmSigner(account));
  const result = await scheme.createPaymentPayload(2, requirements);
  return {
    x402Version: result.x402Version,
    resource: { url: resourceUrl, description: "benchmark payment", mimeType: "application/json" },
    accepted: requirements,
    payload: result.payload,
  };
}

/** The EIP-3009 authorization and 65-byte signature inside an `exact` payload. */
export interface ExactAuthorization {
  from: Address;
  to: Address;
  value: bigint;
  validAfter: bigint;
  validBefore: bigint;
  nonce: Hex;
  signature: Hex;
}

/** Reads the authorization back out of an `exact` PaymentPayload, with the toolkit's x402 payload parser. */
export function exactAuthorizationOf(payload: PaymentPayload): ExactAuthorization {
  return fromX402Payload(payload);
}
