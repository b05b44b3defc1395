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
import ClearingHouseModule from "../../ignition/modules/ClearingHouse.js";
import { clearingHouseAbi } from "../../src/abi/clearingHouse.js";
import { CREATEX_ADDRESS } from "../../src/chain/base.js";
import { bootstrapBase } from "../../src/chain/bootstrap.js";

function addressOf(contract: unknown): Address {
  return getAddress((contract as { address: Address }).address);
}

describe("Ignition: ClearingHouse through CreateX (create2 strategy)", () => {
  it("lands at the address CreateX derives from the configured salt, the same on every chain, with no admin", async () => {
    const salt = hardhatConfig.ignition?.strategyConfig?.create2?.salt as Hex;
    const artifact = JSON.parse(
      readFileSync("artifacts/contracts/clearing/ClearingHouse.sol/ClearingHouse.json", "utf8"),
    ) as { bytecode: Hex };
    const expected = getContractAddress({
      opcode: "CREATE2",
      from: CREATEX_ADDRESS,
      salt: keccak256(encodeAbiParameters([{ type: "bytes32" }], [salt])),
      bytecode: artifact.bytecode,
    });
    const deployed: Address[] = [];
    for (let chain = 0; chain < 2; chain++) {
      const conn = await network.create();
      await bootstrapBase(await conn.viem.getTestClient());
      const { clearingHouse } = await conn.ignition.deploy(ClearingHouseModule, {
        strategy: "create2",
      });
      deployed.push(addressOf(clearingHouse));
      const client = await conn.viem.getPublicClient();
      const code = await client.getCode({ address: expected });
      expect(code && code.length > 2).to.equal(true);
      // Deployed and usable: its EIP-712 domain names this address.
      const digest = await client.readContract({
        address: expected,
        abi: clearingHouseAbi,
        functionName: "depositNonce",
        args: [expected, expected, salt],
      });
      expect(digest).to.match(/^0x[0-9a-f]{64}$/);
    }
    expect(deployed).to.deep.equal([expected, expected]);
    // No admin surface: nothing in the ABI owns, pauses or upgrades.
    const names = clearingHouseAbi.filter((e) => e.type === "function").map((e) => e.name);
    for (const forbidden of ["owner", "pause", "upgradeTo", "transferOwnership", "setAdmin"]) {
      expect(names).to.not.include(forbidden);
    }
  });
});
