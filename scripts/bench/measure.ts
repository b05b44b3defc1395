/**
 * Turns settlement transactions into the benchmark's figures: L2 gas and L1 data size from the
 * receipts, settled payments from the token's own `AuthorizationUsed` events.
 */
import {
  type Address,
  type Hex,
  type TransactionReceipt,
  parseAbi,
  parseEventLogs,
  serializeTransaction,
} from "viem";

import { getL1DataEstimate } from "../../src/batch/getL1DataEstimate.js";
import { getReceiptL1Data } from "../../src/batch/getReceiptL1Data.js";
import type { ChainClient } from "./chain.js";

const authorizationUsedAbi = parseAbi([
  "event AuthorizationUsed(address indexed authorizer, bytes32 indexed nonce)",
]);

/** One payment the run tried to settle: the token marks `nonce` of `authorizer` used when it moves. */
export interface ExpectedAuthorization {
  authorizer: Address;
  nonce: Hex;
}

/** Totals over a set of settlement transactions. */
export interface ReceiptTotals {
  transactions: number;
  /** Sum of receipt gasUsed (L2 execution incl. intrinsic gas and calldata). */
  gasUsed: bigint;
  /** Sum of the L1 data size estimates, in bytes. */
  l1Bytes: number;
  /** Payments whose authorization the token marked used in these transactions. */
  settled: number;
}

/**
 * The L1 data size the OP stack charges a transaction for, in bytes: the Fjord estimate
 * (FastLZ-compressed size through the GasPriceOracle's linear regression, 16 L1 gas per byte).
 * OP-stack receipts carry it as `l1GasUsed` for the signed transaction; a node without those
 * fields gets the GasPriceOracle's `getL1GasUsed` of the unsigned transaction (the oracle adds
 * 68 bytes for the signature).
 */
export async function l1BytesOf(client: ChainClient, receipt: TransactionReceipt): Promise<number> {
  const fromReceipt = getReceiptL1Data(receipt);
  if (fromReceipt) return Number(fromReceipt.l1GasUsed) / 16;
  const tx = await client.getTransaction({ hash: receipt.transactionHash });
  const serializedTransaction = serializeTransaction({
    type: "eip1559",
    chainId: tx.chainId ?? (await client.getChainId()),
    nonce: tx.nonce,
    to: tx.to ?? undefined,
    data: tx.input,
    value: tx.value,
    gas: tx.gas,
    maxFeePerGas: tx.maxFeePerGas ?? tx.gasPrice,
    maxPriorityFeePerGas: tx.maxPriorityFeePerGas ?? 0n,
    accessList: tx.accessList ?? [],
  });
  const estimate = await getL1DataEstimate(client, { serializedTransaction });
  return Number(estimate.l1GasUsed) / 16;
}

/** The authorizations among `expected` that `token` marked used in these receipts. */
export function usedAuthorizations(
  token: Address,
  receipts: readonly TransactionReceipt[],
  expected: readonly ExpectedAuthorization[],
): Set<string> {
  const wanted = new Set(expected.map(authorizationKey));
  const used = new Set<string>();
  for (const receipt of receipts) {
    const logs = parseEventLogs({
      abi: authorizationUsedAbi,
      logs: receipt.logs.filter((log) => log.address.toLowerCase() === token.toLowerCase()),
    });
    for (const log of logs) {
      const key = authorizationKey({ authorizer: log.args.authorizer, nonce: log.args.nonce });
      if (wanted.has(key)) used.add(key);
    }
  }
  return used;
}

export function authorizationKey(a: ExpectedAuthorization): string {
  return `${a.authorizer.toLowerCase()}:${a.nonce.toLowerCase()}`;
}

/**
 * Fetches the receipts of `hashes` and sums gas, L1 bytes and settled payments.
 *
 * @example
 * const totals = await measureTransactions(client, usdc, hashes, expected);
 * const gasPerPayment = Number(totals.gasUsed) / totals.settled;
 */
export async function measureTransactions(
  client: ChainClient,
  token: Address,
  hashes: readonly Hex[],
  expected: readonly ExpectedAuthorization[],
): Promise<ReceiptTotals> {
  const receipts: TransactionReceipt[] = [];
  for (const hash of hashes) receipts.push(await client.waitForTransactionReceipt({ hash }));
  let gasUsed = 0n;
  let l1Bytes = 0;
  for (const receipt of receipts) {
    gasUsed += receipt.gasUsed;
    l1Bytes += await l1BytesOf(client, receipt);
  }
  const settled = usedAuthorizations(token, receipts, expected).size;
  return { transactions: receipts.length, gasUsed, l1Bytes, settled };
}
