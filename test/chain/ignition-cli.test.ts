import { execFile } from "node:child_process";
import { rm } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";

import { expect } from "chai";
import { network } from "hardhat";
import { createPublicClient, http } from "viem";

import SettlementRouterModule from "../../ignition/modules/SettlementRouter.js";
import { type ChainProcess, startChain } from "../helpers/chainProcess.js";

const run = promisify(execFile);
const deploymentId = `cli-test-${process.pid}`;

async function ignitionDeploy(extraArgs: string[], env: Record<string, string> = {}) {
  const { stdout } = await run(
    process.execPath,
    [
      path.join("node_modules", "hardhat", "dist", "src", "cli.js"),
      "ignition",
      "deploy",
      "ignition/modules/SettlementRouter.ts",
      "--strategy",
      "create2",
      ...extraArgs,
    ],
    { env: { ...process.env, ...env, HARDHAT_IGNITION_CONFIRM_DEPLOYMENT: "1" } },
  );
  const match = /SettlementRouter#SettlementRouter - (0x[0-9a-fA-F]{40})/.exec(stdout);
  expect(match, stdout).to.not.equal(null);
  return match![1] as `0x${string}`;
}

describe("npx hardhat ignition deploy (create2)", () => {
  let chain: ChainProcess | undefined;

  after(async () => {
    await chain?.stop();
    await rm(path.join("ignition", "deployments", deploymentId), { recursive: true, force: true });
  });

  it("deploys the router on the in-process simulated Base and on the npm run chain node, at one address", async () => {
    const conn = await network.create();
    const deployed = await conn.ignition.deploy(SettlementRouterModule, { strategy: "create2" });
    // Ignition types its contracts from Hardhat's generated artifact types, which this project does not emit.
    const router = deployed.router as unknown as { address: `0x${string}` };

    const inProcess = await ignitionDeploy([]);
    expect(inProcess).to.equal(router.address);

    chain = await startChain();
    const onNode = await ignitionDeploy(
      ["--network", "localhost", "--deployment-id", deploymentId],
      {
        LOCAL_RPC_URL: chain.url,
      },
    );
    expect(onNode).to.equal(router.address);
    const code = await createPublicClient({ transport: http(chain.url) }).getCode({
      address: onNode,
    });
    expect(code && code.length).to.be.greaterThan(2);
  });
});
