import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";
import {
  createWalletClient,
  http,
  keccak256,
  parseSignature,
  type Hex,
  type LocalAccount,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { base as baseChain } from "viem/chains";

import { USDC_ADDRESS } from "../../src/chain/base.js";
import { BatchFacilitator } from "../../src/facilitator/facilitator.js";
import { FacilitatorStore, type NewPayment } from "../../src/facilitator/store.js";
import { fundedPayers, network, nonceUsed, startLocalBase, type LocalBase } from "./harness.js";

const fiatTokenTransferAbi = [
  {
    type: "function",
    name: "transferWithAuthorization",
    stateMutability: "nonpayable",
    inputs: [
      { name: "from", type: "address" },
      { name: "to", type: "address" },
      { name: "value", type: "uint256" },
      { name: "validAfter", type: "uint256" },
      { name: "validBefore", type: "uint256" },
      { name: "nonce", type: "bytes32" },
      { name: "v", type: "uint8" },
      { name: "r", type: "bytes32" },
      { name: "s", type: "bytes32" },
    ],
    outputs: [],
  },
] as const;

async function signed(payer: LocalAccount, payee: `0x${string}`, validBefore: bigint) {
  const authorization = {
    from: payer.address,
    to: payee,
    value: 1_000n,
    validAfter: 0n,
    validBefore,
    nonce: generatePrivateKey() as Hex,
  };
  const signature = await payer.signTypedData({
    domain: { name: "USD Coin", version: "2", chainId: 8453, verifyingContract: USDC_ADDRESS },
    types: {
      TransferWithAuthorization: [
        { name: "from", type: "address" },
        { name: "to", type: "address" },
        { name: "value", type: "uint256" },
        { name: "validAfter", type: "uint256" },
        { name: "validBefore", type: "uint256" },
        { name: "nonce", type: "bytes32" },
      ],
    },
    primaryType: "TransferWithAuthorization",
    message: authorization,
  });
  return { authorization, signature };
}

function row(
  payment: Awaited<ReturnType<typeof signed>>,
  fromBlock: bigint,
): NewPayment & { id: string } {
  const { authorization: a, signature } = payment;
  return {
    id: `8453:${USDC_ADDRESS}:${a.from}:${a.nonce}`.toLowerCase(),
    fingerprint: keccak256(signature),
    x402Version: 2,
    network: network.v2,
    token: USDC_ADDRESS,
    payer: a.from,
    payee: a.to,
    value: a.value,
    validAfter: a.validAfter,
    validBefore: a.validBefore,
    nonce: a.nonce,
    signature,
    contractSignature: false,
    fromBlock,
  };
}

describe("facilitator: reconciling accepted payments after a restart", function () {
  let base: LocalBase;
  let dir: string;

  before(async function () {
    base = await startLocalBase();
    dir = mkdtempSync(path.join(tmpdir(), "facilitator-reconcile-"));
  });

  after(async function () {
    if (base) await base.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("reports the settling transaction, settles what is still valid, fails what expired", async function () {
    const [alice, bob, carol] = await fundedPayers(base, 3, 100_000n);
    const payee = privateKeyToAccount(generatePrivateKey()).address;
    const now = BigInt(Math.floor(Date.now() / 1000));
    const fromBlock = await base.client.getBlockNumber();

    // Settled by someone else while the facilitator was down (e.g. front-run): nonce used.
    const elsewhere = await signed(alice!, payee, now + 600n);
    const { r, s, v } = parseSignature(elsewhere.signature);
    const a = elsewhere.authorization;
    const frontRunner = createWalletClient({
      account: base.relayer,
      chain: baseChain,
      transport: http(base.rpcUrl),
    });
    const frontRun = await frontRunner.writeContract({
      address: USDC_ADDRESS,
      abi: fiatTokenTransferAbi,
      functionName: "transferWithAuthorization",
      args: [a.from, a.to, a.value, a.validAfter, a.validBefore, a.nonce, Number(v), r, s],
    });
    await base.client.waitForTransactionReceipt({ hash: frontRun });
    // Still valid: must be settled after the restart.
    const valid = await signed(bob!, payee, now + 600n);
    // Expired while the facilitator was down.
    const expired = await signed(carol!, payee, now - 1n);

    const dbPath = path.join(dir, "facilitator.sqlite");
    const before = new FacilitatorStore(dbPath);
    const rows = [row(elsewhere, fromBlock), row(valid, fromBlock), row(expired, fromBlock)];
    before.insertPayments(rows);
    before.close();

    const store = new FacilitatorStore(dbPath);
    const facilitator = new BatchFacilitator({
      client: base.client,
      relayer: base.relayer,
      network,
      router: base.router,
      store,
      maxWaitMs: 50,
      pollingIntervalMs: 100,
    });
    try {
      await facilitator.start();
      const deadline = Date.now() + 30_000;
      while (facilitator.health().payments.queued + facilitator.health().payments.submitted > 0) {
        if (Date.now() > deadline) throw new Error(JSON.stringify(facilitator.health()));
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const [byOthers, settled, failed] = rows.map((r) => store.getPayment(r.id)!);
      expect(byOthers.status).to.equal("settled");
      expect(byOthers.txHash).to.equal(frontRun);
      expect(settled.status).to.equal("settled");
      expect(settled.txHash).to.not.equal(frontRun);
      const receipt = await base.client.getTransactionReceipt({ hash: settled.txHash! });
      expect(receipt.to?.toLowerCase()).to.equal(base.router.toLowerCase());
      expect(await nonceUsed(base.client, bob!.address, valid.authorization.nonce)).to.equal(true);
      expect(failed.status).to.equal("failed");
      expect(failed.errorReason).to.equal("invalid_exact_evm_payload_authorization_valid_before");
      expect(await nonceUsed(base.client, carol!.address, expired.authorization.nonce)).to.equal(
        false,
      );
    } finally {
      await facilitator.close();
    }
  });
});
