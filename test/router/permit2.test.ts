import { expect } from "chai";
import { encodeFunctionData, maxUint256, parseSignature, type Address, type Hex } from "viem";

import { permit2Abi } from "../../src/abi/permit2.js";
import { PERMIT2_ADDRESS } from "../../src/chain/base.js";
import {
  decodePermit2SettleReceipt,
  planPermit2Batches,
  verifyRouterPermit2Payments,
} from "../../src/batch/permit2Items.js";
import { decodeRevertReason } from "../../src/errors/decodeRevertReason.js";
import { isPermit2NonceUsed } from "../../src/permit2/nonces.js";
import { InvalidPermit2InputError } from "../../src/permit2/errors.js";
import {
  decodePermit2Items,
  encodePermit2Items,
  PERMIT2_EOA_ITEM_SIZE,
  PERMIT2_GROUP_HEADER_SIZE,
  PERMIT2_SHORT_NONCE_EOA_ITEM_SIZE,
  ROUTER_PAYMENT_WITNESS_TYPE_STRING,
  signPermit2Approval,
  verifyRouterPermit2Signature,
} from "../../src/permit2/router.js";
import { account } from "./fixtures.js";
import {
  AMOUNT,
  DEADLINE,
  deployPermit2Stack,
  FEE,
  permit2TokenAbi,
  transfersFrom,
  type Permit2Stack,
  type Permit2TokenName,
} from "./permit2Fixtures.js";

const TOKENS: Permit2TokenName[] = ["FiatTokenV2_2", "NoReturnToken"];

/** The error `promise` rejects with (throws if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

describe("SettlementRouter Permit2 items", function () {
  let s: Permit2Stack;

  before(async function () {
    s = await deployPermit2Stack();
  });

  it("the router's witness type string is the toolkit's", async function () {
    expect(await s.router.read.PERMIT2_WITNESS_TYPE_STRING()).to.equal(
      ROUTER_PAYMENT_WITNESS_TYPE_STRING,
    );
    expect(await s.router.read.PERMIT2()).to.equal(PERMIT2_ADDRESS);
  });

  for (const token of TOKENS) {
    it(`${token}: settles a batch, netted: one payout per payee and one fee payout`, async function () {
      const payers = [0, 1, 2, 3].map((i) => account(`p2-settle-${token}-${i}`));
      const payees = [
        account(`p2-payee-${token}-a`).address,
        account(`p2-payee-${token}-b`).address,
      ];
      for (const payer of payers) await s.fundAndApprove(token, payer, AMOUNT * 2n);
      const items = await Promise.all(
        payers.map((payer, i) =>
          s.sign(token, payer, payees[i % 2]!, { label: `settle-${token}-${i}` }),
        ),
      );
      const [batch] = planPermit2Batches({ items, maxItemsPerBatch: 10 });
      const before = await s.balanceOf(token, s.feeRecipient);
      const { results, receipt } = await s.settle(batch!);
      expect(results.map((r) => r.status)).to.deep.equal(Array(4).fill("success"));
      for (const payee of payees)
        expect(await s.balanceOf(token, payee)).to.equal(2n * (AMOUNT - FEE));
      expect((await s.balanceOf(token, s.feeRecipient)) - before).to.equal(4n * FEE);
      expect(await s.balanceOf(token, s.routerAddress)).to.equal(0n);
      for (const payer of payers) expect(await s.balanceOf(token, payer.address)).to.equal(AMOUNT);
      // Planned adjacent by payee: two payee payouts and one fee payout from the router.
      expect(transfersFrom(receipt.logs, s.tokens[token], s.routerAddress)).to.equal(3);
      for (const item of items)
        expect(
          await isPermit2NonceUsed(s.client, { owner: item.owner, nonce: item.nonce }),
        ).to.equal(true);
    });
  }

  it("settles nonces of any width the payer signs: 128-bit ones beside full 256-bit ones", async function () {
    const token: Permit2TokenName = "NoReturnToken";
    const payee = account("p2-width-payee").address;
    const payers = [0, 1, 2, 3].map((i) => account(`p2-width-${i}`));
    for (const payer of payers) await s.fundAndApprove(token, payer, AMOUNT);
    const nonces = [5n, (1n << 256n) - 3n, (1n << 128n) - 1n, 1n << 255n];
    const items = await Promise.all(
      payers.map((payer, i) => s.sign(token, payer, payee, { nonce: nonces[i]! })),
    );
    const { results } = await s.settle(items);
    expect(results.map((r) => r.status)).to.deep.equal(Array(4).fill("success"));
    expect(await s.balanceOf(token, payee)).to.equal(4n * (AMOUNT - FEE));
    for (const item of items)
      expect(await isPermit2NonceUsed(s.client, { owner: item.owner, nonce: item.nonce })).to.equal(
        true,
      );
  });

  it("isolates every failure kind; each gets its status and decoded reason", async function () {
    const token: Permit2TokenName = "NoReturnToken";
    const payee = account("p2-iso-payee").address;
    const good = [0, 1].map((i) => account(`p2-iso-good-${i}`));
    const [used, badSig, expired, early, feeHigh, poor, listed, swapped] = [
      "used",
      "badsig",
      "expired",
      "early",
      "fee",
      "poor",
      "listed",
      "swapped",
    ].map((label) => account(`p2-iso-${label}`));
    for (const payer of [...good, used!, badSig!, expired!, early!, feeHigh!, listed!, swapped!])
      await s.fundAndApprove(token, payer, AMOUNT * 2n);
    await s.fundAndApprove(token, poor!, AMOUNT / 2n);
    await s.relayerWallet.writeContract({
      address: s.tokens[token],
      abi: permit2TokenAbi,
      functionName: "addBlackList",
      args: [listed!.address],
    });
    const usedItem = await s.sign(token, used!, payee, { label: "iso-used" });
    await s.settle([usedItem]);
    const other = account("p2-iso-not-the-owner");
    const forged = await s.sign(token, other, payee, { label: "iso-forged" });
    const swappedItem = await s.sign(token, swapped!, payee, { label: "iso-swapped" });
    const items = [
      await s.sign(token, good[0]!, payee, { label: "iso-good-0" }),
      usedItem,
      { ...forged, owner: badSig!.address },
      await s.sign(token, expired!, payee, { label: "iso-expired", deadline: 1_100n }),
      await s.sign(token, early!, payee, { label: "iso-early", validAfter: DEADLINE - 1n }),
      { ...(await s.sign(token, feeHigh!, payee, { label: "iso-fee" })), fee: AMOUNT + 1n },
      await s.sign(token, poor!, payee, { label: "iso-poor" }),
      await s.sign(token, listed!, payee, { label: "iso-listed" }),
      { ...swappedItem, fee: 0n },
      await s.sign(token, good[1]!, payee, { label: "iso-good-1" }),
    ];
    // The fee-above-amount item cannot be built by the toolkit: pack it by hand.
    const packed = encodePermit2Items(
      items.map((item, i) => (i === 5 ? { ...item, fee: 0n } : item)),
    );
    // One group (one payee): its header, five items (128-bit nonces), then item 5's fee field.
    const feeOffset = PERMIT2_GROUP_HEADER_SIZE + PERMIT2_SHORT_NONCE_EOA_ITEM_SIZE * 5 + 33;
    const raw =
      `0x${packed.slice(2, 2 + feeOffset * 2)}${(AMOUNT + 1n).toString(16).padStart(24, "0")}${packed.slice(2 + (feeOffset + 12) * 2)}` as Hex;
    const hash = await s.relayerWallet.writeContract({
      address: s.routerAddress,
      abi: s.router.abi,
      functionName: "settlePermit2",
      args: [s.tokens[token], s.feeRecipient, raw],
    });
    const receipt = await s.client.waitForTransactionReceipt({ hash });
    const results = decodePermit2SettleReceipt({ receipt, router: s.routerAddress, items });
    expect(
      results.map((r) => (r.status === "success" ? "Settled" : `${r.itemStatus}:${r.reason}`)),
    ).to.deep.equal([
      "Settled",
      "AuthorizationUsed:invalid_exact_evm_nonce_already_used",
      "TokenReverted:invalid_permit2_signature",
      "TokenReverted:permit2_deadline_expired",
      "NotYetValid:permit2_not_yet_valid",
      "FeeExceedsValue:router_fee_exceeds_value",
      "TokenReverted:permit2_transfer_from_failed",
      "TokenReverted:permit2_transfer_from_failed",
      "TokenReverted:invalid_permit2_signature",
      "Settled",
    ]);
    expect(await s.balanceOf(token, payee)).to.equal(3n * (AMOUNT - FEE));
    expect(await s.balanceOf(token, s.routerAddress)).to.equal(0n);
    expect(await s.balanceOf(token, poor!.address)).to.equal(AMOUNT / 2n);
    for (const item of items.slice(2, 9))
      expect(await isPermit2NonceUsed(s.client, { owner: item.owner, nonce: item.nonce })).to.equal(
        false,
      );
  });

  it("a failed payout undoes its payee's group only (blacklisted payee, silent false return)", async function () {
    const token: Permit2TokenName = "NoReturnToken";
    const listedPayee = account("p2-payout-listed").address;
    const goodPayee = account("p2-payout-good").address;
    const payers = [0, 1, 2].map((i) => account(`p2-payout-${i}`));
    for (const payer of payers) await s.fundAndApprove(token, payer, AMOUNT * 4n);
    await s.relayerWallet.writeContract({
      address: s.tokens[token],
      abi: permit2TokenAbi,
      functionName: "addBlackList",
      args: [listedPayee],
    });
    const items = [
      await s.sign(token, payers[0]!, listedPayee, { label: "payout-0" }),
      await s.sign(token, payers[1]!, listedPayee, { label: "payout-1" }),
      await s.sign(token, payers[2]!, goodPayee, { label: "payout-2" }),
    ];
    const { results } = await s.settle(items);
    expect(results.map((r) => (r.status === "success" ? "Settled" : r.itemStatus))).to.deep.equal([
      "PayoutFailed",
      "PayoutFailed",
      "Settled",
    ]);
    expect(await s.balanceOf(token, payers[0]!.address)).to.equal(AMOUNT * 4n);
    expect(
      await isPermit2NonceUsed(s.client, { owner: payers[0]!.address, nonce: items[0]!.nonce }),
    ).to.equal(false);
    expect(await s.balanceOf(token, goodPayee)).to.equal(AMOUNT - FEE);

    // A transfer that returns false without reverting is a failed payout, not a success.
    await s.relayerWallet.writeContract({
      address: s.tokens[token],
      abi: permit2TokenAbi,
      functionName: "setFailSilently",
      args: [true],
    });
    try {
      const silent = await s.sign(token, payers[2]!, goodPayee, {
        label: "payout-silent",
        fee: 0n,
      });
      const { results: silentResults } = await s.settle([silent]);
      expect(silentResults[0]!.status === "failure" && silentResults[0]!.itemStatus).to.equal(
        "PayoutFailed",
      );
      expect(await s.balanceOf(token, goodPayee)).to.equal(AMOUNT - FEE);
      expect(await s.balanceOf(token, payers[2]!.address)).to.equal(AMOUNT * 3n);
      expect(
        await isPermit2NonceUsed(s.client, { owner: silent.owner, nonce: silent.nonce }),
      ).to.equal(false);
    } finally {
      await s.relayerWallet.writeContract({
        address: s.tokens[token],
        abi: permit2TokenAbi,
        functionName: "setFailSilently",
        args: [false],
      });
    }
  });

  it("nothing that did not move is reported settled: a silent pull is AmountNotReceived, a silent payout undoes its group, a silent fee payout reverts the call", async function () {
    const token: Permit2TokenName = "NoReturnToken";
    // Transfers from or to the silent account return nothing and move nothing.
    const silence = async (who: Address) => {
      const hash = await s.relayerWallet.writeContract({
        address: s.tokens[token],
        abi: permit2TokenAbi,
        functionName: "setSilentAccount",
        args: [who],
      });
      await s.client.waitForTransactionReceipt({ hash });
    };
    const nonceUsed = (item: { owner: Address; nonce: bigint }) =>
      isPermit2NonceUsed(s.client, { owner: item.owner, nonce: item.nonce });
    const [payeeA, payeeB, silentPayee] = ["a", "b", "silent"].map(
      (l) => account(`p2-silent-payee-${l}`).address,
    );
    const payers = [0, 1, 2, 3, 4, 5, 6].map((i) => account(`p2-silent-${i}`));
    for (const payer of payers) await s.fundAndApprove(token, payer, AMOUNT * 2n);
    try {
      // The pull: the silent payer's transferFrom moves nothing; its neighbours in the same
      // group and the next group settle.
      await silence(payers[1]!.address);
      const pulls = [
        await s.sign(token, payers[0]!, payeeA!, { label: "silent-pull-0" }),
        await s.sign(token, payers[1]!, payeeA!, { label: "silent-pull-1" }),
        await s.sign(token, payers[2]!, payeeA!, { label: "silent-pull-2" }),
        await s.sign(token, payers[3]!, payeeB!, { label: "silent-pull-3" }),
      ];
      const fees = await s.balanceOf(token, s.feeRecipient);
      const { results } = await s.settle(pulls);
      expect(
        results.map((r) => (r.status === "success" ? "Settled" : `${r.itemStatus}:${r.reason}`)),
      ).to.deep.equal([
        "Settled",
        "AmountNotReceived:router_amount_not_received",
        "Settled",
        "Settled",
      ]);
      expect(await s.balanceOf(token, payeeA!)).to.equal(2n * (AMOUNT - FEE));
      expect(await s.balanceOf(token, payeeB!)).to.equal(AMOUNT - FEE);
      expect((await s.balanceOf(token, s.feeRecipient)) - fees).to.equal(3n * FEE);
      expect(await s.balanceOf(token, s.routerAddress)).to.equal(0n);
      expect(await nonceUsed(pulls[1]!)).to.equal(false);
      for (const i of [0, 2, 3]) expect(await nonceUsed(pulls[i]!)).to.equal(true);

      // The payout: the silent payee's transfer moves nothing; its group is undone, the other
      // payee's group settles.
      await silence(silentPayee!);
      const payouts = [
        await s.sign(token, payers[4]!, silentPayee!, { label: "silent-payout-4" }),
        await s.sign(token, payers[5]!, silentPayee!, { label: "silent-payout-5" }),
        await s.sign(token, payers[6]!, payeeB!, { label: "silent-payout-6" }),
      ];
      const { results: paid } = await s.settle(payouts);
      expect(
        paid.map((r) => (r.status === "success" ? "Settled" : `${r.itemStatus}:${r.reason}`)),
      ).to.deep.equal([
        "PayoutFailed:router_payout_failed",
        "PayoutFailed:router_payout_failed",
        "Settled",
      ]);
      for (const i of [4, 5]) {
        expect(await s.balanceOf(token, payers[i]!.address)).to.equal(AMOUNT * 2n);
        expect(await nonceUsed(payouts[i - 4]!)).to.equal(false);
      }
      expect(await s.balanceOf(token, payeeB!)).to.equal(2n * (AMOUNT - FEE));
      expect(await s.balanceOf(token, s.routerAddress)).to.equal(0n);

      // The fee payout: the submitter's fee recipient takes nothing; the whole call reverts.
      await silence(s.feeRecipient);
      const feeItem = await s.sign(token, payers[4]!, payeeA!, { label: "silent-fee" });
      const error = await rejection(
        s.client.call({
          account: s.relayer,
          to: s.routerAddress,
          data: encodeFunctionData({
            abi: s.router.abi,
            functionName: "settlePermit2",
            args: [s.tokens[token], s.feeRecipient, encodePermit2Items([feeItem])],
          }),
        }),
      );
      expect(decodeRevertReason(error).reason).to.equal("router_fee_payout_failed");
    } finally {
      await silence("0x0000000000000000000000000000000000000000");
    }
  });

  it("a signature counts once: a direct Permit2 call fails, a duplicate is AuthorizationUsed, no double pay", async function () {
    const token: Permit2TokenName = "FiatTokenV2_2";
    const payer = account("p2-once-payer");
    const payee = account("p2-once-payee").address;
    await s.fundAndApprove(token, payer, AMOUNT * 5n);
    const item = await s.sign(token, payer, payee, { label: "once" });
    // Someone front-runs with the same signature straight at Permit2: the spender is the router.
    const [, attacker] = await s.conn.viem.getWalletClients();
    const frontRun = attacker!.writeContract({
      address: PERMIT2_ADDRESS,
      abi: permit2Abi,
      functionName: "permitWitnessTransferFrom",
      args: [
        {
          permitted: { token: item.token, amount: item.amount },
          nonce: item.nonce,
          deadline: item.deadline,
        },
        { to: attacker!.account.address, requestedAmount: item.amount },
        item.owner,
        "0x0000000000000000000000000000000000000000000000000000000000000000",
        ROUTER_PAYMENT_WITNESS_TYPE_STRING,
        item.signature,
      ],
    });
    expect(decodeRevertReason(await rejection(frontRun)).reason).to.equal(
      "invalid_permit2_signature",
    );
    const { results } = await s.settle([item, item]);
    expect(results.map((r) => (r.status === "success" ? "Settled" : r.itemStatus))).to.deep.equal([
      "Settled",
      "AuthorizationUsed",
    ]);
    const { results: again } = await s.settle([item]);
    expect(again[0]!.status === "failure" && again[0]!.itemStatus).to.equal("AuthorizationUsed");
    expect(await s.balanceOf(token, payee)).to.equal(AMOUNT - FEE);
    expect(await s.balanceOf(token, payer.address)).to.equal(AMOUNT * 4n);
  });

  it("EIP-2612 ride-along: the permit approving Permit2 settles the first payment, a front-run permit does not sink it", async function () {
    const token: Permit2TokenName = "FiatTokenV2_2";
    const chainId = await s.client.getChainId();
    const usdc = { name: "USD Coin", version: "2", chainId, verifyingContract: s.tokens[token] };
    const payee = account("p2-permit-payee").address;
    const fresh = account("p2-permit-fresh");
    const raced = account("p2-permit-raced");
    const unapproved = account("p2-permit-bad");
    await s.fund(token, [fresh.address, raced.address, unapproved.address], AMOUNT * 3n);
    const permitOf = (owner: typeof fresh, nonce = 0n) =>
      signPermit2Approval(owner, { token: usdc, value: maxUint256, nonce, deadline: DEADLINE });
    const freshPermit = await permitOf(fresh);
    const racedPermit = await permitOf(raced);
    // Signed with the wrong EIP-2612 nonce: the permit reverts and no allowance covers the item.
    const badPermit = await permitOf(unapproved, 7n);
    // The raced payer's permit is submitted straight to the token first.
    const { r, s: sv, v } = parseSignature(racedPermit.signature);
    await s.relayerWallet.writeContract({
      address: s.tokens[token],
      abi: permit2TokenAbi,
      functionName: "permit",
      args: [raced.address, PERMIT2_ADDRESS, maxUint256, DEADLINE, Number(v), r, sv],
    });
    const items = [
      { ...(await s.sign(token, fresh, payee, { label: "permit-fresh" })), permit: freshPermit },
      { ...(await s.sign(token, raced, payee, { label: "permit-raced" })), permit: racedPermit },
      { ...(await s.sign(token, unapproved, payee, { label: "permit-bad" })), permit: badPermit },
    ];
    const verdicts = await verifyRouterPermit2Payments(s.client, {
      chainId,
      router: s.routerAddress,
      payments: items,
    });
    expect(verdicts.map((v) => v.valid)).to.deep.equal([true, true, true]);
    const { results } = await s.settle(items);
    expect(
      results.map((r) => (r.status === "success" ? "Settled" : `${r.itemStatus}:${r.reason}`)),
    ).to.deep.equal(["Settled", "Settled", "PermitFailed:router_permit_failed"]);
    expect(
      await s.client.readContract({
        address: s.tokens[token],
        abi: permit2TokenAbi,
        functionName: "allowance",
        args: [fresh.address, PERMIT2_ADDRESS],
      }),
    ).to.equal(maxUint256 - AMOUNT); // FiatToken spends even an unlimited allowance
    expect(await s.balanceOf(token, payee)).to.equal(2n * (AMOUNT - FEE));
    expect(await s.balanceOf(token, unapproved.address)).to.equal(AMOUNT * 3n);
  });

  it("the facilitator's check refuses what the router and Permit2 would refuse", async function () {
    const token: Permit2TokenName = "NoReturnToken";
    const chainId = await s.client.getChainId();
    const payee = account("p2-verify-payee").address;
    const [ok, used, unapproved, poor] = ["ok", "used", "unapproved", "poor"].map((l) =>
      account(`p2-verify-${l}`),
    );
    for (const payer of [ok!, used!]) await s.fundAndApprove(token, payer, AMOUNT * 2n);
    await s.fund(token, [unapproved!.address], AMOUNT * 2n);
    await s.fundAndApprove(token, poor!, AMOUNT - 1n);
    const usedItem = await s.sign(token, used!, payee, { label: "verify-used" });
    await s.settle([usedItem]);
    const okItem = await s.sign(token, ok!, payee, { label: "verify-ok" });
    const now = BigInt((await s.client.getBlock()).timestamp);
    const payments = [
      okItem,
      usedItem,
      await s.sign(token, unapproved!, payee, { label: "verify-unapproved" }),
      await s.sign(token, poor!, payee, { label: "verify-poor" }),
      { ...okItem, payee: account("p2-verify-other").address },
      await s.sign(token, ok!, payee, { label: "verify-expired", deadline: now - 1n }),
      await s.sign(token, ok!, payee, { label: "verify-early", validAfter: now + 100n }),
      { ...okItem, router: account("p2-verify-not-router").address },
    ];
    const verdicts = await verifyRouterPermit2Payments(s.client, {
      chainId,
      router: s.routerAddress,
      payments,
      now,
    });
    expect(verdicts.map((v) => (v.valid ? "valid" : v.reason))).to.deep.equal([
      "valid",
      "permit2_invalid_nonce",
      "permit2_allowance_required",
      "permit2_insufficient_balance",
      "invalid_permit2_signature",
      "permit2_deadline_expired",
      "permit2_not_yet_valid",
      "invalid_permit2_spender",
    ]);
    expect(verifyRouterPermit2Signature({ chainId, payment: okItem }).valid).to.equal(true);
  });

  it("differential: the compact-signature hot path and the plain-Solidity signature path agree item by item", async function () {
    const token: Permit2TokenName = "NoReturnToken";
    const outcome = async (path: "compact" | "bytes") => {
      const payee = account(`p2-diff-payee-${path}`).address;
      const [ok, used, forged, expired, poor, fee] = [
        "ok",
        "used",
        "forged",
        "expired",
        "poor",
        "fee",
      ].map((l) => account(`p2-diff-${path}-${l}`));
      for (const payer of [ok!, used!, forged!, expired!, fee!])
        await s.fundAndApprove(token, payer, AMOUNT * 2n);
      await s.fundAndApprove(token, poor!, 1n);
      const usedItem = await s.sign(token, used!, payee, { label: `diff-${path}-used` });
      await s.settle([usedItem]);
      const other = await s.sign(token, account("p2-diff-other"), payee, {
        label: `diff-${path}-forged`,
      });
      const items = [
        await s.sign(token, ok!, payee, { label: `diff-${path}-ok` }),
        usedItem,
        { ...other, owner: forged!.address },
        await s.sign(token, expired!, payee, { label: `diff-${path}-expired`, deadline: 1_100n }),
        await s.sign(token, poor!, payee, { label: `diff-${path}-poor` }),
        await s.sign(token, fee!, payee, { label: `diff-${path}-fee`, fee: 0n }),
      ].map((item) => ({ ...item, contractSignature: path === "bytes" }));
      const before = await s.balanceOf(token, payee);
      const { results } = await s.settle(items);
      return {
        results: results.map((r) =>
          r.status === "success" ? "Settled" : `${r.itemStatus}:${r.revertData}`,
        ),
        paid: (await s.balanceOf(token, payee)) - before,
      };
    };
    const compact = await outcome("compact");
    expect(compact.results.filter((r) => r === "Settled")).to.have.length(2);
    expect(await outcome("bytes")).to.deep.equal(compact);
  });

  it("refuses outside callers of the group entry point and malformed groups or items, at their offset", async function () {
    const [, outsider] = await s.conn.viem.getWalletClients();
    const outside = await rejection(
      outsider!.writeContract({
        address: s.routerAddress,
        abi: s.router.abi,
        functionName: "settlePermit2Group",
        args: [s.tokens.NoReturnToken, s.feeRecipient, s.feeRecipient, 0n, false, "0x"],
      }),
    );
    expect(decodeRevertReason(outside).reason).to.equal("router_unauthorized_caller");
    const payer = account("p2-malformed");
    await s.fundAndApprove("NoReturnToken", payer, AMOUNT * 2n);
    const [first, second] = await Promise.all(
      [0, 1].map((i) =>
        s.sign("NoReturnToken", payer, account(`p2-m-payee-${i}`).address, {
          nonce: (1n << 255n) + BigInt(i),
        }),
      ),
    );
    // Two groups of one item each (256-bit nonces): [header 0..23) [item 23..173) [header 173..196)
    // [item 196..346).
    const packed = encodePermit2Items([first!, second!]).slice(2);
    const second0 = 2 * (PERMIT2_GROUP_HEADER_SIZE + PERMIT2_EOA_ITEM_SIZE);
    const size = (n: number) => n.toString(16).padStart(6, "0");
    const secondHeader = (n: number) => `${packed.slice(second0, second0 + 40)}${size(n)}`;
    const secondItem = packed.slice(second0 + 46);
    const cases: [string, string, number][] = [
      ["the last byte missing", packed.slice(0, -2), 173],
      ["a truncated header", packed.slice(0, second0 + 30), 173],
      ["an empty group", `${packed.slice(0, second0)}${secondHeader(0)}${secondItem}`, 173],
      [
        "an item past its group",
        `${packed.slice(0, second0)}${secondHeader(PERMIT2_EOA_ITEM_SIZE - 1)}${secondItem}`,
        196,
      ],
      [
        "unknown flags",
        `${packed.slice(0, second0)}${secondHeader(PERMIT2_EOA_ITEM_SIZE)}08${secondItem.slice(2)}`,
        196,
      ],
    ];
    for (const [name, bad, offset] of cases) {
      const error = await rejection(
        s.client.call({
          account: s.relayer,
          to: s.routerAddress,
          data: encodeFunctionData({
            abi: s.router.abi,
            functionName: "settlePermit2",
            args: [s.tokens.NoReturnToken, s.feeRecipient, `0x${bad}`],
          }),
        }),
      );
      const decoded = decodeRevertReason(error);
      expect(decoded.reason, name).to.equal("router_malformed_items");
      expect(decoded.args, name).to.deep.equal([BigInt(offset)]);
      expect(() => decodePermit2Items(`0x${bad}`), name).to.throw(InvalidPermit2InputError);
    }
    // The well-formed batch settles both groups, each paid to its own payee.
    const { results } = await s.settle([first!, second!]);
    expect(results.map((r) => r.status)).to.deep.equal(["success", "success"]);
    expect(decodePermit2Items(`0x${packed}`)).to.have.length(2);
  });
});
