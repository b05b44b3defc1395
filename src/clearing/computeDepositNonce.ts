import { type Address, type Hex, encodeAbiParameters, keccak256 } from "viem";

export type ComputeDepositNonceParameters = {
  operator: Address;
  /** The zero address for none. */
  voucherSigner: Address;
  salt: Hex;
};

/**
 * The EIP-3009 nonce of a deposit: `keccak256(abi.encode(operator, voucherSigner, salt))`, the
 * ClearingHouse's `depositNonce(operator, voucherSigner, salt)`.
 *
 * @example
 * const nonce = computeDepositNonce({ operator, voucherSigner: sessionKey.address, salt: createNonce() });
 */
export function computeDepositNonce({
  operator,
  voucherSigner,
  salt,
}: ComputeDepositNonceParameters): Hex {
  return keccak256(
    encodeAbiParameters(
      [{ type: "address" }, { type: "address" }, { type: "bytes32" }],
      [operator, voucherSigner, salt],
    ),
  );
}
