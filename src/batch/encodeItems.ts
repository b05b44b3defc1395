import { type Address, type Hex, isAddress, isHex, size as byteSize } from "viem";

/** Bits of an item's first byte (`ISettlementRouter` packed layout). */
export const ITEM_FLAGS = {
  /** `receiveWithAuthorization` to the router, nonce = `routedNonce(payee, fee, feeRecipient, salt)`. */
  ROUTED: 0x01,
  /** The signature is passed unchanged to the token's `bytes signature` overload (ERC-1271). */
  CONTRACT_SIGNATURE: 0x02,
} as const;

/** Bytes of a direct item with an EIP-2098 compact signature. */
export const DIRECT_ITEM_SIZE = 165;
/** Bytes of a routed item with an EIP-2098 compact signature. */
export const ROUTED_ITEM_SIZE = 181;
/** Largest `CONTRACT_SIGNATURE` signature the uint16 length prefix can carry. */
export const MAX_CONTRACT_SIGNATURE_SIZE = 0xffff;

/** Fields every packed item carries. */
export type SettlementItemBase = {
  /** The payer (EIP-3009 authorizer). */
  from: Address;
  /** Amount in the token's smallest unit; below 2^128. */
  value: bigint;
  /** Unix seconds, below 2^48. */
  validAfter: bigint;
  /** Unix seconds, below 2^48. */
  validBefore: bigint;
  /**
   * EOA: the 65-byte `r ‖ s ‖ v` signature (or its 64-byte EIP-2098 compact form), low s.
   * Contract wallet (`contractSignature: true`): the bytes its ERC-1271 `isValidSignature` expects.
   */
  signature: Hex;
  /** Pass `signature` unchanged to the token's `bytes signature` overload (ERC-1271 wallets). */
  contractSignature?: boolean;
};

/** A direct item: `transferWithAuthorization(from, to, value, validAfter, validBefore, nonce, sig)`. */
export type DirectItem = SettlementItemBase & {
  kind: "direct";
  /** The payee, as signed (EIP-3009 `to`). */
  to: Address;
  /** The EIP-3009 nonce, 32 bytes. */
  nonce: Hex;
};

/**
 * A routed item: the payer signed `ReceiveWithAuthorization` to the router with
 * `nonce = keccak256(abi.encode(payee, fee, feeRecipient, salt))`.
 */
export type RoutedItem = SettlementItemBase & {
  kind: "routed";
  /** Receives `value - fee`. */
  payee: Address;
  /** Paid to the `feeRecipient` given to `settle`; below 2^128. */
  fee: bigint;
  /** The 32-byte salt of the routed nonce. */
  salt: Hex;
};

/** One item of a `SettlementRouter.settle` call. */
export type SettlementItem = DirectItem | RoutedItem;

/** An item cannot be represented in the packed layout. */
export class InvalidSettlementItemError extends Error {
  override name = "InvalidSettlementItemError";
  /** Position of the item in the input array. */
  readonly index: number;
  /** The offending field. */
  readonly field: string;
  readonly shortMessage: string;
  readonly details: string;

  constructor(index: number, field: string, details: string) {
    super(`Invalid settlement item ${index}: ${field}: ${details}`);
    this.index = index;
    this.field = field;
    this.shortMessage = `Invalid settlement item ${index}: ${field}`;
    this.details = details;
  }
}

const SECP256K1_HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;
const UINT128_LIMIT = 1n << 128n;
const UINT48_LIMIT = 1n << 48n;

function hexOf(value: bigint, bytes: number): string {
  return value.toString(16).padStart(bytes * 2, "0");
}

function checkUint(index: number, field: string, value: bigint, limit: bigint, bits: number) {
  if (typeof value !== "bigint" || value < 0n || value >= limit) {
    throw new InvalidSettlementItemError(index, field, `must be a bigint in [0, 2^${bits})`);
  }
}

function checkAddress(index: number, field: string, value: Address): string {
  if (!isAddress(value, { strict: false })) {
    throw new InvalidSettlementItemError(index, field, `${String(value)} is not an address`);
  }
  return value.slice(2).toLowerCase();
}

function checkBytes32(index: number, field: string, value: Hex): string {
  if (!isHex(value, { strict: true }) || value.length !== 66) {
    throw new InvalidSettlementItemError(index, field, "must be 32 bytes of hex");
  }
  return value.slice(2).toLowerCase();
}

/** `r ‖ yParityAndS` (EIP-2098) from a 65-byte `r ‖ s ‖ v` or a 64-byte compact signature. */
function compactSignature(index: number, signature: Hex): string {
  if (!isHex(signature, { strict: true })) {
    throw new InvalidSettlementItemError(index, "signature", "must be hex");
  }
  const length = byteSize(signature);
  let r: string;
  let s: bigint;
  let parity: bigint;
  if (length === 65) {
    r = signature.slice(2, 66);
    s = BigInt(`0x${signature.slice(66, 130)}`);
    const v = Number.parseInt(signature.slice(130, 132), 16);
    if (v !== 0 && v !== 1 && v !== 27 && v !== 28) {
      throw new InvalidSettlementItemError(index, "signature", `v must be 27 or 28, got ${v}`);
    }
    parity = v === 0 || v === 27 ? 0n : 1n;
  } else if (length === 64) {
    r = signature.slice(2, 66);
    const yParityAndS = BigInt(`0x${signature.slice(66, 130)}`);
    parity = yParityAndS >> 255n;
    s = yParityAndS & ((1n << 255n) - 1n);
  } else {
    throw new InvalidSettlementItemError(
      index,
      "signature",
      `an EOA signature is 65 bytes (r, s, v) or 64 (EIP-2098), got ${length}; set contractSignature for ERC-1271`,
    );
  }
  if (s === 0n || s > SECP256K1_HALF_N) {
    throw new InvalidSettlementItemError(
      index,
      "signature",
      "s must be in the lower half of the curve order (EIP-2)",
    );
  }
  return (r + hexOf((parity << 255n) | s, 32)).toLowerCase();
}

function encodeItem(item: SettlementItem, index: number): string {
  if (item === null || typeof item !== "object") {
    throw new InvalidSettlementItemError(index, "item", "must be an object");
  }
  if (item.kind !== "direct" && item.kind !== "routed") {
    throw new InvalidSettlementItemError(index, "kind", 'must be "direct" or "routed"');
  }
  const routed = item.kind === "routed";
  const flags =
    (routed ? ITEM_FLAGS.ROUTED : 0) | (item.contractSignature ? ITEM_FLAGS.CONTRACT_SIGNATURE : 0);
  checkUint(index, "value", item.value, UINT128_LIMIT, 128);
  checkUint(index, "validAfter", item.validAfter, UINT48_LIMIT, 48);
  checkUint(index, "validBefore", item.validBefore, UINT48_LIMIT, 48);

  let out =
    hexOf(BigInt(flags), 1) +
    checkAddress(index, "from", item.from) +
    (routed ? checkAddress(index, "payee", item.payee) : checkAddress(index, "to", item.to)) +
    hexOf(item.value, 16) +
    hexOf(item.validAfter, 6) +
    hexOf(item.validBefore, 6) +
    (routed ? checkBytes32(index, "salt", item.salt) : checkBytes32(index, "nonce", item.nonce));
  if (routed) {
    checkUint(index, "fee", item.fee, UINT128_LIMIT, 128);
    out += hexOf(item.fee, 16);
  }
  if (!item.contractSignature) return out + compactSignature(index, item.signature);

  if (!isHex(item.signature, { strict: true })) {
    throw new InvalidSettlementItemError(index, "signature", "must be hex");
  }
  const length = byteSize(item.signature);
  if (length === 0 || length > MAX_CONTRACT_SIGNATURE_SIZE) {
    throw new InvalidSettlementItemError(
      index,
      "signature",
      `a contract signature is 1 to ${MAX_CONTRACT_SIGNATURE_SIZE} bytes, got ${length}`,
    );
  }
  return out + hexOf(BigInt(length), 2) + item.signature.slice(2).toLowerCase();
}

/**
 * Packs settlement items into the `items` argument of `SettlementRouter.settle(token,
 * feeRecipient, items)`: per item, big-endian and unpadded, the flags byte, `from`, the payee,
 * uint128 `value`, uint48 `validAfter` and `validBefore`, the nonce (direct) or salt (routed), the
 * uint128 `fee` (routed only), then the EIP-2098 compact signature (64 bytes) or, for contract
 * wallets, a uint16 length and the signature bytes. A direct EOA item takes 165 bytes, a routed
 * one 181. Routed items should be grouped by payee (consecutive items with the same payee are paid
 * out with one transfer).
 *
 * @param items The items, in the order the router executes them.
 * @returns The packed bytes.
 * @throws {InvalidSettlementItemError} when a field cannot be represented (out of range, not an
 * address, not 32 bytes, a high-s or malformed EOA signature, an empty contract signature).
 *
 * @example
 * import { encodeFunctionData } from "viem";
 * const items = encodeItems([
 *   { kind: "direct", from, to: payee, value: 10_000n, validAfter: 0n, validBefore, nonce, signature },
 *   { kind: "routed", from, payee, fee: 100n, salt, value: 10_000n, validAfter: 0n, validBefore, signature },
 * ]);
 * const data = encodeFunctionData({
 *   abi: settlementRouterAbi,
 *   functionName: "settle",
 *   args: [USDC_ADDRESS, relayer, items],
 * });
 */
export function encodeItems(items: readonly SettlementItem[]): Hex {
  if (!Array.isArray(items)) throw new InvalidSettlementItemError(0, "items", "must be an array");
  let out = "0x";
  for (let i = 0; i < items.length; i++) out += encodeItem(items[i], i);
  return out as Hex;
}
