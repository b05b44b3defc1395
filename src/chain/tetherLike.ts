import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import {
  type Address,
  type Hex,
  encodeDeployData,
  getAddress,
  getContractAddress,
  keccak256,
  parseEther,
  slice,
  toHex,
} from "viem";
import {
  getCode,
  getTransactionCount,
  impersonateAccount,
  sendTransaction,
  setBalance,
  stopImpersonatingAccount,
  waitForTransactionReceipt,
  writeContract,
} from "viem/actions";

import { tetherLikeTokenAbi } from "../abi/tetherLikeToken.js";
import type { BootstrapClient } from "./bootstrap.js";

function roleAddress(role: string): Address {
  return getAddress(slice(keccak256(toHex(`x402-clearing:${role}`)), 12));
}

/** The key-less accounts that deploy and own the local USDT-like token (impersonated). */
export const TETHER_LIKE_ROLES = {
  deployer: roleAddress("usdt-like:deployer"),
  owner: roleAddress("usdt-like:owner"),
} as const;

/** The USDT-like token's ERC-20 name, symbol and decimals. */
export const TETHER_LIKE_NAME = "Tether-like USD";
export const TETHER_LIKE_SYMBOL = "USDTL";
export const TETHER_LIKE_DECIMALS = 6;

/**
 * Where {@link installTetherLikeToken} puts the token on every local chain: the first contract
 * of its fixed deployer.
 */
export const TETHER_LIKE_ADDRESS: Address = getContractAddress({
  from: TETHER_LIKE_ROLES.deployer,
  nonce: 0n,
});

function creationCode(): Hex {
  // src/chain and dist/chain both sit two folders below the project root.
  const file = fileURLToPath(
    new URL(
      "../../artifacts/contracts/token/TetherLikeToken.sol/TetherLikeToken.json",
      import.meta.url,
    ),
  );
  return (JSON.parse(readFileSync(file, "utf8")) as { bytecode: Hex }).bytecode;
}

async function asRole<T>(
  client: BootstrapClient,
  role: Address,
  run: () => Promise<T>,
): Promise<T> {
  await setBalance(client as never, { address: role, value: parseEther("1") });
  await impersonateAccount(client as never, { address: role });
  try {
    return await run();
  } finally {
    await stopImpersonatingAccount(client as never, { address: role });
  }
}

/**
 * Deploys the USDT-like test token (contracts/token/TetherLikeToken.sol: no return values, the
 * approve guard, a blacklist, 6 decimals, no EIP-2612 or EIP-3009) at {@link TETHER_LIKE_ADDRESS}
 * on a Hardhat or Anvil node, owned by {@link TETHER_LIKE_ROLES}.owner. Already there: kept.
 * Needs the build artifacts (`npm run compile`).
 *
 * @example
 * const usdt = await installTetherLikeToken(testClient);
 * await fundTetherLike(testClient, { recipients: [payer], amount: 10_000_000n });
 */
export async function installTetherLikeToken(client: BootstrapClient): Promise<Address> {
  const code = await getCode(client, { address: TETHER_LIKE_ADDRESS });
  if (code !== undefined && code !== "0x") return TETHER_LIKE_ADDRESS;
  const { deployer, owner } = TETHER_LIKE_ROLES;
  const nonce = await getTransactionCount(client, { address: deployer });
  if (nonce !== 0)
    throw new Error(`installTetherLikeToken: the deployer ${deployer} has nonce ${nonce}, not 0`);
  const data = encodeDeployData({
    abi: tetherLikeTokenAbi,
    bytecode: creationCode(),
    args: [TETHER_LIKE_NAME, TETHER_LIKE_SYMBOL, owner],
  });
  await asRole(client, deployer, async () => {
    const hash = await sendTransaction(client as never, { account: deployer, chain: null, data });
    const receipt = await waitForTransactionReceipt(client, { hash });
    if (
      receipt.status !== "success" ||
      getAddress(receipt.contractAddress ?? "0x") !== TETHER_LIKE_ADDRESS
    )
      throw new Error(`installTetherLikeToken: deployment failed (tx ${hash})`);
  });
  return TETHER_LIKE_ADDRESS;
}

/**
 * Mints `amount` of the USDT-like token to each recipient, as its owner (impersonated).
 *
 * @example
 * await fundTetherLike(testClient, { recipients: payers, amount: 1_000n * 10n ** 6n });
 */
export async function fundTetherLike(
  client: BootstrapClient,
  {
    recipients,
    amount,
    token = TETHER_LIKE_ADDRESS,
  }: { recipients: readonly Address[]; amount: bigint; token?: Address },
): Promise<void> {
  if (recipients.length === 0 || amount === 0n) return;
  const { owner } = TETHER_LIKE_ROLES;
  await asRole(client, owner, async () => {
    const hashes: Hex[] = [];
    for (const to of recipients)
      hashes.push(
        await writeContract(client as never, {
          account: owner,
          chain: null,
          address: token,
          abi: tetherLikeTokenAbi,
          functionName: "mint",
          args: [to, amount],
          gas: 120_000n,
        }),
      );
    for (const hash of hashes) {
      const receipt = await waitForTransactionReceipt(client, { hash });
      if (receipt.status !== "success")
        throw new Error(`fundTetherLike: mint reverted (tx ${hash})`);
    }
  });
}

/**
 * Blacklists (or, with `listed` false, un-blacklists) `account` on the USDT-like token, as its
 * owner (impersonated).
 */
export async function setTetherLikeBlacklisted(
  client: BootstrapClient,
  {
    account,
    listed = true,
    token = TETHER_LIKE_ADDRESS,
  }: { account: Address; listed?: boolean; token?: Address },
): Promise<void> {
  const { owner } = TETHER_LIKE_ROLES;
  await asRole(client, owner, async () => {
    const hash = await writeContract(client as never, {
      account: owner,
      chain: null,
      address: token,
      abi: tetherLikeTokenAbi,
      functionName: listed ? "addBlackList" : "removeBlackList",
      args: [account],
    });
    const receipt = await waitForTransactionReceipt(client, { hash });
    if (receipt.status !== "success")
      throw new Error(`setTetherLikeBlacklisted: reverted (tx ${hash})`);
  });
}
