import { expect } from "chai";
import { encodeAbiParameters, keccak256, toHex, type Address, type Hex, type Log } from "viem";

import { USDC_ADDRESS } from "../../src/chain/base.js";
import {
  maxItemsUnderGasBound,
  ROUTER_AUTH_STATE_GAS,
  ROUTER_ITEM_GAS_LIMIT,
  settleGasBound,
} from "../../src/batch/gasProfiles.js";
import { bumpFees } from "../../src/batch/bumpFees.js";
import { Admission } from "../../src/facilitator/admission.js";
import { answerFor, paymentIdentifierOf } from "../../src/facilitator/answers.js";
import { BlockGrid, LATE_CUTOFF_MS } from "../../src/facilitator/blockGrid.js";
import { GroupCommit } from "../../src/facilitator/groupCommit.js";
import { findSettlementProof } from "../../src/facilitator/settlementProof.js";
import { FacilitatorStore, type NewPayment } from "../../src/facilitator/store.js";
import { TokenQueues } from "../../src/facilitator/tokenQueues.js";

const PAYER: Address = "0x1111111111111111111111111111111111111111";
const PAYEE: Address = "0x2222222222222222222222222222222222222222";
const ROUTER: Address = "0x3333333333333333333333333333333333333333";
const NONCE: Hex = `0x${"ab".repeat(32)}`;
const TX: Hex = `0x${"cd".repeat(32)}`;

describe("facilitator parts: the block-grid scheduler", function () {
  it("waits maxWaitMs without a block time or before any head was seen", function () {
    expect(new BlockGrid({ maxWaitMs: 500 }).delay(1_000)).to.equal(500);
    const grid = new BlockGrid({ blockTimeMs: 2_000, maxWaitMs: 500 });
    expect(grid.delay(1_000)).to.equal(500);
  });

  it("sends flushMarginMs before the next block, capped by maxWaitMs", function () {
    const grid = new BlockGrid({ blockTimeMs: 2_000, flushMarginMs: 200, maxWaitMs: 5_000 });
    grid.observe(10_000);
    // Next block due at 12,000: send at 11,800.
    expect(grid.delay(10_500)).to.equal(1_300);
    expect(grid.delay(11_000)).to.equal(800);
    // Several blocks later, the grid carries on.
    expect(grid.delay(17_000)).to.equal(17_800 - 17_000);
    const capped = new BlockGrid({ blockTimeMs: 2_000, flushMarginMs: 200, maxWaitMs: 300 });
    capped.observe(10_000);
    expect(capped.delay(10_500)).to.equal(300);
  });

  it("gathers late payments into one more batch LATE_CUTOFF_MS before the block, else the next block", function () {
    const grid = new BlockGrid({ blockTimeMs: 2_000, flushMarginMs: 200, maxWaitMs: 5_000 });
    grid.observe(10_000);
    // Past 11,800 but before 11,940: sent at 11,940.
    expect(grid.delay(11_850)).to.equal(12_000 - LATE_CUTOFF_MS - 11_850);
    // Past the late cutoff: aimed at the block after.
    expect(grid.delay(11_960)).to.equal(14_000 - 200 - 11_960);
  });

  it("moves the grid earlier at once and later only slowly", function () {
    const grid = new BlockGrid({ blockTimeMs: 2_000, maxWaitMs: 5_000 });
    grid.observe(10_300);
    // The next head seen 100 ms earlier on the grid than predicted: the grid moves 100 ms earlier.
    grid.observe(12_200);
    expect(grid.anchor).to.equal(10_200);
    // Seen 500 ms late (polling, a busy event loop): the grid moves only a tenth of that.
    grid.observe(14_700);
    expect(grid.anchor).to.equal(10_250);
    // Sightings far apart still land on the grid.
    grid.observe(30_250 + 2_000 * 3);
    expect(grid.anchor).to.equal(10_250);
  });
});

describe("facilitator parts: group commit and token queues", function () {
  it("writes items handed in together in one call and answers each its own result", async function () {
    const writes: number[][] = [];
    const commit = new GroupCommit<number, string>((items) => {
      writes.push([...items]);
      return items.map((item) => `#${item}`);
    });
    const results = await Promise.all([1, 2, 3].map((item) => commit.add(item)));
    expect(results).to.deep.equal(["#1", "#2", "#3"]);
    expect(writes).to.deep.equal([[1, 2, 3]]);
    expect(await commit.add(4)).to.equal("#4");
    expect(writes).to.have.length(2);
  });

  it("fails every item of a group whose write failed, and drains", async function () {
    const commit = new GroupCommit<number, number>(() => {
      throw new Error("disk full");
    });
    const outcomes = await Promise.allSettled([commit.add(1), commit.add(2)]);
    expect(outcomes.map((o) => o.status)).to.deep.equal(["rejected", "rejected"]);
    await commit.drain();
    expect(commit.pending).to.equal(0);
  });

  it("flushes a token's queue when full or when its delay runs out, per token", async function () {
    const sent: [Address, number[]][] = [];
    const queues = new TokenQueues<number>({
      maxBatchSize: 3,
      delay: () => 20,
      send: (token, payments) => sent.push([token, payments]),
    });
    const other: Address = "0x4444444444444444444444444444444444444444";
    for (const payment of [1, 2, 3, 4]) queues.push(USDC_ADDRESS, payment);
    queues.push(other, 9);
    expect(sent).to.deep.equal([[USDC_ADDRESS, [1, 2, 3]]]);
    expect(queues.size).to.equal(2);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(sent).to.have.deep.members([
      [USDC_ADDRESS, [1, 2, 3]],
      [USDC_ADDRESS, [4]],
      [other, [9]],
    ]);
    expect(queues.size).to.equal(0);
  });
});

describe("facilitator parts: the worst-case gas bound", function () {
  it("covers the router's whole per-item allowance and fits the batch under the cap", function () {
    const eoa = { signature: `0x${"11".repeat(65)}` as Hex };
    const one = settleGasBound({ items: [eoa] });
    const two = settleGasBound({ items: [eoa, eoa] });
    expect(two - one > ROUTER_ITEM_GAS_LIMIT + ROUTER_AUTH_STATE_GAS).to.equal(true);
    const max = maxItemsUnderGasBound();
    expect(settleGasBound({ items: Array(max).fill(eoa) }) <= 16_777_216n).to.equal(true);
    expect(settleGasBound({ items: Array(max + 1).fill(eoa) }) > 16_777_216n).to.equal(true);
    const wallet = { contractSignature: true, signature: `0x${"11".repeat(1000)}` as Hex };
    expect(settleGasBound({ items: [wallet] }) > one).to.equal(true);
  });

  it("bumps replacement fees by at least the percentage and to the market", function () {
    expect(bumpFees({ maxFeePerGas: 100n, maxPriorityFeePerGas: 10n }, 25)).to.deep.equal({
      maxFeePerGas: 126n,
      maxPriorityFeePerGas: 13n,
    });
    expect(
      bumpFees({ maxFeePerGas: 100n, maxPriorityFeePerGas: 10n }, 5, {
        maxFeePerGas: 500n,
        maxPriorityFeePerGas: 50n,
      }),
    ).to.deep.equal({ maxFeePerGas: 500n, maxPriorityFeePerGas: 50n });
  });
});

describe("facilitator parts: admission", function () {
  const options = {
    assets: [USDC_ADDRESS],
    minAmount: 10n,
    router: ROUTER,
    maxPendingPerPayer: 2,
    maxPending: 3,
  };
  const payment = (id: string, payer = PAYER, value = 100n) => ({
    id,
    token: USDC_ADDRESS,
    payer,
    payee: PAYEE,
    value,
  });

  it("refuses other assets, amounts below the minimum, payments to the router", function () {
    const admission = new Admission(options);
    expect(admission.policy(payment("a"))).to.equal(undefined);
    expect(admission.policy({ ...payment("a"), token: PAYEE })?.reason).to.equal(
      "facilitator_asset_not_allowed",
    );
    expect(admission.policy(payment("a", PAYER, 9n))?.reason).to.equal(
      "facilitator_amount_below_minimum",
    );
    expect(admission.policy(payment("a", PAYER, 0n))?.reason).to.equal(
      "facilitator_amount_below_minimum",
    );
    expect(admission.policy({ ...payment("a"), payee: ROUTER })?.reason).to.equal(
      "facilitator_pay_to_router",
    );
  });

  it("reserves queued value against the balance and enforces the pending limits", function () {
    const admission = new Admission(options);
    expect(admission.reserve(payment("a"), 150n)).to.equal(undefined);
    // The same payment again does not reserve twice.
    expect(admission.reserve(payment("a"), 150n)).to.equal(undefined);
    expect(admission.reservedOf(USDC_ADDRESS, PAYER)).to.equal(100n);
    // A second payment the balance cannot also cover.
    expect(admission.reserve(payment("b"), 150n)?.reason).to.equal(
      "invalid_exact_evm_insufficient_balance",
    );
    expect(admission.reserve(payment("b"), 200n)).to.equal(undefined);
    const perPayer = admission.reserve(payment("c"), 1_000n);
    expect(perPayer).to.include({ reason: "facilitator_payer_pending_limit", status: 429 });
    expect(admission.reserve(payment("d", PAYEE), 1_000n)).to.equal(undefined);
    const global = admission.reserve(payment("e", ROUTER), 1_000n);
    expect(global).to.include({ reason: "facilitator_pending_limit", status: 429 });
    admission.release("a");
    expect(admission.reservedOf(USDC_ADDRESS, PAYER)).to.equal(100n);
    expect(admission.reserve(payment("c"), 200n)).to.equal(undefined);
    // A check without commit reserves nothing.
    admission.release("c");
    expect(admission.reserve(payment("f"), 200n, false)).to.equal(undefined);
    expect(admission.pending).to.equal(2);
  });
});

function log(address: Address, topics: Hex[], data: Hex, logIndex: number, tx = TX): Log {
  return {
    address,
    topics: topics as [Hex, ...Hex[]],
    data,
    logIndex,
    transactionHash: tx,
    blockNumber: 7n,
    blockHash: TX,
    transactionIndex: 0,
    removed: false,
  };
}
const pad = (address: Address) => `0x${address.slice(2).toLowerCase().padStart(64, "0")}` as Hex;
const usedTopic = keccak256(toHex("AuthorizationUsed(address,bytes32)"));
const transferTopic = keccak256(toHex("Transfer(address,address,uint256)"));
const used = (nonce: Hex, index: number) =>
  log(USDC_ADDRESS, [usedTopic, pad(PAYER), nonce], "0x", index);
const transfer = (value: bigint, index: number, to = PAYEE) =>
  log(
    USDC_ADDRESS,
    [transferTopic, pad(PAYER), pad(to)],
    encodeAbiParameters([{ type: "uint256" }], [value]),
    index,
  );

describe("facilitator parts: the settlement proof", function () {
  const payment = { token: USDC_ADDRESS, payer: PAYER, payee: PAYEE, value: 1_000n, nonce: NONCE };

  it("accepts the Transfer right after the payment's own AuthorizationUsed", function () {
    const proof = findSettlementProof([used(NONCE, 3), transfer(1_000n, 4)], payment);
    expect(proof).to.deep.include({
      transactionHash: TX,
      authorizationLogIndex: 3,
      transferLogIndex: 4,
    });
  });

  it("refuses a matching Transfer that another authorization made (one transfer, many nonces)", function () {
    const other: Hex = `0x${"ef".repeat(32)}`;
    // Authorization `other` moved the value; this payment's nonce was used with value 0.
    const logs = [used(other, 0), transfer(1_000n, 1), used(NONCE, 2), transfer(0n, 3)];
    expect(findSettlementProof(logs, payment)).to.equal(undefined);
    expect(findSettlementProof(logs, { ...payment, nonce: other })).to.not.equal(undefined);
  });

  it("refuses another payee, another value, a gap between the logs, another token", function () {
    expect(findSettlementProof([used(NONCE, 0), transfer(1_000n, 1, ROUTER)], payment)).to.equal(
      undefined,
    );
    expect(findSettlementProof([used(NONCE, 0), transfer(999n, 1)], payment)).to.equal(undefined);
    expect(findSettlementProof([used(NONCE, 0), transfer(1_000n, 2)], payment)).to.equal(undefined);
    const foreign = { ...transfer(1_000n, 1), address: PAYEE };
    expect(findSettlementProof([used(NONCE, 0), foreign], payment)).to.equal(undefined);
  });
});

describe("facilitator parts: answers", function () {
  const row: NewPayment = {
    id: "8453:usdc:payer:nonce",
    fingerprint: TX,
    x402Version: 2,
    network: "eip155:8453",
    token: USDC_ADDRESS,
    payer: PAYER,
    payee: PAYEE,
    value: 1_000n,
    validAfter: 0n,
    validBefore: 2n ** 40n,
    nonce: NONCE,
    signature: `0x${"11".repeat(65)}`,
    contractSignature: false,
    fromBlock: 1n,
  };

  it("reads x402's payment-identifier and refuses a malformed one", function () {
    const body = (id: unknown) => ({
      paymentPayload: { extensions: { "payment-identifier": { info: { required: false, id } } } },
    });
    expect(paymentIdentifierOf({})).to.deep.equal({ ok: true });
    expect(paymentIdentifierOf(body(undefined))).to.deep.equal({ ok: true });
    expect(paymentIdentifierOf(body("pay_7d5d747be160e280"))).to.deep.equal({
      ok: true,
      id: "pay_7d5d747be160e280",
    });
    expect(paymentIdentifierOf(body("short")).ok).to.equal(false);
    expect(paymentIdentifierOf(body("pay_7d5d747be160e280!")).ok).to.equal(false);
    expect(paymentIdentifierOf(body(42)).ok).to.equal(false);
  });

  it("answers success once per payment, again only to the same identifier, across restarts", function () {
    const store = new FacilitatorStore(":memory:");
    store.insertPayment(row);
    // Not settled yet: pending for everyone, no success given.
    expect(answerFor(store, store.getPayment(row.id)!, undefined).errorReason).to.equal(
      "settlement_pending",
    );
    store.resolvePayment(row.id, { status: "settled", txHash: TX });
    const settled = store.getPayment(row.id)!;
    const first = answerFor(store, settled, "pay_aaaaaaaaaaaaaaaa");
    expect(first).to.include({ success: true, transaction: TX });
    expect(answerFor(store, settled, "pay_aaaaaaaaaaaaaaaa")).to.deep.equal(first);
    expect(answerFor(store, settled, undefined)).to.include({
      success: false,
      errorReason: "invalid_exact_evm_nonce_already_used",
    });
    expect(answerFor(store, settled, "pay_bbbbbbbbbbbbbbbb").success).to.equal(false);
    expect(store.getPayment(row.id)).to.include({
      answered: true,
      answerId: "pay_aaaaaaaaaaaaaaaa",
    });
    store.close();
  });

  it("abandons a batch and requeues its payments in one store transaction", function () {
    const store = new FacilitatorStore(":memory:");
    store.insertPayment(row);
    const batchId = store.recordBatch({ txHash: TX, rawTx: "0x01", relayerNonce: 4 }, [row.id]);
    expect(store.getPayment(row.id)?.status).to.equal("submitted");
    store.abandonBatch(batchId);
    expect(store.getBatch(batchId)?.status).to.equal("abandoned");
    expect(store.getPayment(row.id)).to.include({ status: "queued", batchId: null });
    store.close();
  });
});
