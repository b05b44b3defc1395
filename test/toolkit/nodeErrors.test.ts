import { expect } from "chai";
import { createWalletClient, http, publicActions, type Address } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

import { buildDirectAuthorization } from "../../src/authorization/buildDirectAuthorization.js";
import { readTokenDomain } from "../../src/authorization/readTokenDomain.js";
import { signAuthorization } from "../../src/authorization/signAuthorization.js";
import type { SignedAuthorization } from "../../src/authorization/types.js";
import {
  InvalidBatchInputError,
  RouterNotDeployedError,
  SettlementNodeError,
} from "../../src/batch/errors.js";
import { settleAuthorizations } from "../../src/batch/settleAuthorizations.js";
import { USDC_ADDRESS } from "../../src/chain/base.js";
import { freePort } from "../helpers/chainProcess.js";
import { startSettlementChain } from "./fixture.js";

/** The error `run` rejects with (fails the test when it resolves). */
async function rejection(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run();
  } catch (error) {
    return error;
  }
  expect.fail("expected a rejection");
}

describe("toolkit: settleAuthorizations when the node or the input fails", () => {
  let env: Awaited<ReturnType<typeof startSettlementChain>>;
  let items: SignedAuthorization[];
  const payee: Address = "0x000000000000000000000000000000000000bEEF";

  before(async () => {
    env = await startSettlementChain();
    const domain = await readTokenDomain(env.testClient, { token: USDC_ADDRESS });
    const now = (await env.testClient.getBlock()).timestamp;
    const payers = await env.newPayers(3, 1_000_000n);
    items = await Promise.all(
      payers.map((payer) =>
        signAuthorization(payer, {
          domain,
          authorization: buildDirectAuthorization({
            from: payer.address,
            to: payee,
            value: 1_000n,
            now,
          }),
        }),
      ),
    );
  });

  after(async () => {
    await env?.stop();
  });

  const parameters = () => ({
    router: env.router,
    token: USDC_ADDRESS,
    feeRecipient: env.relayer.address,
    items,
  });

  it("a router address without code is a RouterNotDeployedError, before anything is sent", async () => {
    const nowhere = privateKeyToAccount(generatePrivateKey()).address;
    const error = await rejection(() =>
      settleAuthorizations(env.relayerClient, { ...parameters(), router: nowhere }),
    );
    expect(error).to.be.instanceOf(RouterNotDeployedError);
    expect((error as RouterNotDeployedError).router).to.equal(nowhere);
    expect(await env.balanceOf(payee)).to.equal(0n);
  });

  it("a relayer without ETH gets per-item failures that carry the node's short message", async () => {
    const broke = privateKeyToAccount(generatePrivateKey());
    const client = createWalletClient({ account: broke, transport: env.transport }).extend(
      publicActions,
    );
    const outcome = await settleAuthorizations(client, parameters());
    expect(outcome.settled).to.equal(0);
    expect(outcome.transactions).to.have.length(0);
    expect(outcome.results).to.have.length(items.length);
    for (const result of outcome.results) {
      expect(result.status).to.equal("failure");
      if (result.status !== "failure") continue;
      expect(result.reason).to.equal("unexpected_settle_error");
      expect(result.message).to.match(/exceeds the balance|insufficient funds|enough funds/i);
      expect(result.cause).to.be.instanceOf(Error);
    }
    expect(await env.balanceOf(payee)).to.equal(0n);
  });

  it("an unreachable node is a SettlementNodeError with the transport's error as cause", async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const client = createWalletClient({
      account: env.relayer,
      transport: http(url, { retryCount: 0 }),
    }).extend(publicActions);
    const error = await rejection(() => settleAuthorizations(client, parameters()));
    expect(error).to.be.instanceOf(SettlementNodeError);
    const { shortMessage, details, cause } = error as SettlementNodeError;
    expect(shortMessage).to.equal("The node did not answer eth_getCode for the router.");
    expect(cause).to.be.instanceOf(Error);
    expect(details).to.be.a("string").and.not.equal("");
  });

  it("a malformed token address is an InvalidBatchInputError naming the field", async () => {
    for (const field of ["token", "router", "feeRecipient"] as const) {
      const error = await rejection(() =>
        settleAuthorizations(env.relayerClient, {
          ...parameters(),
          [field]: "0x1234" as Address,
        }),
      );
      expect(error, field).to.be.instanceOf(InvalidBatchInputError);
      expect((error as InvalidBatchInputError).field).to.equal(field);
      expect((error as InvalidBatchInputError).details).to.include('"0x1234"');
    }
  });
});
