import path from "node:path";
import { fileURLToPath } from "node:url";

import { expect } from "chai";
import { encodeFunctionData, type Address } from "viem";

import { permit2Abi } from "../../src/abi/permit2.js";
import { PERMIT2_ADDRESS } from "../../src/chain/base.js";
import {
  encodePermit2Items,
  hashRouterPaymentWitness,
  ROUTER_PAYMENT_WITNESS_TYPE_STRING,
  signRouterPermit2Payment,
} from "../../src/permit2/router.js";
import { type GasSnapshots, checkGasSnapshots } from "../helpers/gasSnapshots.js";
import { account, bytes32 } from "./fixtures.js";
import {
  AMOUNT,
  DEADLINE,
  deployPermit2Stack,
  VALID_AFTER,
  type Permit2Stack,
  type Permit2TokenName,
} from "./permit2Fixtures.js";

const SNAPSHOT_FILE = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "../../gas-snapshots/router-permit2.json",
);

const TOKEN_KEYS: Record<Permit2TokenName, string> = {
  FiatTokenV2_2: "usdc",
  NoReturnToken: "noreturn",
};

/**
 * Exact gas of `settlePermit2` at batch 1, 10 and 100 (one payee, every payer's first payment, its
 * Permit2 nonce in a fresh bitmap word) on USDC and the USDT-like no-return token, and of the
 * single `permitWitnessTransferFrom` baseline (an EOA spender paying the payee directly), in
 * gas-snapshots/router-permit2.json, compared both ways.
 */
describe("router Permit2 gas snapshots", function () {
  let s: Permit2Stack;
  const measured: GasSnapshots = {};

  before(async function () {
    s = await deployPermit2Stack();
  });

  for (const token of ["FiatTokenV2_2", "NoReturnToken"] as const) {
    const key = TOKEN_KEYS[token];
    for (const size of [1, 10, 100]) {
      it(`settlePermit2 x${size} on ${key}`, async function () {
        const payee = account(`gas-p2-payee-${key}`).address;
        await s.fund(token, [payee, s.feeRecipient], 1n);
        const payers = Array.from({ length: size }, (_, i) =>
          account(`gas-p2-${key}-${size}-${i}`),
        );
        for (const payer of payers) await s.fundAndApprove(token, payer, AMOUNT);
        const items = await Promise.all(
          payers.map((payer, i) =>
            s.sign(token, payer, payee, { label: `gas-${key}-${size}-${i}` }),
          ),
        );
        const { receipt, results } = await s.settle(items);
        expect(results.every((r) => r.status === "success")).to.equal(true);
        measured[`settlePermit2-${size}-${key}`] = {
          gasUsed: Number(receipt.gasUsed),
          gasPerPayment: Math.round(Number(receipt.gasUsed) / size),
          calldataBytesPerItem: (encodePermit2Items(items).length - 2) / 2 / size,
        };
      });
    }

    it(`single permitWitnessTransferFrom on ${key}`, async function () {
      const payee = account(`gas-p2-single-payee-${key}`).address;
      await s.fund(token, [payee], 1n);
      const payer = account(`gas-p2-single-${key}`);
      await s.fundAndApprove(token, payer, AMOUNT);
      const spender = s.relayerWallet.account.address as Address;
      // The router's witness, signed for an EOA spender: the same Permit2 work, one transfer.
      const signed = await signRouterPermit2Payment(payer, {
        chainId: await s.client.getChainId(),
        payment: {
          owner: payer.address,
          token: s.tokens[token],
          router: spender,
          payee,
          amount: AMOUNT,
          fee: 0n,
          feeRecipient: s.feeRecipient,
          validAfter: VALID_AFTER,
          deadline: DEADLINE,
          nonce: BigInt(bytes32(`gas-single-${key}`)),
        },
      });
      const hash = await s.relayerWallet.sendTransaction({
        to: PERMIT2_ADDRESS,
        data: encodeFunctionData({
          abi: permit2Abi,
          functionName: "permitWitnessTransferFrom",
          args: [
            {
              permitted: { token: signed.token, amount: signed.amount },
              nonce: signed.nonce,
              deadline: signed.deadline,
            },
            { to: payee, requestedAmount: signed.amount },
            signed.owner,
            hashRouterPaymentWitness(signed),
            ROUTER_PAYMENT_WITNESS_TYPE_STRING,
            signed.signature,
          ],
        }),
      });
      const receipt = await s.client.waitForTransactionReceipt({ hash });
      expect(receipt.status).to.equal("success");
      measured[`permitWitnessTransferFrom-single-${key}`] = {
        gasUsed: Number(receipt.gasUsed),
        gasPerPayment: Number(receipt.gasUsed),
      };
    });
  }

  it("matches gas-snapshots/router-permit2.json exactly", function () {
    expect(Object.keys(measured)).to.have.length(8);
    checkGasSnapshots(SNAPSHOT_FILE, measured);
  });
});
