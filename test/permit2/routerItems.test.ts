import { expect } from "chai";
import { keccak256, toHex, type Address, type Hex } from "viem";
import { privateKeyToAccount } from "viem/accounts";

import { InvalidPermit2InputError } from "../../src/permit2/errors.js";
import {
  buildRouterPermit2Payment,
  decodePermit2Items,
  encodePermit2Items,
  PERMIT2_EOA_ITEM_SIZE,
  PERMIT2_GROUP_HEADER_SIZE,
  PERMIT2_ITEM_PERMIT_SIZE,
  PERMIT2_SHORT_NONCE_EOA_ITEM_SIZE,
  signRouterPermit2Payment,
  type SignedRouterPermit2Payment,
} from "../../src/permit2/router.js";

const addr = (label: string): Address => privateKeyToAccount(keccak256(toHex(label))).address;
const payer = privateKeyToAccount(keccak256(toHex("router-items-payer")));
const [payeeA, payeeB] = [addr("router-items-payee-a"), addr("router-items-payee-b")];

async function signed(payee: Address, i: number): Promise<SignedRouterPermit2Payment> {
  const payment = buildRouterPermit2Payment({
    owner: payer.address,
    token: addr("router-items-token"),
    router: addr("router-items-router"),
    payee,
    amount: 10_000n + BigInt(i),
    fee: BigInt(i),
    feeRecipient: addr("router-items-fee"),
    validAfter: 1_000n + BigInt(i),
    deadline: 2_000_000_000n + BigInt(i),
    nonce: BigInt(keccak256(toHex(`router-items-nonce-${i}`))),
  });
  return signRouterPermit2Payment(payer, { chainId: 8453, payment });
}

const size = (packed: Hex) => (packed.length - 2) / 2;

/** The packed Permit2 items layout (ISettlementRouter, "Permit2 items") from the toolkit's side. */
describe("router Permit2 items: encode and decode", function () {
  it("one group per run of one payee, each item without the payee, and back", async function () {
    const items = [
      await signed(payeeA, 0),
      await signed(payeeA, 1),
      await signed(payeeB, 2),
      { ...(await signed(payeeA, 3)), contractSignature: true },
      {
        ...(await signed(payeeA, 4)),
        permit: { value: 7n, deadline: 9n, signature: `0x${"ab".repeat(64)}` as Hex },
      },
    ];
    const packed = encodePermit2Items(items);
    // Three groups: [A: 0, 1] [B: 2] [A: 3 (65-byte contract signature), 4 (with a permit)].
    expect(size(packed)).to.equal(
      3 * PERMIT2_GROUP_HEADER_SIZE +
        4 * PERMIT2_EOA_ITEM_SIZE +
        (PERMIT2_EOA_ITEM_SIZE - 64 + 2 + 65) +
        PERMIT2_ITEM_PERMIT_SIZE,
    );
    expect(packed.slice(2, 42)).to.equal(payeeA.slice(2).toLowerCase());
    expect(Number(`0x${packed.slice(42, 48)}`)).to.equal(2 * PERMIT2_EOA_ITEM_SIZE);
    const decoded = decodePermit2Items(packed);
    expect(decoded.map((d) => d.payee)).to.deep.equal(items.map((i) => i.payee));
    for (const [i, d] of decoded.entries()) {
      const item = items[i]!;
      expect([d.owner, d.amount, d.fee, d.validAfter, d.deadline, d.nonce]).to.deep.equal([
        item.owner,
        item.amount,
        item.fee,
        item.validAfter,
        item.deadline,
        item.nonce,
      ]);
    }
    expect(decoded[3]!.flags).to.equal(2 | 4); // contract signature, 256-bit nonce
    expect(decoded[3]!.signature).to.equal(items[3]!.signature);
    expect(decoded[4]!.flags).to.equal(1 | 4); // permit, 256-bit nonce
    expect(decoded[4]!.permit).to.deep.include({ value: 7n, deadline: 9n });
    expect(decoded[0]!.signature).to.have.length(2 + 128);
  });

  it("a nonce below 2^128 packs in 16 bytes, a larger one in 32 with FULL_NONCE", async function () {
    const base = await signed(payeeA, 0);
    const nonces = [(1n << 128n) - 1n, 1n << 128n, 7n, (1n << 256n) - 1n];
    const items = nonces.map((nonce) => ({ ...base, nonce }));
    const packed = encodePermit2Items(items);
    expect(size(packed)).to.equal(
      PERMIT2_GROUP_HEADER_SIZE + 2 * PERMIT2_EOA_ITEM_SIZE + 2 * PERMIT2_SHORT_NONCE_EOA_ITEM_SIZE,
    );
    const decoded = decodePermit2Items(packed);
    expect(decoded.map((d) => d.nonce)).to.deep.equal(nonces);
    expect(decoded.map((d) => d.flags)).to.deep.equal([0, 4, 0, 4]);
    for (const d of decoded) expect(d.signature).to.equal(decoded[0]!.signature);
    // The short item's nonce field ends 16 bytes early: the signature follows at byte 70.
    expect(packed.slice(2 + 2 * (23 + 54), 2 + 2 * (23 + 70))).to.equal("f".repeat(32));
  });

  it("refuses fields outside the layout's ranges, naming the field and the range", async function () {
    const base = await signed(payeeA, 0);
    const cases: [Partial<SignedRouterPermit2Payment>, string, string][] = [
      [{ amount: 1n << 96n }, "amount", "uint96"],
      [{ amount: 1n << 96n, fee: 1n << 96n }, "amount", "uint96"],
      [{ fee: 1n << 96n }, "fee", "uint96"],
      [{ validAfter: 1n << 40n }, "validAfter", "uint40"],
      [{ deadline: 1n << 40n }, "deadline", "uint32"],
      // The item carries deadline - validAfter as a uint32: not below validAfter, nor 2^32 past it.
      [{ validAfter: 1_000n, deadline: 999n }, "deadline", "uint32"],
      [{ validAfter: 1_000n, deadline: 1_000n + (1n << 32n) }, "deadline", "uint32"],
    ];
    for (const [patch, field, range] of cases) {
      const run = () => encodePermit2Items([{ ...base, ...patch }]);
      expect(run, field).to.throw(InvalidPermit2InputError, field);
      expect(run, field).to.throw(range);
    }
    // The largest values of each range still pack.
    const top = {
      amount: (1n << 96n) - 1n,
      fee: 0n,
      validAfter: (1n << 40n) - 1n,
      deadline: (1n << 40n) - 1n + ((1n << 32n) - 1n),
    };
    expect(decodePermit2Items(encodePermit2Items([{ ...base, ...top }]))[0]).to.deep.include(top);
  });
});
