import { expect } from "chai";
import {
  encodeAbiParameters,
  encodeEventTopics,
  getAddress,
  numberToHex,
  parseAbi,
  toHex,
  type Address,
  type Hex,
  type Log,
  type TransactionReceipt,
} from "viem";
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";

import { settlementRouterAbi } from "../../src/abi/settlementRouter.js";
import { buildDirectAuthorization } from "../../src/authorization/buildDirectAuthorization.js";
import { buildRoutedAuthorization } from "../../src/authorization/buildRoutedAuthorization.js";
import { readTokenDomain } from "../../src/authorization/readTokenDomain.js";
import { signAuthorization } from "../../src/authorization/signAuthorization.js";
import type { SignedAuthorization, TokenDomain } from "../../src/authorization/types.js";
import { decodeSettleReceipt } from "../../src/batch/decodeSettleReceipt.js";
import { dropFailures } from "../../src/batch/dropFailures.js";
import { encodeItems } from "../../src/batch/encodeItems.js";
import {
  InvalidBatchInputError,
  SettleReceiptMismatchError,
  SettleTransactionRevertedError,
} from "../../src/batch/errors.js";
import {
  FIAT_TOKEN_V2_2_GAS_PROFILE,
  X402_TEST_TOKEN_GAS_PROFILE,
} from "../../src/batch/gasProfiles.js";
import { planBatches } from "../../src/batch/planBatches.js";
import { submitBatch } from "../../src/batch/submitBatch.js";
import { TRANSACTION_GAS_CAP, USDC_ADDRESS } from "../../src/chain/base.js";
import {
  failedItemReason,
  failedItemStatus,
  itemStatusReason,
  UnknownItemStatusError,
} from "../../src/errors/itemStatus.js";
import { startSettlementChain } from "./fixture.js";

const authorizationUsedAbi = parseAbi([
  "event AuthorizationUsed(address indexed authorizer, bytes32 indexed nonce)",
]);
const address = (n: number): Address => getAddress(numberToHex(n, { size: 20 }));
const bytes32 = (n: number): Hex => numberToHex(n, { size: 32 });
/** A low-s 65-byte signature shape (the planner never checks signatures). */
const signature = `0x${"11".repeat(32)}${"22".repeat(32)}1b` as Hex;

function direct(from: number, nonce: number, to = 0xa11ce): SignedAuthorization {
  return {
    kind: "direct",
    from: address(from),
    to: address(to),
    value: 1_000n,
    validAfter: 0n,
    validBefore: 2_000_000_000n,
    nonce: bytes32(nonce),
    signature,
  };
}

function routed(from: number, salt: number, payee: number): SignedAuthorization {
  return {
    kind: "routed",
    from: address(from),
    to: address(0xb0b0),
    value: 1_000n,
    validAfter: 0n,
    validBefore: 2_000_000_000n,
    nonce: bytes32(1_000_000 + salt),
    payee: address(payee),
    fee: 10n,
    feeRecipient: address(0xfee),
    salt: bytes32(salt),
    signature,
  };
}

describe("toolkit: batch planning and receipt decoding (unit)", () => {
  it("plans nothing for no items", () => {
    expect(planBatches({ items: [] })).to.deep.equal({ batches: [], duplicates: [] });
  });

  it("drops repeated (from, nonce) pairs, whatever the case of the hex, keeping the first", () => {
    const first = direct(1, 7);
    const again = { ...direct(1, 7, 0xbeef), from: first.from.toLowerCase() as Address };
    const upper = { ...direct(1, 7), nonce: first.nonce.toUpperCase().replace("0X", "0x") as Hex };
    const { batches, duplicates } = planBatches({ items: [first, direct(2, 7), again, upper] });
    expect(duplicates).to.deep.equal([
      { index: 2, duplicateOf: 0 },
      { index: 3, duplicateOf: 0 },
    ]);
    expect(batches.flatMap((batch) => batch.indices)).to.deep.equal([0, 1]);
  });

  it("puts direct items first in input order, then routed items grouped by payee (stable)", () => {
    const items = [
      routed(1, 1, 0x300),
      direct(2, 2),
      routed(3, 3, 0x100),
      routed(4, 4, 0x300),
      direct(5, 5),
      routed(6, 6, 0x100),
      routed(7, 7, 0x200),
    ];
    const [batch, ...rest] = planBatches({ items }).batches;
    expect(rest).to.have.length(0);
    expect(batch!.indices).to.deep.equal([1, 4, 2, 5, 6, 0, 3]);
    expect(batch!.routedGroups).to.equal(3);
    // USDC's model, by hand: base 40,400 + 2 direct × 47,400 + 1 direct payee 22,200
    // + 5 routed × 47,800 + routed fee payout 30,800 + 3 groups × 30,300 = 518,100.
    expect(batch!.estimatedGas).to.equal(518_100n);
    // Selector and three ABI words (token, fee recipient, offset) + length word = 132 bytes, then
    // 2 × 165 + 5 × 181 = 1,235 packed bytes padded to 1,248.
    expect(batch!.calldataBytes).to.equal(1_380);
    expect((encodeItems(batch!.items).length - 2) / 2).to.equal(1_235);
  });

  it("fills each batch up to the gas budget and no further", () => {
    const items = Array.from({ length: 1_000 }, (_, i) => direct(i + 1, i, 0xa11ce + (i % 3)));
    // By hand, budget 2^24 - 400,000 = 16,377,216, three payees per batch:
    // USDC: (16,377,216 - 40,400 - 3 × 22,200) / 47,400 = 343.2 → 343 items, 16,365,200 gas;
    // test token: (16,377,216 - 29,300 - 3 × 22,200) / 40,200 = 405.0 → 405 items, 16,376,900 gas.
    const cases = [
      {
        gasProfile: FIAT_TOKEN_V2_2_GAS_PROFILE,
        sizes: [343, 343, 314],
        gas: [16_365_200n, 16_365_200n, 14_990_600n],
      },
      {
        gasProfile: X402_TEST_TOKEN_GAS_PROFILE,
        sizes: [405, 405, 190],
        gas: [16_376_900n, 16_376_900n, 7_733_900n],
      },
    ];
    for (const { gasProfile, sizes, gas } of cases) {
      const { batches } = planBatches({ items, gasProfile });
      expect(batches.map((batch) => batch.items.length)).to.deep.equal(sizes);
      expect(batches.map((batch) => batch.estimatedGas)).to.deep.equal(gas);
      expect(
        batches.every((batch) => batch.estimatedGas <= TRANSACTION_GAS_CAP - 400_000n),
      ).to.equal(true);
    }
  });

  it("respects a calldata limit, a per-batch item cap and a custom gas limit", () => {
    const items = Array.from({ length: 100 }, (_, i) =>
      i % 2 === 0 ? direct(i + 1, i) : routed(i + 1, i, 0x100 + (i % 5)),
    );
    const bySize = planBatches({ items, maxCalldataBytes: 2_000 }).batches;
    expect(bySize.every((batch) => batch.calldataBytes <= 2_000)).to.equal(true);
    expect(bySize.length).to.be.greaterThan(1);
    const byCount = planBatches({ items, maxItemsPerBatch: 7 }).batches;
    expect(byCount.map((batch) => batch.items.length)).to.deep.equal([...Array(14).fill(7), 2]);
    // 50 direct items of one payee first, then 50 routed items, 10 per payee, in five groups.
    // 2,000 bytes leave 1,856 padded item bytes: 11 direct (1,815); 6 direct + 4 routed (1,714);
    // 10 routed (1,810).
    expect(bySize.map((batch) => batch.items.length)).to.deep.equal([
      11, 11, 11, 11, 10, 10, 10, 10, 10, 6,
    ]);
    const byGas = planBatches({ items, gasLimit: 1_000_000n, reserveGas: 100_000n }).batches;
    expect(byGas.every((batch) => batch.estimatedGas <= 900_000n)).to.equal(true);
    // 900,000 gas: 17 direct (62,600 + 17 × 47,400 = 868,400), 16 direct and no routed item after
    // them (821,000 + 108,900 > 900,000); routed: 71,200 + groups × 30,300 + items × 47,800, so
    // 10 + 6 items over 2 groups (896,600), 4 + 10 + 1 over 3 (879,100), 9 + 7 over 2, then 3.
    expect(byGas.map((batch) => batch.items.length)).to.deep.equal([17, 17, 16, 16, 15, 16, 3]);
    expect(byGas.map((batch) => batch.estimatedGas)).to.deep.equal([
      868_400n,
      868_400n,
      821_000n,
      896_600n,
      879_100n,
      896_600n,
      244_900n,
    ]);
    // Routed groups are counted per batch, also when a payee's items span two batches.
    for (const batch of byCount) {
      const payees = batch.items.flatMap((item) => (item.kind === "routed" ? [item.payee] : []));
      const groups = payees.filter((payee, i) => i === 0 || payee !== payees[i - 1]).length;
      expect(batch.routedGroups).to.equal(groups);
    }
  });

  it("sizes contract-wallet items by their signature and rejects impossible limits", () => {
    const wallet = {
      ...direct(1, 1),
      signature: `0x${"ab".repeat(300)}` as Hex,
      contractSignature: true,
    };
    const [batch] = planBatches({ items: [wallet] }).batches;
    // 101-byte head + 2-byte length + 300 signature bytes = 403, padded to 416, + 132.
    expect(batch!.calldataBytes).to.equal(548);
    // 40,400 + 47,400 + 22,200 + 40,000 (ERC-1271 check) + 16 × 403 = 156,448.
    expect(batch!.estimatedGas).to.equal(156_448n);
    expect(() => planBatches({ items: [direct(1, 1)], gasLimit: 100_000n })).to.throw(
      InvalidBatchInputError,
    );
    expect(() => planBatches({ items: [direct(1, 1)], maxItemsPerBatch: 0 })).to.throw(
      InvalidBatchInputError,
    );
  });

  describe("decodeSettleReceipt", () => {
    const router = address(0x7777);
    const token = address(0x833);
    const hash = bytes32(0xabc);
    const batchLog = (statuses: number[], emitter = router): Log =>
      ({
        address: emitter,
        topics: encodeEventTopics({
          abi: settlementRouterAbi,
          eventName: "BatchSettled",
          args: { token },
        }),
        data: encodeAbiParameters([{ type: "bytes" }], [toHex(new Uint8Array(statuses))]),
      }) as Log;
    const usedLog = (from: Address, nonce: Hex, emitter = token): Log =>
      ({
        address: emitter,
        topics: encodeEventTopics({
          abi: authorizationUsedAbi,
          eventName: "AuthorizationUsed",
          args: { authorizer: from, nonce },
        }),
        data: "0x",
      }) as unknown as Log;
    const failedLog = (
      index: number,
      from: Address,
      nonce: Hex,
      status: number,
      reason: Hex,
    ): Log =>
      ({
        address: router,
        topics: encodeEventTopics({
          abi: settlementRouterAbi,
          eventName: "PaymentFailed",
          args: { index: BigInt(index), authorizer: from },
        }),
        data: encodeAbiParameters(
          [{ type: "bytes32" }, { type: "uint8" }, { type: "bytes" }],
          [nonce, status, reason],
        ),
      }) as Log;
    const receipt = (logs: Log[], status: "success" | "reverted" = "success") =>
      ({ transactionHash: hash, status, logs }) as unknown as TransactionReceipt;
    // Error(string) "ERC20: transfer amount exceeds balance", as USDC reverts on a short balance.
    const insufficient = ("0x08c379a0" +
      encodeAbiParameters([{ type: "string" }], ["ERC20: transfer amount exceeds balance"]).slice(
        2,
      )) as Hex;

    it("reads statuses from BatchSettled, payers of settled items from the token's events, reasons from PaymentFailed", () => {
      const results = decodeSettleReceipt({
        router,
        itemCount: 5,
        receipt: receipt([
          usedLog(address(1), bytes32(1)),
          usedLog(address(9), bytes32(9), address(0x8888)), // another token: ignored
          failedLog(1, address(2), bytes32(2), 1, "0x"),
          failedLog(2, address(3), bytes32(3), 2, insufficient),
          usedLog(address(4), bytes32(4)),
          failedLog(4, address(5), bytes32(5), 3, "0x"),
          batchLog([0, 1, 2, 0, 3]),
          batchLog([2, 2, 2, 2, 2], address(0x9999)), // another router: ignored
        ]),
      });
      expect(
        results.map((r) => [
          r.index,
          r.status,
          r.from,
          r.status === "failure" ? r.reason : r.nonce,
        ]),
      ).to.deep.equal([
        [0, "success", address(1), bytes32(1)],
        [1, "failure", address(2), "invalid_exact_evm_nonce_already_used"],
        [2, "failure", address(3), "invalid_exact_evm_insufficient_balance"],
        [3, "success", address(4), bytes32(4)],
        [4, "failure", address(5), "router_fee_exceeds_value"],
      ]);
      expect(results[2]).to.include({
        itemStatus: "TokenReverted",
        transactionHash: hash,
        revertData: insufficient,
      });
    });

    it("maps every status byte the one way: 0-8 to their reasons, any other byte to UnknownItemStatusError", () => {
      // Written out from ISettlementRouter.ItemStatus, not derived from the toolkit's table.
      const expected: Record<number, string | undefined> = {
        0: undefined,
        1: "invalid_exact_evm_nonce_already_used",
        2: "unknown_revert",
        3: "router_fee_exceeds_value",
        4: "router_payout_failed",
        5: "router_invalid_signature_length",
        6: "permit2_not_yet_valid",
        7: "router_permit_failed",
        8: "router_amount_not_received",
      };
      const names = [
        undefined,
        "AuthorizationUsed",
        "TokenReverted",
        "FeeExceedsValue",
        "PayoutFailed",
        "InvalidSignatureLength",
        "NotYetValid",
        "PermitFailed",
        "AmountNotReceived",
      ];
      for (let status = 0; status < 256; status += 1) {
        if (status in expected) {
          expect(itemStatusReason(status), `status ${status}`).to.equal(expected[status]);
          expect(itemStatusReason(status, "0x"), `status ${status}, empty data`).to.equal(
            expected[status],
          );
          if (status === 0) {
            expect(() => failedItemStatus(0)).to.throw(UnknownItemStatusError);
            continue;
          }
          expect(failedItemStatus(status)).to.equal(names[status]);
          // Through the receipt decoder, one failed item with that status and no revert data.
          const [result] = decodeSettleReceipt({
            router,
            itemCount: 1,
            receipt: receipt([
              failedLog(0, address(1), bytes32(1), status, "0x"),
              batchLog([status]),
            ]),
          });
          expect(result).to.include({ status: "failure", itemStatus: names[status] });
          expect(result!.status === "failure" && result!.reason).to.equal(expected[status]);
        } else {
          expect(() => itemStatusReason(status), `status ${status}`).to.throw(
            UnknownItemStatusError,
          );
          expect(() => failedItemStatus(status), `status ${status}`).to.throw(
            UnknownItemStatusError,
          );
          expect(() =>
            decodeSettleReceipt({
              router,
              receipt: receipt([
                failedLog(0, address(1), bytes32(1), status, insufficient),
                batchLog([status]),
              ]),
            }),
          ).to.throw(UnknownItemStatusError);
        }
      }
      // TokenReverted is refined by the token's revert data, the same through both paths.
      expect(itemStatusReason(2, insufficient)).to.equal("invalid_exact_evm_insufficient_balance");
      expect(failedItemReason("TokenReverted", insufficient)).to.equal(
        "invalid_exact_evm_insufficient_balance",
      );
      expect(failedItemReason("FeeExceedsValue", insufficient)).to.equal(
        "router_fee_exceeds_value",
      );
    });

    it("throws typed errors for a reverted transaction and for logs that do not add up", () => {
      const decode = (logs: Log[], itemCount?: number) =>
        decodeSettleReceipt({
          router,
          receipt: receipt(logs),
          ...(itemCount ? { itemCount } : {}),
        });
      expect(() => decodeSettleReceipt({ router, receipt: receipt([], "reverted") })).to.throw(
        SettleTransactionRevertedError,
      );
      expect(() => decode([])).to.throw(SettleReceiptMismatchError); // no BatchSettled
      expect(() => decode([usedLog(address(1), bytes32(1)), batchLog([0])], 2)).to.throw(
        SettleReceiptMismatchError,
      ); // wrong item count
      expect(() => decode([batchLog([0])])).to.throw(SettleReceiptMismatchError); // no token event
      expect(() => decode([batchLog([1])])).to.throw(SettleReceiptMismatchError); // no PaymentFailed
      expect(() =>
        decode([usedLog(address(1), bytes32(1)), usedLog(address(2), bytes32(2)), batchLog([0])]),
      ).to.throw(SettleReceiptMismatchError); // an extra token event
      expect(() =>
        decode([
          usedLog(address(1), bytes32(1)),
          failedLog(0, address(1), bytes32(1), 2, "0x"),
          batchLog([0]),
        ]),
      ).to.throw(SettleReceiptMismatchError); // a failure event for a settled item
      expect(decode([usedLog(address(1), bytes32(1)), batchLog([0])], 1)).to.have.length(1);
    });
  });

  it("dropFailures keeps predicted successes in order and the failures with their reasons", () => {
    const items = ["a", "b", "c"];
    const outcome = (index: number, ok: boolean) =>
      ok
        ? { status: "success" as const, index, from: address(index + 1), nonce: bytes32(index) }
        : {
            status: "failure" as const,
            index,
            from: address(index + 1),
            nonce: bytes32(index),
            itemStatus: "AuthorizationUsed" as const,
            reason: "invalid_exact_evm_nonce_already_used" as const,
          };
    const result = dropFailures({
      items,
      simulation: {
        outcomes: [outcome(0, true), outcome(1, false), outcome(2, true)],
        settled: 2,
        failed: 1,
      },
    });
    expect(result.items).to.deep.equal(["a", "c"]);
    expect(result.kept).to.deep.equal([0, 2]);
    expect(result.dropped.map(({ item, outcome }) => [item, outcome.reason])).to.deep.equal([
      ["b", "invalid_exact_evm_nonce_already_used"],
    ]);
    expect(() =>
      dropFailures({ items: ["a"], simulation: { outcomes: [], settled: 0, failed: 0 } }),
    ).to.throw(RangeError);
  });
});

describe("toolkit: the planner's shipped USDC model against real receipts (JSON-RPC chain)", function () {
  let env: Awaited<ReturnType<typeof startSettlementChain>>;
  let domain: TokenDomain;

  before(async function () {
    env = await startSettlementChain();
    domain = await readTokenDomain(env.testClient, { token: USDC_ADDRESS });
  });
  after(async () => {
    await env?.stop();
  });

  /** Signs one payment per payer; routed ones go through the router to their payee. */
  async function sign(
    payers: readonly PrivateKeyAccount[],
    payment: (index: number) => { kind: "direct" | "routed"; payee: Address },
  ): Promise<SignedAuthorization[]> {
    const now = (await env.testClient.getBlock()).timestamp;
    return Promise.all(
      payers.map((payer, index) => {
        const { kind, payee } = payment(index);
        const authorization =
          kind === "direct"
            ? buildDirectAuthorization({ from: payer.address, to: payee, value: 1_000n, now })
            : buildRoutedAuthorization({
                from: payer.address,
                router: env.router,
                payee,
                value: 1_000n,
                fee: 10n,
                feeRecipient: env.relayer.address,
                now,
              });
        return signAuthorization(payer, { domain, authorization });
      }),
    );
  }

  /** Sends a planned batch; its receipt gas against the plan's estimate. */
  async function measure(batch: { items: SignedAuthorization[]; estimatedGas: bigint }) {
    const { receipt } = await submitBatch(env.relayerClient, {
      router: env.router,
      token: USDC_ADDRESS,
      feeRecipient: env.relayer.address,
      items: batch.items,
    });
    const results = decodeSettleReceipt({
      receipt,
      router: env.router,
      itemCount: batch.items.length,
    });
    expect(results.every((result) => result.status === "success")).to.equal(true);
    return {
      gasUsed: receipt.gasUsed,
      ratio: Number(receipt.gasUsed) / Number(batch.estimatedGas),
    };
  }

  it("a full batch (343 direct items) uses at most the planned gas, and at least 98% of it", async function () {
    const payees = Array.from(
      { length: 3 },
      () => privateKeyToAccount(generatePrivateKey()).address,
    );
    const payers = await env.newPayers(344, 10_000n);
    const items = await sign(payers, (i) => ({ kind: "direct", payee: payees[i % 3]! }));
    const { batches } = planBatches({ items });
    expect(batches.map((batch) => batch.items.length)).to.deep.equal([343, 1]);
    const { gasUsed, ratio } = await measure(batches[0]!);
    process.stdout.write(
      `      343 items: ${gasUsed} gas, ${(ratio * 100).toFixed(2)}% of the plan\n`,
    );
    // Never more than planned (what keeps a full batch under the cap), and the model is tight: it
    // rounds up about 1%, so the planner leaves at most a few items' worth of the budget unused.
    expect(gasUsed <= batches[0]!.estimatedGas).to.equal(true);
    expect(ratio).to.be.greaterThan(0.98);
  });

  it("a mixed batch (direct and routed, several payees) uses at most the planned gas, and at least 98% of it", async function () {
    const payees = Array.from(
      { length: 4 },
      () => privateKeyToAccount(generatePrivateKey()).address,
    );
    const payers = await env.newPayers(60, 10_000n);
    const items = await sign(payers, (i) => ({
      kind: i % 2 === 0 ? "direct" : "routed",
      payee: payees[i % 4]!,
    }));
    const [batch, ...rest] = planBatches({ items }).batches;
    expect(rest).to.have.length(0);
    expect(batch!.routedGroups).to.equal(2);
    const { gasUsed, ratio } = await measure(batch!);
    process.stdout.write(
      `      60 mixed items: ${gasUsed} gas, ${(ratio * 100).toFixed(2)}% of the plan\n`,
    );
    expect(gasUsed <= batch!.estimatedGas).to.equal(true);
    expect(ratio).to.be.greaterThan(0.98);
  });
});
