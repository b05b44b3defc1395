import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { expect } from "chai";
import type { Hex } from "viem";

import { type BenchChain, openBenchChain } from "../../scripts/bench/chain.js";
import { clearingHouseAbi } from "../../src/abi/clearingHouse.js";
import { deployBenchContract, deployBenchRouter } from "../../src/bench/contracts.js";
import { benchAddress, setupBenchToken } from "../../src/bench/tokens.js";
import { ATTACKS } from "../../scripts/replay/attacks.js";
import { CLEARING_ATTACKS, ClearingScenario } from "../../scripts/replay/clearing.js";
import { PERMIT2_ATTACKS, Permit2ClearingScenario } from "../../scripts/replay/permit2.js";
import {
  ROUTER_PERMIT2_ATTACKS,
  RouterPermit2Scenario,
} from "../../scripts/replay/routerPermit2.js";
import { PERMIT2_REPLAY_TOKENS, type ReplayResults } from "../../scripts/replay/run.js";
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
  "clearing-voucher-twice": ["already_cleared"],
  "clearing-lower-cumulative": ["cumulative_decreased"],
  "clearing-other-payee": ["invalid_signature"],
  // As signed: the account under the other operator is empty; renamed: the signature fails.
  "clearing-other-operator": ["insufficient_balance", "invalid_signature"],
  "clearing-other-token": ["invalid_signature"],
  "clearing-other-chain": ["invalid_signature"],
  "clearing-other-clearing-house": ["invalid_signature"],
  "clearing-raised-fee": ["invalid_signature"],
  "clearing-unnamed-signer": ["invalid_signature"],
  "clearing-over-balance": ["insufficient_balance"],
  "clearing-after-withdrawal": ["insufficient_balance"],
  "clearing-withdrawal-early-or-by-other": ["withdrawal_not_ready", "no_pending_withdrawal"],
  "clearing-deposit-reused": ["invalid_exact_evm_nonce_already_used"],
  "clearing-deposit-other-operator": ["invalid_exact_evm_signature", "caller_not_payee"],
  "clearing-release-twice": ["release_used"],
  // Before the original clears, the signature; after, the pair's cleared total.
  "clearing-high-s-voucher": ["invalid_signature", "already_cleared"],
  // Permit2's errors as the toolkit's decoder names them (or by their Permit2 name).
  "permit2-nonce-reused": ["permit2_invalid_nonce", "invalid_exact_evm_nonce_already_used"],
  "permit2-witness-swapped": ["permit2_invalid_signer", "invalid_permit2_signature"],
  "permit2-amount-raised": ["permit2_invalid_signer", "invalid_permit2_signature"],
  "permit2-deadline-passed": ["permit2_signature_expired", "permit2_deadline_expired"],
  "permit2-other-spender": ["permit2_invalid_signer", "invalid_permit2_signature"],
  "permit2-other-chain": ["permit2_invalid_signer", "invalid_permit2_signature"],
  "permit2-router-signature-on-clearing-house": [
    "permit2_invalid_signer",
    "invalid_permit2_signature",
  ],
  // A data-less revert surfaced by Permit2, a silent no-op that credited nothing, a frozen payout.
  "permit2-failed-transfer-as-paid": [
    "transfer_from_failed",
    "permit2_transfer_from_failed",
    "nothing_received",
    "payout_failed",
  ],
  "router-permit2-nonce-reused": ["invalid_exact_evm_nonce_already_used"],
  "router-permit2-payee-swapped": ["invalid_permit2_signature"],
  "router-permit2-fee-raised": ["invalid_permit2_signature"],
  "router-permit2-fee-recipient-swapped": ["invalid_permit2_signature"],
  "router-permit2-deadline-passed": ["permit2_deadline_expired"],
  "router-permit2-other-spender": ["invalid_permit2_signature"],
  "router-permit2-other-chain": ["invalid_permit2_signature"],
  "router-permit2-clearing-deposit-signature": ["invalid_permit2_signature"],
  // A pull the token refuses (surfaced by Permit2), a silent pull that moved nothing, a payout the
  // USDT-like token refuses.
  "router-permit2-failed-transfer-as-paid": [
    "permit2_transfer_from_failed",
    "router_amount_not_received",
    "router_payout_failed",
  ],
};

describe("npm run replay", () => {
  it("runs every attack on both tokens, both router methods, the ClearingHouse, its Permit2 deposits and the router's Permit2 items, and none gets through", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "replay-test-"));
    try {
      const json = path.join(dir, "replay.json");
      const result = await runScript("replay", ["--json", json]);
      expect(result.code, result.stderr).to.equal(0);
      const out = JSON.parse(await readFile(json, "utf8")) as ReplayResults;
      expect(out.accepted).to.equal(0);
      for (const token of ["FiatTokenV2_2", "X402TestToken"])
        for (const method of ["router-direct", "router-routed", "clearing"] as const) {
          const expected =
            method === "clearing"
              ? CLEARING_ATTACKS.map((a) => a.name)
              : ATTACKS.filter((a) => a.methods.includes(method)).map((a) => a.name);
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
              expect(
                method === "clearing" ? ["token", "clearing-house"] : ["token", "router"],
                label,
              ).to.include(refusal!.by);
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
      // Permit2 deposits: on the USDT-like token and on USDC, every attack refused.
      for (const token of PERMIT2_REPLAY_TOKENS) {
        const rows = out.attacks.filter(
          (a) => a.token === token && a.method === "clearing-permit2",
        );
        expect(rows.map((r) => r.name)).to.deep.equal(PERMIT2_ATTACKS.map((a) => a.name));
        for (const row of rows) {
          const label = `${token} clearing-permit2 ${row.name}`;
          expect(row.attempts, label).to.be.greaterThan(0);
          expect(row.accepted, label).to.equal(0);
          expect(row.refusedWith, label).to.have.length(row.attempts);
          for (const refusal of row.refusedWith) {
            expect(refusal, label).to.not.equal(null);
            expect(["token", "clearing-house", "permit2"], label).to.include(refusal!.by);
            expect(EXPECTED_REASONS[row.name], label).to.include(refusal!.reason);
            if (refusal!.by !== "clearing-house") expect(refusal!.error, label).to.be.a("string");
          }
          expect(row.honestSettled, label).to.equal(true);
        }
      }
      // The router's Permit2 items: on the USDT-like token and on USDC, every attack refused.
      for (const token of PERMIT2_REPLAY_TOKENS) {
        const rows = out.attacks.filter((a) => a.token === token && a.method === "router-permit2");
        expect(rows.map((r) => r.name)).to.deep.equal(ROUTER_PERMIT2_ATTACKS.map((a) => a.name));
        for (const row of rows) {
          const label = `${token} router-permit2 ${row.name}`;
          expect(row.attempts, label).to.be.greaterThan(0);
          expect(row.accepted, label).to.equal(0);
          expect(row.refusedWith, label).to.have.length(row.attempts);
          for (const refusal of row.refusedWith) {
            expect(refusal, label).to.not.equal(null);
            expect(["token", "router", "permit2"], label).to.include(refusal!.by);
            expect(EXPECTED_REASONS[row.name], label).to.include(refusal!.reason);
          }
          expect(row.honestSettled, label).to.equal(true);
        }
      }
      // The USDT-like token's frozen router payout is tried.
      expect(
        out.attacks
          .find(
            (a) =>
              a.token === "TetherLikeToken" && a.name === "router-permit2-failed-transfer-as-paid",
          )!
          .refusedWith.map((r) => r!.reason),
      ).to.deep.equal([
        "permit2_transfer_from_failed",
        "router_amount_not_received",
        "router_payout_failed",
      ]);
      // The USDT-like token's frozen payout is tried (USDC's blacklist is not driven here).
      expect(
        out.attacks
          .find(
            (a) => a.token === "TetherLikeToken" && a.name === "permit2-failed-transfer-as-paid",
          )!
          .refusedWith.map((r) => r!.reason),
      ).to.deep.equal(["transfer_from_failed", "nothing_received", "payout_failed"]);
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

  describe("the ClearingHouse measurement", () => {
    let chain: BenchChain;
    let scenario: ClearingScenario;

    before(async () => {
      chain = await openBenchChain();
      const [deployer, operator, attacker] = chain.wallets;
      const usdc = await setupBenchToken(chain, "FiatTokenV2_2", deployer);
      const other = await setupBenchToken(chain, "X402TestToken", deployer);
      const payers = scenarioPayers("clearing-measurement", 6);
      await usdc.fund(
        payers.map((p) => p.address),
        1_000_000n,
      );
      const houses = [
        await deployBenchContract(chain, deployer!, "ClearingHouse", []),
        await deployBenchContract(chain, deployer!, "ClearingHouse", []),
      ] as const;
      for (const house of houses)
        await chain.client.waitForTransactionReceipt({
          hash: await operator!.writeContract({
            address: house,
            abi: clearingHouseAbi,
            functionName: "registerOperator",
            args: [operator!.account.address, 900],
          }),
        });
      scenario = new ClearingScenario(
        chain,
        usdc,
        other,
        houses,
        operator!,
        attacker!,
        benchAddress("clearing-measurement-payee"),
        payers,
      );
    });
    after(async () => {
      await chain.close();
    });

    it("counts a clear that moves more than allowed as accepted, and exactly the allowed as not", async () => {
      scenario.takeRefusals();
      const payer = await scenario.openAccount();
      const step = scenario.value + scenario.fee;
      const first = await scenario.voucher(payer);
      expect(await scenario.attempt(payer.address, () => scenario.clear([first]))).to.equal(true);
      const second = await scenario.voucher(payer, { payments: 2n });
      expect(
        await scenario.attempt(payer.address, () => scenario.clear([second]), step - 1n),
      ).to.equal(true);
      const third = await scenario.voucher(payer, { payments: 3n });
      expect(await scenario.attempt(payer.address, () => scenario.clear([third]), step)).to.equal(
        false,
      );
      expect(scenario.takeRefusals()).to.deep.equal([
        null,
        null,
        { by: "clearing-house", reason: "no_effect" },
      ]);
    });

    it("counts a withdrawal and a deposit that move funds as accepted, and names a custom error", async () => {
      scenario.takeRefusals();
      const payer = await scenario.openAccount();
      const { release, signature } = await scenario.signRelease(payer.address, 1n);
      const relay = () =>
        scenario.send(scenario.houses[0], "withdrawWithRelease", [release, signature]);
      expect(await scenario.attempt(payer.address, relay)).to.equal(true);
      expect(await scenario.attempt(payer.address, relay)).to.equal(false);
      const fresh = scenario.freshPayer();
      const deposit = await scenario.signDeposit(fresh);
      expect(
        await scenario.attempt(fresh.address, () => scenario.submitDeposits([deposit])),
      ).to.equal(true);
      expect(scenario.takeRefusals()).to.deep.equal([
        null,
        { by: "clearing-house", reason: "release_used", error: "ClearingHouseReleaseUsed" },
        null,
      ]);
    });

    it("says whether an honest voucher still clears", async () => {
      expect(await scenario.honestPaymentSettles()).to.equal(true);
      const broken = new ClearingScenario(
        chain,
        scenario.token,
        scenario.otherToken,
        [benchAddress("clearing-measurement-no-house"), scenario.houses[1]],
        scenario.operator,
        scenario.attacker,
        scenario.payee,
        scenarioPayers("clearing-measurement", 6).slice(5),
      );
      expect(await broken.honestPaymentSettles()).to.equal(false);
    });

    it("counts a Permit2 deposit credited beyond what arrived as accepted (a ClearingHouse that trusts the transfer)", async () => {
      const [deployer] = chain.wallets;
      const file = path.resolve(
        path.dirname(fileURLToPath(import.meta.url)),
        "../../artifacts/contracts/test/clearing/broken/ClearingHouseBrokenVariants.sol/BrokenPermit2TrustsTransfer.json",
      );
      const { abi, bytecode } = JSON.parse(await readFile(file, "utf8")) as {
        abi: never;
        bytecode: Hex;
      };
      const receipt = await chain.client.waitForTransactionReceipt({
        hash: await deployer!.deployContract({ abi, bytecode, args: [] } as never),
      });
      const brokenHouse = receipt.contractAddress!;
      await chain.client.waitForTransactionReceipt({
        hash: await scenario.operator.writeContract({
          address: brokenHouse,
          abi: clearingHouseAbi,
          functionName: "registerOperator",
          args: [scenario.operator.account.address, 900],
        }),
      });
      const payers = scenarioPayers("permit2-measurement", 3);
      await scenario.token.fund(
        payers.map((p) => p.address),
        1_000_000n,
      );
      const permit2 = new Permit2ClearingScenario(
        chain,
        scenario.token,
        scenario.otherToken,
        [brokenHouse, scenario.houses[1]],
        scenario.operator,
        scenario.attacker,
        scenario.payee,
        payers,
      );
      const attack = PERMIT2_ATTACKS.find((a) => a.name === "permit2-failed-transfer-as-paid")!;
      const outcome = await attack.run(permit2);
      // The silent no-op is credited by the broken house: exactly that attempt is accepted.
      expect(outcome.accepted).to.equal(1);
      expect(permit2.takeRefusals().map((r) => r?.reason ?? null)).to.deep.equal([
        "transfer_from_failed",
        null,
      ]);
    });
  });

  describe("the router Permit2 measurement", () => {
    let chain: BenchChain;
    let scenario: RouterPermit2Scenario;
    let args: ConstructorParameters<typeof RouterPermit2Scenario>;

    before(async () => {
      chain = await openBenchChain();
      const [deployer, relayer, attacker] = chain.wallets;
      const usdc = await setupBenchToken(chain, "FiatTokenV2_2", deployer);
      const payers = scenarioPayers("router-permit2-measurement", 12);
      await usdc.fund(
        payers.map((p) => p.address),
        1_000_000n,
      );
      const routers = [
        await deployBenchRouter(chain, deployer!),
        await deployBenchRouter(chain, deployer!),
      ] as const;
      args = [
        chain,
        usdc,
        routers,
        benchAddress("router-permit2-measurement-house"),
        relayer!,
        attacker!,
        benchAddress("router-permit2-measurement-payee"),
        benchAddress("router-permit2-measurement-fee-recipient"),
        payers,
      ];
      scenario = new RouterPermit2Scenario(...args);
    });
    after(async () => {
      await chain.close();
    });

    it("counts a Permit2 payment that moves funds as accepted, and refuses one that does not", async () => {
      scenario.takeRefusals();
      const payer = scenario.freshPayer();
      await scenario.approve(payer);
      const p = await scenario.sign(payer);
      expect(await scenario.attempt(payer.address, () => scenario.settle([p]))).to.equal(true);
      expect(await scenario.attempt(payer.address, () => scenario.settle([p]))).to.equal(false);
      const [accepted, refused] = scenario.takeRefusals();
      expect(accepted).to.equal(null);
      expect(refused?.reason).to.equal("invalid_exact_evm_nonce_already_used");
    });

    it("counts a refused item as accepted when the submission pays what the payer signed anyway (a relayer variant that drops the tampering)", async () => {
      // Broken on purpose: the tampered fee and fee recipient never reach the router, so the
      // signed payment settles and the attempt moves the payer's funds.
      class IgnoresTampering extends RouterPermit2Scenario {
        override settle(
          items: Parameters<RouterPermit2Scenario["settle"]>[0],
          options: Parameters<RouterPermit2Scenario["settle"]>[1] = {},
        ) {
          return super.settle(
            items.map((i) => ({ ...i, fee: this.fee })),
            { ...options, feeRecipient: this.feeRecipient },
          );
        }
      }
      const broken = new IgnoresTampering(...args);
      for (let i = 0; i < 4; i++) broken.freshPayer();
      for (const name of ["router-permit2-fee-raised", "router-permit2-fee-recipient-swapped"]) {
        broken.takeRefusals();
        const outcome = await ROUTER_PERMIT2_ATTACKS.find((a) => a.name === name)!.run(broken);
        expect({ attempts: outcome.attempts, accepted: outcome.accepted }, name).to.deep.equal({
          attempts: 1,
          accepted: 1,
        });
        expect(broken.takeRefusals(), name).to.deep.equal([null]);
      }
    });
  });
});
