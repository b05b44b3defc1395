import { encodeAbiParameters, keccak256, type Address, type Hex } from "viem";

export type ComputeRoutedNonceParameters = {
  payee: Address;
  fee: bigint;
  feeRecipient: Address;
  salt: Hex;
};

/**
 * The nonce a routed authorization signs: `keccak256(abi.encode(payee, fee, feeRecipient, salt))`,
 * the same value as the SettlementRouter's `routedNonce(payee, fee, feeRecipient, salt)`.
 *
 * @example
 * const nonce = computeRoutedNonce({ payee, fee: 1_000n, feeRecipient: relayer, salt: createNonce() });
 */
export function computeRoutedNonce({
  payee,
  fee,
  feeRecipient,
  salt,
}: ComputeRoutedNonceParameters): Hex {
  return keccak256(
    encodeAbiParameters(
      [{ type: "address" }, { type: "uint256" }, { type: "address" }, { type: "bytes32" }],
      [payee, fee, feeRecipient, salt],
    ),
  );
}
