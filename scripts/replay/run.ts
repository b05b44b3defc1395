/**
 * `runReplay`: every attack of {@link ATTACKS} against every (token, router method) scenario,
 * in-process or against a node. Reusable from tests.
 */
import type { Address } from "viem";

import { BENCH_TOKENS, type BenchTokenName } from "../bench/args.js";
import type { BenchChain } from "../bench/chain.js";
import { clearingHouseAbi } from "../../src/abi/clearingHouse.js";
import { deployBenchContract, deployBenchRouter } from "../../src/bench/contracts.js";
import type { NodeWallet } from "../../src/bench/node.js";
import { type BenchToken, benchAddress, setupBenchToken } from "../../src/bench/tokens.js";
import { ATTACKS } from "./attacks.js";
import { CLEARING_ATTACKS, ClearingScenario, REPLAY_WITHDRAWAL_DELAY } from "./clearing.js";
import { PERMIT2_ATTACKS, Permit2ClearingScenario } from "./permit2.js";
import { ROUTER_PERMIT2_ATTACKS, RouterPermit2Scenario } from "./routerPermit2.js";
import type { BootstrapClient } from "../../src/chain/bootstrap.js";
import {
  TETHER_LIKE_NAME,
  fundTetherLike,
  installTetherLikeToken,
} from "../../src/chain/tetherLike.js";
import { type Refusal, type ReplayMethod, ReplayScenario, scenarioPayers } from "./scenario.js";

export const REPLAY_METHODS: readonly ReplayMethod[] = [
  "router-direct",
  "router-routed",
  "clearing",
  "clearing-permit2",
  "router-permit2",
];

/** The tokens the Permit2 deposit attacks run on: the USDT-like token, and USDC when selected. */
export const PERMIT2_REPLAY_TOKENS = ["TetherLikeToken", "FiatTokenV2_2"] as const;

/** One attack against one token and method. */
export interface AttackResult {
  name: string;
  token: string;
  method: ReplayMethod;
  attempts: number;
  /**
   * Attempts that moved funds when they must not have: the payer's balance dropped (beyond what the
   * same submission legitimately settles), the authorization got used, or a router kept funds.
   */
  accepted: number;
  /** Per attempt, in order: who refused it and why, or null for an accepted attempt. */
  refusedWith: (Refusal | null)[];
  /** A fresh, valid payment settled honestly right after the attack moved exactly its value. */
  honestSettled: boolean;
}

export interface ReplayResults {
  attacks: AttackResult[];
  /** Sum of `accepted` over all attacks: 0 when nothing got through. */
  accepted: number;
  /** True when the honest settlement after every attack went through. */
  honestSettled: boolean;
}

export interface RunReplayOptions {
  tokens?: readonly BenchTokenName[];
  methods?: readonly ReplayMethod[];
  /** Only the attacks with these names (default: all). */
  attacks?: readonly string[];
  /** Called after each attack (progress output). */
  onResult?: (result: AttackResult) => void;
}

/** Payers funded per scenario: every attack takes one to three fresh ones, and one more after it. */
const PAYERS_PER_SCENARIO = 80;

/**
 * Runs the attacks and counts what got through, measuring by balances and nonce states.
 *
 * @example
 * const chain = await openBenchChain();
 * const { accepted } = await runReplay(chain);
 * assert(accepted === 0);
 */
export async function runReplay(
  chain: BenchChain,
  options: RunReplayOptions = {},
): Promise<ReplayResults> {
  const [deployer, relayer, attacker] = chain.wallets;
  if (!deployer || !relayer || !attacker)
    throw new Error("replay needs three unlocked accounts (deployer, relayer, attacker)");
  const tokens = options.tokens ?? BENCH_TOKENS;
  const methods = options.methods ?? REPLAY_METHODS;
  const attacks = ATTACKS.filter((a) => !options.attacks || options.attacks.includes(a.name));
  const clearingAttacks = CLEARING_ATTACKS.filter(
    (a) => !options.attacks || options.attacks.includes(a.name),
  );
  const permit2Attacks = PERMIT2_ATTACKS.filter(
    (a) => !options.attacks || options.attacks.includes(a.name),
  );
  const routerPermit2Attacks = ROUTER_PERMIT2_ATTACKS.filter(
    (a) => !options.attacks || options.attacks.includes(a.name),
  );

  const routers: [Address, Address] = [
    await deployBenchRouter(chain, deployer),
    await deployBenchRouter(chain, deployer),
  ];
  // Both tokens are always set up: each serves as "another token" for the other's attacks.
  const deployed = new Map<BenchTokenName, BenchToken>();
  for (const name of BENCH_TOKENS) deployed.set(name, await setupBenchToken(chain, name, deployer));

  // Two ClearingHouses, the relayer an operator of both and the attacker another of the first.
  const houses: [Address, Address] | undefined =
    methods.includes("clearing") ||
    methods.includes("clearing-permit2") ||
    methods.includes("router-permit2")
      ? [
          await deployClearingHouse(chain, deployer, [relayer, attacker]),
          await deployClearingHouse(chain, deployer, [relayer]),
        ]
      : undefined;

  const results: AttackResult[] = [];
  for (const tokenName of tokens) {
    const token = deployed.get(tokenName)!;
    // The EIP-3009 methods run on the EIP-3009 tokens; the USDT-like one has the Permit2 methods.
    if (!token.eip3009) continue;
    const otherToken = [...deployed.values()].find((t) => t.name !== tokenName && t.eip3009)!;
    for (const method of methods) {
      if (method === "clearing-permit2" || method === "router-permit2") continue;
      if (method === "clearing") {
        if (clearingAttacks.length === 0) continue;
        const payers = scenarioPayers(`${tokenName}:clearing`, PAYERS_PER_SCENARIO);
        await token.fund(
          payers.map((p) => p.address),
          1_000_000n,
        );
        const scenario = new ClearingScenario(
          chain,
          token,
          otherToken,
          houses!,
          relayer,
          attacker,
          benchAddress("replay-payee:clearing"),
          payers,
        );
        for (const attack of clearingAttacks) {
          scenario.takeRefusals();
          const outcome = await attack.run(scenario);
          const refusedWith = scenario.takeRefusals();
          if (refusedWith.length !== outcome.attempts)
            throw new Error(
              `${attack.name}: ${outcome.attempts} attempts counted, ${refusedWith.length} measured`,
            );
          const result: AttackResult = {
            name: attack.name,
            token: tokenName,
            method,
            attempts: outcome.attempts,
            accepted: outcome.accepted,
            refusedWith,
            honestSettled: await scenario.honestPaymentSettles(),
          };
          results.push(result);
          options.onResult?.(result);
        }
        continue;
      }
      const payers = scenarioPayers(`${tokenName}:${method}`, PAYERS_PER_SCENARIO);
      await token.fund(
        payers.map((p) => p.address),
        1_000_000n,
      );
      const scenario = new ReplayScenario(
        chain,
        token,
        otherToken,
        method,
        routers,
        relayer,
        attacker,
        benchAddress(`replay-payee:${method}`),
        benchAddress(`replay-fee-recipient:${method}`),
        payers,
      );
      for (const attack of attacks) {
        if (!attack.methods.includes(method)) continue;
        scenario.takeRefusals();
        const outcome = await attack.run(scenario);
        const refusedWith = scenario.takeRefusals();
        if (refusedWith.length !== outcome.attempts)
          throw new Error(
            `${attack.name}: ${outcome.attempts} attempts counted, ${refusedWith.length} measured`,
          );
        const result: AttackResult = {
          name: attack.name,
          token: tokenName,
          method,
          attempts: outcome.attempts,
          accepted: outcome.accepted,
          refusedWith,
          honestSettled: await scenario.honestPaymentSettles(),
        };
        results.push(result);
        options.onResult?.(result);
      }
    }
  }
  const testClient = chain.client as unknown as BootstrapClient;
  const tetherLike = async (): Promise<BenchToken> => ({
    name: "TetherLikeToken" as BenchToken["name"],
    address: await installTetherLikeToken(testClient),
    domain: { name: TETHER_LIKE_NAME, version: "" },
    eip3009: false,
    fund: (recipients, amount) => fundTetherLike(testClient, { recipients, amount }),
  });
  if (methods.includes("clearing-permit2") && permit2Attacks.length > 0) {
    const tetherLikeToken = await tetherLike();
    for (const tokenName of PERMIT2_REPLAY_TOKENS) {
      if (tokenName === "FiatTokenV2_2" && !tokens.includes("FiatTokenV2_2")) continue;
      const token = tokenName === "TetherLikeToken" ? tetherLikeToken : deployed.get(tokenName)!;
      const otherToken =
        tokenName === "TetherLikeToken" ? deployed.get("FiatTokenV2_2")! : tetherLikeToken;
      const payers = scenarioPayers(`${tokenName}:clearing-permit2`, PAYERS_PER_SCENARIO);
      await token.fund(
        payers.map((p) => p.address),
        1_000_000n,
      );
      const scenario = new Permit2ClearingScenario(
        chain,
        token,
        otherToken,
        houses!,
        relayer,
        attacker,
        benchAddress("replay-payee:clearing-permit2"),
        payers,
      );
      scenario.router = routers[0];
      for (const attack of permit2Attacks) {
        scenario.takeRefusals();
        const outcome = await attack.run(scenario);
        const refusedWith = scenario.takeRefusals();
        if (refusedWith.length !== outcome.attempts)
          throw new Error(
            `${attack.name}: ${outcome.attempts} attempts counted, ${refusedWith.length} measured`,
          );
        const result: AttackResult = {
          name: attack.name,
          token: tokenName,
          method: "clearing-permit2",
          attempts: outcome.attempts,
          accepted: outcome.accepted,
          refusedWith,
          honestSettled: await scenario.honestPaymentSettles(),
        };
        results.push(result);
        options.onResult?.(result);
      }
    }
  }
  if (methods.includes("router-permit2") && routerPermit2Attacks.length > 0) {
    const tetherLikeToken = await tetherLike();
    for (const tokenName of PERMIT2_REPLAY_TOKENS) {
      if (tokenName === "FiatTokenV2_2" && !tokens.includes("FiatTokenV2_2")) continue;
      const token = tokenName === "TetherLikeToken" ? tetherLikeToken : deployed.get(tokenName)!;
      const payers = scenarioPayers(`${tokenName}:router-permit2`, PAYERS_PER_SCENARIO);
      await token.fund(
        payers.map((p) => p.address),
        1_000_000n,
      );
      const scenario = new RouterPermit2Scenario(
        chain,
        token,
        routers,
        houses![0],
        relayer,
        attacker,
        benchAddress("replay-payee:router-permit2"),
        benchAddress("replay-fee-recipient:router-permit2"),
        payers,
      );
      for (const attack of routerPermit2Attacks) {
        scenario.takeRefusals();
        const outcome = await attack.run(scenario);
        const refusedWith = scenario.takeRefusals();
        if (refusedWith.length !== outcome.attempts)
          throw new Error(
            `${attack.name}: ${outcome.attempts} attempts counted, ${refusedWith.length} measured`,
          );
        const result: AttackResult = {
          name: attack.name,
          token: tokenName,
          method: "router-permit2",
          attempts: outcome.attempts,
          accepted: outcome.accepted,
          refusedWith,
          honestSettled: await scenario.honestPaymentSettles(),
        };
        results.push(result);
        options.onResult?.(result);
      }
    }
  }
  return {
    attacks: results,
    accepted: results.reduce((n, r) => n + r.accepted, 0),
    honestSettled: results.every((r) => r.honestSettled),
  };
}

/** A fresh ClearingHouse with each of `operators` registered (fee recipient itself, shortest delay). */
async function deployClearingHouse(
  chain: BenchChain,
  deployer: NodeWallet,
  operators: readonly NodeWallet[],
): Promise<Address> {
  const house = await deployBenchContract(chain, deployer, "ClearingHouse", []);
  for (const operator of operators) {
    const hash = await operator.writeContract({
      address: house,
      abi: clearingHouseAbi,
      functionName: "registerOperator",
      args: [operator.account.address, REPLAY_WITHDRAWAL_DELAY],
    });
    const receipt = await chain.client.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success") throw new Error("registering a replay operator failed");
  }
  return house;
}
