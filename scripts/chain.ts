/**
 * `npm run chain`: a simulated Base (chain 8453, OP stack) served as JSON-RPC, bootstrapped with Circle's
 * USDC at the canonical address, Multicall3 and CreateX, and each default account funded with USDC.
 * With BASE_RPC_URL set (and optionally BASE_FORK_BLOCK), it forks real Base instead.
 */
import { parseArgs } from "node:util";

import hre from "hardhat";
import {
  type Address,
  createTestClient,
  createWalletClient,
  formatUnits,
  http,
  publicActions,
} from "viem";

import { USDC_ADDRESS } from "../src/chain/base.js";
import { bootstrapBase, fundUsdc } from "../src/chain/bootstrap.js";

const USAGE = `Usage: npm run chain -- [options]

Starts a simulated Base (chain 8453, OP stack) as a JSON-RPC node, with Circle's USDC (FiatTokenV2_2) at
${USDC_ADDRESS}, Multicall3 and CreateX at their canonical addresses, and every default account funded.
Set BASE_RPC_URL (and optionally BASE_FORK_BLOCK) to fork real Base instead.

Options:
  --port N            port to listen on (default 8545)
  --hostname H        address to bind (default 127.0.0.1)
  --usdc AMOUNT       USDC given to each default account, in whole USDC (default 1000000)
  --block-time S      mine a block every S seconds instead of one per transaction
  --verbose           log every JSON-RPC call and transaction
  -h, --help          show this help
`;

function fail(message: string): never {
  process.stderr.write(`chain: ${message}\n\n${USAGE}`);
  process.exit(2);
}

function parseOptions() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: "string", default: "8545" },
        hostname: { type: "string", default: "127.0.0.1" },
        usdc: { type: "string", default: "1000000" },
        "block-time": { type: "string" },
        verbose: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
    }));
  } catch (error) {
    fail((error as Error).message);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    fail(`--port must be a port number, got "${values.port}"`);
  if (!/^\d+$/.test(values.usdc))
    fail(`--usdc must be a whole number of USDC, got "${values.usdc}"`);
  let blockTime: number | undefined;
  if (values["block-time"] !== undefined) {
    blockTime = Number(values["block-time"]);
    if (!(blockTime > 0))
      fail(`--block-time must be a positive number of seconds, got "${values["block-time"]}"`);
  }
  return {
    port,
    hostname: values.hostname,
    usdcPerAccount: BigInt(values.usdc) * 10n ** 6n,
    blockTime,
    verbose: values.verbose,
  };
}

async function waitForRpc(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline)
      throw new Error(`no JSON-RPC answer at ${url} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function main() {
  const options = parseOptions();
  const url = `http://${options.hostname}:${options.port}`;
  const nodeTask = hre.tasks
    .getTask("node")
    .run({ port: options.port, hostname: options.hostname });
  nodeTask.catch((error: unknown) => {
    process.stderr.write(`chain: the node stopped: ${(error as Error).message}\n`);
    process.exit(1);
  });
  await waitForRpc(url, 60_000);

  const client = createTestClient({ mode: "hardhat", transport: http(url) }).extend(publicActions);
  await client.request({ method: "hardhat_setLoggingEnabled" as never, params: [false] as never });
  const base = await bootstrapBase(client);
  const accounts: Address[] = await createWalletClient({ transport: http(url) }).getAddresses();
  await fundUsdc(client, { recipients: accounts, amount: options.usdcPerAccount });
  if (options.blockTime !== undefined) {
    await client.setAutomine(false);
    await client.setIntervalMining({ interval: options.blockTime }); // viem takes seconds
  }
  if (options.verbose) {
    await client.request({ method: "hardhat_setLoggingEnabled" as never, params: [true] as never });
  }

  const chainId = await client.getChainId();
  const blockNumber = await client.getBlockNumber();
  const lines = [
    "",
    `Simulated Base ready at ${url}`,
    `  chain id      ${chainId} (0x${chainId.toString(16)})${base.forked ? `, forked at block ${blockNumber}` : ""}`,
    `  USDC          ${base.usdc} (FiatTokenV2_2, ${base.installed.usdc ? "installed" : "kept from the fork"})`,
    `  Multicall3    ${base.multicall3}`,
    `  CreateX       ${base.createX}`,
    `  mining        ${options.blockTime !== undefined ? `a block every ${options.blockTime} s` : "one block per transaction"}`,
    `  funded        ${accounts.length} default accounts with ${formatUnits(options.usdcPerAccount, 6)} USDC and ETH for gas`,
    "",
  ];
  process.stdout.write(lines.join("\n") + "\n");
}

main().catch((error: unknown) => {
  process.stderr.write(`chain: ${(error as Error).message}\n`);
  process.exit(1);
});
