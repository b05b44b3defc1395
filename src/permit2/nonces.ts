import { bytesToBigInt, type Address, type Client } from "viem";
import { readContract } from "viem/actions";

import { permit2Abi } from "../abi/permit2.js";
import { PERMIT2_ADDRESS } from "../chain/base.js";
import { InvalidPermit2InputError } from "./errors.js";

/** Fewer random bits would make nonce collisions between one owner's payments plausible. */
const MIN_NONCE_BITS = 64;

/**
 * A random unordered Permit2 nonce: `bits` random bits (default 256, x402's choice) from the
 * platform's CSPRNG, the rest zero. Permit2 marks nonces used in a bitmap per owner (word
 * `nonce >> 8`), so any unused value works; randomness only has to make a collision between two
 * payments of one owner unlikely, and a collision only makes the later payment fail as already
 * used. With 128 bits one owner needs about 2^64 payments for an even chance of one collision.
 * Fewer bits means less calldata: router payments ({@link buildRouterPermit2Payment}) use 128
 * bits, which their packed item carries in 16 bytes instead of 32, 256 calldata gas less.
 *
 * @param options.bits An integer from 64 to 256; throws `InvalidPermit2InputError` otherwise.
 * @example
 * const nonce = createPermit2Nonce({ bits: 128 }); // below 2^128
 */
export function createPermit2Nonce({ bits = 256 }: { bits?: number } = {}): bigint {
  if (!Number.isInteger(bits) || bits < MIN_NONCE_BITS || bits > 256) {
    throw new InvalidPermit2InputError(
      "bits",
      `a Permit2 nonce takes an integer from ${MIN_NONCE_BITS} to 256 random bits, not ${bits}`,
    );
  }
  const random = bytesToBigInt(crypto.getRandomValues(new Uint8Array(Math.ceil(bits / 8))));
  return random & ((1n << BigInt(bits)) - 1n);
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
