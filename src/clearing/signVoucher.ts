import type { LocalAccount } from "viem";

import { InvalidClearingInputError } from "./errors.js";
import { getVoucherTypedData } from "./getVoucherTypedData.js";
import type { ClearingHouseDomain, SignedVoucher, Voucher } from "./types.js";

export type SignVoucherParameters = {
  domain: ClearingHouseDomain;
  voucher: Voucher;
};

export type SignVoucherReturnType = SignedVoucher;

/**
 * Signs a voucher with a local account: the payer, or the session key the account names as its
 * voucher signer.
 *
 * @example
 * const signed = await signVoucher(sessionKey, {
 *   domain: getClearingHouseDomain({ chainId: 8453, clearingHouse }),
 *   voucher: { payer, payee, token: USDC_ADDRESS, operator, cumulativeValue: 30_000n, cumulativeFee: 300n },
 * });
 */
export async function signVoucher(
  signer: LocalAccount,
  parameters: SignVoucherParameters,
): Promise<SignVoucherReturnType> {
  if (!signer.signTypedData) {
    throw new InvalidClearingInputError(
      "signer",
      `a ${signer.type} account cannot sign typed data`,
    );
  }
  const signature = await signer.signTypedData(getVoucherTypedData(parameters));
  return { ...parameters.voucher, signature };
}
