import { type Address, type Hex, getAddress, keccak256, slice, toHex } from "viem";
import { type LocalAccount, privateKeyToAccount } from "viem/accounts";

import { x402TestTokenAbi } from "../abi/x402TestToken.js";
import { fundUsdc } from "../chain/bootstrap.js";
import { USDC_ADDRESS, USDC_EIP712_NAME, USDC_EIP712_VERSION } from "../chain/base.js";
import { deployBenchContract } from "./contracts.js";
import { BenchmarkChainError } from "./errors.js";
import type { BenchNode, NodeWallet } from "./node.js";

/**
 * The tokens a benchmark settles, by the name the results report. `UsdtLike` behaves like USDT
 * (`transfer`/`transferFrom` return nothing, no EIP-3009, no EIP-2612): only the Permit2 methods
 * settle it, and it runs only when named.
 */
export const BENCHMARK_TOKENS = ["FiatTokenV2_2", "X402TestToken", "UsdtLike"] as const;
export type BenchmarkTokenName = (typeof BENCHMARK_TOKENS)[number];

/** Whether every method settles `name` (EIP-3009), or only the `anyErc20` (Permit2) ones. */
export function isEip3009BenchToken(name: BenchmarkTokenName): boolean {
  return name !== "UsdtLike";
}

/** The tokens of a run that names none: the EIP-3009 tokens. */
export const DEFAULT_BENCHMARK_TOKENS = [
  "FiatTokenV2_2",
  "X402TestToken",
] as const satisfies readonly BenchmarkTokenName[];

/** A token ready for settlement: where it is, its EIP-712 domain and how to fund payers. */
export interface BenchToken {
  name: BenchmarkTokenName;
  address: Address;
  /** EIP-712 domain name and version (the chain id and address complete the domain). */
  domain: { name: string; version: string };
  /** The token implements EIP-3009 (every method settles it); false: only the Permit2 methods. */
  eip3009: boolean;
  /** Gives each recipient `amount` (smallest unit). */
  fund(recipients: readonly Address[], amount: bigint): Promise<void>;
}

/** The test token's EIP-712 domain, as in ignition/parameters/local.json. */
export const TEST_TOKEN_DOMAIN = { name: "x402 Test Dollar", version: "1" } as const;
const TEST_TOKEN_SYMBOL = "XTD";

/**
 * Prepares one token: FiatTokenV2_2 is the USDC the bootstrap installed (or the fork's), funded
 * through its master minter; the test token is deployed with `wallet` as admin and minter.
 *
 * @example
 * const usdc = await setupBenchToken(node, "FiatTokenV2_2");
 * await usdc.fund(payers.map((p) => p.address), 1_000_000n);
 */
export async function setupBenchToken(
  node: BenchNode,
  name: BenchmarkTokenName,
  wallet: NodeWallet = node.wallets[0]!,
): Promise<BenchToken> {
  if (name === "FiatTokenV2_2")
    return {
      name,
      address: USDC_ADDRESS,
      domain: { name: USDC_EIP712_NAME, version: USDC_EIP712_VERSION },
      eip3009: true,
      fund: (recipients, amount) => fundUsdc(node.client, { recipients, amount }),
    };
  if (name === "UsdtLike") {
    const address = await deployBenchContract(node, wallet, "UsdtLikeMock", []);
    return {
      name,
      address,
      domain: { name: "No Return Dollar", version: "1" },
      eip3009: false,
      fund: (recipients, amount) => mintEach(node, wallet, address, recipients, amount),
    };
  }
  const address = await deployBenchContract(node, wallet, "X402TestToken", [
    TEST_TOKEN_DOMAIN.name,
    TEST_TOKEN_SYMBOL,
    TEST_TOKEN_DOMAIN.version,
    wallet.account.address,
  ]);
  return {
    name,
    address,
    domain: { ...TEST_TOKEN_DOMAIN },
    eip3009: true,
    fund: (recipients, amount) => mintEach(node, wallet, address, recipients, amount),
  };
}

/** Mints `amount` to each recipient with the token's open or minter-only `mint`. */
async function mintEach(
  node: BenchNode,
  wallet: NodeWallet,
  address: Address,
  recipients: readonly Address[],
  amount: bigint,
): Promise<void> {
  const hashes: Hex[] = [];
  for (const to of recipients)
    hashes.push(
      await wallet.writeContract({
        address,
        abi: x402TestTokenAbi,
        functionName: "mint",
        args: [to, amount],
        gas: 120_000n,
      }),
    );
  for (const hash of hashes) {
    const receipt = await node.client.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success")
      throw new BenchmarkChainError("Funding a payer with the test token failed.", {
        details: `transaction ${hash}`,
      });
  }
}

/** A deterministic account for a benchmark role (the same on every run, never funded with ETH). */
export function benchAccount(role: string, index = 0): LocalAccount {
  return privateKeyToAccount(keccak256(toHex(`x402-clearing:${role}:${index}`)));
}

/** A deterministic key-less address for a role (payee, fee recipient). */
export function benchAddress(role: string): Address {
  return getAddress(slice(keccak256(toHex(`x402-clearing:address:${role}`)), 12));
}

/** `count` distinct payer accounts. */
export function benchPayers(count: number, role = "bench-payer"): LocalAccount[] {
  return Array.from({ length: count }, (_, i) => benchAccount(role, i));
}
