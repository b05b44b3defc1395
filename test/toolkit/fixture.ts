import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

import {
  createTestClient,
  createWalletClient,
  http,
  parseEther,
  publicActions,
  walletActions,
  type Abi,
  type Address,
  type Hex,
} from "viem";
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";

import { USDC_ADDRESS } from "../../src/chain/base.js";
import { bootstrapBase, fundUsdc } from "../../src/chain/bootstrap.js";
import { startChain, type ChainProcess } from "../helpers/chainProcess.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

/** A Hardhat artifact, read from disk (the code under test never imports Hardhat). */
export async function readArtifact(
  sourcePath: string,
  contractName: string,
): Promise<{ abi: Abi; bytecode: Hex }> {
  const file = path.join(root, "artifacts", sourcePath, `${contractName}.json`);
  return JSON.parse(await readFile(file, "utf8"));
}

/**
 * A JSON-RPC node in a child process (`npm run chain`), reached only through viem's HTTP
 * transport: bootstrapped Base, a deployed SettlementRouter and a funded local relayer key.
 */
export async function startSettlementChain() {
  const chain: ChainProcess = await startChain();
  const transport = http(chain.url, { timeout: 60_000 });
  const testClient = createTestClient({ mode: "hardhat", transport })
    .extend(publicActions)
    .extend(walletActions);
  await bootstrapBase(testClient);

  const relayer = privateKeyToAccount(generatePrivateKey());
  await testClient.setBalance({ address: relayer.address, value: parseEther("100") });
  const relayerClient = createWalletClient({ account: relayer, transport }).extend(publicActions);

  const artifact = await readArtifact("contracts/router/SettlementRouter.sol", "SettlementRouter");
  const hash = await relayerClient.deployContract({
    abi: artifact.abi,
    bytecode: artifact.bytecode,
    chain: null,
  });
  const receipt = await relayerClient.waitForTransactionReceipt({ hash });
  const router = receipt.contractAddress!;

  /** `count` new payers, each funded with `amount` USDC units (0 = unfunded). */
  const newPayers = async (count: number, amount: bigint): Promise<PrivateKeyAccount[]> => {
    const payers = Array.from({ length: count }, () => privateKeyToAccount(generatePrivateKey()));
    if (amount > 0n) {
      for (let i = 0; i < payers.length; i += 200) {
        await fundUsdc(testClient, {
          recipients: payers.slice(i, i + 200).map((payer) => payer.address),
          amount,
        });
      }
    }
    return payers;
  };
  const balanceOf = (address: Address) =>
    testClient.readContract({
      address: USDC_ADDRESS,
      abi: [
        {
          type: "function",
          name: "balanceOf",
          stateMutability: "view",
          inputs: [{ name: "account", type: "address" }],
          outputs: [{ name: "", type: "uint256" }],
        },
      ] as const,
      functionName: "balanceOf",
      args: [address],
    });
  return {
    chain,
    transport,
    testClient,
    relayer,
    relayerClient,
    router,
    newPayers,
    balanceOf,
    stop: () => chain.stop(),
  };
}
