import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";

import type { BenchmarkResult as BenchResults } from "../../src/bench/schema.js";
import type { ReplayResults } from "../../scripts/replay/run.js";
import { type ChainProcess, startChain } from "../helpers/chainProcess.js";
import { runScript } from "./run.js";

describe("bench and replay against a node started by npm run chain (--rpc)", () => {
  let chain: ChainProcess;
  let dir: string;

  before(async () => {
    chain = await startChain();
    dir = await mkdtemp(path.join(tmpdir(), "rpc-test-"));
  });
  after(async () => {
    await chain?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("bench settles every payment of every method over HTTP", async () => {
    const json = path.join(dir, "bench.json");
    const result = await runScript("bench", [
      "--rpc",
      chain.url,
      "--payments",
      "20",
      "--batch",
      "10",
      "--json",
      json,
    ]);
    expect(result.code, result.stderr).to.equal(0);
    const out = JSON.parse(await readFile(json, "utf8")) as BenchResults;
    expect(out.chain.chainId).to.equal(8453);
    expect(out.chain.forked).to.equal(false);
    // Five methods on two tokens, clearing included.
    expect(out.runs).to.have.length(10);
    for (const run of out.runs) {
      expect(run.settled, `${run.token} ${run.method}`).to.equal(20);
      expect(run.l1BytesPerPayment).to.be.greaterThan(0);
    }
  });

  it("replay finds nothing accepted over HTTP, on a node that already ran a benchmark", async () => {
    const json = path.join(dir, "replay.json");
    const result = await runScript("replay", [
      "--rpc",
      chain.url,
      "--attacks",
      "replay-later-batch,expired-valid-before-now,routed-payee-swapped",
      "--json",
      json,
    ]);
    expect(result.code, result.stderr).to.equal(0);
    const out = JSON.parse(await readFile(json, "utf8")) as ReplayResults;
    expect(out.accepted).to.equal(0);
    // Two attacks on both methods and one routed-only, on both tokens.
    expect(out.attacks).to.have.length(10);
    expect(out.attacks.every((a) => a.attempts > 0)).to.equal(true);
  });
});
