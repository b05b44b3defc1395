import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";
import * as vega from "vega";
import { compile } from "vega-lite";
import { type Hex, concat, keccak256, toHex } from "viem";

import { parseBenchArgs } from "../../scripts/bench/args.js";
import { type BenchChain, openBenchChain } from "../../scripts/bench/chain.js";
import {
  CHART_MEASURES,
  chartSpec,
  logTicks,
  perPairChartSpec,
  perPairPoints,
  renderSvg,
} from "../../scripts/bench/charts.js";
import { BenchUsageError } from "../../scripts/bench/errors.js";
import { createFacilitatorMethod, ROUTED_BENCH_FEE } from "../../scripts/bench/facilitator.js";
import { estimateRemaining, formatDuration } from "../../scripts/bench/progress.js";
import { deployBenchRouter } from "../../src/bench/contracts.js";
import { l1BytesOfReceipt } from "../../src/bench/measure.js";
import { BENCHMARK_METHODS } from "../../src/bench/methods/index.js";
import type { BenchmarkMethodContext } from "../../src/bench/methods/types.js";
import {
  BENCHMARK_PAYMENT_AMOUNT,
  benchPayments,
  measureRun,
  runBenchmark,
} from "../../src/bench/runBenchmark.js";
import {
  type BenchmarkResult,
  type BenchmarkRun,
  benchmarkResultSchema,
} from "../../src/bench/schema.js";
import { benchAddress, benchPayers, setupBenchToken } from "../../src/bench/tokens.js";
import { runScript } from "./run.js";

/** `words` pseudo-random 32-byte words. */
function keccakChain(words: number): Hex {
  const out: Hex[] = [];
  for (let i = 0; i < words; i++) out.push(keccak256(toHex(`word ${i}`)));
  return concat(out);
}

const METHODS = ["x402-exact-single", "multicall3", "router-direct", "router-routed", "clearing"];
const TOKENS = ["FiatTokenV2_2", "X402TestToken"];

/** A run row with the fields the charts read. */
function row(method: string, batchSize: number, values: Partial<BenchmarkRun>): BenchmarkRun {
  return {
    token: "FiatTokenV2_2",
    method,
    batchSize,
    payments: 100,
    settled: 100,
    failed: 0,
    gasPerPayment: 0,
    l1BytesPerPayment: 0,
    paymentsPerSecond: 0,
    ...values,
  };
}

/** Runs as the README's batch-100 table has them: the routers 600 gas apart, the single at 85k. */
const CHART_RUNS: BenchmarkRun[] = [
  row("x402-exact-single", 1, { gasPerPayment: 85_724, paymentsPerSecond: 90 }),
  ...[50, 100, 200].flatMap((size, i) => [
    row("multicall3", size, { gasPerPayment: 54_600 - i * 50, paymentsPerSecond: 2_400 + i * 10 }),
    row("router-direct", size, { gasPerPayment: 47_400 - i * 30, paymentsPerSecond: 2_900 + i }),
    row("router-routed", size, { gasPerPayment: 48_000 - i * 30, paymentsPerSecond: 2_800 + i }),
  ]),
];

/** The compiled chart's view, evaluated (scales resolved), and its SVG. */
async function renderView(spec: Parameters<typeof compile>[0]) {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" });
  await view.runAsync();
  return view;
}

/** The line marks of one panel in a rendered SVG: one `<path>` per drawn series. */
function linePaths(svg: string, panel: number): number {
  const groups = svg.split(`class="mark-line role-mark concat_${panel}_layer_0_marks"`).slice(1);
  return groups.filter((g) => /^[^>]*>\s*<path /.test(g)).length;
}

describe("npm run bench", () => {
  describe("flags", () => {
    it("--quick runs every method at batch 100 with 200 payments per run", () => {
      const options = parseBenchArgs(["--quick"]);
      expect(options.batchSizes).to.deep.equal([100]);
      expect(options.payments).to.equal(200);
      expect(options.methods).to.deep.equal(METHODS);
      expect(options.tokens).to.deep.equal(TOKENS);
    });

    it("parses lists, aliases and numbers", () => {
      const options = parseBenchArgs([
        "--batch",
        "200,50,50",
        "--tokens",
        "usdc",
        "--methods",
        "multicall3,router-routed",
        "--payments",
        "30",
        "--block-time",
        "0.5",
      ]);
      expect(options.batchSizes).to.deep.equal([50, 200]);
      expect(options.tokens).to.deep.equal(["FiatTokenV2_2"]);
      expect(options.methods).to.deep.equal(["multicall3", "router-routed"]);
      expect(options.payments).to.equal(30);
      expect(options.blockTime).to.equal(0.5);
    });

    it("defaults to the workload of today: --payments payers, one payee, one payment each", () => {
      const options = parseBenchArgs(["--quick", "--payments", "30"]);
      expect([options.payers, options.payees, options.paymentsPerPair]).to.deep.equal([30, 1, [1]]);
    });

    it("parses the workload flags, sorting and deduplicating payments per pair", () => {
      const options = parseBenchArgs([
        "--payers",
        "100",
        "--payees",
        "10",
        "--payments-per-pair",
        "100,1,10,10",
      ]);
      expect([options.payers, options.payees, options.paymentsPerPair]).to.deep.equal([
        100,
        10,
        [1, 10, 100],
      ]);
    });

    it("parses the facilitator method's open-loop flags: sorted rates, step length, p99 bound, rows", () => {
      const options = parseBenchArgs([
        "--methods",
        "facilitator",
        "--rate",
        "800,100,500,200,100",
        "--duration",
        "2.5",
        "--p99-bound-ms",
        "300",
        "--rows",
        "clearing,official",
        "--threads",
        "2",
      ]);
      expect(options.rates).to.deep.equal([100, 200, 500, 800]);
      expect([options.duration, options.p99BoundMs, options.threads]).to.deep.equal([2.5, 300, 2]);
      expect(options.rows).to.deep.equal(["clearing", "official"]);
      const closed = parseBenchArgs([
        "--methods",
        "facilitator",
        "--payers",
        "20",
        "--payments-per-pair",
        "5",
      ]);
      expect([closed.rates, closed.duration, closed.p99BoundMs, closed.threads]).to.deep.equal([
        [],
        10,
        250,
        1,
      ]);
      expect(closed.rows).to.deep.equal(["official", "exact", "routed", "clearing"]);
      expect([closed.payers, closed.paymentsPerPair]).to.deep.equal([20, [5]]);
    });

    for (const [args, message] of [
      [["--batch", "0"], /--batch must be between 1 and 1000, got 0/],
      [["--batch", "ten"], /--batch must be a whole number, got "ten"/],
      [["--payments", "-1"], /--payments must be between 1 and 100000, got -1/],
      [["--payments", "-5"], /--payments must be between 1 and 100000, got -5/],
      [["--payers", "0"], /--payers must be between 1 and 100000, got 0/],
      [["--payees", "1001"], /--payees must be between 1 and 1000, got 1001/],
      [["--payments-per-pair", "1,x"], /--payments-per-pair must be a whole number, got "x"/],
      [["--payments-per-pair", ","], /--payments-per-pair needs at least one value/],
      [["--payments", "10", "--payers", "10"], /--payments and --payers both set the payers/],
      [
        ["--payers", "100", "--payees", "100", "--payments-per-pair", "1,11"],
        /at most 100000, got 100 x 100 x 11 = 110000/,
      ],
      [["--methods", "facilitator", "--payees", "2"], /facilitator method pays one payee/],
      [
        ["--methods", "facilitator", "--rate", "100,0"],
        /--rate must be between 1 and 100000, got 0/,
      ],
      [["--methods", "facilitator", "--rate", "fast"], /--rate must be a whole number, got "fast"/],
      [["--methods", "facilitator", "--rate", ","], /--rate needs at least one value/],
      [
        ["--methods", "facilitator", "--rate", "100", "--duration", "0"],
        /--duration must be a number of seconds in \(0, 600\], got "0"/,
      ],
      [
        ["--methods", "facilitator", "--rate", "100", "--p99-bound-ms", "-1"],
        /--p99-bound-ms must be between 1 and 600000, got -1/,
      ],
      [
        ["--methods", "facilitator", "--duration", "5"],
        /--duration and --p99-bound-ms need --rate/,
      ],
      [
        ["--methods", "facilitator", "--rate", "100", "--clients", "50"],
        /--clients is the closed loop's and --rate the open loop's/,
      ],
      [
        ["--methods", "facilitator", "--rate", "50000", "--duration", "3"],
        /the --rate steps make 150000 requests per row/,
      ],
      [["--methods", "facilitator", "--rows", "exact,barter"], /unknown row "barter"/],
      [
        ["--methods", "facilitator", "--threads", "17"],
        /--threads must be between 0 and 16, got 17/,
      ],
      [["--rate", "100"], /--rate applies to the facilitator method only/],
      [["--block-time", "-2"], /--block-time must be a number of seconds/],
      [["--methods", "carrier-pigeon"], /unknown method "carrier-pigeon"/],
      [["--tokens", "DAI"], /unknown token "DAI"/],
      [["--rpc", "localhost:8545"], /--rpc must be an http\(s\) URL/],
      [["--block-time", "0"], /--block-time must be a number of seconds/],
      [["--frobnicate"], /Unknown option '--frobnicate'/],
    ] as const)
      it(`rejects ${args.join(" ")} with its reason`, () => {
        expect(() => parseBenchArgs(args)).to.throw(BenchUsageError, message);
      });
  });

  describe("progress", () => {
    it("formats durations rounded to whole seconds, never 60 seconds in a minute", () => {
      expect(formatDuration(42)).to.equal("42s");
      expect(formatDuration(119.6)).to.equal("2m00s");
      expect(formatDuration(59.7)).to.equal("1m00s");
      expect(formatDuration(187)).to.equal("3m07s");
      expect(formatDuration(3_725)).to.equal("1h02m");
    });

    it("estimates the time left from the rate since the first payment, not from the start", () => {
      // Nothing done yet, or too little to go by: no estimate rather than a wild one.
      expect(estimateRemaining(undefined, 60_000, 0, 1_000)).to.equal(undefined);
      expect(estimateRemaining({ ms: 60_000, done: 1 }, 60_500, 3, 1_000)).to.equal(undefined);
      // 100 payments in 10 s after a minute of funding: 900 left take 90 s.
      expect(estimateRemaining({ ms: 60_000, done: 0 }, 70_000, 100, 1_000)).to.equal(90);
      expect(estimateRemaining({ ms: 60_000, done: 0 }, 70_000, 1_000, 1_000)).to.equal(0);
    });
  });

  describe("charts", () => {
    it("has one chart per measure: gas, L1 bytes and payments per second", () => {
      expect(CHART_MEASURES.map((m) => m.key)).to.deep.equal([
        "gasPerPayment",
        "l1BytesPerPayment",
        "paymentsPerSecond",
      ]);
    });

    it("draws one line per series in each panel", async () => {
      const svg = await renderSvg(chartSpec("FiatTokenV2_2", CHART_RUNS, CHART_MEASURES[0]!));
      expect(svg.startsWith("<svg")).to.equal(true);
      // Every method, then the three batching methods alone.
      expect(linePaths(svg, 0)).to.equal(4);
      expect(linePaths(svg, 1)).to.equal(3);
      for (const label of [
        "x402-exact-single: 85,724",
        "router-direct: 47,340",
        "router-routed: 47,940",
        "multicall3: 54,500",
      ])
        expect(svg).to.contain(label);
    });

    it("zooms the batching panel's axis onto the batching methods", async () => {
      const view = await renderView(chartSpec("FiatTokenV2_2", CHART_RUNS, CHART_MEASURES[0]!));
      const [low, high] = view.scale("concat_1_y").domain() as [number, number];
      // The routers' 600 gas are over 5% of the zoomed axis, not 0.6% of a 0-100k one.
      expect(low).to.be.greaterThan(40_000).and.at.most(47_340);
      expect(high).to.be.at.least(54_600).and.lessThan(60_000);
      expect(600 / (high - low)).to.be.greaterThan(0.05);
      expect(view.scale("concat_0_y").domain()[0]).to.equal(0);
      view.finalize();
    });

    it("puts methods an order of magnitude apart on a logarithmic scale", async () => {
      const spec = chartSpec("FiatTokenV2_2", CHART_RUNS, CHART_MEASURES[2]!);
      const view = await renderView(spec);
      expect(view.scale("concat_0_y").type).to.equal("log");
      expect(view.scale("concat_1_y").type).to.equal("linear");
      view.finalize();
      // Labels at 1, 2 and 5 times a power of ten, so they do not crowd each other.
      expect(logTicks(90, 2_910)).to.deep.equal([50, 100, 200, 500, 1_000, 2_000, 5_000]);
    });
  });

  describe("on the simulated chain", () => {
    let chain: BenchChain;
    before(async () => {
      chain = await openBenchChain();
    });
    after(async () => {
      await chain?.close();
    });

    it("reads L1 data size from the receipt and falls back to the GasPriceOracle with the same result", async () => {
      const wallet = chain.wallets[0]!;
      // Incompressible calldata, so the estimate is well above the 100-byte minimum.
      const data = keccakChain(12);
      const hash = await wallet.sendTransaction({ to: wallet.account.address, data });
      const receipt = await chain.client.waitForTransactionReceipt({ hash });
      const fromReceipt = await l1BytesOfReceipt(chain.client, receipt);
      const { l1GasUsed: _dropped, ...plain } = receipt as typeof receipt & {
        l1GasUsed?: unknown;
      };
      const fromOracle = await l1BytesOfReceipt(chain.client, plain as typeof receipt);
      expect(fromReceipt > 300n).to.equal(true);
      // The oracle estimates the unsigned transaction plus 68 bytes for the signature.
      const difference =
        fromOracle > fromReceipt ? fromOracle - fromReceipt : fromReceipt - fromOracle;
      expect(difference < 8n).to.equal(true);
    });

    it("counts a payment that cannot settle as failed with its reason, and settles the others", async () => {
      const token = await setupBenchToken(chain, "FiatTokenV2_2");
      const payers = benchPayers(6, "bench-test-payer");
      // The last payer never gets funds.
      await token.fund(
        payers.slice(0, 5).map((p) => p.address),
        BENCHMARK_PAYMENT_AMOUNT * 10n,
      );
      const router = await deployBenchRouter(chain, chain.wallets[0]!);
      const reasons: Record<string, Record<string, number> | undefined> = {};
      // The opt-in Permit2 methods have a test of their own (below).
      for (const method of Object.values(BENCHMARK_METHODS).filter((m) => !m.optIn)) {
        const payee = benchAddress("bench-test-payee");
        const ctx: BenchmarkMethodContext = {
          node: chain,
          token,
          payers,
          payees: [payee],
          payee,
          paymentsPerPair: 1,
          payments: benchPayments(payers, [payee], 1),
          amount: BENCHMARK_PAYMENT_AMOUNT,
          batchSize: method.batched ? 3 : 1,
          batchSizes: [3],
          submitter: chain.wallets[1]!,
          router,
          feeRecipient: benchAddress("bench-test-fee-recipient"),
          blockTime: 0,
          clients: 1,
          tick() {},
          label() {},
        };
        const outcome = await method.run(ctx);
        // clearing measures itself (its payments are vouchers, not token authorizations).
        if ("runs" in outcome && method.name !== "clearing")
          throw new Error(`${method.name} measures itself`);
        const run = "runs" in outcome ? outcome.runs[0]! : await measureRun(ctx, method, outcome);
        expect(run.payments, method.name).to.equal(6);
        expect(run.settled, method.name).to.equal(5);
        expect(run.failed, method.name).to.equal(1);
        reasons[method.name] = run.failureReasons;
      }
      expect(reasons).to.deep.equal({
        // The official facilitator's verify names the missing balance.
        "x402-exact-single": { invalid_exact_evm_insufficient_balance: 1 },
        // aggregate3 with allowFailure only says that a call failed, not why.
        multicall3: undefined,
        // The router's PaymentFailed event carries the token's revert, decoded.
        "router-direct": { invalid_exact_evm_insufficient_balance: 1 },
        "router-routed": { invalid_exact_evm_insufficient_balance: 1 },
        // The unfunded payer's deposit fails, so its voucher finds no balance.
        clearing: { insufficient_balance: 1 },
      });
    });

    it("runs every method under a workload of payers, payees and payments per pair, and clearing reports its own figures", async () => {
      const { runs } = await runBenchmark(chain.client, {
        methods: ["router-direct", "clearing"],
        tokens: ["FiatTokenV2_2"],
        batchSizes: [100],
        payers: 4,
        payees: 3,
        paymentsPerPair: [1, 3],
      });
      expect(runs.map((r) => [r.method, r.paymentsPerPair, r.payments])).to.deep.equal([
        ["router-direct", 1, 12],
        ["clearing", 1, 12],
        ["router-direct", 3, 36],
        ["clearing", 3, 36],
      ]);
      for (const run of runs) {
        expect([run.payers, run.payees], run.method).to.deep.equal([4, 3]);
        expect(run.settled, run.method).to.equal(run.payments);
        expect(run.failed, run.method).to.equal(0);
      }
      const [direct1, clearing1, direct3, clearing3] = runs as [
        BenchmarkRun,
        BenchmarkRun,
        BenchmarkRun,
        BenchmarkRun,
      ];
      // One authorization per payment: the router's cost per payment does not fall with repeats
      // (beyond the transaction's 21k shared by three times the payments).
      expect(direct3.gasPerPayment).to.be.greaterThan(direct1.gasPerPayment * 0.8);
      for (const run of [clearing1, clearing3]) {
        for (const field of [
          "depositGasPerPayer",
          "firstClearGasPerPair",
          "clearGasPerPair",
          "verifyMicrosP50",
        ] as const)
          expect(run[field], field).to.be.a("number").and.greaterThan(0);
        // Twelve pairs, one clear call each round: a pair's first clear writes its totals.
        expect(run.transactions).to.equal(1);
        expect(run.clearGasPerPair!).to.be.lessThan(run.firstClearGasPerPair!);
        expect(run.depositGasPerPayer!).to.be.within(60_000, 120_000);
        // gasPerPayment is the clear gas over the payments cleared.
        expect(run.gasPerPayment).to.be.within(
          Math.floor((run.clearGasPerPair! * 12) / run.settled) - 1,
          Math.ceil((run.clearGasPerPair! * 12) / run.settled) + 1,
        );
        expect(run.gasPerPayment).to.be.lessThan(direct1.gasPerPayment / 2);
      }
      // Three payments per pair share one clear: a third of the gas per payment.
      expect(clearing3.gasPerPayment).to.be.closeTo(clearing1.gasPerPayment / 3, 20);
      expect(clearing3.l1BytesPerPayment).to.be.lessThan(clearing1.l1BytesPerPayment / 2);

      // Two payments-per-pair values: the chart of gas per payment against them has a line per method.
      const spec = perPairChartSpec("FiatTokenV2_2", runs);
      const svg = await renderSvg(spec);
      const lines = svg.split('class="mark-line role-mark layer_0_marks"').slice(1);
      expect(lines.filter((g) => /^[^>]*>\s*<path /.test(g))).to.have.length(2);
      expect(svg).to.contain("router-direct: ").and.to.contain("clearing: ");
      expect(perPairPoints(runs).map((p) => [p.method, p.paymentsPerPair])).to.deep.equal([
        ["router-direct", 1],
        ["router-direct", 3],
        ["clearing", 1],
        ["clearing", 3],
      ]);
    });

    it("the Permit2 methods settle every payment on USDC and the USDT-like token, and the router batch costs less gas per payment", async () => {
      const { runs } = await runBenchmark(chain.client, {
        methods: ["permit2-single", "router-permit2"],
        tokens: ["FiatTokenV2_2", "UsdtLike"],
        batchSizes: [6],
        payments: 6,
      });
      expect(runs.map((r) => [r.token, r.method, r.batchSize, r.settled, r.failed])).to.deep.equal([
        ["FiatTokenV2_2", "permit2-single", 1, 6, 0],
        ["FiatTokenV2_2", "router-permit2", 6, 6, 0],
        ["UsdtLike", "permit2-single", 1, 6, 0],
        ["UsdtLike", "router-permit2", 6, 6, 0],
      ]);
      for (const token of ["FiatTokenV2_2", "UsdtLike"]) {
        const gas = (method: string) =>
          runs.find((r) => r.token === token && r.method === method)!.gasPerPayment;
        expect(gas("router-permit2")).to.be.greaterThan(0);
        expect(gas("router-permit2")).to.be.lessThan(gas("permit2-single"));
      }
    });

    it("skips the EIP-3009 methods on the USDT-like token", async () => {
      const { runs } = await runBenchmark(chain.client, {
        methods: ["router-direct", "router-permit2"],
        tokens: ["UsdtLike"],
        batchSizes: [2],
        payments: 2,
      });
      expect(runs.map((r) => [r.method, r.settled])).to.deep.equal([["router-permit2", 2]]);
    });

    it("settles through a router the caller deployed, when given one", async () => {
      const router = await deployBenchRouter(chain, chain.wallets[0]!);
      const from = await chain.client.getBlockNumber();
      const { runs } = await runBenchmark(chain.client, {
        methods: ["router-direct"],
        tokens: ["FiatTokenV2_2"],
        batchSizes: [5],
        payments: 5,
        router,
      });
      expect(runs.map((r) => [r.method, r.settled])).to.deep.equal([["router-direct", 5]]);
      const events = await chain.client.getLogs({ address: router, fromBlock: from });
      // One BatchSettled event: the run's one batch went through this router.
      expect(events).to.have.length(1);
    });

    it("the facilitator benchmark settles every request with fewer transactions than the official facilitator", async () => {
      // 10 payers x 2 requests each, the clients and the resource server in worker threads.
      const result = await runBenchmark(chain.client, {
        methods: [createFacilitatorMethod({ rows: ["official", "exact"] })],
        tokens: ["FiatTokenV2_2"],
        batchSizes: [10],
        payers: 10,
        paymentsPerPair: 2,
        clients: 5,
      });
      expect(() => benchmarkResultSchema.parse(result)).to.not.throw();
      expect(result.runs.map((r) => [r.method, r.scheme, r.mode, r.batchSize])).to.deep.equal([
        ["facilitator-official", "exact", "closed", 1],
        ["facilitator-batching", "exact", "closed", 10],
      ]);
      const [official, batching] = result.runs as (BenchmarkRun & Record<string, number>)[];
      for (const run of [official!, batching!]) {
        expect(run.token).to.equal("FiatTokenV2_2");
        expect(run.payments, run.method).to.equal(20);
        expect(run.settled, run.method).to.equal(20);
        expect(run.failed, run.method).to.equal(0);
        expect(run.clients).to.equal(5);
        expect(run.payers).to.equal(10);
        for (const field of [
          "gasPerPayment",
          "l1BytesPerPayment",
          "paymentsPerSecond",
          "requestsPerSecond",
          "latencyP50Ms",
          "latencyP99Ms",
        ])
          expect(run[field], `${run.method} ${field}`).to.be.a("number").and.greaterThan(0);
        expect(run.requestsPerSecond).to.equal(run.paymentsPerSecond);
        expect(run.latencyP99Ms).to.be.at.least(run.latencyP50Ms!);
        expect(run.rate, "closed loop has no rate").to.equal(undefined);
      }
      // One transaction per payment for the official facilitator (counted from the chain); batches for ours.
      expect(official!.transactions).to.equal(20);
      expect(batching!.transactions).to.be.at.least(2).and.lessThan(official!.transactions!);
      expect(batching!.gasPerPayment).to.be.lessThan(official!.gasPerPayment);
      const vs = (batching as unknown as { vsOfficial: Record<string, number> }).vsOfficial;
      expect(vs.transactions).to.equal(
        Math.round((batching!.transactions! / official!.transactions!) * 1000) / 1000,
      );
      expect(vs.latencyP50).to.equal(
        Math.round((batching!.latencyP50Ms! / official!.latencyP50Ms!) * 1000) / 1000,
      );
    });

    it("the facilitator benchmark's routed row pays every request through the router, the relayer fee to its recipient", async () => {
      const result = await runBenchmark(chain.client, {
        methods: [createFacilitatorMethod({ rows: ["routed"] })],
        tokens: ["FiatTokenV2_2"],
        batchSizes: [10],
        payers: 10,
        paymentsPerPair: 2,
        clients: 5,
      });
      expect(() => benchmarkResultSchema.parse(result)).to.not.throw();
      const [routed] = result.runs as (BenchmarkRun & Record<string, number>)[];
      expect([routed!.method, routed!.scheme, routed!.settled, routed!.failed]).to.deep.equal([
        "facilitator-routed",
        "routed",
        20,
        0,
      ]);
      // The fee recipient's balance grew by the row's fee once per paid request.
      expect(routed!.feeReceived).to.equal(20 * Number(ROUTED_BENCH_FEE));
      expect(routed!.transactions).to.be.at.least(2).and.lessThan(20);
      expect(routed!.gasPerPayment).to.be.greaterThan(0);
    });

    it("the facilitator benchmark's open loop reports every step until a row breaks, and where", async () => {
      // Two 1 s steps, in this thread; a p99 bound no paid request meets breaks every row at once.
      const run = (p99BoundMs: number) =>
        runBenchmark(chain.client, {
          methods: [
            createFacilitatorMethod({
              rows: ["official", "exact"],
              rates: [10, 20],
              durationSeconds: 1,
              p99BoundMs,
              clientThreads: 0,
              serverThread: false,
            }),
          ],
          tokens: ["FiatTokenV2_2"],
          batchSizes: [10],
          payments: 5,
        });
      const broken = await run(1);
      expect(() => benchmarkResultSchema.parse(broken)).to.not.throw();
      expect(broken.runs.map((r) => [r.method, r.mode, r.rate, r.sustained])).to.deep.equal([
        ["facilitator-official", "open", 10, false],
        ["facilitator-batching", "open", 10, false],
      ]);
      for (const row of broken.runs) {
        expect([row.sustainedRate, row.breaksAt, row.p99BoundMs]).to.deep.equal([0, 10, 1]);
        expect(row.payments, row.method).to.equal(10);
        expect(row.settled, row.method).to.equal(10);
        expect(row.durationSeconds).to.equal(1);
      }

      const generous = await run(600_000);
      expect(generous.runs.map((r) => [r.method, r.rate, r.sustained])).to.deep.equal([
        ["facilitator-official", 10, true],
        ["facilitator-official", 20, true],
        ["facilitator-batching", 10, true],
        ["facilitator-batching", 20, true],
      ]);
      for (const row of generous.runs) {
        expect([row.sustainedRate, row.breaksAt], row.method).to.deep.equal([20, null]);
        expect(row.payments, `${row.method} @ ${row.rate}`).to.equal(row.rate);
        expect(row.settled).to.equal(row.payments);
        expect(row.requestsPerSecond).to.be.greaterThan(0);
        expect(row.transactions).to.be.greaterThan(0);
      }
      // The official facilitator's transactions are counted per step from the chain: one per payment.
      expect(
        generous.runs.filter((r) => r.method === "facilitator-official").map((r) => r.transactions),
      ).to.deep.equal([10, 20]);
    });
  });

  describe("the command", () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(path.join(tmpdir(), "bench-test-"));
    });
    after(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it("--quick settles every payment of every method and token and writes the JSON format", async () => {
      const json = path.join(dir, "out.json");
      const report = path.join(dir, "report");
      const result = await runScript("bench", ["--quick", "--json", json, "--report", report]);
      expect(result.code, result.stderr).to.equal(0);
      const out: BenchmarkResult = benchmarkResultSchema.parse(
        JSON.parse(await readFile(json, "utf8")),
      );
      expect(out.chain).to.deep.equal({ chainId: 8453, forked: false, blockNumber: 0 });

      const run = (token: string, method: string): BenchmarkRun => {
        const found = out.runs.find((r) => r.token === token && r.method === method);
        expect(found, `${token} ${method}`).to.not.equal(undefined);
        return found!;
      };
      for (const token of TOKENS)
        for (const method of METHODS) {
          const r = run(token, method);
          expect(r.batchSize).to.equal(method === "x402-exact-single" ? 1 : 100);
          expect(r.payments).to.equal(200);
          expect(r.settled).to.equal(r.payments);
          expect(r.failed).to.equal(0);
          expect(r.transactions).to.equal(method === "x402-exact-single" ? 200 : 2);
          for (const field of ["gasPerPayment", "l1BytesPerPayment", "paymentsPerSecond"] as const)
            expect(r[field]).to.be.a("number").and.greaterThan(0);
          expect(result.stdout).to.contain(method);
        }

      for (const token of TOKENS) {
        // Clearing one voucher per pair costs less than settling the authorization it replaces.
        const clearing = run(token, "clearing");
        expect(clearing.gasPerPayment).to.be.lessThan(run(token, "router-direct").gasPerPayment);
        expect(clearing.clearGasPerPair).to.equal(clearing.gasPerPayment);
        for (const field of ["depositGasPerPayer", "firstClearGasPerPair", "verifyMicrosP50"])
          expect(clearing[field], `${token} clearing ${field}`)
            .to.be.a("number")
            .and.greaterThan(0);
      }
      for (const token of TOKENS) {
        const single = run(token, "x402-exact-single");
        const multicall = run(token, "multicall3");
        expect(multicall.gasPerPayment).to.be.lessThan(single.gasPerPayment);
        for (const method of ["router-direct", "router-routed"]) {
          // Gas and L1 bytes are deterministic: one transaction per payment costs the most, the
          // packed router needs far fewer L1 bytes than ABI-encoded calls.
          const router = run(token, method);
          expect(router.gasPerPayment).to.be.lessThan(single.gasPerPayment);
          expect(router.l1BytesPerPayment).to.be.at.most(single.l1BytesPerPayment * 0.55);
          expect(router.l1BytesPerPayment).to.be.lessThan(multicall.l1BytesPerPayment);
        }
      }
      // The acceptance figures on USDC at batch 100 (gas is deterministic but for the few zero bytes
      // of random nonces and signatures, a few gas per payment either way).
      const usdcSingle = run("FiatTokenV2_2", "x402-exact-single");
      const usdcMulticall = run("FiatTokenV2_2", "multicall3");
      for (const method of ["router-direct", "router-routed"]) {
        const router = run("FiatTokenV2_2", method);
        expect(router.gasPerPayment).to.be.at.most(usdcSingle.gasPerPayment * 0.56);
        expect(router.gasPerPayment).to.be.at.most(usdcMulticall.gasPerPayment * 0.98);
      }

      const markdown = await readFile(path.join(report, "report.md"), "utf8");
      for (const token of TOKENS)
        for (const measure of CHART_MEASURES) {
          const file = `${measure.file}-${token}.svg`;
          expect(markdown).to.contain(`(${file})`);
          const svg = await readFile(path.join(report, file), "utf8");
          expect(linePaths(svg, 0), file).to.equal(METHODS.length);
          for (const method of METHODS) expect(svg, file).to.contain(`${method}: `);
        }
    });

    it("reports a bad flag in one line, with a pointer to --help, and exit status 2", async () => {
      const result = await runScript("bench", ["--batch", "0"]);
      expect(result.code).to.equal(2);
      expect(result.stderr).to.equal(
        "bench: --batch must be between 1 and 1000, got 0 (see npm run bench -- --help)\n",
      );
    });

    it("reports an unreachable chain in one line with exit status 2", async () => {
      const result = await runScript("bench", ["--quick", "--rpc", "http://127.0.0.1:9"]);
      expect(result.code).to.equal(2);
      expect(result.stderr).to.match(/^bench: cannot reach the node at http:\/\/127\.0\.0\.1:9/);
      expect(result.stderr).to.not.contain("    at ");
    });
  });
});
