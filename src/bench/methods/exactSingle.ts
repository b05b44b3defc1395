/**
 * `x402-exact-single`: the official `@x402/evm` facilitator, one `transferWithAuthorization`
 * transaction per payment. Payloads are signed by the official client; each is verified (as the
 * resource server does before serving), then settled. The clock runs over the settle calls only.
 */
import type { Hex, PublicClient } from "viem";

import { fromX402Payload } from "../../authorization/fromX402Payload.js";
import { mapWithLimit } from "../concurrency.js";
import { validitySeconds } from "../node.js";
import {
  createOfficialFacilitator,
  createOfficialPayment,
  exactRequirements,
  loadOfficialSdk,
} from "../official.js";
import { type BenchmarkMethod, countReason, IN_FLIGHT } from "./types.js";

export const exactSingleMethod: BenchmarkMethod = {
  name: "x402-exact-single",
  description: "the official @x402/evm facilitator: verify + settle, one transaction per payment",
  batched: false,
  async run(ctx) {
    const sdk = await loadOfficialSdk(this.name);
    const maxTimeoutSeconds = await validitySeconds(ctx.node.client);
    const requirementsOf = new Map(
      ctx.payees.map((payTo) => [
        payTo,
        exactRequirements({
          chainId: ctx.node.info.chainId,
          asset: ctx.token.address,
          name: ctx.token.domain.name,
          version: ctx.token.domain.version,
          payTo,
          amount: ctx.amount,
          maxTimeoutSeconds,
        }),
      ]),
    );
    const payments = await Promise.all(
      ctx.payments.map(async ({ payer, payee }) => {
        const requirements = requirementsOf.get(payee)!;
        return { payload: await createOfficialPayment(sdk, payer, requirements), requirements };
      }),
    );
    const expected = payments.map(({ payload }) => fromX402Payload(payload));
    const facilitator = createOfficialFacilitator(sdk, {
      publicClient: ctx.node.client as unknown as PublicClient,
      walletClient: ctx.submitter,
    });
    const verified = await mapWithLimit(payments, IN_FLIGHT, ({ payload, requirements }) =>
      facilitator.verify(payload, requirements),
    );
    const valid = payments.filter((_, i) => verified[i]!.isValid);
    ctx.tick(payments.length - valid.length);

    const started = performance.now();
    const settled = await mapWithLimit(valid, IN_FLIGHT, async ({ payload, requirements }) => {
      const response = await facilitator.settle(payload, requirements);
      ctx.tick();
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
  },
};
