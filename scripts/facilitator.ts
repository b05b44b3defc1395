/**
 * `npm run facilitator`: an x402 facilitator (POST /verify, POST /settle, GET /supported,
 * GET /health) that settles `exact` EVM payments in SettlementRouter batches.
 *
 * Environment (the same names as the x402 e2e harness uses for third-party facilitators):
 *   PORT               port to listen on (default 4022)
 *   EVM_PRIVATE_KEY    the relayer's private key (pays gas for the batches)
 *   EVM_NETWORK        base | base-sepolia | eip155:8453 | eip155:84532 (default base)
 *   EVM_RPC_URL        JSON-RPC endpoint (default http://127.0.0.1:8545, i.e. `npm run chain`)
 *   ROUTER_ADDRESS     the SettlementRouter; when unset, the canonical CREATE2 address is used and
 *                      the router is deployed there through CreateX if the chain has none
 *   FACILITATOR_DB     SQLite file (default .facilitator/facilitator.sqlite)
 *   MAX_BATCH_SIZE     payments per batch transaction (default 100)
 *   MAX_WAIT_MS        longest a payment waits for its batch to fill (default 500)
 *   POLLING_INTERVAL_MS receipt polling interval (default 250)
 *   BLOCK_TIME_MS      the chain's block interval when regular (Base: 2000); batches are then sent
 *                      FLUSH_MARGIN_MS (default 200) before the next block is due
 *   FLUSH_MARGIN_MS    see BLOCK_TIME_MS
 *   FACILITATOR_CRASH_AT fault injection for crash tests: batchRecorded | batchBroadcast |
 *                      batchMined, optionally `:P` (probability, default 1); the process kills
 *                      itself with SIGKILL at that point
 */
import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";

import { getAddress, isHex, type Address, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";

import { createFacilitatorClient } from "../src/facilitator/createFacilitatorClient.js";
import { ensureRouter } from "../src/facilitator/ensureRouter.js";
import { BatchFacilitator, type FacilitatorCheckpoint } from "../src/facilitator/facilitator.js";
import { resolveX402Network } from "../src/facilitator/networks.js";
import { createFacilitatorServer } from "../src/facilitator/server.js";
import { FacilitatorStore } from "../src/facilitator/store.js";

/** The router's creation bytecode (compiled artifact) and the CREATE2 salt Ignition deploys it with. */
async function routerDeployment(): Promise<{ bytecode: Hex; salt: Hex }> {
  const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
  const artifactPath = path.join(
    root,
    "artifacts/contracts/router/SettlementRouter.sol/SettlementRouter.json",
  );
  let bytecode: Hex;
  try {
    bytecode = (JSON.parse(readFileSync(artifactPath, "utf8")) as { bytecode: Hex }).bytecode;
  } catch {
    fail(
      `no compiled router at ${artifactPath}: run \`npx hardhat compile\` or set ROUTER_ADDRESS`,
    );
  }
  const config = (await import("../hardhat.config.js")).default as {
    ignition?: { strategyConfig?: { create2?: { salt?: string } } };
  };
  const salt = config.ignition?.strategyConfig?.create2?.salt;
  if (!salt || !/^0x[0-9a-fA-F]{64}$/.test(salt)) {
    fail("hardhat.config.ts has no ignition.strategyConfig.create2.salt; set ROUTER_ADDRESS");
  }
  return { bytecode, salt: salt as Hex };
}

function fail(message: string): never {
  process.stderr.write(`facilitator: ${message}\n`);
  process.exit(2);
}

function integer(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    fail(`${name} must be an integer in ${min}..${max}, got "${raw}"`);
  }
  return value;
}

function crashInjection(): ((checkpoint: FacilitatorCheckpoint) => void) | undefined {
  const spec = process.env.FACILITATOR_CRASH_AT;
  if (!spec) return undefined;
  const [point, probability = "1"] = spec.split(":");
  const chance = Number(probability);
  if (!["batchRecorded", "batchBroadcast", "batchMined"].includes(point) || !(chance >= 0)) {
    fail(`FACILITATOR_CRASH_AT must be batchRecorded|batchBroadcast|batchMined[:P], got "${spec}"`);
  }
  return (checkpoint) => {
    if (checkpoint === point && Math.random() < chance) {
      process.stdout.write(`facilitator: crash injected at ${checkpoint}\n`);
      process.kill(process.pid, "SIGKILL");
    }
  };
}

async function main() {
  const port = integer("PORT", 4022, 0, 65535);
  const key = process.env.EVM_PRIVATE_KEY;
  if (!key) fail("EVM_PRIVATE_KEY is required (the relayer's key)");
  const normalizedKey = (key.startsWith("0x") ? key : `0x${key}`) as Hex;
  if (!isHex(normalizedKey) || normalizedKey.length !== 66)
    fail("EVM_PRIVATE_KEY must be 32 bytes of hex");
  let network;
  try {
    network = resolveX402Network(process.env.EVM_NETWORK ?? "base");
  } catch (error) {
    fail((error as Error).message);
  }
  const rpcUrl = process.env.EVM_RPC_URL || "http://127.0.0.1:8545";
  const pollingIntervalMs = integer("POLLING_INTERVAL_MS", 250, 10, 60_000);
  const dbPath = process.env.FACILITATOR_DB || ".facilitator/facilitator.sqlite";
  if (dbPath !== ":memory:") mkdirSync(path.dirname(path.resolve(dbPath)), { recursive: true });

  const relayer = privateKeyToAccount(normalizedKey);
  const client = createFacilitatorClient(network, rpcUrl, { pollingIntervalMs });
  let router: Address;
  if (process.env.ROUTER_ADDRESS) {
    if (!/^0x[0-9a-fA-F]{40}$/.test(process.env.ROUTER_ADDRESS))
      fail("ROUTER_ADDRESS is not an address");
    router = getAddress(process.env.ROUTER_ADDRESS);
  } else {
    const deployment = await ensureRouter(client, relayer, await routerDeployment());
    router = deployment.address;
    if (deployment.deployed)
      process.stdout.write(`facilitator: deployed the router at ${router}\n`);
  }
  const store = new FacilitatorStore(dbPath);
  const facilitator = new BatchFacilitator({
    client,
    relayer,
    network,
    router,
    store,
    maxBatchSize: integer("MAX_BATCH_SIZE", 100, 1, 300),
    maxWaitMs: integer("MAX_WAIT_MS", 500, 0, 600_000),
    pollingIntervalMs,
    ...(process.env.BLOCK_TIME_MS
      ? {
          blockTimeMs: integer("BLOCK_TIME_MS", 2_000, 1, 600_000),
          flushMarginMs: integer("FLUSH_MARGIN_MS", 200, 0, 60_000),
        }
      : {}),
    log: (line) => process.stdout.write(`facilitator: ${line}\n`),
    onCheckpoint: crashInjection(),
  });
  await facilitator.start();
  const server = createFacilitatorServer(facilitator);
  server.listen(port, "127.0.0.1", () => {
    const address = server.address();
    const actual = typeof address === "object" && address ? address.port : port;
    process.stdout.write(
      `Facilitator listening on port ${actual} (network ${network.v2}, relayer ${relayer.address}, router ${router})\n`,
    );
  });
  const shutdown = () => {
    server.close();
    facilitator.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
}

main().catch((error: unknown) => {
  process.stderr.write(`facilitator: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
