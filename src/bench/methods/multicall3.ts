/**
 * `multicall3`: the same x402 `exact` authorizations batched into Multicall3 `aggregate3` calls
 * with `allowFailure: true`, so one failing payment does not revert the others. Batches whose gas
 * estimate exceeds Base's per-transaction cap are split in two.
 */
import { type Hex, encodeFunctionData, parseSignature } from "viem";

import { iEIP3009TokenAbi } from "../../abi/iEIP3009Token.js";
import { multicall3Abi } from "../../abi/multicall3.js";
import { MULTICALL3_ADDRESS, TRANSACTION_GAS_CAP } from "../../chain/base.js";
import { mapWithLimit } from "../concurrency.js";
import { signDirectPayments } from "./sign.js";
import { type BenchmarkMethod, IN_FLIGHT } from "./types.js";

type Call3 = { target: Hex; allowFailure: boolean; callData: Hex };

export const multicall3Method: BenchmarkMethod = {
  name: "multicall3",
  description: "the same authorizations through Multicall3 aggregate3 (allowFailure: true)",
  batched: true,
  async run(ctx) {
    const authorizations = await signDirectPayments(ctx);
    const calls: Call3[] = authorizations.map((a) => {
      const { r, s, v, yParity } = parseSignature(a.signature);
      return {
        target: ctx.token.address,
        allowFailure: true,
        callData: encodeFunctionData({
          abi: iEIP3009TokenAbi,
          functionName: "transferWithAuthorization",
          args: [
            a.from,
            a.to,
            a.value,
            a.validAfter,
            a.validBefore,
            a.nonce,
            Number(v ?? BigInt(yParity + 27)),
            r,
            s,
          ],
        }),
      };
    });

    // Plan: chunks of batchSize, halved while the estimate is over the gas cap.
    const account = ctx.submitter.account;
    const pending: Call3[][] = [];
    for (let i = 0; i < calls.length; i += ctx.batchSize)
      pending.push(calls.slice(i, i + ctx.batchSize));
    const planned: { calls: Call3[]; gas: bigint }[] = [];
    while (pending.length > 0) {
      const chunk = pending.shift()!;
      const gas = await ctx.node.client.estimateContractGas({
        account,
        address: MULTICALL3_ADDRESS,
        abi: multicall3Abi,
        functionName: "aggregate3",
        args: [chunk],
      });
      if (gas > TRANSACTION_GAS_CAP && chunk.length > 1) {
        const half = Math.ceil(chunk.length / 2);
        pending.unshift(chunk.slice(0, half), chunk.slice(half));
      } else planned.push({ calls: chunk, gas });
    }

    const started = performance.now();
    const hashes = await mapWithLimit(planned, IN_FLIGHT, async (batch) => {
      const withMargin = batch.gas + batch.gas / 5n;
      const hash = await ctx.submitter.writeContract({
        address: MULTICALL3_ADDRESS,
        abi: multicall3Abi,
        functionName: "aggregate3",
        args: [batch.calls],
        gas: withMargin > TRANSACTION_GAS_CAP ? TRANSACTION_GAS_CAP : withMargin,
      });
      await ctx.node.client.waitForTransactionReceipt({ hash });
      ctx.tick(batch.calls.length);
      return hash;
    });
    return { hashes, expected: authorizations, elapsedMs: performance.now() - started };
  },
};
