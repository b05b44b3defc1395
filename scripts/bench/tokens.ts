/**
 * The tokens the bench and replay commands settle: Circle's FiatTokenV2_2 at the canonical
 * Base USDC address, and the project's EIP-3009 test token, deployed fresh for the run.
 */
import { type Address, type Hex, getAddress, keccak256, parseAbi, slice, toHex } from "viem";
import { type LocalAccount, privateKeyToAccount } from "viem/accounts";

import { USDC_ADDRESS, USDC_EIP712_NAME, USDC_EIP712_VERSION } from "../../src/chain/base.js";
import { fundUsdc } from "../../src/chain/bootstrap.js";
import type { BenchTokenName } from "./args.js";
import { type BenchChain, type NodeWallet, readArtifact } from "./chain.js";

/** A token ready for settlement: where it is, its EIP-712 domain and how to fund payers. */
export interface BenchToken {
  name: BenchTokenName;
  address: Address;
  /** EIP-712 domain name and version (the chain id and address complete the domain). */
  domain: { name: string; version: string };
  /** Gives each recipient `amount` (smallest unit). */
  fund(recipients: readonly Address[], amount: bigint): Promise<void>;
}

/**
 * The test token's EIP-712 domain, as in ignition/parameters/local.json; its contract name
 * (X402TestToken) is what the JSON output reports.
 */
export const TEST_TOKEN_DOMAIN = { name: "x402 Test Dollar", version: "1" } as const;
const TEST_TOKEN_SYMBOL = "XTD";

const mintAbi = parseAbi(["function mint(address to, uint256 value)"]);

/** Deploys a contract from its Hardhat artifact and waits for it. */
export async function deployArtifact(
  chain: BenchChain,
  wallet: NodeWallet,
  contractName: string,
  args: readonly unknown[],
): Promise<Address> {
  const { abi, bytecode } = await readArtifact(contractName);
  const hash = await wallet.deployContract({ abi, bytecode, args } as never);
  const receipt = await chain.client.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success" || !receipt.contractAddress)
    throw new Error(`deploying ${contractName} failed (tx ${hash})`);
  return receipt.contractAddress;
}

async function sendAll(chain: BenchChain, send: () => AsyncIterable<Hex>): Promise<void> {
  const hashes: Hex[] = [];
  for await (const hash of send()) hashes.push(hash);
  for (const hash of hashes) {
    const receipt = await chain.client.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success") throw new Error(`funding transaction ${hash} reverted`);
  }
}

/**
 * Prepares one token on the chain: FiatTokenV2_2 is already installed by the bootstrap (funded
 * through its master minter); the test token is deployed with `wallet` as admin and minter.
 *
 * @example
 * const usdc = await setupBenchToken(chain, "FiatTokenV2_2");
 * await usdc.fund(payers.map((p) => p.address), 1_000_000n);
 */
export async function setupBenchToken(
  chain: BenchChain,
  name: BenchTokenName,
  wallet: NodeWallet = chain.wallets[0]!,
): Promise<BenchToken> {
  if (name === "FiatTokenV2_2") {
    return {
      name,
      address: USDC_ADDRESS,
      domain: { name: USDC_EIP712_NAME, version: USDC_EIP712_VERSION },
      fund: (recipients, amount) => fundUsdc(chain.client as never, { recipients, amount }),
    };
  }
  const address = await deployArtifact(chain, wallet, "X402TestToken", [
    TEST_TOKEN_DOMAIN.name,
    TEST_TOKEN_SYMBOL,
    TEST_TOKEN_DOMAIN.version,
    wallet.account.address,
  ]);
  return {
    name,
    address,
    domain: { ...TEST_TOKEN_DOMAIN },
    fund: (recipients, amount) =>
      sendAll(chain, async function* () {
        for (const to of recipients)
          yield await wallet.writeContract({
            address,
            abi: mintAbi,
            functionName: "mint",
            args: [to, amount],
            gas: 120_000n,
          });
      }),
  };
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
