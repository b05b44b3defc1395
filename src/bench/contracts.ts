import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import type { Abi, Address, Hex } from "viem";

import { BenchmarkChainError } from "./errors.js";
import type { BenchNode, NodeWallet } from "./node.js";

/** The contracts a benchmark deploys, by their build artifact (relative to the project root). */
const ARTIFACTS = {
  ClearingHouse: "artifacts/contracts/clearing/ClearingHouse.sol/ClearingHouse.json",
  SettlementRouter: "artifacts/contracts/router/SettlementRouter.sol/SettlementRouter.json",
  X402TestToken: "artifacts/contracts/token/X402TestToken.sol/X402TestToken.json",
  UsdtLikeMock: "artifacts/contracts/test/router/mocks/UsdtLikeMock.sol/UsdtLikeMock.json",
} as const;

export type BenchContractName = keyof typeof ARTIFACTS;

/**
 * A contract's ABI and creation code from the project's build artifacts (`npm run compile`), read
 * as JSON: src/bench and dist/bench both sit two folders below the project root.
 */
export function readBenchArtifact(name: BenchContractName): { abi: Abi; bytecode: Hex } {
  const file = fileURLToPath(new URL(`../../${ARTIFACTS[name]}`, import.meta.url));
  let artifact: { abi: Abi; bytecode: Hex };
  try {
    artifact = JSON.parse(readFileSync(file, "utf8")) as { abi: Abi; bytecode: Hex };
  } catch (error) {
    throw new BenchmarkChainError(`The ${name} build artifact is missing.`, {
      cause: error,
      details: `${file} (run npm run compile in the x402-clearing checkout)`,
    });
  }
  return { abi: artifact.abi, bytecode: artifact.bytecode };
}

/** Deploys `name` from its build artifact with `args` and waits for the receipt. */
export async function deployBenchContract(
  node: BenchNode,
  wallet: NodeWallet,
  name: BenchContractName,
  args: readonly unknown[],
): Promise<Address> {
  const { abi, bytecode } = readBenchArtifact(name);
  const hash = await wallet.deployContract({ abi, bytecode, args });
  const receipt = await node.client.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success" || !receipt.contractAddress)
    throw new BenchmarkChainError(`Deploying ${name} failed.`, { details: `transaction ${hash}` });
  return receipt.contractAddress;
}

/**
 * The SettlementRouter the router methods settle through: a fresh instance (no constructor
 * arguments, no admin) deployed by `wallet`. The one place the benchmark deploys a router.
 *
 * @example
 * const router = await deployBenchRouter(node, node.wallets[0]);
 */
export async function deployBenchRouter(node: BenchNode, wallet: NodeWallet): Promise<Address> {
  return deployBenchContract(node, wallet, "SettlementRouter", []);
}
