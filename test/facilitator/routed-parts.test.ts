import { expect } from "chai";
import { encodeAbiParameters, keccak256, toHex, type Address, type Hex, type Log } from "viem";

import {
  ROUTER_FEE_PAYOUT_GAS,
  ROUTER_ITEM_GAS_LIMIT,
  settleGasBound,
} from "../../src/batch/gasProfiles.js";
import { TRANSACTION_GAS_CAP, USDC_ADDRESS } from "../../src/chain/base.js";
import { parsePaymentRequest } from "../../src/facilitator/schemas.js";
import { findSettlementProof } from "../../src/facilitator/settlementProof.js";

const PAYER: Address = "0x1111111111111111111111111111111111111111";
const PAYEE: Address = "0x2222222222222222222222222222222222222222";
const ROUTER: Address = "0x3333333333333333333333333333333333333333";
const FEE_RECIPIENT: Address = "0x4444444444444444444444444444444444444444";
const NONCE: Hex = `0x${"ab".repeat(32)}`;
const TX: Hex = `0x${"cd".repeat(32)}`;

function log(topics: Hex[], data: Hex, logIndex: number): Log {
  return {
    address: USDC_ADDRESS,
    topics: topics as [Hex, ...Hex[]],
    data,
    logIndex,
    transactionHash: TX,
    blockNumber: 7n,
    blockHash: TX,
    transactionIndex: 0,
    removed: false,
  };
}
const pad = (address: Address) => `0x${address.slice(2).toLowerCase().padStart(64, "0")}` as Hex;
const usedTopic = keccak256(toHex("AuthorizationUsed(address,bytes32)"));
const transferTopic = keccak256(toHex("Transfer(address,address,uint256)"));
const used = (index: number) => log([usedTopic, pad(PAYER), NONCE], "0x", index);
const transfer = (from: Address, to: Address, value: bigint, index: number) =>
  log(
    [transferTopic, pad(from), pad(to)],
    encodeAbiParameters([{ type: "uint256" }], [value]),
    index,
  );

describe("facilitator parts: the routed settlement proof", function () {
  const payment = {
    kind: "routed" as const,
    token: USDC_ADDRESS,
    payer: PAYER,
    payee: PAYEE,
    value: 1_050n,
    fee: 50n,
    feeRecipient: FEE_RECIPIENT,
    nonce: NONCE,
  };
  // A routed group of two payments (the other one's logs at 2-3), then the netted payout and the fee.
  const settled = [
    used(0),
    transfer(PAYER, ROUTER, 1_050n, 1),
    log([usedTopic, pad(PAYEE), `0x${"99".repeat(32)}`], "0x", 2),
    transfer(PAYEE, ROUTER, 1_050n, 3),
    transfer(ROUTER, PAYEE, 2_000n, 4),
    transfer(ROUTER, FEE_RECIPIENT, 100n, 5),
  ];

  it("proves a routed payment by its own receipt to the router, the group's payout and the fee", function () {
    expect(findSettlementProof(settled, payment, ROUTER)).to.deep.include({
      authorizationLogIndex: 0,
      transferLogIndex: 1,
      payoutLogIndex: 4,
      feeLogIndex: 5,
    });
  });

  it("refuses without the router, a transfer to the payee instead of the router, a missing payout or fee", function () {
    expect(findSettlementProof(settled, payment)).to.equal(undefined);
    const direct = [used(0), transfer(PAYER, PAYEE, 1_050n, 1)];
    expect(findSettlementProof(direct, payment, ROUTER)).to.equal(undefined);
    expect(findSettlementProof(settled.slice(0, 4).concat(settled[5]!), payment, ROUTER)).to.equal(
      undefined,
    );
    expect(findSettlementProof(settled.slice(0, 5), payment, ROUTER)).to.equal(undefined);
    const short = [...settled.slice(0, 4), transfer(ROUTER, PAYEE, 999n, 4), settled[5]!];
    expect(findSettlementProof(short, payment, ROUTER)).to.equal(undefined);
  });

  it("needs no fee payout for a zero fee", function () {
    const free = { ...payment, value: 1_000n, fee: 0n };
    const logs = [used(0), transfer(PAYER, ROUTER, 1_000n, 1), transfer(ROUTER, PAYEE, 1_000n, 2)];
    expect(findSettlementProof(logs, free, ROUTER)).to.deep.include({ payoutLogIndex: 2 });
  });
});

describe("facilitator parts: the routed gas bound", function () {
  const signature: Hex = `0x${"11".repeat(65)}`;
  const direct = { kind: "direct" as const, signature };
  const routed = (payee: Address) => ({ kind: "routed" as const, payee, signature });

  it("adds a payout allowance per run of one payee, its self-call's 1/64, and the fee payout once", function () {
    const one = settleGasBound({ items: [routed(PAYEE)] });
    const directOne = settleGasBound({ items: [direct] });
    expect(one - directOne > ROUTER_ITEM_GAS_LIMIT + ROUTER_FEE_PAYOUT_GAS).to.equal(true);
    const grouped = settleGasBound({ items: Array.from({ length: 10 }, () => routed(PAYEE)) });
    const spread = settleGasBound({
      items: Array.from({ length: 10 }, (_, i) => routed(i % 2 === 0 ? PAYEE : PAYER)),
    });
    // Alternating payees: ten groups, nine more payouts than one group.
    expect(spread - grouped >= 9n * ROUTER_ITEM_GAS_LIMIT).to.equal(true);
    // The self-call keeps 1/64 back: a group's bound covers 64/63 of what it needs inside.
    const inner = grouped - settleGasBound({ items: [] }) - ROUTER_FEE_PAYOUT_GAS;
    const needed = 10n * (ROUTER_ITEM_GAS_LIMIT + 45_000n) + ROUTER_ITEM_GAS_LIMIT;
    expect(inner * 63n >= needed * 64n).to.equal(true);
  });

  it("fits a batch of 60 routed payments to one payee under Base's cap", function () {
    const items = Array.from({ length: 60 }, () => routed(PAYEE));
    expect(settleGasBound({ items }) < TRANSACTION_GAS_CAP).to.equal(true);
  });
});

describe("facilitator parts: routed request parsing", function () {
  const requirements = {
    scheme: "routed",
    network: "eip155:8453",
    amount: "1000",
    asset: USDC_ADDRESS,
    payTo: PAYEE,
    maxTimeoutSeconds: 300,
    extra: {
      name: "USD Coin",
      version: "2",
      router: ROUTER,
      fee: "50",
      feeRecipient: FEE_RECIPIENT,
    },
  };
  const payload = {
    authorization: {
      from: PAYER,
      to: ROUTER,
      value: "1050",
      validAfter: "0",
      validBefore: "2000000000",
      nonce: NONCE,
    },
    salt: `0x${"01".repeat(32)}`,
    signature: `0x${"11".repeat(65)}`,
  };
  const body = (p: object, accepted: object = requirements) => ({
    x402Version: 2,
    paymentPayload: { x402Version: 2, accepted, payload: p },
    paymentRequirements: requirements,
  });

  it("reads the salt and the routed terms of extra", function () {
    const parsed = parsePaymentRequest(body(payload));
    expect(parsed.ok).to.equal(true);
    if (!parsed.ok) return;
    expect(parsed.request.salt).to.equal(payload.salt);
    expect(parsed.request.requirements.extra).to.include({
      router: ROUTER,
      fee: 50n,
      feeRecipient: FEE_RECIPIENT,
    });
  });

  it("refuses a routed payload without its salt as a malformed payload", function () {
    const { salt, ...unsalted } = payload;
    void salt;
    const parsed = parsePaymentRequest(body(unsalted));
    expect(parsed.ok).to.equal(false);
    if (parsed.ok) return;
    expect(parsed.rejection.reason).to.equal("invalid_payload");
    expect(parsed.rejection.message).to.match(/salt/);
  });

  it("reads malformed routed terms as absent (the verifier names them)", function () {
    const odd = { ...requirements, extra: { ...requirements.extra, fee: "-1", router: "0x12" } };
    const parsed = parsePaymentRequest({ ...body(payload, odd), paymentRequirements: odd });
    expect(parsed.ok).to.equal(true);
    if (!parsed.ok) return;
    expect(parsed.request.requirements.extra.fee).to.equal(undefined);
    expect(parsed.request.requirements.extra.router).to.equal(undefined);
  });
});
