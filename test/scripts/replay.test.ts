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

/**
 * The reasons each attack must be refused with, where the reason under test is one (attacks that
 * try several forms, such as high-s or the 64/65-byte forms, are refused for more than one).
 */
const EXPECTED_REASONS: Record<string, readonly string[]> = {
  "replay-same-batch": ["invalid_exact_evm_nonce_already_used"],
  "replay-later-batch": ["invalid_exact_evm_nonce_already_used"],
  "cancelled-then-submitted": ["invalid_exact_evm_nonce_already_used"],
  "expired-valid-before-now": ["invalid_exact_evm_payload_authorization_valid_before"],
  "expired-valid-before-past": ["invalid_exact_evm_payload_authorization_valid_before"],
  "not-yet-valid": ["invalid_exact_evm_payload_authorization_valid_after"],
  "wrong-chain-84532": ["invalid_exact_evm_signature"],
  "wrong-token-address": ["invalid_exact_evm_signature"],
  "routed-payee-swapped": ["invalid_exact_evm_signature"],
  "routed-fee-swapped": ["invalid_exact_evm_signature"],
  "routed-fee-recipient-swapped": ["invalid_exact_evm_signature"],
  "routed-item-direct-on-token": ["caller_not_payee"],
  "drained-payer": ["invalid_exact_evm_insufficient_balance"],
  "same-nonce-twice-in-batch": ["invalid_exact_evm_nonce_already_used"],
};

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
            const label = `${token} ${method} ${row.name}`;
            expect(row.attempts, label).to.be.greaterThan(0);
            expect(row.accepted, label).to.equal(0);
            // Every attempt was refused, each with the reason the token or router gave.
            expect(row.refusedWith, label).to.have.length(row.attempts);
            for (const refusal of row.refusedWith) {
              expect(refusal, label).to.not.equal(null);
              expect(["token", "router"], label).to.include(refusal!.by);
              expect(refusal!.reason, label).to.not.be.oneOf([
                "unknown_revert",
                "no_effect",
                "not_submitted",
                "reverted",
              ]);
              if (EXPECTED_REASONS[row.name])
                expect(EXPECTED_REASONS[row.name], label).to.include(refusal!.reason);
              // A token's refusal carries its own message or error name.
              if (refusal!.by === "token") expect(refusal!.error, label).to.be.a("string");
            }
            expect(row.honestSettled, label).to.equal(true);
          }
        }
      // Attacks that only make sense for routed items are not listed for direct ones.
      expect(
        out.attacks.some((a) => a.method === "router-direct" && a.name.startsWith("routed-")),
      ).to.equal(false);
      expect(out.honestSettled).to.equal(true);
      expect(result.stdout).to.contain(
        "0 accepted (moved funds when they must not have); the honest payment after every attack settled",
      );
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
      const payers = scenarioPayers("measurement", 12);
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
      scenario.takeRefusals();
      const p = await scenario.sign();
      expect(await scenario.attempt(p, () => scenario.settle([scenario.item(p)]))).to.equal(true);
      expect(scenario.takeRefusals()).to.deep.equal([null]);
    });

    it("records why a refused attempt was refused: the router's item verdict or the token's revert", async () => {
      scenario.takeRefusals();
      const p = await scenario.sign();
      // Through the router: the token's revert, carried by the router's PaymentFailed event.
      expect(
        await scenario.attempt(p, () => scenario.settle([scenario.item(p, { value: 1n })])),
      ).to.equal(false);
      // On the token directly, after the payment settled: the token's own revert.
      await scenario.settleHonestly(p);
      expect(
        await scenario.attempt(p, () =>
          scenario.tokenCall("transferWithAuthorization", scenario.authorizationArgs(p)),
        ),
      ).to.equal(false);
      expect(scenario.takeRefusals()).to.deep.equal([
        {
          by: "token",
          reason: "invalid_exact_evm_signature",
          itemStatus: "TokenReverted",
          error: "FiatTokenV2: invalid signature",
        },
        {
          by: "token",
          reason: "invalid_exact_evm_nonce_already_used",
          error: "FiatTokenV2: authorization is used or canceled",
        },
      ]);
    });

    it("says whether an honest payment still settles", async () => {
      expect(await scenario.honestPaymentSettles()).to.equal(true);
      // A "router" without code moves nothing: the honest payment does not settle.
      const broken = new ReplayScenario(
        chain,
        scenario.token,
        scenario.otherToken,
        "router-direct",
        [benchAddress("measurement-no-router"), scenario.routers[1]],
        scenario.relayer,
        scenario.attacker,
        scenario.payee,
        scenario.feeRecipient,
        scenarioPayers("measurement", 12).slice(10),
      );
      expect(await broken.honestPaymentSettles()).to.equal(false);
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
