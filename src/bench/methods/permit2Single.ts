/**
 * `permit2-single`: one `permitWitnessTransferFrom` transaction per payment, as x402's Permit2
 * path settles an ERC-20 without EIP-3009: the payer signs a `PermitWitnessTransferFrom` with x402's
 * `Witness(address to,uint256 validAfter)` and the spender (here the submitter's EOA, calling
 * Permit2 directly: no proxy call on top, the cheapest form of that path) pulls the amount straight
 * to the payee. Payers approve Permit2 once before the clock.
 */
import { hashStruct, type Hex } from "viem";
import { writeContract } from "viem/actions";

import { permit2Abi } from "../../abi/permit2.js";
import { PERMIT2_ADDRESS } from "../../chain/base.js";
import { createPermit2Nonce } from "../../permit2/nonces.js";
import { getPermit2Domain, permit2WitnessTypeString } from "../../permit2/typedData.js";
import { mapWithLimit } from "../concurrency.js";
import { validitySeconds } from "../node.js";
import { ensurePermit2Approvals, measurePermit2Run } from "./permit2Setup.js";
import { type BenchmarkMethod, countReason, IN_FLIGHT } from "./types.js";

/**
 * x402's `exact` Permit2 witness. `Witness` sorts after `TokenPermissions`, so its type string
 * lists TokenPermissions first (EIP-712 orders referenced types by name).
 */
const X402_WITNESS_FIELDS = [
  { name: "to", type: "address" },
  { name: "validAfter", type: "uint256" },
] as const;
const X402_WITNESS_TYPE_STRING = permit2WitnessTypeString({
  typeName: "Witness",
  fields: X402_WITNESS_FIELDS,
});
const X402_PERMIT_TYPES = {
  PermitWitnessTransferFrom: [
    { name: "permitted", type: "TokenPermissions" },
    { name: "spender", type: "address" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
    { name: "witness", type: "Witness" },
  ],
  TokenPermissions: [
    { name: "token", type: "address" },
    { name: "amount", type: "uint256" },
  ],
  Witness: X402_WITNESS_FIELDS,
} as const;

export const permit2SingleMethod: BenchmarkMethod = {
  name: "permit2-single",
  description:
    "Permit2 permitWitnessTransferFrom, one transaction per payment (x402's Permit2 path)",
  batched: false,
  anyErc20: true,
  optIn: true,
  async run(ctx) {
    await ensurePermit2Approvals(ctx);
    const client = ctx.node.client;
    const chainId = ctx.node.info.chainId;
    const spender = ctx.submitter.account;
    const now = BigInt((await client.getBlock()).timestamp);
    const deadline = now + BigInt(await validitySeconds(client));
    const payments = await Promise.all(
      ctx.payments.map(async ({ payer, payee }) => {
        const permit = {
          token: ctx.token.address,
          amount: ctx.amount,
          nonce: createPermit2Nonce(),
          deadline,
          spender: spender.address,
        };
        const witness = { to: payee, validAfter: now - 600n };
        const signature = await payer.signTypedData({
          domain: getPermit2Domain(chainId),
          types: X402_PERMIT_TYPES,
          primaryType: "PermitWitnessTransferFrom",
          message: {
            permitted: { token: permit.token, amount: permit.amount },
            spender: permit.spender,
            nonce: permit.nonce,
            deadline: permit.deadline,
            witness,
          },
        });
        const witnessHash = hashStruct({
          data: witness,
          primaryType: "Witness",
          types: { Witness: X402_WITNESS_FIELDS },
        });
        return { owner: payer.address, payee, permit, witnessHash, signature };
      }),
    );
    const firstNonce = await client.getTransactionCount({
      address: spender.address,
      blockTag: "pending",
    });
    const failures: Record<string, number> = {};
    const started = performance.now();
    const hashes = await mapWithLimit(
      payments,
      IN_FLIGHT,
      async (p, i): Promise<Hex | undefined> => {
        try {
          return await writeContract(ctx.submitter, {
            address: PERMIT2_ADDRESS,
            abi: permit2Abi,
            functionName: "permitWitnessTransferFrom",
            args: [
              {
                permitted: { token: p.permit.token, amount: p.permit.amount },
                nonce: p.permit.nonce,
                deadline: p.permit.deadline,
              },
              { to: p.payee, requestedAmount: p.permit.amount },
              p.owner,
              p.witnessHash,
              X402_WITNESS_TYPE_STRING,
              p.signature,
            ],
            nonce: firstNonce + i,
            gas: 200_000n,
          });
        } catch (error) {
          countReason(failures, (error as Error).name);
          return undefined;
        } finally {
          ctx.tick();
        }
      },
    );
    const sent = hashes.filter((hash): hash is Hex => hash !== undefined);
    let settled = 0;
    for (const hash of sent) {
      const receipt = await client.waitForTransactionReceipt({ hash });
      if (receipt.status === "success") settled++;
      else countReason(failures, "transaction_reverted");
    }
    const elapsedMs = performance.now() - started;
    return measurePermit2Run(
      ctx,
      this.name,
      { hashes: sent, elapsedMs, failures, settled },
      payments.map((p) => ({ owner: p.owner, nonce: p.permit.nonce })),
    );
  },
};
