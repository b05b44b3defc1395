import { expect } from "chai";
import { keccak256, toHex, type Address } from "viem";
import { privateKeyToAccount } from "viem/accounts";

import { InvalidPermit2InputError } from "../../src/permit2/errors.js";
import { createPermit2Nonce } from "../../src/permit2/nonces.js";
import { buildRouterPermit2Payment } from "../../src/permit2/router.js";

const addr = (label: string): Address => privateKeyToAccount(keccak256(toHex(label))).address;

/** The largest of `count` draws, and whether all of them differ. */
function draws(count: number, draw: () => bigint): { max: bigint; distinct: boolean } {
  const values = Array.from({ length: count }, draw);
  return {
    max: values.reduce((a, b) => (a > b ? a : b)),
    distinct: new Set(values).size === count,
  };
}

describe("Permit2 nonces", function () {
  it("createPermit2Nonce draws 256 random bits by default and `bits` on request", function () {
    // Out of 64 draws of n random bits, the largest is below 2^n and (but for a 2^-64 chance)
    // at least 2^(n-1): exactly n bits.
    for (const [bits, draw] of [
      [256, () => createPermit2Nonce()],
      [128, () => createPermit2Nonce({ bits: 128 })],
      [100, () => createPermit2Nonce({ bits: 100 })],
      [64, () => createPermit2Nonce({ bits: 64 })],
    ] as const) {
      const { max, distinct } = draws(64, draw);
      expect(max < 1n << BigInt(bits), `${bits} bits`).to.equal(true);
      expect(max >= 1n << BigInt(bits - 1), `${bits} bits`).to.equal(true);
      expect(distinct, `${bits} bits`).to.equal(true);
    }
  });

  it("createPermit2Nonce refuses a bit count outside 64..256", function () {
    for (const bits of [0, 8, 63, 257, 128.5, Number.NaN]) {
      const run = () => createPermit2Nonce({ bits });
      expect(run, String(bits)).to.throw(InvalidPermit2InputError, "bits");
      expect(run, String(bits)).to.throw("from 64 to 256");
    }
  });

  it("a router payment's default nonce has 128 random bits; a given nonce is kept whole", function () {
    const build = (nonce?: bigint) =>
      buildRouterPermit2Payment({
        owner: addr("nonces-owner"),
        token: addr("nonces-token"),
        router: addr("nonces-router"),
        payee: addr("nonces-payee"),
        amount: 1_000n,
        feeRecipient: addr("nonces-fee"),
        nonce,
      }).nonce;
    const { max, distinct } = draws(64, () => build());
    expect(max < 1n << 128n).to.equal(true);
    expect(max >= 1n << 127n).to.equal(true);
    expect(distinct).to.equal(true);
    const full = (1n << 256n) - 12345n;
    expect(build(full)).to.equal(full);
  });
});
