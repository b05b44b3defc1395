/**
 * `multicall3`: the same x402 `exact` authorizations (signed by the official client), batched into
 * Multicall3 `aggregate3` calls with `allowFailure: true`, so one failing payment does not revert
 * the others. Batches whose gas estimate exceeds Base's per-transaction cap are split in two.
 */
import { type Hex, encodeFunctionData, multicall3Abi, parseAbi, parseSignature } from "viem";

import { MULTICALL3_ADDRESS, TRANSACTION_GAS_CAP } from "../../../src/chain/base.js";
import { validitySeconds } from "../chain.js";
import { mapWithLimit } from "../concurrency.js";
import {
  createOfficialPayment,
  exactAuthorizationOf,
  exactRequirements,
} from "../officialFacilitator.js";
import { IN_FLIGHT, type MethodContext, type MethodOutcome } from "./types.js";

const transferWithAuthorizationAbi = parseAbi([
  "function transferWithAuthorization(address from, address to, uint256 value, uint256 validAfter, uint256 validBefore, bytes32 nonce, uint8 v, bytes32 r, bytes32 s)",
]);

type Call3 = { target: `0x${string}`; allowFailure: boolean; callData: Hex };

export async function runMulticall3(ctx: MethodContext): Promise<MethodOutcome> {
  const requirements = exactRequirements({
    chainId: ctx.chain.info.chainId,
    asset: ctx.token.address,
    name: ctx.token.domain.name,
    version: ctx.token.domain.version,
    payTo: ctx.payee,
    amount: ctx.amount,
    maxTimeoutSeconds: await validitySeconds(ctx.chain.client),
  });
  const authorizations = await Promise.all(
    ctx.payers.map(async (payer) =>
      exactAuthorizationOf(await createOfficialPayment(payer, requirements)),
    ),
  );
  const calls: Call3[] = authorizations.map((a) => {
    const { r, s, v, yParity } = parseSignature(a.signature);
    return {
      target: ctx.token.address,
      allowFailure: true,
      callData: encodeFunctionData({
        abi: transferWithAuthorizationAbi,
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
    const gas = await ctx.chain.client.estimateContractGas({
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
    const hash = await ctx.submitter.writeContract({
      address: MULTICALL3_ADDRESS,
      abi: multicall3Abi,
      functionName: "aggregate3",
      args: [batch.calls],
      gas:
        batch.gas + batch.gas / 5n > TRANSACTION_GAS_CAP
          ? TRANSACTION_GAS_CAP
          : batch.gas + batch.gas / 5n,
    });
    await ctx.chain.client.waitForTransactionReceipt({ hash });
    ctx.progress.tick(batch.calls.length);
    return hash;
  });
  const elapsedMs = performance.now() - started;
  return {
    hashes,
    expected: authorizations.map((a) => ({ authorizer: a.from, nonce: a.nonce })),
    elapsedMs,
  };
}
