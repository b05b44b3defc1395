import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { toClientEvmSigner } from "@x402/evm";
import { ExactEvmScheme } from "@x402/evm/exact/client";
import { expect } from "chai";
import { createWalletClient, http, maxUint256, parseAbi, type Address, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

import { PERMIT2_ADDRESS, USDC_ADDRESS } from "../../src/chain/base.js";
import { X402_EXACT_PERMIT2_PROXY_ADDRESS } from "../../src/facilitator/exactPermit2.js";
import { BatchFacilitator } from "../../src/facilitator/facilitator.js";
import { FacilitatorStore } from "../../src/facilitator/store.js";
import {
  fundedPayers,
  network,
  projectRoot,
  setAutomine,
  startLocalBase,
  usdcBalance,
  type LocalBase,
} from "./harness.js";

const approveAbi = parseAbi(["function approve(address spender, uint256 amount) returns (bool)"]);

function standInCode(): Hex {
  const file = path.join(
    projectRoot,
    "artifacts/contracts/test/mocks/ExactPermit2ProxyStandIn.sol/ExactPermit2ProxyStandIn.json",
  );
  return JSON.parse(readFileSync(file, "utf8")).deployedBytecode as Hex;
}

describe("facilitator: official exact payments through Permit2", function () {
  let base: LocalBase;
  let dir: string;
  let facilitator: BatchFacilitator;
  let store: FacilitatorStore;
  const payee: Address = privateKeyToAccount(generatePrivateKey()).address;

  before(async () => {
    base = await startLocalBase();
    dir = mkdtempSync(path.join(tmpdir(), "x402-permit2-"));
    store = new FacilitatorStore(path.join(dir, "facilitator.db"));
    facilitator = new BatchFacilitator({
      client: base.client,
      relayer: base.relayer,
      network,
      router: base.router,
      store,
      maxWaitMs: 50,
    });
    await facilitator.start();
  });

  after(async () => {
    await facilitator.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
    await base.stop();
  });

  /** A /settle body built by the official `@x402/evm` client for a Permit2 payment. */
  async function officialBody(amount: bigint) {
    const [payer] = await fundedPayers(base, 1, 1_000_000n);
    await base.testClient.setBalance({ address: payer!.address, value: 10n ** 18n });
    const wallet = createWalletClient({ account: payer!, transport: http(base.rpcUrl) });
    const hash = await wallet.writeContract({
      chain: null,
      address: USDC_ADDRESS,
      abi: approveAbi,
      functionName: "approve",
      args: [PERMIT2_ADDRESS, maxUint256],
    });
    await base.client.waitForTransactionReceipt({ hash });
    const requirements = {
      scheme: "exact",
      network: network.v2,
      asset: USDC_ADDRESS,
      amount: amount.toString(),
      payTo: payee,
      maxTimeoutSeconds: 300,
      extra: { name: "USD Coin", version: "2", assetTransferMethod: "permit2" },
    } as const;
    const client = new ExactEvmScheme(toClientEvmSigner(payer!, base.client as never));
    const created = await client.createPaymentPayload(2, requirements as never);
    return {
      payer: payer!,
      body: {
        x402Version: 2,
        paymentPayload: { ...created, accepted: requirements, resource: { url: "http://x/" } },
        paymentRequirements: requirements,
      },
    };
  }

  it("refuses it with permit2_proxy_not_deployed where x402's proxy has no code, sending nothing", async () => {
    const { body } = await officialBody(1_000n);
    const relayerNonce = await base.client.getTransactionCount({ address: base.relayer.address });
    const verified = await facilitator.verify(body);
    expect(verified.body).to.include({
      isValid: false,
      invalidReason: "permit2_proxy_not_deployed",
    });
    const settled = await facilitator.settle(body);
    expect(settled.body).to.include({ success: false, errorReason: "permit2_proxy_not_deployed" });
    expect(settled.body.errorMessage).to.match(/0x402085c248EeA27D92E8b30b2C58ed07f9E20001/);
    expect(await base.client.getTransactionCount({ address: base.relayer.address })).to.equal(
      relayerNonce,
    );
  });

  it("settles it through the proxy where it is deployed, once, and checks the recipient", async () => {
    await base.testClient.setCode({
      address: X402_EXACT_PERMIT2_PROXY_ADDRESS,
      bytecode: standInCode(),
    });
    const { payer, body } = await officialBody(2_500n);
    const before = await usdcBalance(base.client, payee);

    // The same signature presented for another recipient is refused before anything is sent.
    const redirected = structuredClone(body);
    redirected.paymentRequirements = { ...body.paymentRequirements, payTo: payer.address } as never;
    expect((await facilitator.settle(redirected)).body).to.include({
      success: false,
      errorReason: "invalid_permit2_recipient_mismatch",
    });

    expect((await facilitator.verify(body)).body).to.include({
      isValid: true,
      payer: payer.address,
    });
    const settled = await facilitator.settle(body);
    expect(settled.body).to.include({ success: true, payer: payer.address });
    expect(settled.body.transaction).to.match(/^0x[0-9a-f]{64}$/);
    expect(await usdcBalance(base.client, payee)).to.equal(before + 2_500n);

    // Its nonce is spent at Permit2: a replay is refused without a transaction.
    const relayerNonce = await base.client.getTransactionCount({ address: base.relayer.address });
    expect((await facilitator.settle(body)).body).to.include({
      success: false,
      errorReason: "permit2_invalid_nonce",
    });
    expect(await base.client.getTransactionCount({ address: base.relayer.address })).to.equal(
      relayerNonce,
    );
    expect(await usdcBalance(base.client, payee)).to.equal(before + 2_500n);
  });

  it("answers settlement_pending after settleTimeoutMs while unmined, then the outcome of that one transaction", async function () {
    this.timeout(120_000);
    await base.testClient.setCode({
      address: X402_EXACT_PERMIT2_PROXY_ADDRESS,
      bytecode: standInCode(),
    });
    const { payer, body } = await officialBody(3_000n);
    // A facilitator with a short settle timeout, on a chain that does not mine until told.
    await facilitator.close();
    store = new FacilitatorStore(path.join(dir, "facilitator-timeout.db"));
    facilitator = new BatchFacilitator({
      client: base.client,
      relayer: base.relayer,
      network,
      router: base.router,
      store,
      maxWaitMs: 50,
      settleTimeoutMs: 300,
    });
    await facilitator.start();
    const before = await usdcBalance(base.client, payee);
    const pendingNonce = () =>
      base.client.getTransactionCount({ address: base.relayer.address, blockTag: "pending" });
    const sentBefore = await pendingNonce();
    await base.testClient.setAutomine(false);
    try {
      const first = await facilitator.settle(body);
      expect(first.body).to.include({
        success: false,
        errorReason: "settlement_pending",
        payer: payer.address,
      });
      expect(first.body.transaction).to.match(/^0x[0-9a-f]{64}$/);
      // Asked again before it is mined: the same transaction, nothing new sent.
      const again = await facilitator.settle(body);
      expect(again.body).to.include({
        errorReason: "settlement_pending",
        transaction: first.body.transaction,
      });
      expect(await pendingNonce()).to.equal(sentBefore + 1);
      await base.testClient.mine({ blocks: 1 });
      const settled = await facilitator.settle(body);
      expect(settled.body).to.include({ success: true, transaction: first.body.transaction });
    } finally {
      await setAutomine(base);
    }
    expect(await usdcBalance(base.client, payee)).to.equal(before + 3_000n);
  });
});
