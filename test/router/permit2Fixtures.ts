import { maxUint256, parseAbi, type Address, type Hex } from "viem";
import type { PrivateKeyAccount } from "viem/accounts";

import { PERMIT2_ADDRESS, USDC_ADDRESS } from "../../src/chain/base.js";
import { submitPermit2Batch } from "../../src/batch/permit2Items.js";
import {
  buildRouterPermit2Payment,
  signRouterPermit2Payment,
  type SignedRouterPermit2Payment,
} from "../../src/permit2/router.js";
import { account, bytes32, deployStack } from "./fixtures.js";

export const permit2TokenAbi = parseAbi([
  "function balanceOf(address) view returns (uint256)",
  "function allowance(address owner, address spender) view returns (uint256)",
  "function approve(address spender, uint256 amount)",
  "function mint(address to, uint256 value)",
  "function addBlackList(address account)",
  "function setFailSilently(bool value)",
  "function setSilentAccount(address account)",
  "function nonces(address owner) view returns (uint256)",
  "function permit(address owner, address spender, uint256 value, uint256 deadline, uint8 v, bytes32 r, bytes32 s)",
  "event Transfer(address indexed from, address indexed to, uint256 value)",
]);

/** Fixed time bounds: gas snapshots depend on the calldata bytes. */
export const VALID_AFTER = 1_000n;
export const DEADLINE = 1_999_999_999n;
export const AMOUNT = 10_000n;
export const FEE = 100n;

export type Permit2TokenName = "FiatTokenV2_2" | "NoReturnToken";

/** The router stack, Permit2 (bootstrapped), USDC and a USDT-like no-return token. */
export async function deployPermit2Stack() {
  const stack = await deployStack();
  const noReturn = await stack.conn.viem.deployContract("UsdtLikeMock");
  const tokens: Record<Permit2TokenName, Address> = {
    FiatTokenV2_2: USDC_ADDRESS,
    NoReturnToken: noReturn.address,
  };
  const { client, testClient, relayerWallet } = stack;
  const router = stack.router.address;

  async function fund(token: Permit2TokenName, recipients: readonly Address[], amount: bigint) {
    if (token === "FiatTokenV2_2") {
      await stack.fund(stack.tokens.FiatTokenV2_2, recipients, amount);
      return;
    }
    for (const to of recipients) {
      const hash = await relayerWallet.writeContract({
        address: tokens.NoReturnToken,
        abi: permit2TokenAbi,
        functionName: "mint",
        args: [to, amount],
      });
      await client.waitForTransactionReceipt({ hash });
    }
  }

  /** Funds `payer` with ETH and `amount` of the token and approves Permit2 for everything. */
  async function fundAndApprove(token: Permit2TokenName, payer: PrivateKeyAccount, amount: bigint) {
    await fund(token, [payer.address], amount);
    await testClient.setBalance({ address: payer.address, value: 10n ** 17n });
    const hash = await relayerWallet.writeContract({
      account: payer,
      address: tokens[token],
      abi: permit2TokenAbi,
      functionName: "approve",
      args: [PERMIT2_ADDRESS, maxUint256],
    });
    await client.waitForTransactionReceipt({ hash });
  }

  async function balanceOf(token: Permit2TokenName, owner: Address): Promise<bigint> {
    return client.readContract({
      address: tokens[token],
      abi: permit2TokenAbi,
      functionName: "balanceOf",
      args: [owner],
    });
  }

  /** A payment of `payer` to `payee` signed for the router, with deterministic fields. */
  async function sign(
    token: Permit2TokenName,
    payer: PrivateKeyAccount,
    payee: Address,
    options: {
      label?: string;
      amount?: bigint;
      fee?: bigint;
      feeRecipient?: Address;
      validAfter?: bigint;
      deadline?: bigint;
      nonce?: bigint;
    } = {},
  ): Promise<SignedRouterPermit2Payment> {
    const payment = buildRouterPermit2Payment({
      owner: payer.address,
      token: tokens[token],
      router,
      payee,
      amount: options.amount ?? AMOUNT,
      fee: options.fee ?? FEE,
      feeRecipient: options.feeRecipient ?? feeRecipient,
      validAfter: options.validAfter ?? VALID_AFTER,
      deadline: options.deadline ?? DEADLINE,
      // 128 bits, as buildRouterPermit2Payment's random default.
      nonce: options.nonce ?? BigInt(bytes32(`permit2:${options.label ?? payer.address}`)) >> 128n,
    });
    return signRouterPermit2Payment(payer, { chainId: await client.getChainId(), payment });
  }

  /** Submits one `settlePermit2` batch through the toolkit and decodes it. */
  async function settle(items: readonly SignedRouterPermit2Payment[], gas?: bigint) {
    return submitPermit2Batch(relayerWallet, { items, gas });
  }

  const feeRecipient = account("permit2-fee-recipient").address;
  return {
    ...stack,
    tokens,
    fund,
    fundAndApprove,
    balanceOf,
    sign,
    settle,
    feeRecipient,
    routerAddress: router,
  };
}

export type Permit2Stack = Awaited<ReturnType<typeof deployPermit2Stack>>;

/** The Transfer events of `token` in a receipt's logs sent by `from`. */
export function transfersFrom(
  logs: readonly { address: Address; topics: readonly Hex[] }[],
  token: Address,
  from: Address,
): number {
  const topic = `0x${"0".repeat(24)}${from.slice(2).toLowerCase()}`;
  return logs.filter(
    (log) =>
      log.address.toLowerCase() === token.toLowerCase() &&
      log.topics[0] === "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef" &&
      log.topics[1]?.toLowerCase() === topic,
  ).length;
}
