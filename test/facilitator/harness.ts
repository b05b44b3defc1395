import path from "node:path";
import { fileURLToPath } from "node:url";

import {
  createTestClient,
  http,
  publicActions,
  type Address,
  type Hex,
  type LocalAccount,
  type PublicClient,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

import { USDC_ADDRESS } from "../../src/chain/base.js";
import { SETTLEMENT_ROUTER_DEPLOYMENT } from "../../src/deploy/router.js";
import { fundUsdc } from "../../src/chain/bootstrap.js";
import { eip3009Abi } from "../../src/facilitator/abi.js";
import { createFacilitatorClient } from "../../src/facilitator/createFacilitatorClient.js";
import { ensureRouter } from "../../src/facilitator/ensureRouter.js";
import {
  BatchFacilitator,
  type BatchFacilitatorOptions,
} from "../../src/facilitator/facilitator.js";
import { resolveX402Network } from "../../src/facilitator/networks.js";
import { createFacilitatorServer, type FacilitatorServer } from "../../src/facilitator/server.js";
import { FacilitatorStore } from "../../src/facilitator/store.js";
import { startChain, type ChainProcess } from "../helpers/chainProcess.js";

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Hardhat's default account #0: funded with ETH by the node; the relayer in these tests. */
export const RELAYER_KEY: Hex =
  "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

export const network = resolveX402Network("base");

/** The router's creation bytecode and CREATE2 salt: the deployment the package ships. */
export function routerDeployment(): { bytecode: Hex; salt: Hex } {
  return SETTLEMENT_ROUTER_DEPLOYMENT;
}

/** A local Base node (`npm run chain` in a child process) with the router deployed. */
export interface LocalBase {
  chain: ChainProcess;
  rpcUrl: string;
  client: PublicClient;
  /** Test actions over HTTP (mining control, impersonation). */
  testClient: ReturnType<typeof makeTestClient>;
  relayer: LocalAccount;
  router: Address;
  stop(): Promise<void>;
}

function makeTestClient(url: string) {
  return createTestClient({ mode: "hardhat", transport: http(url) }).extend(publicActions);
}

export async function startLocalBase(): Promise<LocalBase> {
  const chain = await startChain();
  const rpcUrl = chain.url;
  const client = createFacilitatorClient(network, rpcUrl, { pollingIntervalMs: 100 });
  const testClient = makeTestClient(rpcUrl);
  const relayer = privateKeyToAccount(RELAYER_KEY);
  const { address: router } = await ensureRouter(client, relayer);
  return { chain, rpcUrl, client, testClient, relayer, router, stop: () => chain.stop() };
}

/**
 * Fresh payer accounts, each funded with `amount` USDC (base units). The mints are mined in one
 * block (interval mining while funding): every automined block moves the chain's clock at least a
 * second ahead, and the chain must stay near the wall clock the facilitator checks time against.
 */
export async function fundedPayers(
  base: LocalBase,
  count: number,
  amount: bigint,
): Promise<LocalAccount[]> {
  const payers = Array.from({ length: count }, () => privateKeyToAccount(generatePrivateKey()));
  const automine = await base.testClient.getAutomine();
  if (automine) await setIntervalMining(base, 1_000);
  try {
    await fundUsdc(base.testClient as never, {
      recipients: payers.map((payer) => payer.address),
      amount,
    });
  } finally {
    if (automine) await setAutomine(base);
  }
  return payers;
}

export function usdcBalance(client: PublicClient, owner: Address): Promise<bigint> {
  return client.readContract({
    address: USDC_ADDRESS,
    abi: eip3009Abi,
    functionName: "balanceOf",
    args: [owner],
  });
}

export function nonceUsed(client: PublicClient, from: Address, nonce: Hex): Promise<boolean> {
  return client.readContract({
    address: USDC_ADDRESS,
    abi: eip3009Abi,
    functionName: "authorizationState",
    args: [from, nonce],
  });
}

/** Switches the node from one block per transaction to a block every `ms` milliseconds. */
export async function setIntervalMining(base: LocalBase, ms: number): Promise<void> {
  await base.testClient.setAutomine(false);
  // Raw RPC: viem's setIntervalMining takes seconds; evm_setIntervalMining takes milliseconds.
  await base.testClient.request({ method: "evm_setIntervalMining", params: [ms] });
}

export async function setAutomine(base: LocalBase): Promise<void> {
  await base.testClient.request({ method: "evm_setIntervalMining", params: [0] });
  await base.testClient.setAutomine(true);
}

/** Our facilitator, in process, served over HTTP on a free port. */
export interface RunningFacilitator {
  facilitator: BatchFacilitator;
  server: FacilitatorServer;
  url: string;
  stop(): Promise<void>;
}

export async function startFacilitator(
  base: LocalBase,
  options: { dbPath?: string } & Partial<BatchFacilitatorOptions> = {},
): Promise<RunningFacilitator> {
  const { dbPath, ...rest } = options;
  const facilitator = new BatchFacilitator({
    client: base.client,
    relayer: base.relayer,
    network,
    router: base.router,
    store: new FacilitatorStore(dbPath ?? ":memory:"),
    pollingIntervalMs: 100,
    ...rest,
    maxWaitMs: options.maxWaitMs ?? 200,
  });
  await facilitator.start();
  const server = createFacilitatorServer(facilitator);
  const { url } = await server.listen();
  return { facilitator, server, url, stop: () => server.close() };
}

export async function postJson(
  url: string,
  body: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const response = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = { raw: text };
  }
  return { status: response.status, json };
}
