/**
 * `router-direct` and `router-routed`: the SettlementRouter through the toolkit. Direct items are
 * the official x402 client's `exact` payloads, unchanged (`fromX402Payload`); routed items are
 * `ReceiveWithAuthorization`s to the router whose nonce commits to payee, fee and fee recipient.
 * The toolkit plans the batches (`planBatches`, capped at the run's batch size) and submits them
 * (`submitBatch`); the router's per-item events (`decodeSettleReceipt`) are checked against the
 * token's own events.
 */
import { type Address, type Hex, type TransactionReceipt, encodeFunctionData } from "viem";

import { settlementRouterAbi } from "../../../src/abi/settlementRouter.js";

import { TRANSACTION_GAS_CAP } from "../../../src/chain/base.js";

import { buildRoutedAuthorization } from "../../../src/authorization/buildRoutedAuthorization.js";
import { fromX402Payload } from "../../../src/authorization/fromX402Payload.js";
import { signAuthorization } from "../../../src/authorization/signAuthorization.js";
import type { SignedAuthorization } from "../../../src/authorization/types.js";
import {
  type SettlementResult,
  decodeSettleReceipt,
} from "../../../src/batch/decodeSettleReceipt.js";
import { encodeItems } from "../../../src/batch/encodeItems.js";
import {
  FIAT_TOKEN_V2_2_GAS_PROFILE,
  X402_TEST_TOKEN_GAS_PROFILE,
} from "../../../src/batch/gasProfiles.js";
import { planBatches } from "../../../src/batch/planBatches.js";
import { simulateBatch } from "../../../src/batch/simulateBatch.js";
import { submitBatch } from "../../../src/batch/submitBatch.js";
import { type BenchChain, type NodeWallet, validitySeconds } from "../chain.js";
import { mapWithLimit } from "../concurrency.js";
import { usedAuthorizations } from "../measure.js";
import { createOfficialPayment, exactRequirements } from "../officialFacilitator.js";
import { deployArtifact } from "../tokens.js";
import { IN_FLIGHT, type MethodContext, type MethodOutcome, countReason } from "./types.js";

/** Routed items' fee, paid to the fee recipient out of each payment. */
export const ROUTED_FEE = 100n;

/**
 * Deploys a SettlementRouter from its build artifact (no constructor arguments, no admin).
 *
 * @example
 * const router = await deployRouter(chain, chain.wallets[0]);
 */
export async function deployRouter(chain: BenchChain, wallet: NodeWallet): Promise<Address> {
  return deployArtifact(chain, wallet, "SettlementRouter", []);
}

async function signDirect(ctx: MethodContext): Promise<SignedAuthorization[]> {
  const requirements = exactRequirements({
    chainId: ctx.chain.info.chainId,
    asset: ctx.token.address,
    name: ctx.token.domain.name,
    version: ctx.token.domain.version,
    payTo: ctx.payee,
    amount: ctx.amount,
    maxTimeoutSeconds: await validitySeconds(ctx.chain.client),
  });
  return Promise.all(
    ctx.payers.map(async (payer) => {
      const payload = await createOfficialPayment(payer, requirements);
      return fromX402Payload(payload);
    }),
  );
}

async function signRouted(ctx: MethodContext): Promise<SignedAuthorization[]> {
  const domain = {
    name: ctx.token.domain.name,
    version: ctx.token.domain.version,
    chainId: ctx.chain.info.chainId,
    verifyingContract: ctx.token.address,
  };
  const maxTimeoutSeconds = await validitySeconds(ctx.chain.client);
  return Promise.all(
    ctx.payers.map((payer) =>
      signAuthorization(payer, {
        domain,
        authorization: buildRoutedAuthorization({
          from: payer.address,
          router: ctx.router!,
          payee: ctx.payee,
          value: ctx.amount,
          fee: ROUTED_FEE,
          feeRecipient: ctx.feeRecipient!,
          maxTimeoutSeconds,
        }),
      }),
    ),
  );
}

async function runRouter(
  ctx: MethodContext,
  signed: SignedAuthorization[],
): Promise<MethodOutcome> {
  const router = ctx.router;
  const feeRecipient = ctx.feeRecipient;
  if (!router || !feeRecipient) throw new Error("router methods need a router and a fee recipient");
  const { batches } = planBatches({
    items: signed,
    maxItemsPerBatch: ctx.batchSize,
    gasProfile:
      ctx.token.name === "FiatTokenV2_2"
        ? FIAT_TOKEN_V2_2_GAS_PROFILE
        : X402_TEST_TOKEN_GAS_PROFILE,
  });
  const account = ctx.submitter.account;
  const client = ctx.chain.client;
  // Pre-flight, as a relayer does before paying gas: the router's verdict per item, and the gas.
  let predicted = 0;
  const gasOf: bigint[] = [];
  for (const batch of batches) {
    const request = {
      router,
      token: ctx.token.address,
      feeRecipient,
      items: batch.items as never,
    };
    const simulation = await simulateBatch(client, {
      ...request,
      account: account.address,
      explainFailures: false,
    });
    predicted += simulation.settled;
    const estimate = await client.estimateGas({
      account,
      to: router,
      data: encodeFunctionData({
        abi: settlementRouterAbi,
        functionName: "settle",
        args: [ctx.token.address, feeRecipient, encodeItems(batch.items as never)],
      }),
    });
    gasOf.push(min(estimate + estimate / 10n, TRANSACTION_GAS_CAP));
  }
  const fees = await client.estimateFeesPerGas();
  const firstNonce = await client.getTransactionCount({
    address: account.address,
    blockTag: "pending",
  });

  const started = performance.now();
  const receipts = await mapWithLimit(batches, IN_FLIGHT, async (batch, i) => {
    const { receipt } = await submitBatch(ctx.submitter, {
      router,
      token: ctx.token.address,
      feeRecipient,
      items: batch.items as never,
      account,
      nonce: firstNonce + i,
      gas: gasOf[i]!,
      maxFeePerGas: fees.maxFeePerGas,
      maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
    });
    ctx.progress.tick(batch.items.length);
    return receipt;
  });
  const elapsedMs = performance.now() - started;

  const expected = signed.map((s) => ({ authorizer: s.from, nonce: s.nonce }));
  const results = receipts.flatMap((receipt) => decodeSettleReceipt({ receipt, router }));
  const settled = checkRouterAgreesWithToken(ctx, results, receipts, expected);
  if (settled !== predicted)
    throw new Error(`simulateBatch predicted ${predicted} settled payments, ${settled} settled`);
  const failures: Record<string, number> = {};
  for (const result of results)
    if (result.status === "failure") countReason(failures, result.reason);
  return { hashes: receipts.map((r) => r.transactionHash), expected, elapsedMs, failures };
}

/** The router's per-item events must report exactly the payments the token marked used. */
function checkRouterAgreesWithToken(
  ctx: MethodContext,
  results: SettlementResult[],
  receipts: TransactionReceipt[],
  expected: { authorizer: Address; nonce: Hex }[],
): number {
  const reported = results.filter((r) => r.status === "success").length;
  const used = usedAuthorizations(ctx.token.address, receipts, expected).size;
  if (reported !== used)
    throw new Error(
      `router reported ${reported} settled payments but the token marked ${used} authorizations used`,
    );
  return used;
}

function min(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

export async function runRouterDirect(ctx: MethodContext): Promise<MethodOutcome> {
  return runRouter(ctx, await signDirect(ctx));
}

export async function runRouterRouted(ctx: MethodContext): Promise<MethodOutcome> {
  return runRouter(ctx, await signRouted(ctx));
}
