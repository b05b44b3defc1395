/** The ClearingHouse's EIP-712 domain name and version (its chain id and address complete it). */
export const CLEARING_HOUSE_DOMAIN_NAME = "x402 ClearingHouse";
export const CLEARING_HOUSE_DOMAIN_VERSION = "1";

/**
 * `Voucher(address payer,address payee,address token,address operator,uint128 cumulativeValue,uint128 cumulativeFee)`
 */
export const voucherTypes = {
  Voucher: [
    { name: "payer", type: "address" },
    { name: "payee", type: "address" },
    { name: "token", type: "address" },
    { name: "operator", type: "address" },
    { name: "cumulativeValue", type: "uint128" },
    { name: "cumulativeFee", type: "uint128" },
  ],
} as const;

/**
 * `Release(address payer,address operator,address token,uint128 amount,bytes32 salt,uint48 deadline)`
 */
export const releaseTypes = {
  Release: [
    { name: "payer", type: "address" },
    { name: "operator", type: "address" },
    { name: "token", type: "address" },
    { name: "amount", type: "uint128" },
    { name: "salt", type: "bytes32" },
    { name: "deadline", type: "uint48" },
  ],
} as const;
