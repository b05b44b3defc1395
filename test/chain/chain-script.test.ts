import { execFile } from "node:child_process";
import { promisify } from "node:util";

import { expect } from "chai";
import { createPublicClient, createWalletClient, http, parseAbi } from "viem";

import { USDC_ADDRESS } from "../../src/chain/base.js";
import { SETTLEMENT_ROUTER_ADDRESS } from "../../src/deploy/settlementRouter.js";
import { type ChainProcess, startChain } from "../helpers/chainProcess.js";

const erc20 = parseAbi(["function balanceOf(address) view returns (uint256)"]);

describe("npm run chain", () => {
  let chain: ChainProcess;

  before(async () => {
    chain = await startChain();
  });

  after(async () => {
    await chain?.stop();
  });

  it("serves JSON-RPC on 127.0.0.1 with chain id 0x2105", async () => {
    const response = await fetch(chain.url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
    });
    const body = (await response.json()) as { result: string };
    expect(body.result).to.equal("0x2105");
  });

  it("funds every default account with 1,000,000 USDC and prints what is where", async () => {
    const client = createPublicClient({ transport: http(chain.url) });
    const accounts = await createWalletClient({ transport: http(chain.url) }).getAddresses();
    expect(accounts).to.have.length(20);
    for (const account of accounts) {
      const balance = await client.readContract({
        address: USDC_ADDRESS,
        abi: erc20,
        functionName: "balanceOf",
        args: [account],
      });
      expect(balance).to.equal(1_000_000n * 10n ** 6n);
      expect((await client.getBalance({ address: account })) > 0n).to.equal(true);
    }
    expect(chain.output()).to.include(`USDC          ${USDC_ADDRESS}`);
    expect(chain.output()).to.include("chain id      8453 (0x2105)");
  });

  it("listens on 8545 unless told otherwise, and rejects a bad flag with a clear error", async () => {
    const run = promisify(execFile);
    const help = await run(process.execPath, ["--import", "tsx", "scripts/chain.ts", "--help"]);
    expect(help.stdout).to.match(/--port N\s+port to listen on \(default 8545\)/);
    const bad = await run(process.execPath, [
      "--import",
      "tsx",
      "scripts/chain.ts",
      "--port",
      "banana",
    ]).then(
      () => undefined,
      (error: { code: number; stderr: string }) => error,
    );
    expect(bad?.code).to.equal(2);
    expect(bad?.stderr).to.include('--port must be a port number, got "banana"');
  });

  it("prints nothing before its ready banner, and --router deploys the shipped router", async () => {
    expect(chain.output().trimStart()).to.match(/^Simulated Base ready at /);
    expect(chain.output()).to.include(
      `Router        ${SETTLEMENT_ROUTER_ADDRESS} (not deployed; --router deploys it)`,
    );
    const withRouter = await startChain({ args: ["--router"] });
    try {
      expect(withRouter.output().trimStart()).to.match(/^Simulated Base ready at /);
      expect(withRouter.output()).to.include(
        `Router        ${SETTLEMENT_ROUTER_ADDRESS} (deployed)`,
      );
      const code = await createPublicClient({ transport: http(withRouter.url) }).getCode({
        address: SETTLEMENT_ROUTER_ADDRESS,
      });
      expect(code).to.not.equal(undefined);
    } finally {
      await withRouter.stop();
    }
  });
});
