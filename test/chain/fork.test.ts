import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { promisify } from "node:util";

import { expect } from "chai";
import { type Address, createPublicClient, createTestClient, http, publicActions } from "viem";

import {
  CREATEX_ADDRESS,
  MULTICALL3_ADDRESS,
  PERMIT2_ADDRESS,
  USDC_ADDRESS,
} from "../../src/chain/base.js";
import {
  FUNDING_MINTER,
  LOCAL_USDC_ROLES,
  bootstrapBase,
  fundUsdc,
} from "../../src/chain/bootstrap.js";
import { fiatTokenV2_2Abi } from "../../src/abi/fiatTokenV2_2.js";
import { SETTLEMENT_ROUTER_ADDRESS } from "../../src/deploy/settlementRouter.js";
import { type ChainProcess, startChain } from "../helpers/chainProcess.js";

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, "..", "..");

/** Runs `scripts/<name>.ts` as `npm run <name>` does, with `env` added; rejects on a non-zero exit. */
async function runScript(name: string, args: string[], env: Record<string, string>) {
  return run(process.execPath, ["--import", "tsx", `scripts/${name}.ts`, ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    maxBuffer: 64 * 1024 * 1024,
  });
}

describe("a fork of a chain-8453 node (BASE_RPC_URL)", () => {
  let upstream: ChainProcess | undefined;
  let fork: ChainProcess | undefined;
  let work: string;
  let upstreamBlock: bigint;

  before(async () => {
    work = await mkdtemp(path.join(tmpdir(), "x402-fork-"));
    upstream = await startChain();
    upstreamBlock = await createPublicClient({ transport: http(upstream.url) }).getBlockNumber();
    fork = await startChain({ env: { BASE_RPC_URL: upstream.url } });
  });

  after(async () => {
    await fork?.stop();
    await upstream?.stop();
    await rm(work, { recursive: true, force: true });
    await rm(path.join(root, "ignition", "deployments", "localhost-8453"), {
      recursive: true,
      force: true,
    });
  });

  it("npm run chain serves the fork, keeps what it finds and funds through the forked master minter", async () => {
    const upstreamClient = createPublicClient({ transport: http(upstream!.url) });
    expect(fork!.output()).to.include(`forked at block ${upstreamBlock}`);
    for (const line of ["USDC", "Multicall3", "CreateX"])
      expect(fork!.output()).to.match(
        new RegExp(`${line} +0x[0-9a-fA-F]{40} \\(.*found on the chain, kept`),
      );

    const client = createTestClient({ mode: "hardhat", transport: http(fork!.url) }).extend(
      publicActions,
    );
    // A historical call at the fork block: what EDR refused without Base's hardfork history.
    const atForkBlock = await client.readContract({
      address: USDC_ADDRESS,
      abi: fiatTokenV2_2Abi,
      functionName: "masterMinter",
      blockNumber: upstreamBlock,
    });
    expect(atForkBlock).to.equal(LOCAL_USDC_ROLES.masterMinter);

    const base = await bootstrapBase(client);
    expect(base.installed).to.deep.equal({
      usdc: false,
      multicall3: false,
      createX: false,
      permit2: false,
    });
    expect(base.forked).to.equal(true);
    for (const address of [
      USDC_ADDRESS,
      MULTICALL3_ADDRESS,
      CREATEX_ADDRESS,
      PERMIT2_ADDRESS,
    ] as Address[]) {
      const code = await client.getCode({ address });
      expect(code, address).to.equal(await upstreamClient.getCode({ address }));
    }

    const payee: Address = "0x000000000000000000000000000000000000F0Fc";
    await fundUsdc(client, { recipients: [payee], amount: 1_234n });
    const balanceOf = (c: { readContract: typeof upstreamClient.readContract }) =>
      c.readContract({
        address: USDC_ADDRESS,
        abi: fiatTokenV2_2Abi,
        functionName: "balanceOf",
        args: [payee],
      });
    expect(await balanceOf(client)).to.equal(1_234n);
    expect(await balanceOf(upstreamClient)).to.equal(0n);
    // The funding minter was configured by the master minter the fork found (the upstream's).
    const minterAllowed = await client.readContract({
      address: USDC_ADDRESS,
      abi: fiatTokenV2_2Abi,
      functionName: "isMinter",
      args: [FUNDING_MINTER],
    });
    expect(minterAllowed).to.equal(true);
  });

  it("npm run bench -- --quick and npm run replay pass on an in-process fork of it", async () => {
    const env = { BASE_RPC_URL: upstream!.url };
    const benchJson = path.join(work, "bench.json");
    const bench = await runScript(
      "bench",
      ["--quick", "--tokens", "usdc", "--payments", "40", "--json", benchJson],
      env,
    );
    expect(bench.stdout).to.include("fork of BASE_RPC_URL");
    const results = JSON.parse(await readFile(benchJson, "utf8")) as {
      runs: { method: string; settled: number; failed: number; payments: number }[];
    };
    expect(results.runs.map((r) => r.method)).to.have.members([
      "x402-exact-single",
      "multicall3",
      "router-direct",
      "router-routed",
      "clearing",
    ]);
    for (const r of results.runs)
      expect([r.method, r.failed, r.settled]).to.deep.equal([r.method, 0, r.payments]);

    const replayJson = path.join(work, "replay.json");
    await runScript(
      "replay",
      ["--tokens", "usdc", "--methods", "router-direct", "--json", replayJson],
      env,
    );
    const replay = JSON.parse(await readFile(replayJson, "utf8")) as {
      accepted: number;
      attacks: { attempts: number }[];
    };
    expect(replay.accepted).to.equal(0);
    expect(replay.attacks.length).to.be.greaterThan(0);
    for (const attack of replay.attacks) expect(attack.attempts).to.be.greaterThan(0);
  });

  it("Ignition deploys the router at its canonical address on the npm run chain fork", async () => {
    const { stdout } = await run(
      process.execPath,
      [
        path.join("node_modules", "hardhat", "dist", "src", "cli.js"),
        "ignition",
        "deploy",
        "ignition/modules/SettlementRouter.ts",
        "--strategy",
        "create2",
        "--network",
        "localhost",
      ],
      {
        cwd: root,
        env: { ...process.env, RPC_URL: fork!.url, HARDHAT_IGNITION_CONFIRM_DEPLOYMENT: "1" },
      },
    );
    expect(stdout).to.include(`SettlementRouter#SettlementRouter - ${SETTLEMENT_ROUTER_ADDRESS}`);
    const codeOn = (url: string) =>
      createPublicClient({ transport: http(url) }).getCode({ address: SETTLEMENT_ROUTER_ADDRESS });
    expect(await codeOn(fork!.url)).to.not.equal(undefined);
    // On the fork only, not on the node it forks.
    expect(await codeOn(upstream!.url)).to.equal(undefined);
  });
});
