import { secp256k1 as nobleSecp256k1 } from "@noble/curves/secp256k1";
import { type Address, type Hex, bytesToHex, hexToBytes, keccak256 } from "viem";

import { loadNativeCrypto } from "./loadNativeCrypto.js";

/** n / 2 of secp256k1: a signature with a larger `s` is malleable and rejected (EIP-2). */
const HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

/** Which implementation recovers signers (and hashes) in this process. */
export type RecoveryBackend = "native" | "js";

/**
 * The implementation {@link recoverDigestSigner} and `getVoucherDigest` use by default: `native`
 * (libsecp256k1 and XKCP Keccak through the `secp256k1` and `keccak` packages' prebuilt N-API
 * binaries) when they load, else `js` (@noble/curves and viem's keccak256, the code behind
 * viem's own recovery).
 */
export function getRecoveryBackend(): RecoveryBackend {
  return loadNativeCrypto() ? "native" : "js";
}

export type RecoverDigestSignerParameters = {
  /** The 32-byte digest that was signed. */
  digest: Uint8Array;
  /** 65 bytes `r ‖ s ‖ v` (v 27, 28, 0 or 1) or 64 bytes EIP-2098 `r ‖ yParityAndS`. */
  signature: Hex | Uint8Array;
  /** Force an implementation (the benchmark compares both). Default: {@link getRecoveryBackend}. */
  backend?: RecoveryBackend;
};

/**
 * The address that signed `digest`, in lowercase hex (compare with `isAddressEqual` or after
 * lowercasing; no checksum is computed on the hot path), or `undefined` when the signature is malformed, has `s` above
 * n/2 (EIP-2), a zero or out-of-range `r` or `s`, or recovers no point. Synchronous and without
 * RPC: the ledger's hot path.
 *
 * @example
 * const signer = recoverDigestSigner({ digest, signature: voucher.signature });
 */
export function recoverDigestSigner({
  digest,
  signature,
  backend,
}: RecoverDigestSignerParameters): Address | undefined {
  if (digest.length !== 32) return undefined;
  let bytes: Uint8Array;
  try {
    bytes = typeof signature === "string" ? hexToBytes(signature) : signature;
  } catch {
    return undefined;
  }
  const compact = new Uint8Array(64);
  let recid: number;
  if (bytes.length === 65) {
    const v = bytes[64]!;
    if (v === 27 || v === 28) recid = v - 27;
    else if (v === 0 || v === 1) recid = v;
    else return undefined;
    compact.set(bytes.subarray(0, 64));
  } else if (bytes.length === 64) {
    compact.set(bytes);
    recid = compact[32]! >> 7;
    compact[32] = compact[32]! & 0x7f;
  } else {
    return undefined;
  }
  const r = bigintOf(compact.subarray(0, 32));
  const s = bigintOf(compact.subarray(32, 64));
  if (r === 0n || r >= N || s === 0n || s > HALF_N) return undefined;

  let publicKey: Uint8Array;
  const nativeLib = (backend ?? "native") === "native" ? loadNativeCrypto() : null;
  try {
    if (nativeLib) {
      publicKey = nativeLib.ecdsaRecover(compact, recid, digest, false);
    } else {
      publicKey = nobleSecp256k1.Signature.fromCompact(compact)
        .addRecoveryBit(recid)
        .recoverPublicKey(digest)
        .toRawBytes(false);
    }
  } catch {
    return undefined;
  }
  const hash = nativeLib
    ? nativeLib.keccak256(publicKey.subarray(1))
    : keccak256(publicKey.subarray(1), "bytes");
  return bytesToHex(hash.subarray(12));
}

function bigintOf(bytes: Uint8Array): bigint {
  return BigInt(bytesToHex(bytes));
}
