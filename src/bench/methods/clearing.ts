/**
 * `clearing`: the ClearingHouse. Every payer deposits once through the EIP-3009 deposit path
 * (`depositWithAuthorizations`, batched), then pays with off-chain cumulative vouchers, one signed
 * per payment; the latest voucher of each (payer, payee) pair is cleared in packed, netted
 * `clear` calls under the gas cap. A warm-up round first clears one voucher per pair (a pair's
 * first clear, reported as `firstClearGasPerPair`); the measured round then pays
 * `paymentsPerPair` times per pair and clears the pairs again, as an operator does in steady
 * state. `gasPerPayment` and `l1BytesPerPayment` are the measured round's clear transactions over
 * the payments they cleared; deposits are reported apart (`depositGasPerPayer`).
 */
import { type Address, type Hex, type TransactionReceipt, encodeFunctionData } from "viem";

import { clearingHouseAbi } from "../../abi/clearingHouse.js";
import { TRANSACTION_GAS_CAP } from "../../chain/base.js";
import { buildDepositAuthorization } from "../../clearing/buildDepositAuthorization.js";
import { decodeClearResults } from "../../clearing/decodeClearResults.js";
import { encodeDeposits } from "../../clearing/encodeDeposits.js";
import { encodeVouchers } from "../../clearing/encodeVouchers.js";
import { getClearingHouseDomain } from "../../clearing/getClearingHouseDomain.js";
import { getDomainSeparator } from "../../clearing/getDomainSeparator.js";
import { signDepositAuthorization } from "../../clearing/signDepositAuthorization.js";
import { signVoucher } from "../../clearing/signVoucher.js";
import type { SignedVoucher } from "../../clearing/types.js";
import { verifyVoucher } from "../../clearing/verifyVoucher.js";
import { mapWithLimit } from "../concurrency.js";
import { deployBenchContract } from "../contracts.js";
import { BenchmarkChainError } from "../errors.js";
import { l1BytesOfReceipt } from "../measure.js";
import { validitySeconds } from "../node.js";
import type { BenchmarkRun } from "../schema.js";
import {
  type BenchmarkMethod,
  type BenchmarkMethodContext,
  countReason,
  IN_FLIGHT,
} from "./types.js";

/** The operator's fee per payment: a hundredth of the amount. */
export const CLEARING_FEE_DIVISOR = 100n;
/** The operator's withdrawal delay: the shortest the ClearingHouse accepts. */
export const CLEARING_WITHDRAWAL_DELAY = 15 * 60;
/** Gas budgeted per deposit and per voucher when sizing calls under the cap (above the snapshots). */
const DEPOSIT_GAS_BUDGET = 90_000n;
const VOUCHER_GAS_BUDGET = 45_000n;

type Pair = { index: number; payer: BenchmarkMethodContext["payers"][number]; payee: Address };

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Sends `data` calls to the ClearingHouse from the submitter, at most 32 in flight; waits for all. */
async function sendAll(
  ctx: BenchmarkMethodContext,
  clearingHouse: Address,
  calls: readonly Hex[],
  onReceipt: (index: number) => void = () => {},
): Promise<{ receipts: TransactionReceipt[]; elapsedMs: number }> {
  const account = ctx.submitter.account;
  const client = ctx.node.client;
  const gasOf: bigint[] = [];
  for (const data of calls) {
    const estimate = await client.estimateGas({ account, to: clearingHouse, data });
    const withMargin = estimate + estimate / 10n;
    gasOf.push(withMargin < TRANSACTION_GAS_CAP ? withMargin : TRANSACTION_GAS_CAP);
  }
  const fees = await client.estimateFeesPerGas();
  const firstNonce = await client.getTransactionCount({
    address: account.address,
    blockTag: "pending",
  });
  const started = performance.now();
  const receipts = await mapWithLimit(calls, IN_FLIGHT, async (data, i) => {
    const hash = await ctx.submitter.sendTransaction({
      account,
      chain: client.chain,
      to: clearingHouse,
      data,
      nonce: firstNonce + i,
      gas: gasOf[i]!,
      maxFeePerGas: fees.maxFeePerGas,
      maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
    });
    const receipt = await client.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success")
      throw new BenchmarkChainError("A ClearingHouse transaction reverted.", {
        details: `transaction ${hash}`,
      });
    onReceipt(i);
    return receipt;
  });
  return { receipts, elapsedMs: performance.now() - started };
}

/** Clears the vouchers in packed calls of at most `perCall`; per-voucher results in order. */
async function clearVouchers(
  ctx: BenchmarkMethodContext,
  clearingHouse: Address,
  vouchers: readonly SignedVoucher[],
  perCall: number,
  onCleared: (vouchers: readonly SignedVoucher[]) => void = () => {},
) {
  const token = ctx.token.address;
  const batches = chunk(vouchers, perCall);
  const { receipts, elapsedMs } = await sendAll(
    ctx,
    clearingHouse,
    batches.map((batch) =>
      encodeFunctionData({
        abi: clearingHouseAbi,
        functionName: "clear",
        args: [token, encodeVouchers({ token, vouchers: batch })],
      }),
    ),
    (i) => onCleared(batches[i]!),
  );
  const results = receipts.flatMap((receipt) =>
    decodeClearResults({ clearingHouse, logs: receipt.logs }),
  );
  let gasUsed = 0n;
  let l1Bytes = 0n;
  for (const receipt of receipts) {
    gasUsed += receipt.gasUsed;
    l1Bytes += await l1BytesOfReceipt(ctx.node.client, receipt);
  }
  return { results, gasUsed, l1Bytes, elapsedMs, transactions: receipts.length };
}

/** The median of `values` (sorted in place). */
function median(values: number[]): number {
  values.sort((a, b) => a - b);
  return values[Math.floor(values.length / 2)] ?? 0;
}

async function runClearing(ctx: BenchmarkMethodContext): Promise<BenchmarkRun> {
  const client = ctx.node.client;
  const token = ctx.token.address;
  const operator = ctx.submitter.account.address;
  const fee = ctx.amount / CLEARING_FEE_DIVISOR;
  const K = BigInt(ctx.paymentsPerPair);
  const perCall = (gasPerItem: bigint) =>
    Math.max(1, Math.min(ctx.batchSize, Number(TRANSACTION_GAS_CAP / gasPerItem)));

  ctx.label(`${ctx.token.name}: clearing @ ${ctx.batchSize}: deposits`);
  const clearingHouse = await deployBenchContract(ctx.node, ctx.submitter, "ClearingHouse", []);
  const registered = await client.waitForTransactionReceipt({
    hash: await ctx.submitter.writeContract({
      address: clearingHouse,
      abi: clearingHouseAbi,
      functionName: "registerOperator",
      args: [ctx.feeRecipient, CLEARING_WITHDRAWAL_DELAY],
    }),
  });
  if (registered.status !== "success")
    throw new BenchmarkChainError("Registering the benchmark's operator failed.", {
      details: `transaction ${registered.transactionHash}`,
    });

  // One deposit per payer covers both rounds with every payee: (K + 1) payments per pair.
  const payees = ctx.payees;
  const deposit = (ctx.amount + fee) * BigInt(payees.length) * (K + 1n);
  const maxTimeoutSeconds = await validitySeconds(client);
  const tokenDomain = {
    name: ctx.token.domain.name,
    version: ctx.token.domain.version,
    chainId: ctx.node.info.chainId,
    verifyingContract: token,
  };
  const deposits = await Promise.all(
    ctx.payers.map((payer) =>
      signDepositAuthorization(payer, {
        domain: tokenDomain,
        authorization: buildDepositAuthorization({
          from: payer.address,
          clearingHouse,
          operator,
          value: deposit,
          maxTimeoutSeconds,
        }),
      }),
    ),
  );
  const depositBatches = chunk(deposits, perCall(DEPOSIT_GAS_BUDGET));
  const depositsSent = await sendAll(
    ctx,
    clearingHouse,
    depositBatches.map((batch) =>
      encodeFunctionData({
        abi: clearingHouseAbi,
        functionName: "depositWithAuthorizations",
        args: [token, encodeDeposits(batch)],
      }),
    ),
  );
  const depositGas = depositsSent.receipts.reduce((sum, r) => sum + r.gasUsed, 0n);

  const domain = getClearingHouseDomain({ chainId: ctx.node.info.chainId, clearingHouse });
  const pairs: Pair[] = [];
  for (const payer of ctx.payers)
    for (const payee of payees) pairs.push({ index: pairs.length, payer, payee });
  const voucherOf = (pair: Pair, payments: bigint) =>
    signVoucher(pair.payer, {
      domain,
      voucher: {
        payer: pair.payer.address,
        payee: pair.payee,
        token,
        operator,
        cumulativeValue: ctx.amount * payments,
        cumulativeFee: fee * payments,
      },
    });
  const clearPerCall = perCall(VOUCHER_GAS_BUDGET);

  // Warm-up: every pair's first clear.
  ctx.label(`${ctx.token.name}: clearing @ ${ctx.batchSize}: first clear of ${pairs.length} pairs`);
  const first = await Promise.all(pairs.map((pair) => voucherOf(pair, 1n)));
  const firstRound = await clearVouchers(ctx, clearingHouse, first, clearPerCall, (batch) =>
    ctx.tick(batch.length),
  );
  const firstCleared = firstRound.results.filter((r) => r.status === "success").length;

  // Measured round: paymentsPerPair vouchers per pair, signed per payment, cumulative.
  ctx.label(`${ctx.token.name}: clearing @ ${ctx.batchSize}: ${ctx.payments.length} vouchers`);
  const vouchers: SignedVoucher[] = [];
  for (let payment = 0; payment < ctx.paymentsPerPair; payment++)
    vouchers.push(
      ...(await Promise.all(pairs.map((pair) => voucherOf(pair, 2n + BigInt(payment))))),
    );
  // The operator's offline check of every voucher, signature included.
  const domainSeparator = getDomainSeparator(domain);
  const micros: number[] = [];
  let invalid = 0;
  for (const { signature, contractSignature: _, ...voucher } of vouchers) {
    const started = process.hrtime.bigint();
    const verdict = verifyVoucher({ domainSeparator, voucher, signature });
    micros.push(Number(process.hrtime.bigint() - started) / 1_000);
    if (!verdict.valid) invalid++;
  }
  if (invalid > 0)
    throw new Error(`verifyVoucher refused ${invalid} of the benchmark's own vouchers`);

  const latest = vouchers.slice(-pairs.length);
  const perPair = ctx.paymentsPerPair;
  const measured = await clearVouchers(ctx, clearingHouse, latest, clearPerCall, (batch) =>
    ctx.tick(batch.length * perPair),
  );
  const failures: Record<string, number> = {};
  let clearedPairs = 0;
  for (const result of measured.results) {
    if (result.status === "success") clearedPairs++;
    else for (let i = 0; i < perPair; i++) countReason(failures, result.reason);
  }

  // The chain's record: every cleared pair's totals are its latest voucher's.
  let onChain = 0;
  for (const voucher of latest) {
    const [value] = await client.readContract({
      address: clearingHouse,
      abi: clearingHouseAbi,
      functionName: "getCleared",
      args: [voucher.payer, voucher.payee, operator, token],
    });
    if (value === voucher.cumulativeValue) onChain++;
  }
  if (onChain !== clearedPairs)
    throw new Error(
      `clearing reported ${clearedPairs} cleared pairs but the ClearingHouse records ${onChain}`,
    );

  const payments = ctx.payments.length;
  const settled = clearedPairs * perPair;
  return {
    token: ctx.token.name,
    method: "clearing",
    batchSize: ctx.batchSize,
    payments,
    settled,
    failed: payments - settled,
    gasPerPayment: settled > 0 ? Math.round(Number(measured.gasUsed) / settled) : 0,
    l1BytesPerPayment: settled > 0 ? round(Number(measured.l1Bytes) / settled, 2) : 0,
    paymentsPerSecond: measured.elapsedMs > 0 ? round((settled * 1000) / measured.elapsedMs, 1) : 0,
    transactions: measured.transactions,
    payers: ctx.payers.length,
    payees: payees.length,
    paymentsPerPair: perPair,
    depositGasPerPayer: Math.round(Number(depositGas) / ctx.payers.length),
    clearGasPerPair: clearedPairs > 0 ? Math.round(Number(measured.gasUsed) / clearedPairs) : 0,
    firstClearGasPerPair:
      firstCleared > 0 ? Math.round(Number(firstRound.gasUsed) / firstCleared) : 0,
    verifyMicrosP50: round(median(micros), 1),
    ...(Object.keys(failures).length > 0 ? { failureReasons: failures } : {}),
  };
}

export const clearingMethod: BenchmarkMethod = {
  name: "clearing",
  description: "ClearingHouse: one EIP-3009 deposit per payer, cumulative vouchers, netted clears",
  batched: true,
  // Both rounds: a warm-up payment per pair and `paymentsPerPair` more (funding covers the fees).
  paymentsPerPayer: (batchSizes, workload) =>
    batchSizes.length * workload.payees * (workload.paymentsPerPair + 1),
  run: async (ctx) => ({ runs: [await runClearing(ctx)] }),
};
