import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";

import { expect } from "chai";
import { type Address, createPublicClient, http } from "viem";

import { SETTLEMENT_ROUTER_ADDRESS } from "../../src/deploy/settlementRouter.js";
import { type ChainProcess, startChain } from "../helpers/chainProcess.js";

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, "..", "..");
const stateDir = path.join(root, "ignition", "deployments", "localhost-8453");

/** `npx hardhat ignition deploy` of the router on `--network localhost`, with no deployment id. */
async function deployRouterOn(url: string): Promise<{ address: Address; stdout: string }> {
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
      env: { ...process.env, RPC_URL: url, HARDHAT_IGNITION_CONFIRM_DEPLOYMENT: "1" },
    },
  );
  const match = /SettlementRouter#SettlementRouter - (0x[0-9a-fA-F]{40})/.exec(stdout);
  expect(match, stdout).to.not.equal(null);
  return { address: match![1] as Address, stdout };
}

async function codeAt(url: string, address: Address) {
  return createPublicClient({ transport: http(url) }).getCode({ address });
}

describe("Ignition deployment state on npm run chain nodes", () => {
  let chain: ChainProcess | undefined;

  before(async () => {
    await rm(stateDir, { recursive: true, force: true });
  });

  after(async () => {
    await chain?.stop();
    await rm(stateDir, { recursive: true, force: true });
  });

  it("a second, fresh node gets its own deployment, not the first node's record", async () => {
    chain = await startChain();
    const first = await deployRouterOn(chain.url);
    expect(first.address).to.equal(SETTLEMENT_ROUTER_ADDRESS);
    expect(await codeAt(chain.url, first.address)).to.not.equal(undefined);
    // The state is recorded per network name, not under Ignition's chain-8453 shared with real Base.
    expect(existsSync(stateDir)).to.equal(true);
    expect(existsSync(path.join(root, "ignition", "deployments", "chain-8453"))).to.equal(false);
    await chain.stop();

    chain = await startChain();
    expect(await codeAt(chain.url, SETTLEMENT_ROUTER_ADDRESS)).to.equal(undefined);
    const second = await deployRouterOn(chain.url);
    expect(second.stdout).to.not.include("Nothing new to deploy");
    expect(second.address).to.equal(SETTLEMENT_ROUTER_ADDRESS);
    expect(await codeAt(chain.url, second.address)).to.not.equal(undefined);
  });
});
