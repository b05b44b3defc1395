import { bytesToBigInt, type Address, type Client } from "viem";
import { readContract } from "viem/actions";

import { permit2Abi } from "../abi/permit2.js";
import { PERMIT2_ADDRESS } from "../chain/base.js";

/** A random unordered Permit2 nonce (256 bits from the platform's CSPRNG). */
export function createPermit2Nonce(): bigint {
  return bytesToBigInt(crypto.getRandomValues(new Uint8Array(32)));
}

/** Where a nonce lives in the owner's bitmap: word `nonce >> 8`, bit `nonce & 0xff`. */
export function permit2NoncePosition(nonce: bigint): { word: bigint; bit: number } {
  return { word: nonce >> 8n, bit: Number(nonce & 0xffn) };
}

/**
 * Whether `owner` has used (or invalidated) `nonce` at Permit2: one `nonceBitmap` read.
 *
 * @example
 * if (await isPermit2NonceUsed(client, { owner: payer, nonce })) refuse("nonce used");
 */
export async function isPermit2NonceUsed(
  client: Client,
  { owner, nonce, permit2 = PERMIT2_ADDRESS }: { owner: Address; nonce: bigint; permit2?: Address },
): Promise<boolean> {
  const { word, bit } = permit2NoncePosition(nonce);
  const bitmap = await readContract(client, {
    address: permit2,
    abi: permit2Abi,
    functionName: "nonceBitmap",
    args: [owner, word],
  });
  return ((bitmap >> BigInt(bit)) & 1n) === 1n;
}
