import { voucherTypes } from "./eip712Types.js";
import type { ClearingHouseDomain, Voucher } from "./types.js";

export type GetVoucherTypedDataParameters = {
  domain: ClearingHouseDomain;
  voucher: Voucher;
};

export type GetVoucherTypedDataReturnType = {
  domain: ClearingHouseDomain;
  types: typeof voucherTypes;
  primaryType: "Voucher";
  message: Voucher;
};

/**
 * The EIP-712 typed data of a voucher, ready for any signer library.
 *
 * @example
 * const typedData = getVoucherTypedData({ domain, voucher });
 * const signature = await account.signTypedData(typedData);
 */
export function getVoucherTypedData({
  domain,
  voucher,
}: GetVoucherTypedDataParameters): GetVoucherTypedDataReturnType {
  return {
    domain: {
      name: domain.name,
      version: domain.version,
      chainId: domain.chainId,
      verifyingContract: domain.verifyingContract,
    },
    types: voucherTypes,
    primaryType: "Voucher",
    message: {
      payer: voucher.payer,
      payee: voucher.payee,
      token: voucher.token,
      operator: voucher.operator,
      cumulativeValue: voucher.cumulativeValue,
      cumulativeFee: voucher.cumulativeFee,
    },
  };
}
