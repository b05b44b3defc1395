import { spawn } from "node:child_process";

import { expect } from "chai";
import { network } from "hardhat";
import {
  createPublicClient,
  getAddress,
  http,
  publicActions,
  walletActions,
  type Address,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";

import SettlementRouterModule from "../../ignition/modules/SettlementRouter.js";
import { bootstrapBase } from "../../src/chain/bootstrap.js";
import { createXCreate2Address } from "../../src/facilitator/ensureRouter.js";
import { freePort, startChain, type ChainProcess } from "../helpers/chainProcess.js";
import { projectRoot, RELAYER_KEY, routerDeployment } from "./harness.js";

/** Where Hardhat Ignition's `create2` strategy deploys the SettlementRouter module. */
async function ignitionRouterAddress(): Promise<{ address: Address; sender: Address }> {
  const conn = await network.create();
  try {
    const client = (await conn.viem.getTestClient()).extend(publicActions).extend(walletActions);
    await bootstrapBase(client);
    const [wallet] = await conn.viem.getWalletClients();
    const { router } = await conn.ignition.deploy(SettlementRouterModule, { strategy: "create2" });
    const deployed = router as unknown as { address: Address };
    return { address: getAddress(deployed.address), sender: wallet.account.address };
  } finally {
    await conn.close();
  }
}

describe("facilitator: the router at the Ignition CREATE2 address", function () {
  let chain: ChainProcess | undefined;

  after(async function () {
    if (chain) await chain.stop();
  });

  it("computes the address Ignition's create2 strategy deploys to, whoever sends", async function () {
    const { address, sender } = await ignitionRouterAddress();
    const { bytecode, salt } = routerDeployment();
    const relayer = privateKeyToAccount(RELAYER_KEY).address;
    expect(createXCreate2Address({ salt, initCode: bytecode, sender, chainId: 8453 })).to.equal(
      address,
    );
    // The salt binds neither the sender nor the chain: every relayer finds the same router.
    expect(
      createXCreate2Address({ salt, initCode: bytecode, sender: relayer, chainId: 8453 }),
    ).to.equal(address);
    expect(
      createXCreate2Address({ salt, initCode: bytecode, sender: relayer, chainId: 84532 }),
    ).to.equal(address);
    // A different init code lands elsewhere.
    expect(
      createXCreate2Address({ salt, initCode: `${bytecode}00`, sender, chainId: 8453 }),
    ).to.not.equal(address);
  });

  it("npm run facilitator deploys the router there through CreateX when the chain has none", async function () {
    const { address } = await ignitionRouterAddress();
    chain = await startChain();
    const port = await freePort();
    const child = spawn(process.execPath, ["--import", "tsx", "scripts/facilitator.ts"], {
      cwd: projectRoot,
      env: {
        ...process.env,
        PORT: String(port),
        EVM_PRIVATE_KEY: RELAYER_KEY,
        EVM_RPC_URL: chain.url,
        FACILITATOR_DB: ":memory:",
        ROUTER_ADDRESS: "",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no start:\n${output}`)), 60_000);
        child.stdout.on("data", () => {
          if (output.includes("Facilitator listening")) {
            clearTimeout(timer);
            resolve();
          }
        });
        child.once("exit", (code) => reject(new Error(`exited ${code}:\n${output}`)));
      });
      expect(output).to.include(`deployed the router at ${address}`);
      expect(output).to.include(`Facilitator listening on port ${port}`);
      expect(output).to.include(`router ${address}`);
      const client = createPublicClient({ transport: http(chain.url) });
      expect(await client.getCode({ address }))
        .to.be.a("string")
        .and.not.equal("0x");
      const supported = (await (await fetch(`http://127.0.0.1:${port}/supported`)).json()) as {
        signers: Record<string, string[]>;
      };
      expect(supported.signers["eip155:*"]).to.deep.equal([
        privateKeyToAccount(RELAYER_KEY).address,
      ]);
    } finally {
      child.kill("SIGTERM");
    }
  });
});
