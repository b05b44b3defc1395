import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";

import { type Hex, concat, keccak256, toHex } from "viem";

import { openBenchChain } from "../../scripts/bench/chain.js";
import { BenchUsageError } from "../../scripts/bench/errors.js";
import { l1BytesOf } from "../../scripts/bench/measure.js";
import { type BenchMethod, parseBenchArgs } from "../../scripts/bench/args.js";
import { runMulticall3 } from "../../scripts/bench/methods/multicall3.js";
import {
  deployRouter,
  runRouterDirect,
  runRouterRouted,
} from "../../scripts/bench/methods/router.js";
import { runExactSingle } from "../../scripts/bench/methods/single.js";
import type { MethodContext } from "../../scripts/bench/methods/types.js";
import { silentProgress } from "../../scripts/bench/progress.js";
import { PAYMENT_AMOUNT, measureRun } from "../../scripts/bench/run.js";
import { benchAddress, benchPayers, setupBenchToken } from "../../scripts/bench/tokens.js";
import { lineChart, niceScale } from "../../scripts/bench/svg.js";
import type { BenchResults, BenchRun } from "../../scripts/bench/types.js";
import { runScript } from "./run.js";

/** `words` pseudo-random 32-byte words. */
function keccakChain(words: number): Hex {
  const out: Hex[] = [];
  for (let i = 0; i < words; i++) out.push(keccak256(toHex(`word ${i}`)));
  return concat(out);
}

const METHODS = ["x402-exact-single", "multicall3", "router-direct", "router-routed"];
const TOKENS = ["FiatTokenV2_2", "X402TestToken"];

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

    for (const args of [
      ["--batch", "0"],
      ["--batch", "ten"],
      ["--payments", "-1"],
      ["--methods", "carrier-pigeon"],
      ["--tokens", "DAI"],
      ["--rpc", "localhost:8545"],
      ["--block-time", "0"],
      ["--frobnicate"],
    ])
      it(`rejects ${args.join(" ")}`, () => {
        expect(() => parseBenchArgs(args)).to.throw(BenchUsageError);
      });
  });

  describe("charts", () => {
    it("picks round axis maxima", () => {
      expect(niceScale(85_740)).to.deep.equal({ max: 100_000, step: 20_000 });
      expect(niceScale(3.2)).to.deep.equal({ max: 4, step: 1 });
    });

    it("draws one line per series with its values", () => {
      const svg = lineChart({
        title: "gas & co",
        xLabel: "batch size",
        yLabel: "gas",
        xValues: [50, 100],
        series: [
          { name: "single", color: "#d62728", points: [{ x: 1, y: 85_740 }], flat: true },
          {
            name: "router",
            color: "#1f77b4",
            points: [
              { x: 50, y: 48_100 },
              { x: 100, y: 47_600 },
            ],
          },
        ],
      });
      expect(svg.startsWith("<svg")).to.equal(true);
      expect(svg).to.contain("gas &#38; co");
      expect(svg.match(/<polyline /g)).to.have.length(1);
      expect(svg).to.contain("85,740").and.contain("48,100").and.contain("47,600");
    });
  });

  describe("L1 data size", () => {
    it("reads the receipt's estimate and falls back to the GasPriceOracle with the same result", async () => {
      const chain = await openBenchChain();
      try {
        const wallet = chain.wallets[0]!;
        // Incompressible calldata, so the estimate is well above the 100-byte minimum.
        const data = keccakChain(12);
        const hash = await wallet.sendTransaction({ to: wallet.account.address, data });
        const receipt = await chain.client.waitForTransactionReceipt({ hash });
        const fromReceipt = await l1BytesOf(chain.client, receipt);
        const { l1GasUsed: _dropped, ...plain } = receipt as typeof receipt & {
          l1GasUsed?: unknown;
        };
        const fromOracle = await l1BytesOf(chain.client, plain as typeof receipt);
        expect(fromReceipt).to.be.greaterThan(300);
        // The oracle estimates the unsigned transaction plus 68 bytes for the signature.
        expect(Math.abs(fromOracle - fromReceipt)).to.be.lessThan(8);
      } finally {
        await chain.close();
      }
    });
  });

  describe("a payment that cannot settle", () => {
    it("is counted as failed with its reason, and the others settle", async () => {
      const chain = await openBenchChain();
      try {
        const token = await setupBenchToken(chain, "FiatTokenV2_2");
        const payers = benchPayers(6, "bench-test-payer");
        // The last payer never gets funds.
        await token.fund(
          payers.slice(0, 5).map((p) => p.address),
          PAYMENT_AMOUNT * 10n,
        );
        const router = await deployRouter(chain, chain.wallets[0]!);
        const methods = {
          "x402-exact-single": runExactSingle,
          multicall3: runMulticall3,
          "router-direct": runRouterDirect,
          "router-routed": runRouterRouted,
        } as const;
        for (const [method, runMethod] of Object.entries(methods)) {
          const ctx: MethodContext = {
            chain,
            token,
            payers,
            payee: benchAddress("bench-test-payee"),
            amount: PAYMENT_AMOUNT,
            batchSize: 3,
            submitter: chain.wallets[1]!,
            router,
            feeRecipient: benchAddress("bench-test-fee-recipient"),
            progress: silentProgress,
          };
          const run = await measureRun(ctx, method as BenchMethod, await runMethod(ctx));
          expect(run.payments, method).to.equal(6);
          expect(run.settled, method).to.equal(5);
          expect(run.failed, method).to.equal(1);
          if (method !== "multicall3")
            expect(Object.values(run.failureReasons ?? {}), method).to.deep.equal([1]);
        }
      } finally {
        await chain.close();
      }
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
      const out = JSON.parse(await readFile(json, "utf8")) as BenchResults;
      expect(out.chain).to.deep.equal({ chainId: 8453, forked: false, blockNumber: 0 });

      const run = (token: string, method: string): BenchRun => {
        const found = out.runs.find((r) => r.token === token && r.method === method);
        expect(found, `${token} ${method}`).to.not.equal(undefined);
        return found!;
      };
      for (const token of TOKENS)
        for (const method of METHODS) {
          const r = run(token, method);
          expect(r.batchSize).to.equal(method === "x402-exact-single" ? 1 : 100);
          expect(r.payments).to.be.at.least(200);
          expect(r.settled).to.equal(r.payments);
          expect(r.failed).to.equal(0);
          for (const field of ["gasPerPayment", "l1BytesPerPayment", "paymentsPerSecond"] as const)
            expect(r[field]).to.be.a("number").and.greaterThan(0);
          expect(result.stdout).to.contain(method);
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
      expect(markdown).to.contain("gas-per-payment-FiatTokenV2_2.svg");
      const svg = await readFile(path.join(report, "gas-per-payment-FiatTokenV2_2.svg"), "utf8");
      for (const method of METHODS) expect(svg).to.contain(method);
    });

    it("reports a bad flag in one line with exit status 2", async () => {
      const result = await runScript("bench", ["--batch", "0"]);
      expect(result.code).to.equal(2);
      expect(result.stderr).to.match(/^bench: --batch must be between 1 and/);
      expect(result.stderr).to.not.contain("    at ");
    });

    it("reports an unreachable chain in one line with exit status 2", async () => {
      const result = await runScript("bench", ["--quick", "--rpc", "http://127.0.0.1:9"]);
      expect(result.code).to.equal(2);
      expect(result.stderr).to.match(/^bench: cannot reach the node at http:\/\/127\.0\.0\.1:9/);
      expect(result.stderr).to.not.contain("    at ");
    });
  });
});
