/**
 * What the Permit2 methods share: each payer's one-time approval of Permit2 (before the clock,
 * as a payer does once in its life), and the settled count read from Permit2's nonce bitmaps (a
 * Permit2 payment leaves no EIP-3009 authorization state on the token).
 */
import { encodeFunctionData, erc20Abi, maxUint256, type Address, type Hex } from "viem";
import { readContract, writeContract } from "viem/actions";

import { multicall3Abi } from "../../abi/multicall3.js";
import { permit2Abi } from "../../abi/permit2.js";
import { MULTICALL3_ADDRESS, PERMIT2_ADDRESS } from "../../chain/base.js";
import { permit2NoncePosition } from "../../permit2/nonces.js";
import { BenchmarkChainError } from "../errors.js";
import { measureOutcome } from "../measure.js";
import type { BenchmarkRun } from "../schema.js";
import type { BenchmarkMethodContext, MethodOutcome } from "./types.js";

/** Reads per Multicall3 call, as the engine's state reads. */
const READS_PER_CALL = 1_000;
/** ETH given to a payer that must send its approval itself. */
const APPROVAL_ETH = 10n ** 16n;

/**
 * Approves Permit2 for every payer of the run that has not yet (an `approve(PERMIT2, max)` each,
 * from the payer, its gas given by the node's test balance): outside the measured transactions.
 */
export async function ensurePermit2Approvals(ctx: BenchmarkMethodContext): Promise<void> {
  const client = ctx.node.client;
  const payers = ctx.payers;
  const allowances = await readEach(
    ctx,
    payers.map((payer) => ({
      target: ctx.token.address,
      callData: encodeFunctionData({
        abi: erc20Abi,
        functionName: "allowance",
        args: [payer.address, PERMIT2_ADDRESS],
      }),
    })),
  );
  const missing = payers.filter((_, i) => allowances[i]! < maxUint256 / 2n);
  if (missing.length === 0) return;
  ctx.label(`${ctx.token.name}: ${missing.length} payers approve Permit2`);
  const hashes: Hex[] = [];
  for (const payer of missing) {
    await client.setBalance({ address: payer.address, value: APPROVAL_ETH });
    hashes.push(
      await writeContract(client, {
        account: payer,
        chain: client.chain,
        address: ctx.token.address,
        abi: erc20Abi,
        functionName: "approve",
        args: [PERMIT2_ADDRESS, maxUint256],
        gas: 100_000n,
      }),
    );
  }
  for (const hash of hashes) {
    const receipt = await client.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success")
      throw new BenchmarkChainError("A payer's approval of Permit2 failed.", {
        details: `transaction ${hash}`,
      });
  }
}

async function readEach(
  ctx: BenchmarkMethodContext,
  calls: readonly { target: Address; callData: Hex }[],
): Promise<bigint[]> {
  const words: bigint[] = [];
  for (let i = 0; i < calls.length; i += READS_PER_CALL) {
    const answers = await readContract(ctx.node.client, {
      address: MULTICALL3_ADDRESS,
      abi: multicall3Abi,
      functionName: "aggregate3",
      args: [calls.slice(i, i + READS_PER_CALL).map((call) => ({ ...call, allowFailure: false }))],
    });
    for (const answer of answers) words.push(BigInt(answer.returnData.slice(0, 66)));
  }
  return words;
}

/** How many of `payments` Permit2 marks used in their owner's nonce bitmap. */
export async function countPermit2NoncesUsed(
  ctx: BenchmarkMethodContext,
  payments: readonly { owner: Address; nonce: bigint }[],
): Promise<number> {
  const bitmaps = await readEach(
    ctx,
    payments.map(({ owner, nonce }) => ({
      target: PERMIT2_ADDRESS,
      callData: encodeFunctionData({
        abi: permit2Abi,
        functionName: "nonceBitmap",
        args: [owner, permit2NoncePosition(nonce).word],
      }),
    })),
  );
  return payments.filter(
    ({ nonce }, i) => ((bitmaps[i]! >> BigInt(permit2NoncePosition(nonce).bit)) & 1n) === 1n,
  ).length;
}

/**
 * The run's row: gas and L1 bytes from the receipts (the engine's measurement), settled payments
 * from Permit2's nonce bitmaps, checked against what the method itself saw settle.
 */
export async function measurePermit2Run(
  ctx: BenchmarkMethodContext,
  method: string,
  outcome: Omit<MethodOutcome, "expected"> & { settled: number },
  payments: readonly { owner: Address; nonce: bigint }[],
): Promise<{ runs: BenchmarkRun[] }> {
  const measured = await measureOutcome(ctx.node.client, ctx.token.address, {
    ...outcome,
    expected: [],
  });
  const settled = await countPermit2NoncesUsed(ctx, payments);
  if (settled !== outcome.settled)
    throw new Error(
      `${method} reported ${outcome.settled} settled payments but Permit2 marked ${settled} nonces used`,
    );
  const round = (value: number) => Math.round(value * 10) / 10;
  const failureReasons = outcome.failures ?? {};
  return {
    runs: [
      {
        token: ctx.token.name,
        method,
        batchSize: ctx.batchSize,
        payments: payments.length,
        settled,
        failed: payments.length - settled,
        gasPerPayment: settled > 0 ? Math.round(Number(measured.gasUsed) / settled) : 0,
        l1BytesPerPayment: settled > 0 ? round(Number(measured.l1Bytes) / settled) : 0,
        paymentsPerSecond: outcome.elapsedMs > 0 ? round((settled * 1000) / outcome.elapsedMs) : 0,
        transactions: measured.transactions,
        payers: ctx.payers.length,
        payees: ctx.payees.length,
        paymentsPerPair: ctx.paymentsPerPair,
        ...(Object.keys(failureReasons).length > 0 ? { failureReasons } : {}),
      },
    ],
  };
}
