import { expect } from "chai";
import { type Hex, keccak256, toHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";

import { recoverDigestSigner } from "../../src/crypto/recoverDigestSigner.js";

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const alice = privateKeyToAccount(`0x${"11".repeat(32)}`);
const bob = privateKeyToAccount(`0x${"22".repeat(32)}`);

/** The same signature with `s` mirrored into the curve's upper half (and `v` flipped): still valid. */
function highS(signature: Hex): Hex {
  const s = BigInt(`0x${signature.slice(66, 130)}`);
  const v = Number.parseInt(signature.slice(130), 16);
  return `${signature.slice(0, 66)}${(N - s).toString(16).padStart(64, "0")}${(v === 27 ? 28 : 27).toString(16)}` as Hex;
}

describe("recoverDigestSigner", () => {
  it("answers a repeated recovery as the first, and keeps signers, digests and options apart", async () => {
    const digest = keccak256(toHex("x402-clearing"));
    const other = keccak256(toHex("another digest"));
    const byAlice = await alice.sign({ hash: digest });
    const byBob = await bob.sign({ hash: digest });
    for (let round = 0; round < 2; round++) {
      expect(recoverDigestSigner(digest, byAlice)).to.deep.equal({
        ok: true,
        signer: alice.address,
      });
      expect(recoverDigestSigner(digest, byBob)).to.deep.equal({ ok: true, signer: bob.address });
      // The digest as bytes, and the signature in upper case, name the same signer.
      expect(recoverDigestSigner(Buffer.from(digest.slice(2), "hex"), byAlice)).to.deep.equal({
        ok: true,
        signer: alice.address,
      });
      expect(recoverDigestSigner(digest, `0x${byAlice.slice(2).toUpperCase()}`)).to.deep.equal({
        ok: true,
        signer: alice.address,
      });
      // Alice's signature over the digest is not hers over another one.
      const elsewhere = recoverDigestSigner(other, byAlice);
      expect(elsewhere.ok && elsewhere.signer).to.not.equal(alice.address);
    }
    // A high-s signature recovered where it is allowed stays refused where it is not.
    const mirrored = highS(byAlice);
    expect(recoverDigestSigner(digest, mirrored, { allowHighS: true })).to.deep.equal({
      ok: true,
      signer: alice.address,
    });
    expect(recoverDigestSigner(digest, mirrored)).to.deep.equal({ ok: false, reason: "high_s" });
    // A recovery id `v` of 0/1 recovered where allowed stays refused where it is not.
    const v01 =
      `${byBob.slice(0, 130)}${(Number.parseInt(byBob.slice(130), 16) - 27).toString(16).padStart(2, "0")}` as Hex;
    expect(recoverDigestSigner(digest, v01)).to.deep.equal({ ok: true, signer: bob.address });
    expect(recoverDigestSigner(digest, v01, { allowRecoveryIdV: false })).to.deep.equal({
      ok: false,
      reason: "malformed_signature",
    });
  });
});
