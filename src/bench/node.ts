import {
  type Account,
  type Address,
  type Chain,
  type Client,
  type PublicActions,
  type TestActions,
  type Transport,
  type WalletActions,
  type WalletClient,
  createClient,
  createWalletClient,
  custom,
  defineChain,
  publicActions,
  testActions,
  walletActions,
} from "viem";
import { getChainId } from "viem/actions";

import { bootstrapBase, LOCAL_USDC_ROLES } from "../chain/bootstrap.js";
import { BenchmarkChainError } from "./errors.js";
import type { BenchmarkChainInfo } from "./schema.js";

/**
 * The client a benchmark runs over: any viem client of a Hardhat (EDR) or Anvil node, e.g.
 * `createTestClient({ mode: "hardhat", transport: http("http://127.0.0.1:8545") })` for an
 * `npm run chain` node, or Hardhat's `conn.viem.getTestClient()` in process. The benchmark funds
 * payers (USDC through an impersonated minter), gives its relayers ETH and switches block
 * production, so it needs the node's test methods (`hardhat_*` / `anvil_*`) and three unlocked
 * accounts.
 */
export type BenchmarkClient = Client<Transport, Chain | undefined, Account | undefined> & {
  mode: "hardhat" | "anvil" | "ganache";
};

/** The node's client with public, wallet and test actions and the chain it serves. */
export type BenchNodeClient = Client<Transport, Chain, undefined> &
  PublicActions<Transport, Chain> &
  WalletActions<Chain> &
  TestActions & { mode: "hardhat" | "anvil" | "ganache" };

/** A wallet client for one of the node's unlocked accounts (the node signs). */
export type NodeWallet = WalletClient<Transport, Chain, Account>;

/** A node ready for benchmarks and attack replays: bootstrapped, with its unlocked accounts. */
export interface BenchNode {
  client: BenchNodeClient;
  /** The node's unlocked accounts: deployers and gas payers of the settlement transactions. */
  wallets: NodeWallet[];
  info: BenchmarkChainInfo;
  /** Switches from one block per transaction to interval mining every `seconds` (0: back to automine). */
  setBlockTime(seconds: number): Promise<void>;
}

/**
 * Prepares `client`'s node for a benchmark: reads the chain and block it starts from, installs
 * USDC, Multicall3 and CreateX where they are missing (`bootstrapBase`) and opens a wallet client
 * per unlocked account. Throws {@link BenchmarkChainError} when the node has fewer than
 * `minAccounts` unlocked accounts or no test methods.
 *
 * @example
 * const node = await createBenchNode(createTestClient({ mode: "hardhat", transport: http(url) }));
 * node.info; // { chainId: 8453, forked: false, blockNumber: 12 }
 */
export async function createBenchNode(
  client: BenchmarkClient,
  options: { minAccounts?: number } = {},
): Promise<BenchNode> {
  const transport = custom({ request: client.request });
  const chainId: number = client.chain?.id ?? (await getChainId(client));
  const chain: Chain =
    client.chain ??
    defineChain({
      id: chainId,
      name: `chain ${chainId}`,
      nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
      rpcUrls: { default: { http: [] } },
    });
  const polling = client.pollingInterval ? { pollingInterval: client.pollingInterval } : {};
  const node = createClient({ chain, transport, ...polling })
    .extend(publicActions)
    .extend(walletActions)
    .extend(testActions({ mode: client.mode }));
  const nodeClient = Object.assign(node, { mode: client.mode }) as unknown as BenchNodeClient;

  const blockNumber = Number(await nodeClient.getBlockNumber());
  const addresses: readonly Address[] = await nodeClient.getAddresses();
  const minAccounts = options.minAccounts ?? 3;
  if (addresses.length < minAccounts)
    throw new BenchmarkChainError(
      `The node has ${addresses.length} unlocked accounts; the benchmark needs at least ${minAccounts}.`,
      {
        details:
          "start it with npm run chain, or any Hardhat or Anvil node with its default accounts",
      },
    );
  let boot;
  try {
    boot = await bootstrapBase(client);
  } catch (error) {
    throw new BenchmarkChainError("The node could not be prepared for a benchmark.", {
      cause: error,
      metaMessages: [
        "It needs Hardhat's or Anvil's test methods (hardhat_setCode, impersonation).",
      ],
    });
  }
  const forked =
    boot.forked && boot.masterMinter.toLowerCase() !== LOCAL_USDC_ROLES.masterMinter.toLowerCase();
  const wallets = addresses.map((address) =>
    createWalletClient({ account: address, chain, transport, ...polling }),
  ) as unknown as NodeWallet[];
  return {
    client: nodeClient,
    wallets,
    info: { chainId, forked, blockNumber },
    setBlockTime: async (seconds) => {
      if (seconds > 0) {
        await nodeClient.setAutomine(false);
        await nodeClient.setIntervalMining({ interval: seconds });
      } else {
        await nodeClient.setIntervalMining({ interval: 0 });
        await nodeClient.setAutomine(true);
      }
    },
  };
}

/**
 * Seconds a signed payment should stay valid for: an hour, plus however far the chain's clock runs
 * ahead of the wall clock (a long-lived node that mined many blocks per second).
 */
export async function validitySeconds(client: BenchNodeClient): Promise<number> {
  const block = await client.getBlock();
  const drift = Number(block.timestamp) - Math.floor(Date.now() / 1000);
  return 3600 + Math.max(0, drift);
}
