/**
 * `router-direct` and `router-routed`: the SettlementRouter through the toolkit. Direct items are
 * x402 `exact` authorizations, unchanged; routed items are `ReceiveWithAuthorization`s to the
 * router whose nonce commits to payee, fee and fee recipient. The toolkit plans the batches
 * (`planBatches`, capped at the run's batch size), predicts them (`simulateBatch`), submits them
 * (`submitBatch`) and decodes the router's per-item results (`decodeSettleReceipt`).
 */
import { encodeFunctionData } from "viem";

import { settlementRouterAbi } from "../../abi/settlementRouter.js";
import { buildRoutedAuthorization } from "../../authorization/buildRoutedAuthorization.js";
import { signAuthorization } from "../../authorization/signAuthorization.js";
import type { SignedAuthorization } from "../../authorization/types.js";
import { decodeSettleReceipt } from "../../batch/decodeSettleReceipt.js";
import { encodeItems } from "../../batch/encodeItems.js";
import {
  FIAT_TOKEN_V2_2_GAS_PROFILE,
  X402_TEST_TOKEN_GAS_PROFILE,
} from "../../batch/gasProfiles.js";
import { planBatches } from "../../batch/planBatches.js";
import { simulateBatch } from "../../batch/simulateBatch.js";
import { submitBatch } from "../../batch/submitBatch.js";
import { TRANSACTION_GAS_CAP } from "../../chain/base.js";
import { mapWithLimit } from "../concurrency.js";
import { BenchmarkInputError } from "../errors.js";
import { validitySeconds } from "../node.js";
import { signDirectPayments } from "./sign.js";
import {
  type BenchmarkMethod,
  type BenchmarkMethodContext,
  countReason,
  IN_FLIGHT,
  type MethodOutcome,
} from "./types.js";

/** Routed items' fee, paid to the fee recipient out of each payment. */
export const ROUTED_FEE = 100n;

async function signRouted(ctx: BenchmarkMethodContext): Promise<SignedAuthorization[]> {
  const router = ctx.router!;
  const maxTimeoutSeconds = await validitySeconds(ctx.node.client);
  const domain = {
    name: ctx.token.domain.name,
    version: ctx.token.domain.version,
    chainId: ctx.node.info.chainId,
    verifyingContract: ctx.token.address,
  };
  return Promise.all(
    ctx.payments.map(({ payer, payee }) =>
      signAuthorization(payer, {
        domain,
        authorization: buildRoutedAuthorization({
          from: payer.address,
          router,
          payee,
          value: ctx.amount,
          fee: ROUTED_FEE,
          feeRecipient: ctx.feeRecipient,
          maxTimeoutSeconds,
        }),
      }),
    ),
  );
}

async function settleThroughRouter(
  ctx: BenchmarkMethodContext,
  signed: readonly SignedAuthorization[],
): Promise<MethodOutcome> {
  const router = ctx.router;
  if (!router)
    throw new BenchmarkInputError("router", "the router methods need a SettlementRouter");
  const { feeRecipient } = ctx;
  const token = ctx.token.address;
  const { batches } = planBatches({
    items: signed,
    maxItemsPerBatch: ctx.batchSize,
    gasProfile:
      ctx.token.name === "FiatTokenV2_2"
        ? FIAT_TOKEN_V2_2_GAS_PROFILE
        : X402_TEST_TOKEN_GAS_PROFILE,
  });
  const account = ctx.submitter.account;
  const client = ctx.node.client;
  // Pre-flight, as a relayer does before paying gas: the router's verdict per item, and the gas.
  let predicted = 0;
  const gasOf: bigint[] = [];
  for (const batch of batches) {
    const simulation = await simulateBatch(client, {
      router,
      token,
      feeRecipient,
      items: batch.items,
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
        args: [token, feeRecipient, encodeItems(batch.items)],
      }),
    });
    const withMargin = estimate + estimate / 10n;
    gasOf.push(withMargin < TRANSACTION_GAS_CAP ? withMargin : TRANSACTION_GAS_CAP);
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
      token,
      feeRecipient,
      items: batch.items,
      account,
      nonce: firstNonce + i,
      gas: gasOf[i]!,
      maxFeePerGas: fees.maxFeePerGas,
      maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
    });
    ctx.tick(batch.items.length);
    return receipt;
  });
  const elapsedMs = performance.now() - started;

  const results = receipts.flatMap((receipt, i) =>
    decodeSettleReceipt({ receipt, router, itemCount: batches[i]!.items.length }),
  );
  const settled = results.filter((r) => r.status === "success").length;
  if (settled !== predicted)
    throw new Error(`simulateBatch predicted ${predicted} settled payments, ${settled} settled`);
  const failures: Record<string, number> = {};
  for (const result of results)
    if (result.status === "failure") countReason(failures, result.reason);
  return {
    hashes: receipts.map((r) => r.transactionHash),
    expected: signed,
    elapsedMs,
    failures,
    settled,
  };
}

export const routerDirectMethod: BenchmarkMethod = {
  name: "router-direct",
  description: "SettlementRouter, direct items (unchanged x402 exact signatures)",
  batched: true,
  usesRouter: true,
  run: async (ctx) => settleThroughRouter(ctx, await signDirectPayments(ctx)),
};

export const routerRoutedMethod: BenchmarkMethod = {
  name: "router-routed",
  description: "SettlementRouter, routed items (receiveWithAuthorization, netted payout)",
  batched: true,
  usesRouter: true,
  run: async (ctx) => settleThroughRouter(ctx, await signRouted(ctx)),
};
