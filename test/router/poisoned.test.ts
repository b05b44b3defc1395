import { expect } from "chai";
import { type Hex, decodeErrorResult, parseAbi, parseSignature } from "viem";

import { x402TestTokenAbi } from "../../src/abi/x402TestToken.js";
import type { DirectItem } from "../../src/batch/encodeItems.js";
import {
  type Stack,
  Status,
  account,
  bytes32,
  deployStack,
  eip3009Abi,
  signDirect,
} from "./fixtures.js";

type Poison = "spent" | "expired" | "drained" | "badSignature" | "frontRun";

/** The router status and the token's revert, by name, that each poison must produce. */
const EXPECTED: Record<Poison, { status: number; usdc: string; testToken: string }> = {
  spent: {
    status: Status.AuthorizationUsed,
    usdc: "FiatTokenV2: authorization is used or canceled",
    testToken: "ERC3009UsedAuthorization",
  },
  frontRun: {
    status: Status.AuthorizationUsed,
    usdc: "FiatTokenV2: authorization is used or canceled",
    testToken: "ERC3009UsedAuthorization",
  },
  expired: {
    status: Status.TokenReverted,
    usdc: "FiatTokenV2: authorization is expired",
    testToken: "ERC3009AuthorizationExpired",
  },
  drained: {
    status: Status.TokenReverted,
    usdc: "ERC20: transfer amount exceeds balance",
    testToken: "ERC20InsufficientBalance",
  },
  badSignature: {
    status: Status.TokenReverted,
    usdc: "FiatTokenV2: invalid signature",
    testToken: "ERC3009InvalidSignature",
  },
};

const errorStringAbi = parseAbi(["error Error(string message)"]);

/** The revert named: Error(string)'s message, or a custom error's name. */
function revertName(reason: Hex): string {
  const decoded = decodeErrorResult({
    abi: [...x402TestTokenAbi, ...errorStringAbi],
    data: reason,
  });
  return decoded.errorName === "Error" ? String(decoded.args[0]) : decoded.errorName;
}

/**
 * The poisoned-batch acceptance: 100 items of which 10 are poisoned (two each of a spent nonce,
 * an expired window, a drained payer, a bad signature and a front-run): the other 90 settle, each
 * of the 10 is reported with its reason, from the return value and from the receipt.
 */
describe("SettlementRouter: a poisoned batch of 100", () => {
  let stack: Stack;
  before(async () => {
    stack = await deployStack();
  });

  for (const tokenName of ["FiatTokenV2_2", "X402TestToken"] as const) {
    it(`${tokenName}: settles the 90 good items and reports each of the 10 poisoned ones`, async () => {
      const token = stack.tokens[tokenName];
      const payee = account(`poison-payee-${tokenName}`).address;
      const payers = Array.from({ length: 100 }, (_, i) => account(`poison-${tokenName}-${i}`));
      const poisons: Poison[] = ["spent", "expired", "drained", "badSignature", "frontRun"];
      const poisonAt = new Map<number, Poison>();
      for (let k = 0; k < 10; k++) poisonAt.set(7 + k * 10, poisons[k % 5]!);

      await stack.fund(
        token,
        payers.filter((_, i) => poisonAt.get(i) !== "drained").map((p) => p.address),
        100_000n,
      );
      const items: DirectItem[] = [];
      for (let i = 0; i < payers.length; i++) {
        const payer = payers[i]!;
        const nonce = bytes32(`poison-${tokenName}-${i}`);
        const poison = poisonAt.get(i);
        if (poison === "expired") {
          items.push(await signDirect(token, payer, payee, nonce, { validBefore: 1n }));
        } else if (poison === "badSignature") {
          const forged = await signDirect(token, account("forger"), payee, nonce);
          items.push({ ...forged, from: payer.address });
        } else {
          items.push(await signDirect(token, payer, payee, nonce));
        }
        if (poison === "spent" || poison === "frontRun") {
          // spent: another authorization with the same nonce settled earlier; front-run: this
          // very authorization was executed on the token by a third party just before the batch.
          const used =
            poison === "spent"
              ? await signDirect(token, payer, account("elsewhere").address, nonce, { value: 1n })
              : items[i]!;
          const { r, s, v } = parseSignature(used.signature);
          await stack.relayerWallet.writeContract({
            address: token.address,
            abi: eip3009Abi,
            functionName: "transferWithAuthorization",
            args: [
              used.from,
              used.to,
              used.value,
              0n,
              used.validBefore,
              used.nonce,
              Number(v),
              r,
              s,
            ],
          });
        }
      }
      const payeeBefore = await stack.balanceOf(token, payee);

      const { statuses, eventStatuses, failures } = await stack.settle(token, stack.relayer, items);

      const expectedStatuses = items.map((_, i) =>
        poisonAt.has(i) ? EXPECTED[poisonAt.get(i)!].status : Status.Settled,
      );
      expect(statuses).to.deep.equal(expectedStatuses);
      expect(eventStatuses).to.deep.equal(expectedStatuses);
      expect(failures.map((f) => f.index)).to.deep.equal([...poisonAt.keys()]);
      for (const failure of failures) {
        const poison = poisonAt.get(failure.index)!;
        expect(failure.authorizer).to.equal(items[failure.index]!.from);
        expect(failure.nonce).to.equal(items[failure.index]!.nonce);
        expect(failure.status).to.equal(EXPECTED[poison].status);
        expect(revertName(failure.reason), poison).to.equal(
          tokenName === "FiatTokenV2_2" ? EXPECTED[poison].usdc : EXPECTED[poison].testToken,
        );
      }
      // The 90 good items and the 2 front-run ones reached the payee exactly once each.
      expect(await stack.balanceOf(token, payee)).to.equal(payeeBefore + 90n * 10_000n);
      expect(await stack.balanceOf(token, stack.router.address)).to.equal(0n);
    });
  }
});
