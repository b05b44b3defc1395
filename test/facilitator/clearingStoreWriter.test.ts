import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { DatabaseSync } from "node:sqlite";

import { expect } from "chai";
import type { Address } from "viem";

import { USDC_ADDRESS } from "../../src/chain/base.js";
import type { AcceptedVoucherRecord } from "../../src/clearing/ledgerStore.js";
import { ClearingStore } from "../../src/facilitator/clearing/store.js";

const PRICE = 1_000n;

function record(i: number): AcceptedVoucherRecord {
  const payer = `0x${"11".repeat(20)}` as Address;
  return {
    key: `k${i}`,
    voucher: {
      payer,
      payee: `0x${"22".repeat(20)}`,
      token: USDC_ADDRESS,
      operator: `0x${"33".repeat(20)}`,
      cumulativeValue: BigInt(i + 1) * PRICE,
      cumulativeFee: BigInt(i + 1),
      signature: `0x${"ab".repeat(65)}`,
      ...(i % 2 === 1 ? { contractSignature: true } : {}),
    },
    price: PRICE,
    signer: payer,
    acceptedAt: 1_700_000_000_000 + i,
  };
}

describe("ClearingStore: the writer thread's group commit", function () {
  let dir: string;
  before(() => (dir = mkdtempSync(path.join(tmpdir(), "clearing-writer-"))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  const countIn = (file: string) => {
    const reader = new DatabaseSync(file, { readOnly: true });
    try {
      return Number(
        (reader.prepare("SELECT COUNT(*) AS n FROM clearing_vouchers").get() as { n: number }).n,
      );
    } finally {
      reader.close();
    }
  };

  it("answers each commit once its records are on disk, groups gathered behind a write in order", async function () {
    const file = path.join(dir, "groups.sqlite");
    const store = new ClearingStore(file, { gatherMs: 0 });
    const commits: Promise<number>[] = [];
    // Records appended while earlier groups are being written, with a commit after each.
    for (let i = 0; i < 60; i++) {
      store.append(record(i));
      commits.push(store.commit().then(() => countIn(file)));
      if (i % 7 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    const seen = await Promise.all(commits);
    // When commit i resolved, record i (and every one before it) was readable from the file.
    seen.forEach((count, i) => expect(count, `commit ${i}`).to.be.at.least(i + 1));
    expect(store.load().map((r) => r.key)).to.deep.equal(
      Array.from({ length: 60 }, (_, i) => `k${i}`),
    );
    expect(store.load()[5]).to.deep.equal(record(5));
    store.close();
  });

  it("close waits for the group in flight and writes what is still queued", async function () {
    const file = path.join(dir, "close.sqlite");
    const store = new ClearingStore(file, { gatherMs: 0 });
    for (let i = 0; i < 5; i++) store.append(record(i));
    const first = store.commit();
    // Let the first group reach the writer thread, then queue more behind it and close at once.
    await new Promise((resolve) => setTimeout(resolve, 1));
    for (let i = 5; i < 9; i++) store.append(record(i));
    const second = store.commit();
    store.close();
    await Promise.all([first, second]);
    const reopened = new ClearingStore(file);
    expect(reopened.load().map((r) => r.key)).to.deep.equal(
      Array.from({ length: 9 }, (_, i) => `k${i}`),
    );
    reopened.close();
  });

  it("stops after a failed write in the writer thread: that group and the ones behind it reject", async function () {
    const file = path.join(dir, "failed.sqlite");
    const store = new ClearingStore(file, { gatherMs: 0 });
    store.append(record(0));
    await store.commit();
    store.append(record(0)); // the same key again: the group's transaction fails
    const failed = store.commit().then(
      () => "resolved",
      (error: Error) => error.message,
    );
    await new Promise((resolve) => setTimeout(resolve, 1));
    let behind: Promise<string> | undefined;
    try {
      store.append(record(1));
      behind = store.commit().then(
        () => "resolved",
        (error: Error) => error.message,
      );
    } catch (error) {
      // The failure was already known: the append itself is refused.
      expect((error as Error).message).to.match(/stopped/);
    }
    expect(await failed).to.match(/could not be written/);
    if (behind) expect(await behind).to.not.equal("resolved");
    expect(() => store.append(record(2))).to.throw(/stopped/);
    store.close();
    expect(countIn(file)).to.equal(1);
  });

  it("writes inline when told to, and always for :memory:", async function () {
    const file = path.join(dir, "inline.sqlite");
    for (const store of [
      new ClearingStore(file, { writer: "inline", gatherMs: 0 }),
      new ClearingStore(":memory:", { gatherMs: 0 }),
    ]) {
      store.append(record(0));
      await store.commit();
      expect(store.voucherCount()).to.equal(1);
      store.close();
    }
  });
});
