import { type Address, type Hex, getAddress, isHex } from "viem";

import { ITEM_FLAGS, type SettlementItem } from "./encodeItems.js";

/**
 * Packed items that the router would reject with `SettlementRouterMalformedItems(offset)`:
 * truncated, a signature length running past the end, or unknown flag bits.
 */
export class MalformedItemsError extends Error {
  override name = "MalformedItemsError";
  /** Byte offset of the offending item, as the router reports it. */
  readonly offset: number;
  readonly shortMessage: string;
  readonly details: string;

  constructor(offset: number, details: string) {
    super(`Malformed settlement items at byte ${offset}: ${details}`);
    this.offset = offset;
    this.shortMessage = `Malformed settlement items at byte ${offset}`;
    this.details = details;
  }
}

/**
 * Unpacks the `items` argument of `SettlementRouter.settle`, the inverse of `encodeItems`:
 * EOA signatures come back as 65-byte `r ‖ s ‖ v` (v = 27 or 28), contract signatures unchanged,
 * and `contractSignature` is always set. Accepts exactly what the router accepts, so
 * `decodeItems` throwing means `settle` would revert as a whole.
 *
 * @param items The packed bytes.
 * @returns The items, in order.
 * @throws {MalformedItemsError} with the same offset as the router's error.
 *
 * @example
 * const items = decodeItems(encodeItems([directItem, routedItem]));
 * items[1].kind; // "routed"
 */
export function decodeItems(items: Hex): SettlementItem[] {
  if (!isHex(items, { strict: true }) || items.length % 2 !== 0) {
    throw new MalformedItemsError(0, "not an even-length hex string");
  }
  const hex = items.slice(2);
  const total = hex.length / 2;
  const read = (offset: number, bytes: number): string =>
    hex.slice(offset * 2, (offset + bytes) * 2);
  const readUint = (offset: number, bytes: number): bigint => BigInt(`0x${read(offset, bytes)}`);
  const readAddress = (offset: number): Address => getAddress(`0x${read(offset, 20)}`);

  const out: SettlementItem[] = [];
  let pos = 0;
  while (pos < total) {
    const flags = Number(readUint(pos, 1));
    if (flags > (ITEM_FLAGS.ROUTED | ITEM_FLAGS.CONTRACT_SIGNATURE)) {
      throw new MalformedItemsError(pos, `unknown flag bits in 0x${flags.toString(16)}`);
    }
    const routed = (flags & ITEM_FLAGS.ROUTED) !== 0;
    const contractSignature = (flags & ITEM_FLAGS.CONTRACT_SIGNATURE) !== 0;
    const signatureAt = routed ? 117 : 101;
    let size: number;
    if (contractSignature) {
      if (pos + signatureAt + 2 > total) throw new MalformedItemsError(pos, "truncated item");
      size = signatureAt + 2 + Number(readUint(pos + signatureAt, 2));
    } else {
      size = signatureAt + 64;
    }
    if (pos + size > total) throw new MalformedItemsError(pos, "truncated item");

    let signature: Hex;
    if (contractSignature) {
      signature = `0x${read(pos + signatureAt + 2, size - signatureAt - 2)}`;
    } else {
      const yParityAndS = readUint(pos + signatureAt + 32, 32);
      const v = 27n + (yParityAndS >> 255n);
      const s = yParityAndS & ((1n << 255n) - 1n);
      signature = `0x${read(pos + signatureAt, 32)}${s.toString(16).padStart(64, "0")}${v.toString(16)}`;
    }
    const common = {
      from: readAddress(pos + 1),
      value: readUint(pos + 41, 16),
      validAfter: readUint(pos + 57, 6),
      validBefore: readUint(pos + 63, 6),
      signature,
      contractSignature,
    };
    const word: Hex = `0x${read(pos + 69, 32)}`;
    out.push(
      routed
        ? {
            kind: "routed",
            ...common,
            payee: readAddress(pos + 21),
            salt: word,
            fee: readUint(pos + 101, 16),
          }
        : { kind: "direct", ...common, to: readAddress(pos + 21), nonce: word },
    );
    pos += size;
  }
  return out;
}
