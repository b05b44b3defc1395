import { expect } from "chai";

import {
  account,
  bytes32,
  deployStack,
  signDirect,
  signRouted,
  Status,
  type Stack,
} from "./fixtures.js";

describe("SettlementRouter: settle", () => {
  let stack: Stack;
  before(async () => {
    stack = await deployStack();
  });

  for (const tokenName of ["FiatTokenV2_2", "X402TestToken"] as const) {
    describe(tokenName, () => {
      it("settles a direct batch: every payee paid, statuses and events per item", async () => {
        const token = stack.tokens[tokenName];
        const payee = account(`direct-payee-${tokenName}`).address;
        const payers = Array.from({ length: 5 }, (_, i) => account(`direct-payer-${i}`));
        await stack.fund(
          token,
          payers.map((p) => p.address),
          1_000_000n,
        );
        const items = await Promise.all(
          payers.map((p, i) => signDirect(token, p, payee, bytes32(`direct-${tokenName}-${i}`))),
        );
        const { statuses, eventStatuses, failures } = await stack.settle(
          token,
          stack.relayer,
          items,
        );
        expect(statuses).to.deep.equal([0, 0, 0, 0, 0]);
        expect(eventStatuses).to.deep.equal(statuses);
        expect(failures).to.deep.equal([]);
        expect(await stack.balanceOf(token, payee)).to.equal(5n * 10_000n);
        for (const p of payers) expect(await stack.balanceOf(token, p.address)).to.equal(990_000n);
      });

      it("settles a routed batch with fees, one netted payout, nothing left in the router", async () => {
        const token = stack.tokens[tokenName];
        const payee = account(`routed-payee-${tokenName}`).address;
        const feeRecipient = account(`fee-recipient-${tokenName}`).address;
        const payers = Array.from({ length: 4 }, (_, i) => account(`routed-payer-${i}`));
        await stack.fund(
          token,
          payers.map((p) => p.address),
          1_000_000n,
        );
        const items = await Promise.all(
          payers.map((p, i) =>
            signRouted(token, stack.router.address, p, {
              payee,
              fee: 100n,
              feeRecipient,
              salt: bytes32(`routed-${tokenName}-${i}`),
            }),
          ),
        );
        const { statuses } = await stack.settle(token, feeRecipient, items);
        expect(statuses).to.deep.equal([0, 0, 0, 0]);
        expect(await stack.balanceOf(token, payee)).to.equal(4n * 9_900n);
        expect(await stack.balanceOf(token, feeRecipient)).to.equal(400n);
        expect(await stack.balanceOf(token, stack.router.address)).to.equal(0n);
      });
    });
  }
});
