import { spawn } from "node:child_process";
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";

import { type BenchmarkResult, benchmarkResultSchema } from "../../src/bench/schema.js";
import { type ChainProcess, startChain } from "../helpers/chainProcess.js";
import { projectRoot, runScript } from "../scripts/run.js";

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: readonly string[], cwd: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.once("error", reject);
    child.once("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

/** A user's script: only the built package (through its package name) and viem. */
const USER_SCRIPT = `
import { createTestClient, http } from "viem";
import { benchmarkResultSchema, runBenchmark } from "x402-clearing";

const [url, methods] = process.argv.slice(2);
const client = createTestClient({ mode: "hardhat", transport: http(url) });
const ticks = [];
try {
  const result = await runBenchmark(client, {
    methods: methods.split(","),
    tokens: ["FiatTokenV2_2"],
    batchSizes: [5],
    payments: 10,
    onProgress: (p) => ticks.push(p),
  });
  benchmarkResultSchema.parse(result);
  const last = ticks.at(-1);
  process.stdout.write(JSON.stringify({ result, progress: { events: ticks.length, last } }));
} catch (error) {
  process.stdout.write(JSON.stringify({ error: { name: error.name, shortMessage: error.shortMessage } }));
}
`;

/** Loader hooks that make the official x402 SDK look uninstalled. */
const HIDE_X402 = `
import { register } from "node:module";
register("data:text/javascript," + encodeURIComponent(\`
export async function resolve(specifier, context, next) {
  if (specifier.startsWith("@x402/")) {
    const error = new Error("Cannot find package '" + specifier + "'");
    error.code = "ERR_MODULE_NOT_FOUND";
    throw error;
  }
  return next(specifier, context);
}\`));
`;

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith(".ts"))
    .map((e) => path.join(e.parentPath, e.name));
}

describe("runBenchmark from a user's script, through the built package", () => {
  let chain: ChainProcess;
  let dir: string;

  before(async () => {
    const build = await run("npm", ["run", "build"], projectRoot);
    expect(build.code, build.stderr + build.stdout).to.equal(0);
    chain = await startChain();
    dir = await mkdtemp(path.join(tmpdir(), "bench-library-"));
    await mkdir(path.join(dir, "node_modules"));
    await symlink(projectRoot, path.join(dir, "node_modules", "x402-clearing"), "dir");
    await symlink(
      path.join(projectRoot, "node_modules", "viem"),
      path.join(dir, "node_modules", "viem"),
      "dir",
    );
    await writeFile(path.join(dir, "package.json"), JSON.stringify({ type: "module" }));
    await writeFile(path.join(dir, "bench.mjs"), USER_SCRIPT);
    await writeFile(path.join(dir, "hide-x402.mjs"), HIDE_X402);
  });
  after(async () => {
    await chain?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("measures x402-exact-single and router-direct on an npm run chain node, in the shape npm run bench --json writes", async () => {
    const script = await run(
      process.execPath,
      ["bench.mjs", chain.url, "x402-exact-single,router-direct"],
      dir,
    );
    expect(script.code, script.stderr).to.equal(0);
    const out = JSON.parse(script.stdout) as {
      result?: BenchmarkResult;
      error?: unknown;
      progress: { events: number; last: { done: number; total: number } };
    };
    expect(out.error, JSON.stringify(out.error)).to.equal(undefined);
    const result = benchmarkResultSchema.parse(out.result);
    expect(result.chain.chainId).to.equal(8453);
    expect(result.chain.forked).to.equal(false);
    expect(result.runs.map((r) => [r.method, r.batchSize])).to.deep.equal([
      ["x402-exact-single", 1],
      ["router-direct", 5],
    ]);
    for (const r of result.runs) {
      expect(r.token).to.equal("FiatTokenV2_2");
      expect(r.settled, r.method).to.equal(10);
      expect(r.failed, r.method).to.equal(0);
      expect(r.l1BytesPerPayment, r.method).to.be.greaterThan(0);
    }
    const [single, router] = result.runs;
    expect(single!.transactions).to.equal(10);
    expect(router!.transactions).to.equal(2);
    expect(router!.gasPerPayment).to.be.lessThan(single!.gasPerPayment);
    // Progress came through the callback, up to every payment.
    expect(out.progress.events).to.be.greaterThan(2);
    expect(out.progress.last).to.include({ done: 20, total: 20 });

    // The command writes the same shape: same chain fields, same fields per run.
    const json = path.join(dir, "cli.json");
    const cli = await runScript("bench", [
      "--rpc",
      chain.url,
      "--methods",
      "x402-exact-single,router-direct",
      "--tokens",
      "usdc",
      "--payments",
      "10",
      "--batch",
      "5",
      "--json",
      json,
    ]);
    expect(cli.code, cli.stderr).to.equal(0);
    const written = benchmarkResultSchema.parse(JSON.parse(await readFile(json, "utf8")));
    expect(Object.keys(written.chain)).to.deep.equal(Object.keys(result.chain));
    expect(written.runs.map((r) => Object.keys(r).sort())).to.deep.equal(
      result.runs.map((r) => Object.keys(r).sort()),
    );
  });

  it("loads the official x402 SDK only for the method that needs it, and says so when it is missing", async () => {
    const hidden = ["--import", "./hide-x402.mjs", "bench.mjs", chain.url];
    const single = await run(process.execPath, [...hidden, "x402-exact-single"], dir);
    expect(single.code, single.stderr).to.equal(0);
    expect(JSON.parse(single.stdout).error).to.deep.equal({
      name: "BenchmarkDependencyError",
      shortMessage:
        "The benchmark method x402-exact-single needs @x402/evm and @x402/core, which are not installed.",
    });
    const router = await run(process.execPath, [...hidden, "router-direct"], dir);
    expect(router.code, router.stderr).to.equal(0);
    const out = JSON.parse(router.stdout) as { result: BenchmarkResult };
    expect(out.result.runs.map((r) => [r.method, r.settled])).to.deep.equal([
      ["router-direct", 10],
    ]);
  });

  it("the JSON format keeps the facilitator rows' fields and refuses malformed ones", () => {
    const step = {
      token: "FiatTokenV2_2",
      method: "facilitator-clearing",
      batchSize: 100,
      payments: 1_000,
      settled: 1_000,
      failed: 0,
      gasPerPayment: 120,
      l1BytesPerPayment: 1.5,
      paymentsPerSecond: 498.2,
      transactions: 3,
      scheme: "clearing",
      facilitator: "x402-clearing",
      mode: "open",
      requestsPerSecond: 498.2,
      latencyP50Ms: 9,
      latencyP99Ms: 41,
      rate: 500,
      durationSeconds: 2,
      sustained: true,
      p99BoundMs: 250,
      sustainedRate: 500,
      breaksAt: null,
      firstRequestLatencyP50Ms: 2_010,
      firstRequestLatencyP99Ms: 2_300,
    };
    const chainInfo = { chainId: 8453, forked: false, blockNumber: 0 };
    const parsed = benchmarkResultSchema.parse({ chain: chainInfo, runs: [step] });
    expect(parsed.runs[0]).to.deep.equal(step);
    for (const [field, value] of [
      ["mode", "sideways"],
      ["latencyP99Ms", -1],
      ["rate", 0],
      ["sustained", "yes"],
      ["breaksAt", -100],
      ["requestsPerSecond", "fast"],
    ] as const)
      expect(
        () =>
          benchmarkResultSchema.parse({ chain: chainInfo, runs: [{ ...step, [field]: value }] }),
        field,
      ).to.throw();
  });

  it("nothing under src/ imports Hardhat, and the official SDK only as types or lazily", async () => {
    for (const file of await sourceFiles(path.join(projectRoot, "src"))) {
      const source = await readFile(file, "utf8");
      const name = path.relative(projectRoot, file);
      // typechain's Hardhat type augmentation: generated on compile, not shipped (package.json files).
      if (name === path.join("src", "typechain", "hardhat.d.ts")) continue;
      expect(source, name).to.not.match(/from "hardhat|import\("hardhat|@nomicfoundation\/hardhat/);
      for (const [, clause] of source.matchAll(/import\s+([^;]*?)\s+from\s+"@x402\//g))
        expect(clause, name).to.match(/^type\s/);
    }
  });
});
