/**
 * `npm run replay`: tries every known way to move a payer's money twice, late, early, elsewhere
 * or on the wrong chain or token through the SettlementRouter (direct and routed items, both
 * tokens), and counts what got through. Exits 1 when anything was accepted.
 */
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { parseArgs } from "node:util";

import { BENCH_TOKENS, type BenchTokenName } from "./bench/args.js";
import { openBenchChain } from "./bench/chain.js";
import { BenchChainError, BenchUsageError } from "./bench/errors.js";
import { ATTACKS } from "./replay/attacks.js";
import { CLEARING_ATTACKS } from "./replay/clearing.js";
import { PERMIT2_ATTACKS } from "./replay/permit2.js";
import { ROUTER_PERMIT2_ATTACKS } from "./replay/routerPermit2.js";
import { type AttackResult, REPLAY_METHODS, runReplay } from "./replay/run.js";
import type { ReplayMethod } from "./replay/scenario.js";

const USAGE = `Usage: npm run replay -- [options]

Runs every replay and substitution attack against the SettlementRouter and the ClearingHouse. An
attempt is "accepted" when it moved funds when it must not have: the payer's balance dropped, the
authorization got used, or a router kept funds; for the ClearingHouse, the payer's account or
wallet fell or a ClearingHouse paid out beyond what the submission legitimately moves. Every refused attempt is listed with the reason the token or the
router gave, and after each attack a fresh honest payment must still settle ("honest").
Exit status 1 when any attempt was accepted or an honest settlement failed.

Options:
  --json FILE      write { attacks: [{ name, token, method, attempts, accepted, refusedWith,
                   honestSettled }], accepted, honestSettled } (format in docs/BENCHMARKS.md)
  --tokens LIST    FiatTokenV2_2 (alias usdc), X402TestToken (alias test); default both
  --methods LIST   router-direct, router-routed, clearing, clearing-permit2 (Permit2 deposits on
                   the USDT-like token, and on USDC when it is among --tokens), router-permit2
                   (the router's Permit2 items, same tokens); default all five
  --attacks LIST   only these attacks (default all: ${[...ATTACKS, ...CLEARING_ATTACKS, ...PERMIT2_ATTACKS, ...ROUTER_PERMIT2_ATTACKS].map((a) => a.name).join(", ")})
  --rpc URL        use a running node (e.g. http://127.0.0.1:8545 from npm run chain)
  -h, --help       show this help
`;

const TOKEN_ALIASES: Record<string, BenchTokenName> = {
  fiattokenv2_2: "FiatTokenV2_2",
  usdc: "FiatTokenV2_2",
  x402testtoken: "X402TestToken",
  test: "X402TestToken",
};

function list(value: string | undefined): string[] | undefined {
  return value
    ?.split(",")
    .map((v) => v.trim())
    .filter(Boolean);
}

function parse(argv: string[]) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        json: { type: "string" },
        tokens: { type: "string" },
        methods: { type: "string" },
        attacks: { type: "string" },
        rpc: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    }));
  } catch (error) {
    throw new BenchUsageError((error as Error).message);
  }
  const tokens = list(values.tokens)?.map((t) => {
    const token = TOKEN_ALIASES[t.toLowerCase()];
    if (!token) throw new BenchUsageError(`unknown token "${t}" (${BENCH_TOKENS.join(", ")})`);
    return token;
  });
  const methods = list(values.methods)?.map((m) => {
    if (!(REPLAY_METHODS as readonly string[]).includes(m))
      throw new BenchUsageError(`unknown method "${m}" (${REPLAY_METHODS.join(", ")})`);
    return m as ReplayMethod;
  });
  const attacks = list(values.attacks);
  for (const name of attacks ?? [])
    if (
      ![...ATTACKS, ...CLEARING_ATTACKS, ...PERMIT2_ATTACKS, ...ROUTER_PERMIT2_ATTACKS].some(
        (a) => a.name === name,
      )
    )
      throw new BenchUsageError(`unknown attack "${name}"`);
  if (values.rpc !== undefined && !/^https?:\/\/\S+$/.test(values.rpc))
    throw new BenchUsageError(`--rpc must be an http(s) URL, got "${values.rpc}"`);
  if (values.json !== undefined && values.json.trim() === "")
    throw new BenchUsageError("--json needs a path");
  return { ...values, tokens, methods, attacks };
}

/** The refusal reasons of an attack with their counts, e.g. `invalid_exact_evm_nonce_already_used x2`. */
function refusalSummary(result: AttackResult): string {
  const counts = new Map<string, number>();
  for (const refusal of result.refusedWith)
    if (refusal) counts.set(refusal.reason, (counts.get(refusal.reason) ?? 0) + 1);
  return [...counts].map(([reason, n]) => (n > 1 ? `${reason} x${n}` : reason)).join(", ");
}

function formatTable(results: readonly AttackResult[]): string {
  const rows = results.map((r) => [
    r.name,
    r.token,
    r.method,
    String(r.attempts),
    String(r.accepted),
    r.honestSettled ? "yes" : "NO",
    refusalSummary(r),
  ]);
  const header = ["attack", "token", "method", "attempts", "accepted", "honest", "refused with"];
  const right = new Set([3, 4]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (row: string[]) =>
    row
      .map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

async function main(argv: string[]): Promise<number> {
  const options = parse(argv);
  if (options.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const chain = await openBenchChain({ rpc: options.rpc });
  let results;
  try {
    results = await runReplay(chain, {
      tokens: options.tokens,
      methods: options.methods,
      attacks: options.attacks,
      onResult: (r) => {
        if (process.stderr.isTTY)
          process.stderr.write(
            `  ${r.token} ${r.method} ${r.name}: ${r.accepted}/${r.attempts} accepted\n`,
          );
      },
    });
  } finally {
    await chain.close();
  }
  process.stdout.write(formatTable(results.attacks) + "\n\n");
  const attempts = results.attacks.reduce((n, r) => n + r.attempts, 0);
  const dishonest = results.attacks.filter((r) => !r.honestSettled).length;
  process.stdout.write(
    `${results.attacks.length} attacks, ${attempts} attempts, ${results.accepted} accepted ` +
      `(moved funds when they must not have); ` +
      (dishonest === 0
        ? "the honest payment after every attack settled\n"
        : `the honest payment after ${dishonest} attacks did NOT settle\n`),
  );
  if (options.json) {
    await mkdir(path.dirname(path.resolve(options.json)), { recursive: true });
    await writeFile(options.json, JSON.stringify(results, null, 2) + "\n");
  }
  return results.accepted === 0 && results.honestSettled ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof BenchUsageError) {
      process.stderr.write(`replay: ${error.shortMessage} (see npm run replay -- --help)\n`);
      process.exit(2);
    }
    if (error instanceof BenchChainError) {
      process.stderr.write(`replay: ${error.shortMessage}\n`);
      process.exit(2);
    }
    process.stderr.write(`replay failed: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(1);
  },
);
