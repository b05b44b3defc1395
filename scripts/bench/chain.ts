/**
 * The node the bench and replay commands run on: the in-process simulated Base (Hardhat's EDR),
 * the fork of Base configured by BASE_RPC_URL (same network, same code path), or a running node
 * reached over HTTP with `--rpc`. The benchmark itself (src/bench) runs over the viem client this
 * returns.
 */
import hre, { network } from "hardhat";
import { createTestClient, http } from "viem";
import { getChainId } from "viem/actions";

import { BenchmarkChainError } from "../../src/bench/errors.js";
import { type BenchNode, type BenchmarkClient, createBenchNode } from "../../src/bench/node.js";
import { BenchChainError } from "./errors.js";

/** An opened node: the client the library runs over, where it is, and how to let it go. */
export interface BenchEndpoint {
  client: BenchmarkClient;
  /** "in-process" (simulated Base or fork) or the --rpc URL. */
  endpoint: string;
  close(): Promise<void>;
}

/** An opened and bootstrapped node (replay, tests). */
export type BenchChain = BenchNode & { endpoint: string; close(): Promise<void> };

/** Compiles the contracts the benchmark deploys (a no-op when the artifacts are current). */
export async function buildContracts(): Promise<void> {
  await hre.tasks.getTask("build").run({ quiet: true, noTests: true });
}

function shortReason(error: unknown): string {
  const e = error as { shortMessage?: string; details?: string; message?: string };
  return e.details ?? e.shortMessage ?? e.message ?? String(error);
}

/**
 * Compiles the contracts if needed and opens the node: `rpc`, or the in-process network `default`
 * of hardhat.config.ts.
 *
 * @example
 * const { client, close } = await openBenchEndpoint({ rpc: "http://127.0.0.1:8545" });
 */
export async function openBenchEndpoint(options: { rpc?: string } = {}): Promise<BenchEndpoint> {
  await buildContracts();
  if (options.rpc) {
    const url = options.rpc;
    const client = createTestClient({
      mode: "hardhat",
      transport: http(url, { timeout: 60_000, retryCount: 0 }),
    });
    try {
      await getChainId(client);
    } catch (error) {
      throw new BenchChainError(`cannot reach the node at ${url}: ${shortReason(error)}`, {
        cause: error,
      });
    }
    return { client, endpoint: url, close: async () => {} };
  }
  // Many transactions per second of wall clock: without this, each automined block would push the
  // chain's clock a second further ahead of the wall clock the x402 SDK checks time windows against.
  const conn = await network.create({ override: { allowBlocksWithSameTimestamp: true } });
  return {
    client: await conn.viem.getTestClient(),
    endpoint: process.env.BASE_RPC_URL ? "in-process fork of BASE_RPC_URL" : "in-process",
    close: () => conn.close(),
  };
}

/** Turns the library's complaint about a node into the command's one-line chain error. */
export function toChainError(error: unknown, endpoint: string): unknown {
  if (error instanceof BenchmarkChainError) {
    const details = error.details === undefined ? "" : ` (${error.details})`;
    return new BenchChainError(
      `the chain at ${endpoint} is not usable: ${error.shortMessage}${details}`,
      { cause: error },
    );
  }
  return error;
}

/**
 * Opens the node and prepares it (USDC, Multicall3 and CreateX where missing, its accounts).
 *
 * @example
 * const chain = await openBenchChain();
 * try { ... } finally { await chain.close(); }
 */
export async function openBenchChain(options: { rpc?: string } = {}): Promise<BenchChain> {
  const opened = await openBenchEndpoint(options);
  try {
    const node = await createBenchNode(opened.client);
    return { ...node, endpoint: opened.endpoint, close: opened.close };
  } catch (error) {
    await opened.close();
    throw toChainError(error, opened.endpoint);
  }
}
