import { expect } from "chai";
import { network } from "hardhat";
import {
  type Address,
  createWalletClient,
  custom,
  encodeFunctionData,
  getAddress,
  maxUint256,
  parseAbi,
  zeroAddress,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

import { tetherLikeTokenAbi } from "../../src/abi/tetherLikeToken.js";
import { PERMIT2_ADDRESS } from "../../src/chain/base.js";
import { bootstrapBase } from "../../src/chain/bootstrap.js";
import {
  TETHER_LIKE_ADDRESS,
  TETHER_LIKE_ROLES,
  fundTetherLike,
  installTetherLikeToken,
  setTetherLikeBlacklisted,
} from "../../src/chain/tetherLike.js";
import {
  approvePermit2,
  needsPermit2Approval,
  permit2Allowance,
} from "../../src/permit2/approve.js";

const missingInterfaces = parseAbi([
  "function permit(address,address,uint256,uint256,uint8,bytes32,bytes32)",
  "function nonces(address) view returns (uint256)",
  "function DOMAIN_SEPARATOR() view returns (bytes32)",
  "function authorizationState(address,bytes32) view returns (bool)",
  "function transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,uint8,bytes32,bytes32)",
]);
const permit2AllowanceAbi = parseAbi([
  "function approve(address token, address spender, uint160 amount, uint48 expiration)",
  "function transferFrom(address from, address to, uint160 amount, address token)",
]);

async function setup() {
  const conn = await network.create();
  const client = await conn.viem.getTestClient();
  const publicClient = await conn.viem.getPublicClient();
  const [wallet] = await conn.viem.getWalletClients();
  await bootstrapBase(client);
  const token = await installTetherLikeToken(client);
  const holder = privateKeyToAccount(generatePrivateKey());
  const other = privateKeyToAccount(generatePrivateKey());
  for (const a of [holder, other])
    await client.setBalance({ address: a.address, value: 10n ** 18n });
  await fundTetherLike(client, { recipients: [holder.address], amount: 1_000_000n });
  const callers = await conn.viem.deployContract("ERC20Callers");
  await fundTetherLike(client, { recipients: [callers.address], amount: 1_000_000n });
  const read = <F extends "balanceOf" | "allowance">(functionName: F, args: readonly Address[]) =>
    publicClient.readContract({
      address: token,
      abi: tetherLikeTokenAbi,
      functionName,
      args: args as never,
    }) as Promise<bigint>;
  /** Sends as `from` and returns the receipt status (reverted calls are mined, gas given). */
  const send = async (
    from: typeof holder,
    functionName: "transfer" | "transferFrom" | "approve",
    args: readonly unknown[],
  ) => {
    return outcome(
      wallet!.writeContract({
        account: from,
        address: token,
        abi: tetherLikeTokenAbi,
        functionName,
        args: args as never,
        gas: 200_000n,
      }),
    );
  };
  /** "success" or "reverted": the node refuses to mine a reverting transaction, so both ends count. */
  const outcome = async (sent: Promise<`0x${string}`>): Promise<"success" | "reverted"> => {
    try {
      return (await publicClient.waitForTransactionReceipt({ hash: await sent })).status;
    } catch {
      return "reverted";
    }
  };
  return {
    conn,
    client,
    publicClient,
    wallet: wallet!,
    token,
    holder,
    other,
    callers,
    read,
    send,
    outcome,
  };
}

describe("TetherLikeToken (USDT's quirks)", function () {
  it("is installed at its fixed address, owned by its fixed owner, with 6 decimals", async function () {
    const { publicClient, token, client } = await setup();
    expect(token).to.equal(TETHER_LIKE_ADDRESS);
    expect(await installTetherLikeToken(client)).to.equal(TETHER_LIKE_ADDRESS);
    const read = (functionName: "decimals" | "owner" | "symbol") =>
      publicClient.readContract({ address: token, abi: tetherLikeTokenAbi, functionName });
    expect(await read("decimals")).to.equal(6);
    expect(getAddress((await read("owner")) as Address)).to.equal(TETHER_LIKE_ROLES.owner);
  });

  it("transfer and approve return nothing (empty return data)", async function () {
    const { publicClient, token, holder, other } = await setup();
    for (const [functionName, args] of [
      ["transfer", [other.address, 1n]],
      ["approve", [other.address, 5n]],
    ] as const) {
      const { data } = await publicClient.call({
        account: holder.address,
        to: token,
        data: encodeFunctionData({
          abi: tetherLikeTokenAbi,
          functionName,
          args: args as never,
        }),
      });
      expect(data, functionName).to.equal(undefined);
    }
  });

  it("a plain IERC20 caller reverts on the missing bool; SafeERC20 moves the tokens", async function () {
    const { publicClient, wallet, token, other, callers, read, outcome } = await setup();
    const plain = outcome(
      wallet.writeContract({
        address: callers.address,
        abi: callers.abi,
        functionName: "plainTransfer",
        args: [token, other.address, 10n],
        gas: 200_000n,
      }),
    );
    expect(await plain).to.equal("reverted");
    expect(await read("balanceOf", [other.address])).to.equal(0n);
    await publicClient.waitForTransactionReceipt({
      hash: await callers.write.safeTransfer([token, other.address, 10n]),
    });
    expect(await read("balanceOf", [other.address])).to.equal(10n);
    const { result } = await callers.simulate.trySafeTransfer([token, other.address, 10n]);
    expect(result).to.equal(true);
    // More than it holds: SafeERC20 reports the failed (data-less) revert as failure.
    const { result: failed } = await callers.simulate.trySafeTransfer([
      token,
      other.address,
      10n ** 12n,
    ]);
    expect(failed).to.equal(false);
  });

  it("Permit2 (solmate's SafeTransferLib) pulls it once approved", async function () {
    const { publicClient, wallet, token, holder, other, read, send } = await setup();
    expect(await send(holder, "approve", [PERMIT2_ADDRESS, maxUint256])).to.equal("success");
    const write = async (
      account: typeof holder,
      functionName: "approve" | "transferFrom",
      args: readonly unknown[],
    ) =>
      (
        await publicClient.waitForTransactionReceipt({
          hash: await wallet.writeContract({
            account,
            address: PERMIT2_ADDRESS,
            abi: permit2AllowanceAbi,
            functionName,
            args: args as never,
            gas: 300_000n,
          }),
        })
      ).status;
    expect(await write(holder, "approve", [token, other.address, 1_000n, 2_000_000_000])).to.equal(
      "success",
    );
    expect(
      await write(other, "transferFrom", [holder.address, other.address, 700n, token]),
    ).to.equal("success");
    expect(await read("balanceOf", [other.address])).to.equal(700n);
    // An unlimited allowance is never spent down.
    expect(await read("allowance", [holder.address, PERMIT2_ADDRESS])).to.equal(maxUint256);
  });

  it("approve from one non-zero allowance to another reverts; through zero it works", async function () {
    const { holder, other, read, send } = await setup();
    expect(await send(holder, "approve", [other.address, 5n])).to.equal("success");
    expect(await send(holder, "approve", [other.address, 6n])).to.equal("reverted");
    expect(await read("allowance", [holder.address, other.address])).to.equal(5n);
    expect(await send(holder, "approve", [other.address, 0n])).to.equal("success");
    expect(await send(holder, "approve", [other.address, 6n])).to.equal("success");
    expect(await read("allowance", [holder.address, other.address])).to.equal(6n);
  });

  it("a blacklisted holder cannot send (transfer or transferFrom) but can receive", async function () {
    const { client, holder, other, read, send } = await setup();
    expect(await send(holder, "approve", [other.address, 100n])).to.equal("success");
    await setTetherLikeBlacklisted(client, { account: holder.address });
    expect(await send(holder, "transfer", [other.address, 1n])).to.equal("reverted");
    expect(await send(other, "transferFrom", [holder.address, other.address, 1n])).to.equal(
      "reverted",
    );
    await fundTetherLike(client, { recipients: [holder.address], amount: 1n });
    expect(await read("balanceOf", [holder.address])).to.equal(1_000_001n);
    await setTetherLikeBlacklisted(client, { account: holder.address, listed: false });
    expect(await send(holder, "transfer", [other.address, 1n])).to.equal("success");
  });

  it("spends allowances, refuses overdrafts, and only the owner mints or blacklists", async function () {
    const { wallet, token, holder, other, read, send, outcome } = await setup();
    expect(await send(holder, "approve", [other.address, 10n])).to.equal("success");
    expect(await send(other, "transferFrom", [holder.address, other.address, 11n])).to.equal(
      "reverted",
    );
    expect(await send(other, "transferFrom", [holder.address, other.address, 4n])).to.equal(
      "success",
    );
    expect(await read("allowance", [holder.address, other.address])).to.equal(6n);
    expect(await send(holder, "transfer", [other.address, 10n ** 12n])).to.equal("reverted");
    for (const functionName of ["mint", "addBlackList"] as const) {
      const sent = wallet.writeContract({
        account: holder,
        address: token,
        abi: tetherLikeTokenAbi,
        functionName,
        args: (functionName === "mint" ? [holder.address, 1n] : [other.address]) as never,
        gas: 100_000n,
      });
      expect(await outcome(sent), functionName).to.equal("reverted");
    }
  });

  it("has no EIP-2612 and no EIP-3009", async function () {
    const { publicClient, token, holder } = await setup();
    const probes = [
      ["nonces", [holder.address]],
      ["DOMAIN_SEPARATOR", []],
      ["authorizationState", [holder.address, `0x${"11".repeat(32)}`]],
      [
        "permit",
        [holder.address, zeroAddress, 1n, 1n, 27, `0x${"11".repeat(32)}`, `0x${"11".repeat(32)}`],
      ],
      [
        "transferWithAuthorization",
        [
          holder.address,
          zeroAddress,
          1n,
          0n,
          1n,
          `0x${"11".repeat(32)}`,
          27,
          `0x${"11".repeat(32)}`,
          `0x${"11".repeat(32)}`,
        ],
      ],
    ] as const;
    for (const [functionName, args] of probes) {
      let failed = false;
      try {
        await publicClient.call({
          account: holder.address,
          to: token,
          data: encodeFunctionData({ abi: missingInterfaces, functionName, args } as never),
        });
      } catch {
        failed = true;
      }
      expect(failed, functionName).to.equal(true);
    }
  });
});

describe("approvePermit2 (the one-time approval)", function () {
  it("approves once, does nothing when already approved, resets a different non-zero allowance first", async function () {
    const { conn, publicClient, token, holder } = await setup();
    const client = createWalletClient({
      account: holder,
      chain: publicClient.chain,
      transport: custom(conn.provider),
    });
    expect(await needsPermit2Approval(publicClient, { token, owner: holder.address })).to.equal(
      true,
    );
    const first = await approvePermit2(client, { token, amount: 500n });
    expect(first.hashes).to.have.length(1);
    expect(await permit2Allowance(publicClient, { token, owner: holder.address })).to.equal(500n);
    expect(
      await needsPermit2Approval(publicClient, { token, owner: holder.address, amount: 501n }),
    ).to.equal(true);
    expect(
      await needsPermit2Approval(publicClient, { token, owner: holder.address, amount: 500n }),
    ).to.equal(false);
    const same = await approvePermit2(client, { token, amount: 500n });
    expect(same.hashes).to.have.length(0);
    // 500 -> max: USDT refuses non-zero to non-zero, so the helper resets to zero first.
    const raised = await approvePermit2(client, { token });
    expect(raised.hashes).to.have.length(2);
    expect(await permit2Allowance(publicClient, { token, owner: holder.address })).to.equal(
      maxUint256,
    );
  });
});
