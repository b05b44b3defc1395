/**
 * The chain the bench and replay commands run on: the in-process simulated Base (Hardhat's EDR,
 * bootstrapped with USDC, Multicall3 and CreateX), the fork of Base configured by BASE_RPC_URL
 * (same network, same code path), or a running node reached over HTTP with `--rpc`.
 */
import hre, { network } from "hardhat";
import {
  type Account,
  type Address,
  type Chain,
  type PublicActions,
  type TestClient,
  type Transport,
  type WalletActions,
  type WalletClient,
  createTestClient,
  createWalletClient,
  defineChain,
  http,
  publicActions,
  walletActions,
} from "viem";

import { LOCAL_USDC_ROLES, bootstrapBase } from "../../src/chain/bootstrap.js";
import { BenchChainError } from "./errors.js";

/** A client with test (hardhat_*), public and wallet actions, and no default account. */
export type ChainClient = TestClient<"hardhat" | "anvil", Transport, Chain, undefined> &
  PublicActions<Transport, Chain> &
  WalletActions<Chain>;

/** A wallet client for one of the node's unlocked accounts (the node signs). */
export type NodeWallet = WalletClient<Transport, Chain, Account>;

/** What the JSON output reports about the chain. */
export interface ChainInfo {
  chainId: number;
  /** True on a fork of real Base (USDC found with Circle's master minter, not the local one). */
  forked: boolean;
  /** The block the run started from. */
  blockNumber: number;
}

export interface BenchChain {
  client: ChainClient;
  /** The node's unlocked accounts: gas payers for settlements, deployers. */
  wallets: NodeWallet[];
  info: ChainInfo;
  /** "in-process" (simulated Base or fork) or the --rpc URL. */
  endpoint: string;
  /** Switches from one block per transaction to interval mining every `seconds` (0: back to automine). */
  setBlockTime(seconds: number): Promise<void>;
  close(): Promise<void>;
}

/** Options of {@link openBenchChain}. */
export interface OpenBenchChainOptions {
  /** A running node; without it the in-process network `default` of hardhat.config.ts is used. */
  rpc?: string;
}

/** Compiles the contracts the benchmark deploys (a no-op when the artifacts are current). */
export async function buildContracts(): Promise<void> {
  await hre.tasks.getTask("build").run({ quiet: true, noTests: true });
}

/** Reads an artifact's ABI and creation bytecode (after {@link buildContracts}). */
export async function readArtifact(
  contractName: string,
): Promise<{ abi: readonly unknown[]; bytecode: `0x${string}` }> {
  const artifact = await hre.artifacts.readArtifact(contractName);
  return { abi: artifact.abi, bytecode: artifact.bytecode as `0x${string}` };
}

async function openInProcess(): Promise<Omit<BenchChain, "info">> {
  // Many transactions per second of wall clock: without this, each automined block would push the
  // chain's clock a second further ahead of the wall clock the x402 SDK checks time windows against.
  const conn = await network.create({ override: { allowBlocksWithSameTimestamp: true } });
  const client = (await conn.viem.getTestClient())
    .extend(publicActions)
    .extend(walletActions) as unknown as ChainClient;
  const wallets = (await conn.viem.getWalletClients()) as unknown as NodeWallet[];
  return {
    client,
    wallets,
    endpoint: process.env.BASE_RPC_URL ? "in-process fork of BASE_RPC_URL" : "in-process",
    setBlockTime: (seconds) => setBlockTime(client, seconds),
    close: () => conn.close(),
  };
}

async function openRpc(url: string): Promise<Omit<BenchChain, "info">> {
  const transport = http(url, { timeout: 60_000, retryCount: 0 });
  const probe = createTestClient({ mode: "hardhat", transport }).extend(publicActions);
  let chainId: number;
  try {
    chainId = await probe.getChainId();
  } catch (error) {
    throw new BenchChainError(`cannot reach the node at ${url}: ${shortReason(error)}`, {
      cause: error,
    });
  }
  const chain = defineChain({
    id: chainId,
    name: `node at ${url}`,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: [url] } },
  });
  const client = createTestClient({ mode: "hardhat", transport, chain })
    .extend(publicActions)
    .extend(walletActions) as unknown as ChainClient;
  const addresses: readonly Address[] = await client.getAddresses();
  if (addresses.length < 3)
    throw new BenchChainError(
      `the node at ${url} has ${addresses.length} unlocked accounts; at least 3 are needed (start it with npm run chain)`,
    );
  const wallets = addresses.map((address) =>
    createWalletClient({ account: address, chain, transport }),
  ) as unknown as NodeWallet[];
  return {
    client,
    wallets,
    endpoint: url,
    setBlockTime: (seconds) => setBlockTime(client, seconds),
    close: async () => {},
  };
}

async function setBlockTime(client: ChainClient, seconds: number): Promise<void> {
  if (seconds > 0) {
    await client.setAutomine(false);
    await client.setIntervalMining({ interval: seconds });
  } else {
    await client.setIntervalMining({ interval: 0 });
    await client.setAutomine(true);
  }
}

/**
 * Seconds a signed payment should stay valid for: an hour, plus however far the chain's clock runs
 * ahead of the wall clock (a long-lived node that mined many blocks per second).
 */
export async function validitySeconds(client: ChainClient): Promise<number> {
  const block = await client.getBlock();
  const drift = Number(block.timestamp) - Math.floor(Date.now() / 1000);
  return 3600 + Math.max(0, drift);
}

function shortReason(error: unknown): string {
  const e = error as { shortMessage?: string; details?: string; message?: string };
  return e.details ?? e.shortMessage ?? e.message ?? String(error);
}

/**
 * Opens the chain, compiles the contracts if needed and installs USDC, Multicall3 and CreateX
 * where they are missing (`bootstrapBase`).
 *
 * @example
 * const chain = await openBenchChain({ rpc: "http://127.0.0.1:8545" });
 * try { ... } finally { await chain.close(); }
 */
export async function openBenchChain(options: OpenBenchChainOptions = {}): Promise<BenchChain> {
  await buildContracts();
  const opened = options.rpc ? await openRpc(options.rpc) : await openInProcess();
  try {
    const { client } = opened;
    const chainId = await client.getChainId();
    const blockNumber = Number(await client.getBlockNumber());
    const boot = await bootstrapBase(client as never);
    const forked =
      boot.forked &&
      boot.masterMinter.toLowerCase() !== LOCAL_USDC_ROLES.masterMinter.toLowerCase();
    return { ...opened, info: { chainId, forked, blockNumber } };
  } catch (error) {
    await opened.close();
    if (error instanceof BenchChainError) throw error;
    throw new BenchChainError(
      `the chain at ${opened.endpoint} is not usable: ${shortReason(error)}`,
      {
        cause: error,
      },
    );
  }
}
