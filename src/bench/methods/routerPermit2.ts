/**
 * `router-permit2`: the SettlementRouter's Permit2 items through the toolkit. Each payer signs a
 * `PermitWitnessTransferFrom` to the router with the `RouterPayment` witness (payee, fee, fee
 * recipient, validAfter); the facilitator's check (`verifyRouterPermit2Payments`) runs first, the
 * toolkit plans the batches (`planPermit2Batches`, one netted payout per payee and batch), submits
 * them (`submitPermit2Batch`) and decodes every item's result. Payers approve Permit2 once before
 * the clock.
 */
import { encodeFunctionData } from "viem";

import { settlementRouterAbi } from "../../abi/settlementRouter.js";
import {
  planPermit2Batches,
  submitPermit2Batch,
  verifyRouterPermit2Payments,
} from "../../batch/permit2Items.js";
import { TRANSACTION_GAS_CAP } from "../../chain/base.js";
import {
  buildRouterPermit2Payment,
  encodePermit2Items,
  signRouterPermit2Payment,
} from "../../permit2/router.js";
import { mapWithLimit } from "../concurrency.js";
import { BenchmarkInputError } from "../errors.js";
import { validitySeconds } from "../node.js";
import { ensurePermit2Approvals, measurePermit2Run } from "./permit2Setup.js";
import { ROUTED_FEE } from "./router.js";
import { type BenchmarkMethod, countReason, IN_FLIGHT } from "./types.js";

export const routerPermit2Method: BenchmarkMethod = {
  name: "router-permit2",
  description: "SettlementRouter, Permit2 items (any ERC-20, witness-bound payee and fee, netted)",
  batched: true,
  usesRouter: true,
  anyErc20: true,
  optIn: true,
  async run(ctx) {
    const router = ctx.router;
    if (!router) throw new BenchmarkInputError("router", "router-permit2 needs a SettlementRouter");
    await ensurePermit2Approvals(ctx);
    const client = ctx.node.client;
    const chainId = ctx.node.info.chainId;
    const now = Number((await client.getBlock()).timestamp);
    const maxTimeoutSeconds = await validitySeconds(client);
    const signed = await Promise.all(
      ctx.payments.map(({ payer, payee }) =>
        signRouterPermit2Payment(payer, {
          chainId,
          payment: buildRouterPermit2Payment({
            owner: payer.address,
            token: ctx.token.address,
            router,
            payee,
            amount: ctx.amount,
            fee: ROUTED_FEE,
            feeRecipient: ctx.feeRecipient,
            maxTimeoutSeconds,
            now,
          }),
        }),
      ),
    );
    const failures: Record<string, number> = {};
    const verdicts = await verifyRouterPermit2Payments(client, {
      chainId,
      router,
      payments: signed,
      now: BigInt(now),
    });
    const accepted = signed.filter((_, i) => verdicts[i]!.valid);
    for (const verdict of verdicts) if (!verdict.valid) countReason(failures, verdict.reason);
    ctx.tick(signed.length - accepted.length);

    const batches = planPermit2Batches({ items: accepted, maxItemsPerBatch: ctx.batchSize });
    const account = ctx.submitter.account;
    const gasOf: bigint[] = [];
    for (const batch of batches) {
      const estimate = await client.estimateGas({
        account,
        to: router,
        data: encodeFunctionData({
          abi: settlementRouterAbi,
          functionName: "settlePermit2",
          args: [ctx.token.address, ctx.feeRecipient, encodePermit2Items(batch)],
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
    const submitted = await mapWithLimit(batches, IN_FLIGHT, async (batch, i) => {
      const result = await submitPermit2Batch(ctx.submitter, {
        items: batch,
        account,
        nonce: firstNonce + i,
        gas: gasOf[i]!,
        maxFeePerGas: fees.maxFeePerGas,
        maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
      });
      ctx.tick(batch.length);
      return result;
    });
    const elapsedMs = performance.now() - started;
    const results = submitted.flatMap((s) => s.results);
    for (const result of results)
      if (result.status === "failure") countReason(failures, result.reason);
    return measurePermit2Run(
      ctx,
      this.name,
      {
        hashes: submitted.map((s) => s.transactionHash),
        elapsedMs,
        failures,
        settled: results.filter((r) => r.status === "success").length,
      },
      signed,
    );
  },
};
