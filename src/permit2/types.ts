import type { Address, Hex, TypedDataParameter } from "viem";

/**
 * A Permit2 `PermitWitnessTransferFrom`: the owner lets `spender` pull up to `amount` of `token`
 * once, before `deadline`, with an unordered `nonce` (bit `nonce & 0xff` of word `nonce >> 8` in
 * the owner's nonce bitmap), and binds `witness` to it: the spender's call must pass the same
 * witness or the signature does not verify.
 */
export type PermitWitnessTransferFrom = {
  token: Address;
  amount: bigint;
  /** Unordered: any unused 256-bit value (`createPermit2Nonce`). */
  nonce: bigint;
  /** Unix seconds. */
  deadline: bigint;
  /** The contract that calls `permitWitnessTransferFrom`. */
  spender: Address;
};

/** A witness struct of atomic fields: its EIP-712 type name and fields, and its value. */
export type Permit2Witness<value extends Record<string, unknown> = Record<string, unknown>> = {
  typeName: string;
  fields: readonly TypedDataParameter[];
  value: value;
};

/** Permit2's EIP-712 domain: `name` "Permit2", no version. */
export type Permit2Domain = {
  name: "Permit2";
  chainId: number;
  verifyingContract: Address;
};

/** A signed permit: the payer's 65-byte (or 64-byte EIP-2098) signature, or ERC-1271 bytes. */
export type SignedPermitWitnessTransferFrom = PermitWitnessTransferFrom & {
  owner: Address;
  signature: Hex;
};
