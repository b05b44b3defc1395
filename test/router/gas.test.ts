import { expect } from "chai";
import { readFileSync, writeFileSync, mkdirSync } from "node:fs";
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

const SNAPSHOT_FILE = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "../../gas-snapshots/router.json",
);
/** A scenario may cost at most this much more than its snapshot (gas is deterministic). */
const TOLERANCE = 0.002;
const UPDATE = process.env.UPDATE_GAS_SNAPSHOTS === "1";

type Snapshot = { gasUsed: number; gasPerPayment: number; calldataBytesPerItem: number };

function readSnapshots(): Record<string, Snapshot> {
  try {
    return JSON.parse(readFileSync(SNAPSHOT_FILE, "utf8")) as Record<string, Snapshot>;
  } catch {
    return {};
  }
}

const measured: Record<string, Snapshot> = {};

/** Records a scenario and checks it against its stored snapshot. */
function checkSnapshot(name: string, snapshot: Snapshot) {
  measured[name] = snapshot;
  if (UPDATE) return;
  const stored = readSnapshots()[name];
  expect(stored, `no gas snapshot "${name}": run with UPDATE_GAS_SNAPSHOTS=1`).to.not.equal(
    undefined,
  );
  expect(
    snapshot.gasUsed,
    `${name}: ${snapshot.gasUsed} gas, snapshot ${stored!.gasUsed} (+${(TOLERANCE * 100).toFixed(1)}% allowed)`,
  ).to.be.at.most(Math.floor(stored!.gasUsed * (1 + TOLERANCE)));
}

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

  after(() => {
    if (!UPDATE) return;
    mkdirSync(path.dirname(SNAPSHOT_FILE), { recursive: true });
    const merged = { ...readSnapshots(), ...measured };
    const sorted = Object.fromEntries(
      Object.entries(merged).sort(([a], [b]) => a.localeCompare(b)),
    );
    writeFileSync(SNAPSHOT_FILE, `${JSON.stringify(sorted, null, 2)}\n`);
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
    checkSnapshot(name, snapshot);
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
    console.log(
      `      largest direct USDC batch under 2^24: ${low} payments, ${result.receipt.gasUsed} gas`,
    );
  });
});
