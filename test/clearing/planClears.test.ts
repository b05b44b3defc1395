import { expect } from "chai";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { type Address, keccak256, toHex } from "viem";

import { TRANSACTION_GAS_CAP } from "../../src/chain/base.js";
import {
  type ClearGasProfile,
  FIAT_TOKEN_V2_2_CLEAR_GAS_PROFILE,
  X402_TEST_TOKEN_CLEAR_GAS_PROFILE,
} from "../../src/clearing/clearGasProfiles.js";
import { type ClearCandidate, planClears } from "../../src/clearing/planClears.js";

const snapshots = JSON.parse(
  readFileSync(
    path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../gas-snapshots/clearing.json"),
    "utf8",
  ),
) as Record<string, { gasUsed: number }>;

const address = (label: string) => keccak256(toHex(label)).slice(0, 42) as Address;

/** `pairs` vouchers from `payers` payers spread over `payees` payees (payee-major, as the gas test). */
function candidates(pairs: number, payers: number, payees: number, firstClear = false) {
  return Array.from({ length: pairs }, (_, i): ClearCandidate => ({
    firstClear,
    voucher: {
      payer: address(`payer-${i % payers}`),
      payee: address(`payee-${i % payees}`),
      token: address("token"),
      operator: address("operator"),
      cumulativeValue: 10_000n,
      cumulativeFee: 100n,
      signature: `0x${"11".repeat(64)}1b`,
    },
  }));
}

describe("clearing: planClears", () => {
  const profiles: [string, ClearGasProfile][] = [
    ["usdc", FIAT_TOKEN_V2_2_CLEAR_GAS_PROFILE],
    ["testtoken", X402_TEST_TOKEN_CLEAR_GAS_PROFILE],
  ];
  for (const [slug, profile] of profiles) {
    it(`the ${slug} model covers every clear gas snapshot, within 3%`, () => {
      for (const [scenario, payers] of [
        ["10-payees", 10],
        ["100-payers", 100],
      ] as const) {
        for (const first of [false, true]) {
          const name = `clear-100-pairs-${scenario}-${slug}${first ? "-first" : ""}`;
          const measured = BigInt(snapshots[name]!.gasUsed);
          const [plan] = planClears({
            candidates: candidates(100, payers, 10, first),
            gasProfile: profile,
          });
          expect(plan!.vouchers, name).to.have.length(100);
          expect(plan!.estimatedGas >= measured, `${name}: ${plan!.estimatedGas} < ${measured}`).to
            .be.true;
          expect(Number(plan!.estimatedGas - measured) / Number(measured), name).to.be.below(0.03);
        }
      }
    });
  }

  it("splits under the 2^24 cap and the calldata limit, payees grouped", () => {
    const first = planClears({ candidates: candidates(2_000, 2_000, 50, true) });
    const steady = planClears({ candidates: candidates(2_000, 100, 50) });
    for (const plan of [first, steady]) {
      expect(plan.flatMap((b) => b.indices).sort((a, b) => a - b)).to.deep.equal(
        Array.from({ length: 2_000 }, (_, i) => i),
      );
      for (const batch of plan) {
        expect(batch.estimatedGas <= TRANSACTION_GAS_CAP - 400_000n).to.be.true;
        expect(batch.calldataBytes).to.be.at.most(100_000);
        const payees = batch.vouchers.map((v) => v.payee);
        // Each payee's vouchers are consecutive (one netted payout per payee).
        expect(new Set(payees).size).to.equal(payees.filter((p, i) => p !== payees[i - 1]).length);
      }
    }
    // First clears are gas-bound (~36k each), steady ones calldata-bound (157 bytes each).
    expect(first.length).to.equal(5);
    expect(first[0]!.vouchers.length).to.be.within(400, 500);
    expect(steady[0]!.vouchers.length).to.equal(Math.floor((100_000 - 100) / 157));
  });

  it("honours a lower gas limit and an item cap", () => {
    const plan = planClears({
      candidates: candidates(30, 30, 3),
      gasLimit: 600_000n,
      reserveGas: 0n,
    });
    expect(plan.length).to.be.greaterThan(1);
    for (const batch of plan) expect(batch.estimatedGas <= 600_000n).to.be.true;
    expect(planClears({ candidates: candidates(30, 30, 3), maxItemsPerBatch: 7 })).to.have.length(
      5,
    );
  });
});
