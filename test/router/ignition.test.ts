import { expect } from "chai";
import { readFileSync } from "node:fs";
import { network } from "hardhat";
import {
  type Address,
  type Hex,
  encodeAbiParameters,
  getAddress,
  getContractAddress,
  keccak256,
} from "viem";

import hardhatConfig from "../../hardhat.config.js";
import LocalStackModule from "../../ignition/modules/LocalStack.js";
import SettlementRouterModule from "../../ignition/modules/SettlementRouter.js";
import { CREATEX_ADDRESS } from "../../src/chain/base.js";
import { bootstrapBase } from "../../src/chain/bootstrap.js";

function addressOf(contract: unknown): Address {
  return getAddress((contract as { address: Address }).address);
}

async function bootstrappedConnection() {
  const conn = await network.create();
  await bootstrapBase(await conn.viem.getTestClient());
  return conn;
}

describe("Ignition: SettlementRouter through CreateX (create2 strategy)", () => {
  it("lands at the address CreateX derives from the configured salt, the same on every chain", async () => {
    const salt = hardhatConfig.ignition?.strategyConfig?.create2?.salt as Hex;
    expect(salt).to.match(/^0x0{40}00[0-9a-f]{22}$/);
    const artifact = JSON.parse(
      readFileSync("artifacts/contracts/router/SettlementRouter.sol/SettlementRouter.json", "utf8"),
    ) as { bytecode: Hex };
    // CreateX guards a salt with a zero sender part and no cross-chain flag as keccak256(abi.encode(salt)).
    const expected = getContractAddress({
      opcode: "CREATE2",
      from: CREATEX_ADDRESS,
      salt: keccak256(encodeAbiParameters([{ type: "bytes32" }], [salt])),
      bytecode: artifact.bytecode,
    });

    const first = await bootstrappedConnection();
    const second = await bootstrappedConnection();
    const a = await first.ignition.deploy(SettlementRouterModule, { strategy: "create2" });
    const b = await second.ignition.deploy(SettlementRouterModule, { strategy: "create2" });
    expect(addressOf(a.router)).to.equal(expected);
    expect(addressOf(b.router)).to.equal(expected);
    const code = await (await first.viem.getPublicClient()).getCode({ address: expected });
    expect(code && code.length > 2).to.equal(true);
  });

  it("LocalStack composes the router and the test token", async () => {
    const conn = await bootstrappedConnection();
    const { router, token } = await conn.ignition.deploy(LocalStackModule, {
      strategy: "create2",
      parameters: { TestToken: { name: "x402 Test Dollar", symbol: "XTD", version: "1" } },
    });
    const client = await conn.viem.getPublicClient();
    for (const address of [addressOf(router), addressOf(token)]) {
      const code = await client.getCode({ address });
      expect(code && code.length > 2).to.equal(true);
    }
  });
});
