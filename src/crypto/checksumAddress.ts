import { type Address, getAddress } from "viem";

/** Most addresses remembered; past it the memo starts over (so an adversary cannot grow it). */
const MEMO_LIMIT = 4_096;
const memo = new Map<string, Address>();

/**
 * The EIP-55 checksummed form of a well-formed 20-byte hex address (`0x` + 40 hex digits, any
 * case), as viem's `getAddress`, remembered per input string: the hot paths see the same payers,
 * payees, tokens and operators again and again, and a hit costs one map lookup instead of viem's
 * validation and cache updates. Throws, as `getAddress` does, on anything else.
 *
 * @example
 * checksumAddress("0x833589fcd6edb6e08f4c7c32d4f71b54bda02913"); // "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"
 */
export function checksumAddress(address: string): Address {
  let checksummed = memo.get(address);
  if (checksummed === undefined) {
    checksummed = getAddress(address);
    if (memo.size >= MEMO_LIMIT) memo.clear();
    memo.set(address, checksummed);
  }
  return checksummed;
}
