import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";

import { type BenchChain, openBenchChain } from "../../scripts/bench/chain.js";
import { deployBenchRouter } from "../../src/bench/contracts.js";
import { benchAddress, setupBenchToken } from "../../src/bench/tokens.js";
import { ATTACKS } from "../../scripts/replay/attacks.js";
import type { ReplayResults } from "../../scripts/replay/run.js";
import { ReplayScenario, scenarioPayers } from "../../scripts/replay/scenario.js";
import { runScript } from "./run.js";

describe("npm run replay", () => {
  it("runs every attack on both tokens and both router methods, and none gets through", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "replay-test-"));
    try {
      const json = path.join(dir, "replay.json");
      const result = await runScript("replay", ["--json", json]);
      expect(result.code, result.stderr).to.equal(0);
      const out = JSON.parse(await readFile(json, "utf8")) as ReplayResults;
      expect(out.accepted).to.equal(0);
      for (const token of ["FiatTokenV2_2", "X402TestToken"])
        for (const method of ["router-direct", "router-routed"] as const) {
          const expected = ATTACKS.filter((a) => a.methods.includes(method)).map((a) => a.name);
          const rows = out.attacks.filter((a) => a.token === token && a.method === method);
          expect(rows.map((r) => r.name)).to.deep.equal(expected);
          for (const row of rows) {
            expect(row.attempts, row.name).to.be.greaterThan(0);
            expect(row.accepted, row.name).to.equal(0);
          }
        }
      // Attacks that only make sense for routed items are not listed for direct ones.
      expect(
        out.attacks.some((a) => a.method === "router-direct" && a.name.startsWith("routed-")),
      ).to.equal(false);
      expect(result.stdout).to.contain("0 accepted");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  describe("the measurement", () => {
    let chain: BenchChain;
    let scenario: ReplayScenario;

    before(async () => {
      chain = await openBenchChain();
      const [deployer, relayer, attacker] = chain.wallets;
      const usdc = await setupBenchToken(chain, "FiatTokenV2_2", deployer);
      const other = await setupBenchToken(chain, "X402TestToken", deployer);
      const payers = scenarioPayers("measurement", 8);
      await usdc.fund(
        payers.map((p) => p.address),
        1_000_000n,
      );
      const routers = [
        await deployBenchRouter(chain, deployer!),
        await deployBenchRouter(chain, deployer!),
      ] as const;
      scenario = new ReplayScenario(
        chain,
        usdc,
        other,
        "router-direct",
        routers,
        relayer!,
        attacker!,
        benchAddress("measurement-payee"),
        benchAddress("measurement-fee-recipient"),
        payers,
      );
    });
    after(async () => {
      await chain.close();
    });

    it("counts a payment that moves funds as accepted", async () => {
      const p = await scenario.sign();
      expect(await scenario.attempt(p, () => scenario.settle([scenario.item(p)]))).to.equal(true);
    });

    it("counts a payment that only uses the nonce as accepted, and a refused one as not", async () => {
      const p = await scenario.sign();
      expect(await scenario.attempt(p, () => scenario.cancel(p))).to.equal(true);
      const q = await scenario.sign();
      expect(
        await scenario.attempt(q, () => scenario.settle([scenario.item(q, { value: 1n })])),
      ).to.equal(false);
    });

    it("allows exactly the legitimate amount of a submission", async () => {
      const p = await scenario.sign();
      expect(
        await scenario.attempt(p, () => scenario.settle([scenario.item(p)]), p.value),
      ).to.equal(false);
      const q = await scenario.sign();
      expect(
        await scenario.attempt(q, () => scenario.settle([scenario.item(q)]), q.value - 1n),
      ).to.equal(true);
    });
  });
});
