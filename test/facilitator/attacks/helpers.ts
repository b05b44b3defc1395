import { readFileSync } from "node:fs";
import type { Server } from "node:http";
import path from "node:path";

import { HTTPFacilitatorClient } from "@x402/core/server";
import { decodePaymentRequiredHeader, decodePaymentResponseHeader } from "@x402/core/http";
import { ExactEvmScheme as ExactEvmServerScheme } from "@x402/evm/exact/server";
import { paymentMiddleware, x402ResourceServer } from "@x402/express";
import express from "express";
import {
  createWalletClient,
  decodeFunctionData,
  http,
  isAddressEqual,
  parseGwei,
  type Abi,
  type Address,
  type Hex,
  type LocalAccount,
  type TransactionReceipt,
} from "viem";
import { base as baseChain } from "viem/chains";

import { settlementRouterAbi } from "../../../src/abi/settlementRouter.js";
import { buildDirectAuthorization } from "../../../src/authorization/buildDirectAuthorization.js";
import { getAuthorizationTypedData } from "../../../src/authorization/getAuthorizationTypedData.js";
import { toX402Payload } from "../../../src/authorization/toX402Payload.js";
import { decodeItems } from "../../../src/batch/decodeItems.js";
import { decodeSettleReceipt } from "../../../src/batch/decodeSettleReceipt.js";
import { FIAT_TOKEN_V2_2_GAS_PROFILE } from "../../../src/batch/gasProfiles.js";
import { USDC_ADDRESS, USDC_EIP712_NAME, USDC_EIP712_VERSION } from "../../../src/chain/base.js";
import { network, postJson, projectRoot, type LocalBase } from "../harness.js";

/** x402 v2 network id of the simulated Base. */
export const NETWORK = network.v2 as `${string}:${string}`;

/** "$0.001" in USDC base units: the price of the paid routes and of most payments here. */
export const PRICE = 1_000n;

/**
 * Hardhat's default account #1: unlocked on the node, funded with ETH. It sends the transactions
 * that go around the facilitator (front-running, EIP-7702 delegations, mock deployments) through
 * `eth_sendTransaction`; the relayer (account #0) is the facilitator's alone.
 */
export const OUTSIDER: Address = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";

/** A priority fee far above the facilitator's: the node orders a block's transactions by it. */
const OUTSIDER_FEES = { maxPriorityFeePerGas: parseGwei("50"), maxFeePerGas: parseGwei("500") };

/** The outsider's wallet (JSON-RPC account: the node signs, which also lets it send type-4 transactions). */
export function outsiderWallet(base: LocalBase) {
  // A loaded node can take long to answer; a timed-out send would be retried as a second transaction.
  return createWalletClient({
    account: OUTSIDER,
    chain: baseChain,
    transport: http(base.rpcUrl, { timeout: 300_000, retryCount: 0 }),
  });
}

/** v2 `exact` payment requirements for USDC (or `overrides`, e.g. another asset or EIP-712 name). */
export function requirementsFor(
  payTo: Address,
  amount: bigint,
  overrides: { asset?: Address; name?: string; version?: string } = {},
) {
  return {
    scheme: "exact",
    network: NETWORK,
    amount: amount.toString(),
    asset: overrides.asset ?? USDC_ADDRESS,
    payTo,
    maxTimeoutSeconds: 300,
    extra: {
      name: overrides.name ?? USDC_EIP712_NAME,
      version: overrides.version ?? USDC_EIP712_VERSION,
    },
  };
}

export type PaymentBody = {
  x402Version: 2;
  paymentPayload: Record<string, unknown> & {
    payload: { signature: Hex; authorization: { from: Address; nonce: Hex } };
  };
  paymentRequirements: ReturnType<typeof requirementsFor>;
};

/**
 * A `/verify`/`/settle` body for one EIP-3009 transfer signed by `payer`, in the form the official
 * v2 client produces; the authorization's value is `value` (default: the amount) and its nonce
 * `nonce` (default random), and it is signed for the EIP-712 domain the requirements name.
 */
export async function paymentBody(
  payer: LocalAccount,
  requirements: ReturnType<typeof requirementsFor>,
  options: { value?: bigint; nonce?: Hex } = {},
): Promise<PaymentBody> {
  const authorization = buildDirectAuthorization({
    from: payer.address,
    to: requirements.payTo,
    value: options.value ?? BigInt(requirements.amount),
    maxTimeoutSeconds: requirements.maxTimeoutSeconds,
    nonce: options.nonce,
  });
  const typedData = getAuthorizationTypedData({
    domain: {
      name: requirements.extra.name,
      version: requirements.extra.version,
      chainId: network.chainId,
      verifyingContract: requirements.asset,
    },
    authorization,
  });
  if (typedData.primaryType !== "TransferWithAuthorization")
    throw new Error("not a direct transfer");
  const signature = await payer.signTypedData(typedData);
  const payload = toX402Payload({ ...authorization, signature });
  return {
    x402Version: 2,
    paymentPayload: {
      x402Version: 2,
      resource: { url: "http://localhost/attack", description: "", mimeType: "" },
      accepted: requirements,
      payload,
    },
    paymentRequirements: requirements,
  };
}

export type SettleAnswer = {
  success?: boolean;
  errorReason?: string;
  transaction?: string;
  payer?: string;
};

export async function settle(url: string, body: unknown) {
  const { status, json } = await postJson(`${url}/settle`, body);
  return { status, json: json as SettleAnswer };
}

export async function verify(url: string, body: unknown) {
  const { status, json } = await postJson(`${url}/verify`, body);
  return { status, json: json as { isValid?: boolean; invalidReason?: string } };
}

/** A stable snake_case x402 reason code. */
export const REASON_CODE = /^[a-z0-9]+(_[a-z0-9]+)*$/;

/** Polls `condition` until it holds or `timeoutMs` passed; returns whether it held. */
export async function waitFor(
  condition: () => Promise<boolean> | boolean,
  timeoutMs = 30_000,
  intervalMs = 50,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Stops block production: transactions wait in the mempool until {@link mineBlock}. */
export async function pauseMining(base: LocalBase): Promise<void> {
  await base.testClient.setAutomine(false);
  await base.testClient.request({ method: "evm_setIntervalMining", params: [0] });
}

export async function mineBlock(base: LocalBase): Promise<void> {
  await base.testClient.mine({ blocks: 1 });
}

type RpcTransaction = { hash: Hex; from: Address; to: Address | null; input: Hex };

/** The node's mempool. */
async function pendingTransactions(base: LocalBase): Promise<RpcTransaction[]> {
  return (await base.client.request({
    method: "eth_pendingTransactions",
    params: [],
  } as never)) as RpcTransaction[];
}

/** The (payer, nonce) pairs a router call of the relayer carries, as `payer:nonce` in lower case. */
function routerItemKeys(base: LocalBase, transaction: RpcTransaction): string[] {
  if (!transaction.to || !isAddressEqual(transaction.to, base.router)) return [];
  try {
    const call = decodeFunctionData({ abi: settlementRouterAbi, data: transaction.input });
    if (call.functionName !== "settle") return [];
    return decodeItems(call.args[2]).flatMap((item) =>
      item.kind === "direct" ? [paymentKey(item.from, item.nonce)] : [],
    );
  } catch {
    return [];
  }
}

export function paymentKey(from: Address, nonce: Hex): string {
  return `${from}:${nonce}`.toLowerCase();
}

/** The payments (`payer:nonce`) in relayer transactions still waiting in the mempool. */
export async function pendingRelayerItems(base: LocalBase): Promise<Set<string>> {
  const keys = new Set<string>();
  for (const transaction of await pendingTransactions(base)) {
    if (!isAddressEqual(transaction.from, base.relayer.address)) continue;
    for (const key of routerItemKeys(base, transaction)) keys.add(key);
  }
  return keys;
}

/** Whether the relayer has a transaction in the mempool. */
export async function relayerHasPending(base: LocalBase): Promise<boolean> {
  const pending = await pendingTransactions(base);
  return pending.some((transaction) => isAddressEqual(transaction.from, base.relayer.address));
}

/**
 * Waits until each payment is either answered (its key in `answered`) or carried by a relayer
 * transaction in the mempool, so that what happens next happens after the facilitator acted.
 * Returns whether that happened within `timeoutMs`.
 */
export async function waitUntilSubmittedOrAnswered(
  base: LocalBase,
  keys: readonly string[],
  answered: ReadonlySet<string>,
  timeoutMs = 30_000,
): Promise<boolean> {
  return waitFor(async () => {
    const pending = await pendingRelayerItems(base);
    return keys.every((key) => answered.has(key) || pending.has(key));
  }, timeoutMs);
}

/** What the relayer's transactions mined after `afterBlock` cost, and what of it bought nothing. */
export interface RelayerSpend {
  transactions: number;
  /** Receipt gas of all of them. */
  gasUsed: bigint;
  /**
   * Gas spent on payments that did not settle: a reverted transaction's (or one that settled
   * nothing) all of it; for one that settled some items and failed others, what it used beyond the
   * toolkit's USDC gas model (`src/batch/gasProfiles.ts`) of a batch of only its settled items.
   */
  wastedGas: bigint;
  settledItems: number;
  failedItems: number;
  reverted: number;
  receipts: TransactionReceipt[];
}

/** Reads every relayer transaction mined after `afterBlock` and its router results from the chain. */
export async function relayerSpend(base: LocalBase, afterBlock: bigint): Promise<RelayerSpend> {
  const head = await base.client.getBlockNumber({ cacheTime: 0 });
  const spend: RelayerSpend = {
    transactions: 0,
    gasUsed: 0n,
    wastedGas: 0n,
    settledItems: 0,
    failedItems: 0,
    reverted: 0,
    receipts: [],
  };
  const profile = FIAT_TOKEN_V2_2_GAS_PROFILE;
  for (let number = afterBlock + 1n; number <= head; number++) {
    const block = await base.client.getBlock({ blockNumber: number, includeTransactions: true });
    for (const transaction of block.transactions) {
      if (!isAddressEqual(transaction.from, base.relayer.address)) continue;
      const receipt = await base.client.getTransactionReceipt({ hash: transaction.hash });
      spend.transactions += 1;
      spend.gasUsed += receipt.gasUsed;
      spend.receipts.push(receipt);
      const items = routerItemKeys(base, transaction as unknown as RpcTransaction).length;
      if (receipt.status !== "success") {
        spend.reverted += 1;
        spend.failedItems += items;
        spend.wastedGas += receipt.gasUsed;
        continue;
      }
      const results = decodeSettleReceipt({ receipt, router: base.router });
      const settled = results.filter((result) => result.status === "success").length;
      const failed = results.length - settled;
      spend.settledItems += settled;
      spend.failedItems += failed;
      if (failed === 0) continue;
      const model = profile.base + BigInt(settled) * profile.perItem.direct;
      spend.wastedGas +=
        settled === 0 ? receipt.gasUsed : receipt.gasUsed > model ? receipt.gasUsed - model : 0n;
    }
  }
  return spend;
}

/** Waits until the relayer has nothing in the mempool (its last batch is mined). */
export async function relayerIdle(base: LocalBase, timeoutMs = 60_000): Promise<boolean> {
  return waitFor(async () => !(await relayerHasPending(base)), timeoutMs, 100);
}

/** Deploys a compiled contract of this project (an `artifacts/` path) from the outsider. */
export async function deployArtifact(
  base: LocalBase,
  source: string,
  contractName: string,
  args: readonly unknown[] = [],
): Promise<Address> {
  const artifact = JSON.parse(
    readFileSync(path.join(projectRoot, "artifacts", source, `${contractName}.json`), "utf8"),
  ) as { abi: Abi; bytecode: Hex };
  const hash = await outsiderWallet(base).deployContract({
    abi: artifact.abi,
    bytecode: artifact.bytecode,
    args,
  } as never);
  const receipt = await base.client.waitForTransactionReceipt({ hash, pollingInterval: 50 });
  if (!receipt.contractAddress) throw new Error(`${contractName} was not deployed`);
  return receipt.contractAddress;
}

/**
 * Sends one EIP-7702 (type-4) transaction from the outsider that delegates each account to
 * `target` (each account signs its authorization with viem's `signAuthorization`), with a priority
 * fee above the facilitator's so that it runs first in its block. Returns its hash. The node signs
 * it (`eth_sendTransaction` with an `authorizationList`): the simulated Base (EDR, OP chain type)
 * refuses a raw type-4 transaction ("Invalid transaction type 4") but executes the delegation
 * when it builds the transaction itself.
 */
export async function sendDelegations(
  base: LocalBase,
  accounts: readonly LocalAccount[],
  target: Address,
): Promise<Hex> {
  const wallet = outsiderWallet(base);
  const authorizationList = await Promise.all(
    accounts.map(async (account) => {
      const nonce = await base.client.getTransactionCount({ address: account.address });
      return wallet.signAuthorization({ account, contractAddress: target, chainId: 8453, nonce });
    }),
  );
  return wallet.sendTransaction({
    to: OUTSIDER,
    authorizationList,
    gas: 100_000n + 30_000n * BigInt(accounts.length),
    ...OUTSIDER_FEES,
  });
}

/** Sends a call from the outsider with a priority fee above the facilitator's. */
export async function sendAsOutsider(
  base: LocalBase,
  transaction: { to: Address; data: Hex; gas?: bigint },
): Promise<Hex> {
  return outsiderWallet(base).sendTransaction({
    ...transaction,
    gas: transaction.gas ?? 3_000_000n,
    ...OUTSIDER_FEES,
  });
}

/** A resource server: the official `@x402/express` middleware in front of a counted handler. */
export interface PaidResource {
  url: string;
  /** How many times the paid handler ran. */
  handlerRuns(): number;
  close(): Promise<void>;
}

/** Serves `GET /paid` for {@link PRICE} in USDC to `payTo`, through our facilitator. */
export async function startPaidResource(
  facilitatorUrl: string,
  payTo: Address,
): Promise<PaidResource> {
  let runs = 0;
  const app = express();
  const resourceServer = new x402ResourceServer(
    new HTTPFacilitatorClient({ url: facilitatorUrl }),
  ).register(NETWORK, new ExactEvmServerScheme());
  app.use(
    paymentMiddleware(
      {
        "GET /paid": {
          accepts: {
            scheme: "exact",
            price: "$0.001",
            network: NETWORK,
            payTo,
            maxTimeoutSeconds: 300,
          },
          description: "a paid resource",
        },
      },
      resourceServer,
    ),
  );
  app.get("/paid", (_req, res) => {
    runs += 1;
    res.json({ served: true });
  });
  const server = await new Promise<Server>((resolve) => {
    const started = app.listen(0, "127.0.0.1", () => resolve(started));
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/paid`,
    handlerRuns: () => runs,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The reason code a refused paid request carries (settle failure: PAYMENT-RESPONSE; verify: PAYMENT-REQUIRED). */
export function refusalReason(response: Response): string | undefined {
  const settled = response.headers.get("PAYMENT-RESPONSE");
  if (settled) {
    try {
      const decoded = decodePaymentResponseHeader(settled) as { errorReason?: string };
      if (decoded.errorReason) return decoded.errorReason;
    } catch {
      // not a settle answer
    }
  }
  const required = response.headers.get("PAYMENT-REQUIRED");
  if (required) {
    try {
      const decoded = decodePaymentRequiredHeader(required) as { error?: string };
      if (decoded.error) return decoded.error;
    } catch {
      // not a payment-required answer
    }
  }
  return undefined;
}
