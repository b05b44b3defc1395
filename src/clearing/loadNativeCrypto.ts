import { createRequire } from "node:module";

/** The native primitives the offline verification uses when their prebuilt binaries load. */
export type NativeCrypto = {
  /** libsecp256k1 `ecdsa_recover`: 64-byte `r ‖ s`, recovery id, 32-byte digest. */
  ecdsaRecover(sig: Uint8Array, recid: number, msg32: Uint8Array, compressed: boolean): Uint8Array;
  /** Keccak-256 (the `keccak` package's XKCP binding). */
  keccak256(data: Uint8Array): Uint8Array;
};

type KeccakFactory = (algorithm: "keccak256") => {
  update(data: Buffer): { digest(): Buffer };
};

let loaded: NativeCrypto | null | undefined;

/**
 * The N-API bindings of the `secp256k1` and `keccak` packages (prebuilt for linux-x64, darwin
 * and win32), or `null` when either does not load on this platform. Only the bindings are
 * loaded: the packages' own JS fallbacks are slower than viem's @noble implementations, which
 * the callers fall back to instead. Loaded once per process.
 *
 * @example
 * const native = loadNativeCrypto();
 * const digest = native ? native.keccak256(bytes) : keccak256(bytes, "bytes");
 */
export function loadNativeCrypto(): NativeCrypto | null {
  if (loaded !== undefined) return loaded;
  try {
    const require = createRequire(import.meta.url);
    const secp = require("secp256k1/bindings") as Pick<NativeCrypto, "ecdsaRecover">;
    const createKeccakHash = require("keccak/bindings") as KeccakFactory;
    loaded = {
      ecdsaRecover: (sig, recid, msg32, compressed) =>
        secp.ecdsaRecover(sig, recid, msg32, compressed),
      keccak256: (data) =>
        createKeccakHash("keccak256")
          .update(Buffer.from(data.buffer, data.byteOffset, data.byteLength))
          .digest(),
    };
  } catch {
    loaded = null;
  }
  return loaded;
}
