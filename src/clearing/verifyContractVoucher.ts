import { type Address, type Client, type Hex, bytesToHex, zeroAddress } from "viem";
import { readContract } from "viem/actions";

import { hashVoucher } from "./hashVoucher.js";
import type { SignedVoucher } from "./types.js";

const ERC1271_MAGIC = "0x1626ba7e";
const isValidSignatureAbi = [
  {
    type: "function",
    name: "isValidSignature",
    stateMutability: "view",
    inputs: [
      { name: "hash", type: "bytes32" },
      { name: "signature", type: "bytes" },
    ],
    outputs: [{ name: "", type: "bytes4" }],
  },
] as const;

export type VerifyContractVoucherParameters = {
  /** From `getDomainSeparator`. */
  domainSeparator: Hex;
  voucher: SignedVoucher;
  /** The account's voucher signer (zero for none), checked after the payer as the contract does. */
  voucherSigner?: Address;
};

/**
 * Checks an ERC-1271 voucher (`contractSignature`) the way the ClearingHouse does: the payer's
 * `isValidSignature(digest, signature)`, then the voucher signer's, must return the magic value.
 * This is an RPC call, so it runs before the ledger's hot path: the caller verifies and then
 * calls `ledger.accept({ ..., contractSignatureVerified: true })`. A reverting or absent wallet
 * counts as invalid.
 *
 * @example
 * if (await verifyContractVoucher(publicClient, { domainSeparator, voucher }))
 *   await ledger.accept({ voucher, price, contractSignatureVerified: true });
 */
export async function verifyContractVoucher(
  client: Client,
  { domainSeparator, voucher, voucherSigner }: VerifyContractVoucherParameters,
): Promise<boolean> {
  const { signature: _signature, contractSignature: _flag, ...fields } = voucher;
  const digest = bytesToHex(hashVoucher({ domainSeparator, voucher: fields }));
  for (const wallet of [voucher.payer, voucherSigner ?? zeroAddress]) {
    if (wallet === zeroAddress) continue;
    try {
      const result = await readContract(client, {
        address: wallet,
        abi: isValidSignatureAbi,
        functionName: "isValidSignature",
        args: [digest, voucher.signature],
      });
      if (result.toLowerCase() === ERC1271_MAGIC) return true;
    } catch {
      // A wallet that reverts or has no code did not sign.
    }
  }
  return false;
}
