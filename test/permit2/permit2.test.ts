import { expect } from "chai";
import { network } from "hardhat";
import { maxUint256, parseAbi, type Address, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

import { permit2Abi } from "../../src/abi/permit2.js";
import { PERMIT2_ADDRESS, USDC_ADDRESS } from "../../src/chain/base.js";
import { bootstrapBase, fundUsdc } from "../../src/chain/bootstrap.js";
import {
  createPermit2Nonce,
  hashPermit2Witness,
  isPermit2NonceUsed,
  permit2WitnessTypeString,
  signPermitWitnessTransferFrom,
  verifyPermitWitnessTransferFrom,
  type Permit2Witness,
  type PermitWitnessTransferFrom,
} from "../../src/permit2/index.js";

const erc20Abi = parseAbi([
  "function approve(address spender, uint256 amount) returns (bool)",
  "function balanceOf(address) view returns (uint256)",
]);

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

/** `r ‖ s ‖ v` with `s` replaced by `n − s` and `v` flipped: the same signature, malleated. */
function highS(signature: Hex): Hex {
  const r = signature.slice(2, 66);
  const s = BigInt(`0x${signature.slice(66, 130)}`);
  const v = parseInt(signature.slice(130, 132), 16);
  return `0x${r}${(N - s).toString(16).padStart(64, "0")}${(v === 27 ? 28 : 27).toString(16)}`;
}

async function setup() {
  const conn = await network.create();
  const client = await conn.viem.getTestClient();
  const publicClient = await conn.viem.getPublicClient();
  const [spender] = await conn.viem.getWalletClients();
  await bootstrapBase(client);
  const owner = privateKeyToAccount(generatePrivateKey());
  await client.setBalance({ address: owner.address, value: 10n ** 18n });
  await fundUsdc(client, { recipients: [owner.address], amount: 1_000_000n });
  const [wallet] = await conn.viem.getWalletClients();
  await wallet!.writeContract({
    account: owner,
    address: USDC_ADDRESS,
    abi: erc20Abi,
    functionName: "approve",
    args: [PERMIT2_ADDRESS, maxUint256],
  });
  const witness: Permit2Witness = {
    typeName: "Payment",
    fields: [
      { name: "payee", type: "address" },
      { name: "fee", type: "uint256" },
    ],
    value: { payee: "0x000000000000000000000000000000000000bEEF", fee: 5n },
  };
  const block = await publicClient.getBlock();
  const permit: PermitWitnessTransferFrom = {
    token: USDC_ADDRESS,
    amount: 1_000n,
    nonce: createPermit2Nonce(),
    deadline: block.timestamp + 600n,
    spender: spender!.account.address,
  };
  const transfer = (signature: Hex, overrides: { witness?: Permit2Witness; to?: Address } = {}) =>
    spender!.writeContract({
      address: PERMIT2_ADDRESS,
      abi: permit2Abi,
      functionName: "permitWitnessTransferFrom",
      args: [
        {
          permitted: { token: permit.token, amount: permit.amount },
          nonce: permit.nonce,
          deadline: permit.deadline,
        },
        {
          to: overrides.to ?? "0x000000000000000000000000000000000000bEEF",
          requestedAmount: 1_000n,
        },
        owner.address,
        hashPermit2Witness(overrides.witness ?? witness),
        permit2WitnessTypeString(overrides.witness ?? witness),
        signature,
      ],
    });
  return { publicClient, owner, witness, permit, transfer };
}

describe("Permit2 toolkit against the installed Permit2", () => {
  it("a witness transfer signed with the toolkit verifies offline and executes once at Permit2", async () => {
    const { publicClient, owner, witness, permit, transfer } = await setup();
    const signature = await signPermitWitnessTransferFrom(owner, {
      chainId: 8453,
      permit,
      witness,
    });
    expect(
      verifyPermitWitnessTransferFrom({
        chainId: 8453,
        permit,
        witness,
        owner: owner.address,
        signature,
      }),
    ).to.deep.equal({ valid: true, signer: owner.address });
    expect(
      await isPermit2NonceUsed(publicClient, { owner: owner.address, nonce: permit.nonce }),
    ).to.equal(false);
    const hash = await transfer(signature);
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    expect(receipt.status).to.equal("success");
    expect(
      await publicClient.readContract({
        address: USDC_ADDRESS,
        abi: erc20Abi,
        functionName: "balanceOf",
        args: ["0x000000000000000000000000000000000000bEEF"],
      }),
    ).to.equal(1_000n);
    expect(
      await isPermit2NonceUsed(publicClient, { owner: owner.address, nonce: permit.nonce }),
    ).to.equal(true);
    // The nonce is spent: the same signature is refused.
    let replayed = false;
    await transfer(signature).then(
      () => (replayed = true),
      () => undefined,
    );
    expect(replayed).to.equal(false);
  });

  it("the offline check agrees with Permit2 on a swapped witness, another chain and a malleated signature", async () => {
    const { owner, witness, permit, transfer } = await setup();
    const signature = await signPermitWitnessTransferFrom(owner, {
      chainId: 8453,
      permit,
      witness,
    });
    const swapped: Permit2Witness = { ...witness, value: { ...witness.value, fee: 6n } };
    expect(
      verifyPermitWitnessTransferFrom({
        chainId: 8453,
        permit,
        witness: swapped,
        owner: owner.address,
        signature,
      }).valid,
    ).to.equal(false);
    let accepted = true;
    await transfer(signature, { witness: swapped }).catch(() => (accepted = false));
    expect(accepted, "Permit2 accepted a swapped witness").to.equal(false);

    const otherChain = await signPermitWitnessTransferFrom(owner, {
      chainId: 84532,
      permit,
      witness,
    });
    expect(
      verifyPermitWitnessTransferFrom({
        chainId: 8453,
        permit,
        witness,
        owner: owner.address,
        signature: otherChain,
      }).valid,
    ).to.equal(false);
    accepted = true;
    await transfer(otherChain).catch(() => (accepted = false));
    expect(accepted, "Permit2 accepted another chain's signature").to.equal(false);

    // Permit2 calls ecrecover directly, so a high-s signature is valid there; the offline check agrees.
    const malleated = highS(signature);
    expect(
      verifyPermitWitnessTransferFrom({
        chainId: 8453,
        permit,
        witness,
        owner: owner.address,
        signature: malleated,
      }).valid,
    ).to.equal(true);
    await transfer(malleated);
  });

  it("writes the witness type string in EIP-712 order and refuses types it cannot carry", () => {
    expect(() => permit2WitnessTypeString({ typeName: "TokenPermissions", fields: [] })).to.throw(
      /Permit2's own/,
    );
    // x402's exact proxy witness sorts after TokenPermissions: its definition comes last.
    expect(
      permit2WitnessTypeString({
        typeName: "Witness",
        fields: [
          { name: "to", type: "address" },
          { name: "validAfter", type: "uint256" },
        ],
      }),
    ).to.equal(
      "Witness witness)TokenPermissions(address token,uint256 amount)Witness(address to,uint256 validAfter)",
    );
    expect(() =>
      permit2WitnessTypeString({ typeName: "Payment", fields: [{ name: "a)", type: "uint256" }] }),
    ).to.throw(/Invalid Permit2 input/);
    expect(
      permit2WitnessTypeString({
        typeName: "Payment",
        fields: [{ name: "payee", type: "address" }],
      }),
    ).to.equal(
      "Payment witness)Payment(address payee)TokenPermissions(address token,uint256 amount)",
    );
  });
});
