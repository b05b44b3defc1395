import { expect } from "chai";
import { keccak256, toHex } from "viem";

import { keccak256Bytes, keccak256BytesReady } from "../../src/crypto/keccak256Bytes.js";

describe("keccak256Bytes: the WebAssembly keccak of the voucher hot path", function () {
  it("loads, and hashes every length as viem's keccak256 does", async function () {
    expect(await keccak256BytesReady).to.equal(true);
    // Lengths around keccak-256's 136-byte rate, where padding and a second block begin.
    const lengths = [0, 1, 31, 32, 64, 66, 135, 136, 137, 224, 271, 272, 273, 1000];
    let seed = 7;
    for (const length of lengths) {
      const data = new Uint8Array(length);
      for (let i = 0; i < length; i++) data[i] = seed = (seed * 31 + 17) & 0xff;
      const digest = keccak256Bytes(data);
      expect(digest).to.be.instanceOf(Uint8Array);
      expect(toHex(digest), `length ${length}`).to.equal(keccak256(data));
    }
  });

  it("gives each call its own digest (the shared hasher is reset between calls)", async function () {
    await keccak256BytesReady;
    const a = keccak256Bytes(new Uint8Array([1, 2, 3]));
    const b = keccak256Bytes(new Uint8Array([1, 2, 3]));
    const c = keccak256Bytes(new Uint8Array([4]));
    expect(toHex(a)).to.equal(toHex(b));
    expect(toHex(c)).to.equal(keccak256(new Uint8Array([4])));
    // A returned digest is not overwritten by a later call.
    expect(toHex(a)).to.equal(keccak256(new Uint8Array([1, 2, 3])));
  });
});
