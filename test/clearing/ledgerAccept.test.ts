import { expect } from "chai";
import { type Address, type Hex, keccak256, toHex, zeroAddress } from "viem";
import { type PrivateKeyAccount, privateKeyToAccount } from "viem/accounts";

import { computeVoucherFee } from "../../src/clearing/computeVoucherFee.js";
import { getClearingHouseDomain } from "../../src/clearing/getClearingHouseDomain.js";
import { LedgerStoreError } from "../../src/clearing/ledgerErrors.js";
import { createMemoryLedgerStore, type LedgerStore } from "../../src/clearing/ledgerStore.js";
import { OperatorLedger } from "../../src/clearing/OperatorLedger.js";
import { signVoucher } from "../../src/clearing/signVoucher.js";
import type { ClearingHouseDomain, SignedVoucher } from "../../src/clearing/types.js";

const key = (label: string) =>
  privateKeyToAccount(keccak256(toHex(`x402-clearing:ledger-test:${label}`)));
const payer = key("payer");
const session = key("session");
const stranger = key("stranger");
const payeeA = key("payee-a").address;
const payeeB = key("payee-b").address;
const operator = key("operator").address;
const token = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913" as Address;
const clearingHouse = "0x000000000000000000000000000000000000c1ea" as Address;
const domain = getClearingHouseDomain({ chainId: 8453, clearingHouse });
const FEE = { basisPoints: 100 };

function newLedger(
  options: {
    balance?: bigint;
    withdrawal?: bigint;
    voucherSigner?: Address;
    store?: LedgerStore;
  } = {},
) {
  const ledger = new OperatorLedger({
    clearingHouse,
    chainId: 8453,
    operator,
    tokens: [token],
    fee: FEE,
    store: options.store ?? createMemoryLedgerStore(),
  });
  ledger.setAccount({
    payer: payer.address,
    token,
    balance: options.balance ?? 1_000_000n,
    voucherSigner: options.voucherSigner ?? session.address,
    withdrawalDelay: 3_600,
    withdrawalAmount: options.withdrawal ?? 0n,
    withdrawalReadyAt: options.withdrawal ? 1_900_000_000 : 0,
  });
  return ledger;
}

async function voucher(
  value: bigint,
  options: {
    signer?: PrivateKeyAccount;
    payee?: Address;
    fee?: bigint;
    operator?: Address;
    token?: Address;
    domain?: ClearingHouseDomain;
  } = {},
): Promise<SignedVoucher> {
  return signVoucher(options.signer ?? session, {
    domain: options.domain ?? domain,
    voucher: {
      payer: payer.address,
      payee: options.payee ?? payeeA,
      token: options.token ?? token,
      operator: options.operator ?? operator,
      cumulativeValue: value,
      cumulativeFee: options.fee ?? computeVoucherFee(FEE, value),
    },
  });
}

/** A store whose appends resolve only after a macrotask, as a durable store's would. */
function slowStore(): LedgerStore & { appended: number } {
  const inner = createMemoryLedgerStore();
  const store = {
    appended: 0,
    async append(record: Parameters<LedgerStore["append"]>[0]) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      store.appended++;
      inner.append(record);
    },
    load: () => inner.load(),
  };
  return store;
}

const reasonOf = (result: Awaited<ReturnType<OperatorLedger["accept"]>>) =>
  result.accepted ? "accepted" : result.reason;

describe("clearing: OperatorLedger.accept", () => {
  it("accepts the vouchers of concurrent requests in every arrival order", async () => {
    const vouchers = await Promise.all([10_000n, 20_000n, 30_000n].map((v) => voucher(v)));
    const orders = [
      [0, 1, 2],
      [0, 2, 1],
      [1, 0, 2],
      [1, 2, 0],
      [2, 0, 1],
      [2, 1, 0],
    ];
    for (const order of orders) {
      const ledger = newLedger();
      for (const i of order) {
        const result = await ledger.accept({
          voucher: vouchers[i]!,
          price: 10_000n,
          payee: payeeA,
        });
        expect(reasonOf(result), `order ${order}`).to.equal("accepted");
      }
      const pair = ledger.getPair({ payer: payer.address, payee: payeeA, token })!;
      expect(pair.chargedValue).to.equal(30_000n);
      expect(pair.best!.cumulativeValue).to.equal(30_000n);
      // A fourth request has no signed cumulative left to charge.
      const more = await ledger.accept({ voucher: await voucher(35_000n), price: 10_000n });
      expect(reasonOf(more)).to.equal("cumulative_too_low");
    }
  });

  it("accepts concurrent vouchers racing through a slow store without overcharging", async () => {
    const store = slowStore();
    const ledger = newLedger({ store });
    const vouchers = await Promise.all([30_000n, 10_000n, 20_000n].map((v) => voucher(v)));
    const results = await Promise.all(
      [...vouchers, vouchers[0]!].map((v) => ledger.accept({ voucher: v, price: 10_000n })),
    );
    expect(results.map(reasonOf)).to.deep.equal([
      "accepted",
      "accepted",
      "accepted",
      "voucher_already_accepted",
    ]);
    expect(store.appended).to.equal(3);
    expect(ledger.getPair({ payer: payer.address, payee: payeeA, token })!.chargedValue).to.equal(
      30_000n,
    );
  });

  it("serializes racing accepts: two vouchers that fit only one at a time are not both taken", async () => {
    const ledger = newLedger({ store: slowStore() });
    const [a, b] = await Promise.all([voucher(20_000n), voucher(15_000n)]);
    const results = await Promise.all([
      ledger.accept({ voucher: a, price: 15_000n }),
      ledger.accept({ voucher: b, price: 10_000n }),
    ]);
    expect(results.map(reasonOf)).to.deep.equal(["accepted", "cumulative_too_low"]);
    const tight = newLedger({ balance: 30_000n, store: slowStore() });
    const [c, d] = await Promise.all([voucher(20_000n), voucher(15_000n, { payee: payeeB })]);
    const raced = await Promise.all([
      tight.accept({ voucher: c, price: 20_000n }),
      tight.accept({ voucher: d, price: 15_000n }),
    ]);
    expect(raced.map(reasonOf)).to.deep.equal(["accepted", "insufficient_balance"]);
  });

  it("accepts a voucher once, in any signature encoding, also after a restart from the store", async () => {
    const store = createMemoryLedgerStore();
    const ledger = newLedger({ store });
    const signed = await voucher(30_000n);
    expect(reasonOf(await ledger.accept({ voucher: signed, price: 10_000n }))).to.equal("accepted");
    // The signed cumulative would still cover two more requests of 10,000.
    expect(reasonOf(await ledger.accept({ voucher: signed, price: 10_000n }))).to.equal(
      "voucher_already_accepted",
    );
    const s = BigInt(`0x${signed.signature.slice(66, 130)}`);
    const parity = signed.signature.endsWith("1c") ? 1n : 0n;
    const compact =
      `${signed.signature.slice(0, 66)}${((parity << 255n) | s).toString(16).padStart(64, "0")}` as Hex;
    expect(
      reasonOf(await ledger.accept({ voucher: { ...signed, signature: compact }, price: 10_000n })),
    ).to.equal("voucher_already_accepted");

    const restarted = newLedger({ store });
    await restarted.load();
    expect(reasonOf(await restarted.accept({ voucher: signed, price: 10_000n }))).to.equal(
      "voucher_already_accepted",
    );
    expect(
      restarted.getPair({ payer: payer.address, payee: payeeA, token })!.chargedValue,
    ).to.equal(10_000n);
  });

  it("rejects a lower cumulative that leaves no room for the price", async () => {
    const ledger = newLedger();
    expect(
      reasonOf(await ledger.accept({ voucher: await voucher(30_000n), price: 30_000n })),
    ).to.equal("accepted");
    expect(
      reasonOf(await ledger.accept({ voucher: await voucher(20_000n), price: 10_000n })),
    ).to.equal("cumulative_too_low");
    // A first voucher must cover its own price too.
    const fresh = newLedger();
    expect(
      reasonOf(await fresh.accept({ voucher: await voucher(5_000n), price: 10_000n })),
    ).to.equal("cumulative_too_low");
  });

  it("rejects a fee other than the operator's terms, raised or lowered", async () => {
    const ledger = newLedger();
    const terms = computeVoucherFee(FEE, 10_000n);
    expect(terms).to.equal(100n);
    for (const fee of [terms + 1n, terms * 2n, terms - 1n, 0n]) {
      const result = await ledger.accept({
        voucher: await voucher(10_000n, { fee }),
        price: 10_000n,
      });
      expect(reasonOf(result), `fee ${fee}`).to.equal("fee_mismatch");
    }
    expect(
      reasonOf(await ledger.accept({ voucher: await voucher(10_000n), price: 10_000n })),
    ).to.equal("accepted");
  });

  it("accepts the payer and its named session key, nobody else", async () => {
    const ledger = newLedger();
    expect(
      reasonOf(
        await ledger.accept({
          voucher: await voucher(10_000n, { signer: stranger }),
          price: 10_000n,
        }),
      ),
    ).to.equal("signer_not_authorized");
    // Signed under another ClearingHouse's domain: recovers another address.
    const otherHouse = getClearingHouseDomain({ chainId: 8453, clearingHouse: stranger.address });
    expect(
      reasonOf(
        await ledger.accept({
          voucher: await voucher(10_000n, { domain: otherHouse }),
          price: 10_000n,
        }),
      ),
    ).to.equal("signer_not_authorized");
    expect(
      reasonOf(
        await ledger.accept({ voucher: await voucher(10_000n, { signer: payer }), price: 10_000n }),
      ),
    ).to.equal("accepted");
    expect(
      reasonOf(await ledger.accept({ voucher: await voucher(20_000n), price: 10_000n })),
    ).to.equal("accepted");
    const noSession = newLedger({ voucherSigner: zeroAddress });
    expect(
      reasonOf(await noSession.accept({ voucher: await voucher(10_000n), price: 10_000n })),
    ).to.equal("signer_not_authorized");
  });

  it("rejects a high-s signature and a malformed one", async () => {
    const ledger = newLedger();
    const signed = await voucher(10_000n);
    const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
    const s = BigInt(`0x${signed.signature.slice(66, 130)}`);
    const v = signed.signature.endsWith("1b") ? "1c" : "1b";
    const highS =
      `${signed.signature.slice(0, 66)}${(N - s).toString(16).padStart(64, "0")}${v}` as Hex;
    expect(
      reasonOf(await ledger.accept({ voucher: { ...signed, signature: highS }, price: 10_000n })),
    ).to.equal("invalid_signature");
    expect(
      reasonOf(
        await ledger.accept({ voucher: { ...signed, signature: "0x1234" }, price: 10_000n }),
      ),
    ).to.equal("invalid_signature");
    expect(
      reasonOf(
        await ledger.accept({ voucher: { ...signed, signature: "nothex" as Hex }, price: 10_000n }),
      ),
    ).to.equal("malformed_voucher");
    expect(
      reasonOf(
        await ledger.accept({
          voucher: { ...signed, cumulativeValue: 1n << 128n },
          price: 10_000n,
        }),
      ),
    ).to.equal("malformed_voucher");
  });

  it("keeps the accepted-but-uncleared total within the balance, across payees", async () => {
    const ledger = newLedger({ balance: 50_000n });
    // 30,000 + 1% fee = 30,300 uncleared.
    expect(
      reasonOf(await ledger.accept({ voucher: await voucher(30_000n), price: 30_000n })),
    ).to.equal("accepted");
    expect(
      reasonOf(
        await ledger.accept({ voucher: await voucher(20_000n, { payee: payeeB }), price: 20_000n }),
      ),
    ).to.equal("insufficient_balance");
    expect(
      reasonOf(
        await ledger.accept({ voucher: await voucher(19_500n, { payee: payeeB }), price: 19_500n }),
      ),
    ).to.equal("accepted");
    expect(ledger.uncleared({ payer: payer.address, token })).to.equal(30_300n + 19_695n);
  });

  it("shrinks what it accepts by a pending withdrawal", async () => {
    const ledger = newLedger({ balance: 50_000n, withdrawal: 30_000n });
    expect(
      reasonOf(await ledger.accept({ voucher: await voucher(20_000n), price: 20_000n })),
    ).to.equal("withdrawal_pending");
    expect(
      reasonOf(await ledger.accept({ voucher: await voucher(19_800n), price: 19_800n })),
    ).to.equal("accepted");
    // The same voucher fits once the withdrawal is gone.
    const free = newLedger({ balance: 50_000n });
    expect(
      reasonOf(await free.accept({ voucher: await voucher(20_000n), price: 20_000n })),
    ).to.equal("accepted");
    // A request arriving after the withdrawal request event is held to the shrunken balance.
    free.setWithdrawal({ payer: payer.address, token, amount: 40_000n, readyAt: 1_900_000_000 });
    expect(
      reasonOf(await free.accept({ voucher: await voucher(25_000n), price: 5_000n })),
    ).to.equal("withdrawal_pending");
  });

  it("rejects another operator, token or payee, an unknown account and an unverified contract signature", async () => {
    const ledger = newLedger();
    expect(
      reasonOf(
        await ledger.accept({
          voucher: await voucher(10_000n, { operator: payeeB }),
          price: 10_000n,
        }),
      ),
    ).to.equal("operator_mismatch");
    expect(
      reasonOf(
        await ledger.accept({ voucher: await voucher(10_000n, { token: payeeB }), price: 10_000n }),
      ),
    ).to.equal("token_not_supported");
    expect(
      reasonOf(
        await ledger.accept({ voucher: await voucher(10_000n), price: 10_000n, payee: payeeB }),
      ),
    ).to.equal("payee_mismatch");
    const empty = new OperatorLedger({
      clearingHouse,
      chainId: 8453,
      operator,
      tokens: [token],
      fee: FEE,
      store: createMemoryLedgerStore(),
    });
    expect(
      reasonOf(await empty.accept({ voucher: await voucher(10_000n), price: 10_000n })),
    ).to.equal("unknown_account");
    const contract = { ...(await voucher(10_000n)), contractSignature: true };
    expect(reasonOf(await ledger.accept({ voucher: contract, price: 10_000n }))).to.equal(
      "contract_signature_unverified",
    );
    expect(
      reasonOf(
        await ledger.accept({ voucher: contract, price: 10_000n, contractSignatureVerified: true }),
      ),
    ).to.equal("accepted");
  });

  it("rejects nothing it has not recorded: a failing store leaves the state unchanged", async () => {
    let fail = true;
    const inner = createMemoryLedgerStore();
    const ledger = newLedger({
      store: {
        append(record) {
          if (fail) throw new Error("disk full");
          inner.append(record);
        },
        load: () => inner.load(),
      },
    });
    const signed = await voucher(10_000n);
    let error: unknown;
    try {
      await ledger.accept({ voucher: signed, price: 10_000n });
    } catch (e) {
      error = e;
    }
    expect(error).to.be.instanceOf(LedgerStoreError);
    expect(ledger.getPair({ payer: payer.address, payee: payeeA, token })).to.be.undefined;
    fail = false;
    expect(reasonOf(await ledger.accept({ voucher: signed, price: 10_000n }))).to.equal("accepted");
    expect(inner.records).to.have.length(1);
  });
});
