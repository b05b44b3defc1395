import { toHex, type Hex } from "viem";

/**
 * 32 random bytes from the platform's cryptographic random source (Web Crypto), as x402
 * clients make EIP-3009 nonces. Also used for routed salts.
 *
 * @example
 * const nonce = createNonce(); // "0x5f1c…" (66 characters)
 */
export function createNonce(): Hex {
  return toHex(globalThis.crypto.getRandomValues(new Uint8Array(32)));
}
