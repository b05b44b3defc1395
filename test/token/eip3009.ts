import { expect } from "chai";
import {
  type Account,
  type Address,
  type Hex,
  type LocalAccount,
  concat,
  numberToHex,
  parseAbi,
  parseSignature,
  toHex,
} from "viem";

import { findRevertData } from "../../src/errors/findRevertData.js";

/** The EIP-3009 surface both tokens share (USDC v2.2's selectors), plus what the tests read. */
export const eip3009Abi = parseAbi([
  "function transferWithAuthorization(address from, address to, uint256 value, uint256 validAfter, uint256 validBefore, bytes32 nonce, uint8 v, bytes32 r, bytes32 s)",
  "function transferWithAuthorization(address from, address to, uint256 value, uint256 validAfter, uint256 validBefore, bytes32 nonce, bytes signature)",
  "function receiveWithAuthorization(address from, address to, uint256 value, uint256 validAfter, uint256 validBefore, bytes32 nonce, uint8 v, bytes32 r, bytes32 s)",
  "function receiveWithAuthorization(address from, address to, uint256 value, uint256 validAfter, uint256 validBefore, bytes32 nonce, bytes signature)",
  "function cancelAuthorization(address authorizer, bytes32 nonce, uint8 v, bytes32 r, bytes32 s)",
  "function cancelAuthorization(address authorizer, bytes32 nonce, bytes signature)",
  "function authorizationState(address authorizer, bytes32 nonce) view returns (bool)",
  "function balanceOf(address account) view returns (uint256)",
  "function DOMAIN_SEPARATOR() view returns (bytes32)",
  "event Transfer(address indexed from, address indexed to, uint256 value)",
  "event AuthorizationUsed(address indexed authorizer, bytes32 indexed nonce)",
  "event AuthorizationCanceled(address indexed authorizer, bytes32 indexed nonce)",
]);

/** The EIP-712 domain of an EIP-3009 token. */
export interface Eip3009Domain {
  name: string;
  version: string;
  chainId: number;
  verifyingContract: Address;
}

/** EIP-3009's typed-data types (USDC's type strings). */
export const eip3009Types = {
  TransferWithAuthorization: [
    { name: "from", type: "address" },
    { name: "to", type: "address" },
    { name: "value", type: "uint256" },
    { name: "validAfter", type: "uint256" },
    { name: "validBefore", type: "uint256" },
    { name: "nonce", type: "bytes32" },
  ],
  ReceiveWithAuthorization: [
    { name: "from", type: "address" },
    { name: "to", type: "address" },
    { name: "value", type: "uint256" },
    { name: "validAfter", type: "uint256" },
    { name: "validBefore", type: "uint256" },
    { name: "nonce", type: "bytes32" },
  ],
  CancelAuthorization: [
    { name: "authorizer", type: "address" },
    { name: "nonce", type: "bytes32" },
  ],
} as const;

/** An EIP-3009 transfer or receive authorization. */
export interface Authorization {
  from: Address;
  to: Address;
  value: bigint;
  validAfter: bigint;
  validBefore: bigint;
  nonce: Hex;
}

/** A signature in both forms the tokens take. */
export interface SplitSignature {
  v: number;
  r: Hex;
  s: Hex;
  /** r ‖ s ‖ v, 65 bytes. */
  bytes: Hex;
}

/** secp256k1's group order. */
export const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

export function split(signature: Hex): SplitSignature {
  const { r, s, v, yParity } = parseSignature(signature);
  const vNumber = v === undefined ? 27 + yParity : Number(v);
  return { v: vNumber, r, s, bytes: concat([r, s, numberToHex(vNumber, { size: 1 })]) };
}

/** Builds a signature from its parts (any v, any s). */
export function join(v: number, r: Hex, s: Hex): SplitSignature {
  return { v, r, s, bytes: concat([r, s, numberToHex(v, { size: 1 })]) };
}

/** The malleable twin of a low-s signature: s' = n - s, v flipped. Valid for ecrecover, rejected as high-s. */
export function highS(sig: SplitSignature): SplitSignature {
  const s = toHex(SECP256K1_N - BigInt(sig.s), { size: 32 });
  return join(sig.v === 27 ? 28 : 27, sig.r, s);
}

/** Signs a TransferWithAuthorization (default) or ReceiveWithAuthorization with viem's `signTypedData`. */
export async function signAuthorization(
  signer: LocalAccount,
  domain: Eip3009Domain,
  authorization: Authorization,
  primaryType:
    "TransferWithAuthorization" | "ReceiveWithAuthorization" = "TransferWithAuthorization",
): Promise<SplitSignature> {
  const signature = await signer.signTypedData({
    domain,
    types: eip3009Types,
    primaryType,
    message: authorization,
  });
  return split(signature);
}

/** Signs a CancelAuthorization with viem's `signTypedData`. */
export async function signCancel(
  signer: LocalAccount,
  domain: Eip3009Domain,
  authorizer: Address,
  nonce: Hex,
): Promise<SplitSignature> {
  const signature = await signer.signTypedData({
    domain,
    types: eip3009Types,
    primaryType: "CancelAuthorization",
    message: { authorizer, nonce },
  });
  return split(signature);
}

/**
 * Awaits `action`, expects it to revert with exactly `expected` as revert data (selector and
 * arguments, or an `Error(string)`), byte for byte: no decoding, so a token that fails for another
 * cause, or with other arguments, fails the test.
 */
export async function expectRevertData(action: Promise<unknown>, expected: Hex): Promise<void> {
  let failure: unknown;
  try {
    await action;
  } catch (error) {
    failure = error;
  }
  expect(failure, `expected a revert with data ${expected}`).to.not.equal(undefined);
  expect(findRevertData(failure), String(failure).split("\n")[0]).to.equal(expected);
}

/** Account type accepted by the tests' writes. */
export type Sender = Account | Address;
