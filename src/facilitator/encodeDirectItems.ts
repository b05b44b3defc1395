import { concatHex, numberToHex, size, type Address, type Hex } from "viem";

/** A direct item: an EIP-3009 `transferWithAuthorization` to `payee`, as the x402 client signed it. */
export interface DirectItem {
  from: Address;
  payee: Address;
  value: bigint;
  validAfter: bigint;
  validBefore: bigint;
  nonce: Hex;
  /** 65-byte `r ‖ s ‖ v` for an EOA, or the ERC-1271 signature bytes when `contractSignature`. */
  signature: Hex;
  contractSignature: boolean;
}

const CONTRACT_SIGNATURE = 0x02;

function compactSignature(signature: Hex): Hex {
  if (size(signature) !== 65) throw new RangeError("an EOA item needs a 65-byte signature");
  const r = `0x${signature.slice(2, 66)}` as Hex;
  const s = BigInt(`0x${signature.slice(66, 130)}`);
  const v = Number.parseInt(signature.slice(130, 132), 16);
  const parity = v === 0 || v === 27 ? 0n : 1n;
  return concatHex([r, numberToHex((parity << 255n) | s, { size: 32 })]);
}

/**
 * Packs direct items in the SettlementRouter's layout (flags, from, payee, uint128 value, uint48
 * validAfter/validBefore, nonce, then an EIP-2098 compact signature, or for contract wallets a
 * uint16 length and the signature bytes).
 *
 * @example
 * const items = encodeDirectItems([{ from, payee, value, validAfter, validBefore, nonce, signature, contractSignature: false }]);
 */
export function encodeDirectItems(items: readonly DirectItem[]): Hex {
  return concatHex(
    items.map((item) => {
      const head = [
        numberToHex(item.contractSignature ? CONTRACT_SIGNATURE : 0, { size: 1 }),
        item.from,
        item.payee,
        numberToHex(item.value, { size: 16 }),
        numberToHex(item.validAfter, { size: 6 }),
        numberToHex(item.validBefore, { size: 6 }),
        item.nonce,
      ];
      if (!item.contractSignature) return concatHex([...head, compactSignature(item.signature)]);
      return concatHex([...head, numberToHex(size(item.signature), { size: 2 }), item.signature]);
    }),
  );
}
