import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import { expect } from "chai";
import { createPublicClient, http, parseAbi } from "viem";

import { USDC_ADDRESS } from "../../src/chain/base.js";
import { SETTLEMENT_ROUTER_ADDRESS } from "../../src/deploy/settlementRouter.js";
import { type ChainProcess, startChain } from "../helpers/chainProcess.js";

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

/** Packages a consumer must never get from installing the toolkit: Hardhat, Ignition, ethers. */
const FRAMEWORK_PACKAGE = /^(hardhat|ethers|@nomicfoundation\/.*|@ethersproject\/.*)$/;

interface NpmLsNode {
  version?: string;
  dependencies?: Record<string, NpmLsNode>;
}

/** Every installed package in an `npm ls --all --json` tree (an absent optional peer has no version). */
function packageNames(node: NpmLsNode, into = new Set<string>()): Set<string> {
  for (const [name, child] of Object.entries(node.dependencies ?? {})) {
    if (child.version !== undefined) into.add(name);
    packageNames(child, into);
  }
  return into;
}

describe("toolkit: built package", () => {
  let workdir: string;
  let packed: { filename: string; files: { path: string }[] };
  let chain: ChainProcess | undefined;

  before(async () => {
    workdir = await mkdtemp(path.join(tmpdir(), "x402-clearing-pack-"));
    await run("npm", ["run", "build"], { cwd: root, maxBuffer: 64 * 1024 * 1024 });
    const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", workdir], {
      cwd: root,
      maxBuffer: 64 * 1024 * 1024,
    });
    [packed] = JSON.parse(stdout) as [typeof packed];
  });

  after(async () => {
    await chain?.stop();
    if (workdir) await rm(workdir, { recursive: true, force: true });
  });

  it("npm run build emits dist/ and the packed package imports with plain node", async () => {
    expect(existsSync(path.join(root, "dist", "index.js"))).to.equal(true);
    expect(existsSync(path.join(root, "dist", "index.d.ts"))).to.equal(true);
    const files = packed.files.map((file) => file.path);
    expect(files).to.include("dist/index.js");
    expect(files).to.include("dist/index.d.ts");
    expect(files).to.include("LICENSE");
    expect(files.filter((file) => !file.startsWith("dist/") && file !== "package.json")).to.satisfy(
      (rest: string[]) => rest.every((file) => /^(README|LICENSE)/i.test(file)),
    );

    // Install by hand: extract into node_modules/x402-clearing.
    const modules = path.join(workdir, "app", "node_modules");
    const target = path.join(modules, "x402-clearing");
    await mkdir(target, { recursive: true });
    await run("tar", [
      "-xzf",
      path.join(workdir, packed.filename),
      "-C",
      target,
      "--strip-components=1",
    ]);
    // The package's runtime dependencies (viem, zod, …), linked from this project's node_modules.
    const manifest = JSON.parse(await readFile(path.join(root, "package.json"), "utf8"));
    const dependencies = Object.keys(manifest.dependencies ?? {});
    expect(dependencies).to.include("viem");
    for (const name of dependencies) {
      await mkdir(path.dirname(path.join(modules, name)), { recursive: true }); // @scope/
      await symlink(path.join(root, "node_modules", name), path.join(modules, name), "dir");
    }
    const installed = new Set([...dependencies, "x402-clearing"].map((name) => name.split("/")[0]));
    expect(await readdir(modules)).to.have.members([...installed]);

    const script = `
      import * as toolkit from "x402-clearing";
      import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
      const payer = privateKeyToAccount(generatePrivateKey());
      const domain = toolkit.getTokenDomain();
      const authorization = toolkit.buildDirectAuthorization({
        from: payer.address, to: "0x000000000000000000000000000000000000dEaD", value: 1000n,
      });
      const signed = await toolkit.signAuthorization(payer, { domain, authorization });
      const ok = await toolkit.verifyAuthorization({ domain, authorization: signed });
      const bad = await toolkit.verifyAuthorization({ domain, authorization: { ...signed, value: 1n } });
      console.log(JSON.stringify({
        ok,
        bad: bad.reason,
        abi: toolkit.fiatTokenV2_2Abi.length > 0,
        exports: ["settleAuthorizations", "decodeRevertReason", "bootstrapBase", "BatchFacilitator"]
          .filter((name) => typeof toolkit[name] !== "function"),
      }));
    `;
    const result = await run(process.execPath, ["--input-type=module", "-e", script], {
      cwd: path.join(workdir, "app"),
    });
    const output = JSON.parse(result.stdout.trim());
    expect(output.ok.valid).to.equal(true);
    expect(output.bad).to.equal("invalid_exact_evm_signature");
    expect(output.abi).to.equal(true);
    expect(output.exports).to.deep.equal([]);
    // Importing the toolkit loads nothing experimental (node:sqlite stays behind the facilitator store).
    expect(result.stderr).to.equal("");
    // The facilitator's durable store comes from its own subpath.
    const store = await run(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `import { FacilitatorStore } from "x402-clearing/facilitator/store";
         import { ClearingStore } from "x402-clearing/facilitator/clearing/store";
         console.log(typeof FacilitatorStore, typeof ClearingStore);`,
      ],
      { cwd: path.join(workdir, "app") },
    );
    expect(store.stdout.trim()).to.equal("function function");
    // The ethers bindings come from their own subpath, with ethers (an optional peer) installed.
    expect(files).to.include("dist/ethers/index.js");
    expect(
      files.filter(
        (file) =>
          file.includes("typechain/") && (file.includes("/test/") || file.includes("@uniswap")),
      ),
    ).to.deep.equal([]);
    await symlink(path.join(root, "node_modules", "ethers"), path.join(modules, "ethers"), "dir");
    const ethers = await run(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `import { SettlementRouter__factory } from "x402-clearing/ethers";
         import { SETTLEMENT_ROUTER_BYTECODE } from "x402-clearing";
         console.log(SettlementRouter__factory.bytecode === SETTLEMENT_ROUTER_BYTECODE);`,
      ],
      { cwd: path.join(workdir, "app") },
    );
    expect(ethers.stdout.trim()).to.equal("true");
  });

  it("installs with plain npm install, deploys the router through its own API and settles 100 payments", async () => {
    const app = path.join(workdir, "consumer");
    await mkdir(app, { recursive: true });
    await writeFile(
      path.join(app, "package.json"),
      JSON.stringify({ name: "consumer", private: true, type: "module" }),
    );
    await run("npm", ["install", path.join(workdir, packed.filename), "viem"], {
      cwd: app,
      maxBuffer: 64 * 1024 * 1024,
    });
    const tree = JSON.parse(
      (await run("npm", ["ls", "--all", "--json"], { cwd: app, maxBuffer: 64 * 1024 * 1024 }))
        .stdout,
    ) as NpmLsNode;
    const names = packageNames(tree);
    expect(names.has("x402-clearing")).to.equal(true);
    expect([...names].filter((name) => FRAMEWORK_PACKAGE.test(name))).to.deep.equal([]);
    expect(existsSync(path.join(app, "node_modules", "ethers"))).to.equal(false);

    chain = await startChain();
    const script = `
      import { createPublicClient, createWalletClient, http, publicActions } from "viem";
      import { mnemonicToAccount } from "viem/accounts";
      import {
        USDC_ADDRESS, buildDirectAuthorization, ensureRouter, readTokenDomain,
        settleAuthorizations, signAuthorization,
      } from "x402-clearing";
      const [url, payee] = process.argv.slice(2);
      const mnemonic = "test test test test test test test test test test test junk";
      const relayer = mnemonicToAccount(mnemonic);
      const publicClient = createPublicClient({ transport: http(url) });
      const { address: router, deployed } = await ensureRouter(publicClient, relayer);
      const walletClient = createWalletClient({ account: relayer, transport: http(url) }).extend(publicActions);
      const domain = await readTokenDomain(publicClient, { token: USDC_ADDRESS });
      const now = (await publicClient.getBlock()).timestamp;
      const items = [];
      for (let i = 0; i < 100; i++) {
        const payer = mnemonicToAccount(mnemonic, { addressIndex: 1 + (i % 19) });
        const authorization = buildDirectAuthorization({ from: payer.address, to: payee, value: 1000n, now });
        items.push(await signAuthorization(payer, { domain, authorization }));
      }
      const result = await settleAuthorizations(walletClient, {
        router, token: USDC_ADDRESS, feeRecipient: relayer.address, items,
      });
      console.log(JSON.stringify({
        router, deployed, settled: result.settled, failed: result.failed,
        transactions: result.transactions.length,
      }));
    `;
    await writeFile(path.join(app, "settle.mjs"), script);
    const payee = "0x000000000000000000000000000000000000bEEF";
    const { stdout } = await run(process.execPath, ["settle.mjs", chain.url, payee], { cwd: app });
    const output = JSON.parse(stdout.trim()) as {
      router: string;
      deployed: boolean;
      settled: number;
      failed: number;
      transactions: number;
    };
    expect(output).to.deep.include({
      router: SETTLEMENT_ROUTER_ADDRESS,
      deployed: true,
      settled: 100,
      failed: 0,
    });
    expect(output.transactions).to.be.greaterThan(0).and.lessThan(100);
    const client = createPublicClient({ transport: http(chain.url) });
    expect(await client.getCode({ address: SETTLEMENT_ROUTER_ADDRESS })).to.not.equal(undefined);
    const balance = await client.readContract({
      address: USDC_ADDRESS,
      abi: parseAbi(["function balanceOf(address) view returns (uint256)"]),
      functionName: "balanceOf",
      args: [payee],
    });
    expect(balance).to.equal(100_000n);
  });
});
