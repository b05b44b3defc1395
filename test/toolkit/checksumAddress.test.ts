import { expect } from "chai";
import { getAddress } from "viem";

import { checksumAddress } from "../../src/crypto/checksumAddress.js";

describe("checksumAddress: viem's getAddress, remembered", function () {
  it("gives getAddress's checksum for each case of an address, again on a repeat", function () {
    for (let i = 0; i < 300; i++) {
      const hex = `0x${i.toString(16).padStart(4, "0")}${"9a".repeat(18)}`;
      for (const input of [hex, hex.toUpperCase().replace("0X", "0x")]) {
        expect(checksumAddress(input)).to.equal(getAddress(input));
        expect(checksumAddress(input)).to.equal(getAddress(input));
      }
    }
  });

  it("keeps giving the right answer past its memo's limit", function () {
    const first = `0x${"ab".repeat(20)}`;
    const expected = getAddress(first);
    expect(checksumAddress(first)).to.equal(expected);
    for (let i = 0; i < 5_000; i++) checksumAddress(`0x${i.toString(16).padStart(40, "0")}`);
    expect(checksumAddress(first)).to.equal(expected);
  });

  it("throws on what is not an address, as getAddress does, and remembers nothing for it", function () {
    for (const bad of ["0x1234", "0x" + "zz".repeat(20), "", "0x" + "ab".repeat(21)]) {
      expect(() => checksumAddress(bad)).to.throw();
      expect(() => checksumAddress(bad)).to.throw();
    }
  });
});
