import { expect } from "chai";
import { keccak256, toHex, type Address } from "viem";
import { privateKeyToAccount } from "viem/accounts";

import {
  checkRoutedPermit2Terms,
  type RoutedPermit2Request,
} from "../../src/facilitator/routedPermit2.js";
import { encodePermit2Items } from "../../src/permit2/router.js";

const addr = (label: string): Address => privateKeyToAccount(keccak256(toHex(label))).address;
const router = addr("terms-router");
const feeRecipient = addr("terms-fee");
const token = addr("terms-token");
const payee = addr("terms-payee");

function request(patch: Partial<RoutedPermit2Request["payment"]>): RoutedPermit2Request {
  return {
    network: "eip155:8453",
    amount: 1_000n,
    asset: token,
    payTo: payee,
    extra: { router, fee: 10n, feeRecipient },
    payment: {
      owner: addr("terms-owner"),
      token,
      router,
      payee,
      amount: 1_010n,
      fee: 10n,
      feeRecipient,
      validAfter: 1_700_000_000n,
      deadline: 1_700_000_900n,
      nonce: 1n,
      signature: `0x${"11".repeat(64)}1b`,
      ...patch,
    },
    raw: {},
  };
}

/**
 * The facilitator admits only payments the packed item can carry: one it accepted must not make
 * its batch unencodable (encodePermit2Items throws for the whole batch).
 */
describe("facilitator: routed Permit2 terms against the item layout", function () {
  const terms = { router, fee: 10n, feeRecipient };

  it("accepts an x402 window and refuses what the item cannot carry, as unsettleable", function () {
    const ok = request({});
    expect(checkRoutedPermit2Terms(ok, terms)).to.equal(undefined);
    expect(() => encodePermit2Items([ok.payment])).not.to.throw();
    const cases: [string, Partial<RoutedPermit2Request["payment"]>][] = [
      ["a deadline 2^32 s past validAfter", { deadline: 1_700_000_000n + (1n << 32n) }],
      ["a deadline before validAfter", { deadline: 1_699_999_999n }],
      ["validAfter past uint40", { validAfter: 1n << 40n, deadline: (1n << 40n) + 1n }],
    ];
    for (const [name, patch] of cases) {
      const bad = request(patch);
      expect(() => encodePermit2Items([bad.payment]), name).to.throw();
      expect(checkRoutedPermit2Terms(bad, terms)?.reason, name).to.equal(
        "unsettleable_field_out_of_range",
      );
    }
    // An amount past uint96 (amount = request amount + fee, so the request grows with it).
    const big = request({ amount: (1n << 96n) + 10n });
    expect(checkRoutedPermit2Terms({ ...big, amount: 1n << 96n }, terms)?.reason).to.equal(
      "unsettleable_field_out_of_range",
    );
  });
});
