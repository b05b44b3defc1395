import { buildDirectAuthorization } from "../../authorization/buildDirectAuthorization.js";
import { signAuthorization } from "../../authorization/signAuthorization.js";
import type { DirectAuthorization, SignedAuthorization } from "../../authorization/types.js";
import { validitySeconds } from "../node.js";
import type { BenchmarkMethodContext } from "./types.js";

/**
 * One x402 `exact` authorization per payment of the run, signed through the toolkit with the v2 client's
 * defaults (validAfter 0, validBefore now + the timeout, a random nonce): the payloads an x402
 * client sends, as the multicall3 and router-direct methods settle them.
 */
export async function signDirectPayments(
  ctx: BenchmarkMethodContext,
): Promise<SignedAuthorization<DirectAuthorization>[]> {
  const maxTimeoutSeconds = await validitySeconds(ctx.node.client);
  const domain = {
    name: ctx.token.domain.name,
    version: ctx.token.domain.version,
    chainId: ctx.node.info.chainId,
    verifyingContract: ctx.token.address,
  };
  return Promise.all(
    ctx.payments.map(async ({ payer, payee }) => {
      const authorization = buildDirectAuthorization({
        from: payer.address,
        to: payee,
        value: ctx.amount,
        maxTimeoutSeconds,
      });
      return signAuthorization(payer, { domain, authorization });
    }),
  );
}
