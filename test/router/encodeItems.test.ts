import { expect } from "chai";
import {
  type Hex,
  serializeCompactSignature,
  parseSignature,
  signatureToCompactSignature,
} from "viem";
import { privateKeyToAccount } from "viem/accounts";

import { MalformedItemsError, decodeItems } from "../../src/batch/decodeItems.js";
import {
  DIRECT_ITEM_SIZE,
  InvalidSettlementItemError,
  ROUTED_ITEM_SIZE,
  type SettlementItem,
  encodeItems,
} from "../../src/batch/encodeItems.js";
import { bytes32 } from "./fixtures.js";

const payer = privateKeyToAccount(bytes32("encode-payer"));
const payee = privateKeyToAccount(bytes32("encode-payee")).address;

async function signature(label: string): Promise<Hex> {
  return payer.signMessage({ message: label });
}

describe("encodeItems / decodeItems", () => {
  it("packs the layout byte by byte and round-trips every kind of item", async () => {
    const sig = await signature("a");
    const items: SettlementItem[] = [
      {
        kind: "direct",
        from: payer.address,
        to: payee,
        value: 10_000n,
        validAfter: 0n,
        validBefore: 1_999_999_999n,
        nonce: bytes32("n"),
        signature: sig,
        contractSignature: false,
      },
      {
        kind: "routed",
        from: payer.address,
        payee,
        fee: 100n,
        salt: bytes32("s"),
        value: (1n << 128n) - 1n,
        validAfter: (1n << 48n) - 1n,
        validBefore: 5n,
        signature: sig,
        contractSignature: false,
      },
      {
        kind: "direct",
        from: payee,
        to: payer.address,
        value: 1n,
        validAfter: 1n,
        validBefore: 2n,
        nonce: bytes32("m"),
        signature: "0xdeadbeef",
        contractSignature: true,
      },
    ];
    const packed = encodeItems(items);
    expect((packed.length - 2) / 2).to.equal(DIRECT_ITEM_SIZE + ROUTED_ITEM_SIZE + 101 + 2 + 4);
    // First item, field by field.
    const hex = packed.slice(2);
    const field = (offset: number, size: number) => hex.slice(offset * 2, (offset + size) * 2);
    expect(field(0, 1)).to.equal("00");
    expect(field(1, 20)).to.equal(payer.address.slice(2).toLowerCase());
    expect(field(21, 20)).to.equal(payee.slice(2).toLowerCase());
    expect(BigInt(`0x${field(41, 16)}`)).to.equal(10_000n);
    expect(BigInt(`0x${field(57, 6)}`)).to.equal(0n);
    expect(BigInt(`0x${field(63, 6)}`)).to.equal(1_999_999_999n);
    expect(`0x${field(69, 32)}`).to.equal(bytes32("n"));
    const compact = signatureToCompactSignature(parseSignature(sig));
    expect(`0x${field(101, 64)}`).to.equal(serializeCompactSignature(compact));
    // Second item: routed flag and fee.
    expect(field(165, 1)).to.equal("01");
    expect(BigInt(`0x${field(165 + 101, 16)}`)).to.equal(100n);
    // Third: contract signature flag, uint16 length.
    expect(field(346, 1)).to.equal("02");
    expect(field(346 + 101, 2)).to.equal("0004");

    const decoded = decodeItems(packed);
    expect(decoded).to.deep.equal(items.map((item) => ({ ...item })));
    expect(encodeItems(decoded)).to.equal(packed);
  });

  it("accepts 65-byte signatures with v in {0, 1, 27, 28} and 64-byte compact ones alike", async () => {
    const sig = await signature("b");
    const { r, s, yParity } = parseSignature(sig);
    const base = {
      kind: "direct" as const,
      from: payer.address,
      to: payee,
      value: 1n,
      validAfter: 0n,
      validBefore: 1n,
      nonce: bytes32("v"),
    };
    const v27 = `${r}${s.slice(2)}${(27 + yParity).toString(16)}` as Hex;
    const v01 = `${r}${s.slice(2)}0${yParity}` as Hex;
    const compact = serializeCompactSignature(signatureToCompactSignature(parseSignature(sig)));
    const expected = encodeItems([{ ...base, signature: sig }]);
    for (const signature of [v27, v01, compact]) {
      expect(encodeItems([{ ...base, signature }])).to.equal(expected);
    }
  });

  it("rejects what the layout cannot carry with InvalidSettlementItemError naming the field", async () => {
    const sig = await signature("c");
    const good: SettlementItem = {
      kind: "routed",
      from: payer.address,
      payee,
      fee: 0n,
      salt: bytes32("x"),
      value: 1n,
      validAfter: 0n,
      validBefore: 1n,
      signature: sig,
    };
    const highS = (() => {
      const { r, s, v } = parseSignature(sig);
      const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
      return `${r}${(n - BigInt(s)).toString(16).padStart(64, "0")}${(v === 27n ? 28 : 27).toString(16)}` as Hex;
    })();
    const cases: [Partial<SettlementItem> & Record<string, unknown>, string][] = [
      [{ value: 1n << 128n }, "value"],
      [{ value: -1n }, "value"],
      [{ validBefore: 1n << 48n }, "validBefore"],
      [{ fee: 1n << 128n }, "fee"],
      [{ from: "0x1234" as Hex }, "from"],
      [{ salt: "0x12" as Hex }, "salt"],
      [{ signature: "0x1234" as Hex }, "signature"],
      [{ signature: highS }, "signature"],
      [{ signature: "0x", contractSignature: true }, "signature"],
      [{ kind: "other" } as never, "kind"],
    ];
    for (const [patch, fieldName] of cases) {
      let error: unknown;
      try {
        encodeItems([good, { ...good, ...patch } as SettlementItem]);
      } catch (e) {
        error = e;
      }
      expect(error, fieldName).to.be.instanceOf(InvalidSettlementItemError);
      expect((error as InvalidSettlementItemError).index).to.equal(1);
      expect((error as InvalidSettlementItemError).field).to.equal(fieldName);
    }
  });

  it("decodeItems throws MalformedItemsError at the router's offsets", async () => {
    const sig = await signature("d");
    const item: SettlementItem = {
      kind: "direct",
      from: payer.address,
      to: payee,
      value: 1n,
      validAfter: 0n,
      validBefore: 1n,
      nonce: bytes32("d"),
      signature: sig,
    };
    const good = encodeItems([item, item]);
    const offsetOf = (items: Hex) => {
      try {
        decodeItems(items);
      } catch (e) {
        expect(e).to.be.instanceOf(MalformedItemsError);
        return (e as MalformedItemsError).offset;
      }
      return undefined;
    };
    expect(offsetOf(good.slice(0, -2) as Hex)).to.equal(165);
    expect(offsetOf(`0x04${good.slice(4)}` as Hex)).to.equal(0);
    expect(offsetOf(`${good}02${good.slice(4, 4 + 200)}ffff` as Hex)).to.equal(330);
    expect(decodeItems("0x")).to.deep.equal([]);
  });
});
