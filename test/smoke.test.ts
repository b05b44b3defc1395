import { expect } from "chai";
import { network } from "hardhat";

describe("smoke", () => {
  it("connects to simulated Base", async () => {
    const { viem } = await network.connect();
    const client = await viem.getPublicClient();
    expect(await client.getChainId()).to.equal(8453);
  });
});
