/**
 * `x402-exact-single`: the official `@x402/evm` facilitator, one `transferWithAuthorization`
 * transaction per payment. Payloads are signed by the official client; each is verified (as the
 * resource server does before serving), then settled. The clock runs over the settle calls only.
 */
import type { Hex } from "viem";

import { validitySeconds } from "../chain.js";
import { mapWithLimit } from "../concurrency.js";
import {
  createOfficialFacilitator,
  createOfficialPayment,
  exactAuthorizationOf,
  exactRequirements,
} from "../officialFacilitator.js";
import { IN_FLIGHT, type MethodContext, type MethodOutcome, countReason } from "./types.js";

export async function runExactSingle(ctx: MethodContext): Promise<MethodOutcome> {
  const chainId = ctx.chain.info.chainId;
  const requirements = exactRequirements({
    chainId,
    asset: ctx.token.address,
    name: ctx.token.domain.name,
    version: ctx.token.domain.version,
    payTo: ctx.payee,
    amount: ctx.amount,
    maxTimeoutSeconds: await validitySeconds(ctx.chain.client),
  });
  const payloads = await Promise.all(
    ctx.payers.map((payer) => createOfficialPayment(payer, requirements)),
  );
  const expected = payloads.map((payload) => {
    const a = exactAuthorizationOf(payload);
    return { authorizer: a.from, nonce: a.nonce };
  });
  const facilitator = createOfficialFacilitator({
    publicClient: ctx.chain.client as never,
    walletClient: ctx.submitter,
  });
  const verified = await mapWithLimit(payloads, IN_FLIGHT, (payload) =>
    facilitator.verify(payload, requirements),
  );
  const valid = payloads.filter((_, i) => verified[i]!.isValid);
  ctx.progress.tick(payloads.length - valid.length);

  const started = performance.now();
  const settled = await mapWithLimit(valid, IN_FLIGHT, async (payload) => {
    const response = await facilitator.settle(payload, requirements);
    ctx.progress.tick();
    return response;
  });
  const elapsedMs = performance.now() - started;

  const hashes = settled
    .map((response) => response.transaction)
    .filter((hash): hash is Hex => /^0x[0-9a-fA-F]{64}$/.test(hash));
  const failures: Record<string, number> = {};
  for (const response of verified)
    if (!response.isValid) countReason(failures, response.invalidReason);
  for (const response of settled)
    if (!response.success) countReason(failures, response.errorReason);
  return { hashes, expected, elapsedMs, failures };
}
