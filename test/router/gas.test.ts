import { expect } from "chai";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type Address, encodeFunctionData } from "viem";

import { encodeItems, type SettlementItem } from "../../src/batch/encodeItems.js";
import { TRANSACTION_GAS_CAP } from "../../src/chain/base.js";
import {
  type Stack,
  type TokenInfo,
  type TokenName,
  account,
  bytes32,
  deployStack,
  signDirect,
  signRouted,
} from "./fixtures.js";
import {
  GasSnapshotMismatchError,
  type GasSnapshots,
  checkGasSnapshots,
} from "../helpers/gasSnapshots.js";

const SNAPSHOT_FILE = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "../../gas-snapshots/router.json",
);

type Snapshot = { gasUsed: number; gasPerPayment: number; calldataBytesPerItem: number };

/** Every scenario this run measured, checked against the file exactly once all have run. */
const measured: Record<string, Snapshot & Record<string, number>> = {};

const TOKEN_SLUG: Record<TokenName, string> = {
  FiatTokenV2_2: "usdc",
  X402TestToken: "testtoken",
};

/**
 * Gas per payment as the acceptance criteria define it: receipt gas (execution, intrinsic 21k
 * share and calldata) of one batch of 100 payments from 100 distinct payers to one payee, on
 * Base's FiatTokenV2_2 at the canonical address and on the test token. The payee and the fee
 * recipient already hold a balance (a merchant and a relayer in steady state), so no batch pays
 * for creating their balances.
 */
describe("SettlementRouter: gas", function () {
  let stack: Stack;
  let counter = 0;

  before(async () => {
    stack = await deployStack();
  });

  async function freshPayers(token: TokenInfo, count: number) {
    const payers = Array.from({ length: count }, () => account(`gas-payer-${counter++}`));
    await stack.fund(
      token,
      payers.map((p) => p.address),
      1_000_000n,
    );
    return payers;
  }

  async function steadyStateParties(token: TokenInfo, label: string) {
    const payee = account(`gas-payee-${label}`).address;
    const feeRecipient = account(`gas-fee-recipient-${label}`).address;
    await stack.fund(token, [payee, feeRecipient], 1_000_000n);
    return { payee, feeRecipient };
  }

  async function measure(
    name: string,
    token: TokenInfo,
    feeRecipient: Address,
    items: SettlementItem[],
  ) {
    const result = await stack.settle(token, feeRecipient, items);
    expect(result.statuses.every((s) => s === 0)).to.equal(true);
    const gasUsed = Number(result.receipt.gasUsed);
    const snapshot = {
      gasUsed,
      gasPerPayment: Math.round(gasUsed / items.length),
      calldataBytesPerItem: result.calldataBytes / items.length,
    };
    measured[name] = snapshot;
    return snapshot;
  }

  const limits: Record<TokenName, { direct: number; routed?: number }> = {
    FiatTokenV2_2: { direct: 48_000, routed: 48_000 },
    X402TestToken: { direct: 41_500 },
  };

  for (const tokenName of ["FiatTokenV2_2", "X402TestToken"] as const) {
    const slug = TOKEN_SLUG[tokenName];

    it(`settle-direct-100-${slug}: 100 payers to one payee, direct`, async () => {
      const token = stack.tokens[tokenName];
      const { payee, feeRecipient } = await steadyStateParties(token, `direct-${slug}`);
      const payers = await freshPayers(token, 100);
      const items = await Promise.all(
        payers.map((p, i) => signDirect(token, p, payee, bytes32(`gas-direct-${slug}-${i}`))),
      );
      const { gasPerPayment, calldataBytesPerItem } = await measure(
        `settle-direct-100-${slug}`,
        token,
        feeRecipient,
        items,
      );
      expect(calldataBytesPerItem).to.equal(165);
      expect(gasPerPayment).to.be.at.most(limits[tokenName].direct);
    });

    it(`settle-routed-100-${slug}: 100 payers to one payee, routed, netted payout and fee`, async () => {
      const token = stack.tokens[tokenName];
      const { payee, feeRecipient } = await steadyStateParties(token, `routed-${slug}`);
      const payers = await freshPayers(token, 100);
      const items = await Promise.all(
        payers.map((p, i) =>
          signRouted(token, stack.router.address, p, {
            payee,
            fee: 100n,
            feeRecipient,
            salt: bytes32(`gas-routed-${slug}-${i}`),
          }),
        ),
      );
      const before = await stack.balanceOf(token, payee);
      const { gasPerPayment, calldataBytesPerItem } = await measure(
        `settle-routed-100-${slug}`,
        token,
        feeRecipient,
        items,
      );
      expect(await stack.balanceOf(token, payee)).to.equal(before + 100n * 9_900n);
      expect(calldataBytesPerItem).to.equal(181);
      const limit = limits[tokenName].routed;
      if (limit !== undefined) expect(gasPerPayment).to.be.at.most(limit);
    });
  }

  it("settle-direct-1-usdc: a batch of one", async () => {
    const token = stack.tokens.FiatTokenV2_2;
    const { payee, feeRecipient } = await steadyStateParties(token, "single");
    const [payer] = await freshPayers(token, 1);
    await measure("settle-direct-1-usdc", token, feeRecipient, [
      await signDirect(token, payer, payee, bytes32("gas-single")),
    ]);
  });

  it("settle-max-usdc: the largest direct batch under the 2^24 gas cap holds >= 340 payments", async () => {
    const token = stack.tokens.FiatTokenV2_2;
    const { payee, feeRecipient } = await steadyStateParties(token, "max");
    const payers = await freshPayers(token, 380);
    const all = await Promise.all(
      payers.map((p, i) => signDirect(token, p, payee, bytes32(`gas-max-${i}`))),
    );
    const fits = async (n: number): Promise<boolean> => {
      try {
        const gas = await stack.client.estimateGas({
          account: stack.relayer,
          to: stack.router.address,
          data: encodeFunctionData({
            abi: stack.router.abi,
            functionName: "settle",
            args: [token.address, feeRecipient, encodeItems(all.slice(0, n))],
          }),
        });
        return gas <= TRANSACTION_GAS_CAP;
      } catch {
        return false;
      }
    };
    // Largest n that fits: binary search between a size that fits and one that does not.
    let low = 300;
    let high = all.length;
    expect(await fits(low)).to.equal(true);
    expect(await fits(high)).to.equal(false);
    while (high - low > 1) {
      const mid = (low + high) >> 1;
      if (await fits(mid)) low = mid;
      else high = mid;
    }
    const result = await stack.settle(token, feeRecipient, all.slice(0, low), {
      gas: TRANSACTION_GAS_CAP,
    });
    expect(result.statuses.length).to.equal(low);
    expect(result.statuses.every((s) => s === 0)).to.equal(true);
    expect(result.receipt.gasUsed <= TRANSACTION_GAS_CAP).to.equal(true);
    expect(low).to.be.at.least(340);
    const gasUsed = Number(result.receipt.gasUsed);
    measured["settle-max-usdc"] = {
      payments: low,
      gasUsed,
      gasPerPayment: Math.round(gasUsed / low),
      calldataBytesPerItem: result.calldataBytes / low,
    };
    console.log(
      `      largest direct USDC batch under 2^24: ${low} payments, ${result.receipt.gasUsed} gas`,
    );
  });

  // Last: every scenario above has been measured. With UPDATE_GAS_SNAPSHOTS=1 this rewrites the
  // file with exactly these entries.
  it("every scenario equals gas-snapshots/router.json exactly, and the file has no other entry", () => {
    expect(Object.keys(measured).sort()).to.deep.equal([
      "settle-direct-1-usdc",
      "settle-direct-100-testtoken",
      "settle-direct-100-usdc",
      "settle-max-usdc",
      "settle-routed-100-testtoken",
      "settle-routed-100-usdc",
    ]);
    checkGasSnapshots(SNAPSHOT_FILE, measured);
  });
});

describe("gas snapshot comparison", function () {
  const stored: GasSnapshots = JSON.parse(readFileSync(SNAPSHOT_FILE, "utf8")) as GasSnapshots;
  let dir: string;
  let copy: string;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), "gas-snapshots-"));
    copy = path.join(dir, "router.json");
    writeFileSync(copy, JSON.stringify(stored));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function withOneField(delta: number, name: string, field: string): GasSnapshots {
    const changed = structuredClone(stored);
    changed[name]![field]! += delta;
    return changed;
  }

  function mismatch(measuredCopy: GasSnapshots): readonly string[] {
    try {
      checkGasSnapshots(copy, measuredCopy, { update: false });
    } catch (error) {
      expect(error).to.be.instanceOf(GasSnapshotMismatchError);
      return (error as GasSnapshotMismatchError).differences;
    }
    expect.fail("the comparison accepted a changed measurement");
  }

  it("accepts the stored values unchanged", () => {
    checkGasSnapshots(copy, structuredClone(stored), { update: false });
  });

  for (const name of Object.keys(stored)) {
    for (const field of Object.keys(stored[name]!)) {
      it(`fails when ${name}.${field} is one more or one less than its snapshot`, () => {
        expect(mismatch(withOneField(1, name, field))).to.deep.equal([
          `${name}.${field}: measured ${stored[name]![field]! + 1}, snapshot ${stored[name]![field]} (+1)`,
        ]);
        expect(mismatch(withOneField(-1, name, field))).to.deep.equal([
          `${name}.${field}: measured ${stored[name]![field]! - 1}, snapshot ${stored[name]![field]} (-1)`,
        ]);
      });
    }
  }

  it("reports a scenario without a snapshot, an orphan snapshot and a missing field", () => {
    const measuredCopy = structuredClone(stored);
    const [first, second] = Object.keys(stored);
    measuredCopy["settle-new-scenario"] = { gasUsed: 1 };
    delete measuredCopy[first!];
    delete measuredCopy[second!]!.gasPerPayment;
    expect(mismatch(measuredCopy)).to.deep.equal([
      `${second}.gasPerPayment: in the snapshot but not measured`,
      "settle-new-scenario: measured but has no snapshot",
      `${first}: orphan snapshot, not measured by this run`,
    ]);
  });

  it("update mode writes exactly the measured entries, sorted: orphans are pruned", () => {
    checkGasSnapshots(copy, { b: { y: 2, x: 1 }, a: { z: 3 } }, { update: true });
    expect(readFileSync(copy, "utf8")).to.equal(
      `${JSON.stringify({ a: { z: 3 }, b: { x: 1, y: 2 } }, null, 2)}\n`,
    );
  });
});
