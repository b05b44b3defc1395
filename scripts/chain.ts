/**
 * `npm run chain`: a simulated Base (chain 8453, OP stack) served as JSON-RPC, bootstrapped with Circle's
 * USDC at the canonical address, Multicall3, CreateX and Permit2, and each default account funded with USDC.
 * With BASE_RPC_URL set (and optionally BASE_FORK_BLOCK), it serves a fork of that chain instead (real
 * Base, or another chain-8453 node such as a second `npm run chain`), keeping the code it finds there.
 */
import { parseArgs } from "node:util";

import hre from "hardhat";
import {
  type Address,
  createPublicClient,
  createTestClient,
  createWalletClient,
  formatUnits,
  http,
  publicActions,
} from "viem";
import { mnemonicToAccount } from "viem/accounts";

import { USDC_ADDRESS } from "../src/chain/base.js";
import { bootstrapBase, fundUsdc } from "../src/chain/bootstrap.js";
import { SETTLEMENT_ROUTER_ADDRESS } from "../src/deploy/settlementRouter.js";
import { ensureRouter } from "../src/facilitator/ensureRouter.js";

/** The mnemonic of Hardhat's default accounts (the ones the node unlocks and funds). */
const DEFAULT_MNEMONIC = "test test test test test test test test test test test junk";
/** The private key of account #0 of that mnemonic (m/44'/60'/0'/0/0). */
const DEFAULT_KEY_0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

const USAGE = `Usage: npm run chain -- [options]

Starts a simulated Base (chain 8453, OP stack) as a JSON-RPC node, with Circle's USDC (FiatTokenV2_2) at
${USDC_ADDRESS}, Multicall3, CreateX and Permit2 at their canonical addresses, and every default account funded.
Set BASE_RPC_URL (and optionally BASE_FORK_BLOCK) to serve a fork of that chain instead: real Base, or
another chain-8453 node such as a second npm run chain. Code found there is kept.

Options:
  --port N            port to listen on (default 8545)
  --hostname H        address to bind (default 127.0.0.1)
  --usdc AMOUNT       USDC given to each default account, in whole USDC (default 1000000)
  --block-time S      mine a block every S seconds instead of one per transaction
  --router            deploy the SettlementRouter at ${SETTLEMENT_ROUTER_ADDRESS} (the package's
                      shipped deployment, from the first default account) unless it is there
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
        router: { type: "boolean", default: false },
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
    router: values.router,
    verbose: values.verbose,
  };
}

/** How a piece got there: installed now (on a fresh chain, CreateX comes with the network), or kept from a fork. */
function origin(installed: boolean, forked: boolean): string {
  return installed || !forked ? "installed" : "found on the chain, kept";
}

async function main() {
  const options = parseOptions();
  // The `node` network served without Hardhat's `node` task, so nothing is printed before the banner.
  const server = await hre.network.createServer("node", options.hostname, options.port);
  const listening = await server.listen();
  const url = `http://${options.hostname}:${listening.port}`;

  const client = createTestClient({ mode: "hardhat", transport: http(url) }).extend(publicActions);
  await client.request({ method: "hardhat_setLoggingEnabled" as never, params: [false] as never });
  // On a fork, the block it was forked at (the bootstrap and the funding below mine blocks).
  const startBlock = await client.getBlockNumber();
  const base = await bootstrapBase(client);
  const accounts: Address[] = await createWalletClient({ transport: http(url) }).getAddresses();
  await fundUsdc(client, { recipients: accounts, amount: options.usdcPerAccount });
  let router = "not deployed; --router deploys it";
  if (options.router) {
    const deployer = mnemonicToAccount(DEFAULT_MNEMONIC);
    const deployment = await ensureRouter(createPublicClient({ transport: http(url) }), deployer);
    router = deployment.deployed ? "deployed" : "found on the chain, kept";
  } else if (await client.getCode({ address: SETTLEMENT_ROUTER_ADDRESS })) {
    router = "found on the chain, kept";
  }
  if (options.blockTime !== undefined) {
    await client.setAutomine(false);
    await client.setIntervalMining({ interval: options.blockTime }); // viem takes seconds
  }
  if (options.verbose) {
    await client.request({ method: "hardhat_setLoggingEnabled" as never, params: [true] as never });
  }

  const chainId = await client.getChainId();
  const lines = [
    "",
    `Simulated Base ready at ${url}`,
    `  chain id      ${chainId} (0x${chainId.toString(16)})${base.forked ? `, forked at block ${startBlock}` : ""}`,
    `  USDC          ${base.usdc} (FiatTokenV2_2, ${origin(base.installed.usdc, base.forked)}, master minter ${base.masterMinter})`,
    `  Multicall3    ${base.multicall3} (${origin(base.installed.multicall3, base.forked)})`,
    `  CreateX       ${base.createX} (${origin(base.installed.createX, base.forked)})`,
    `  Permit2       ${base.permit2} (${origin(base.installed.permit2, base.forked)})`,
    `  Router        ${SETTLEMENT_ROUTER_ADDRESS} (${router})`,
    `  mining        ${options.blockTime !== undefined ? `a block every ${options.blockTime} s` : "one block per transaction"}`,
    `  funded        ${accounts.length} default accounts with ${formatUnits(options.usdcPerAccount, 6)} USDC and ETH for gas`,
    `  accounts      unlocked; keys from Hardhat's mnemonic "${DEFAULT_MNEMONIC}"`,
    `                (#0 ${accounts[0]}, key ${DEFAULT_KEY_0})`,
    "",
  ];
  process.stdout.write(lines.join("\n") + "\n");
}

main().catch((error: unknown) => {
  process.stderr.write(`chain: ${(error as Error).message}\n`);
  process.exit(1);
});
