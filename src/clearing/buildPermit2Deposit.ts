import { type Address, getAddress, zeroAddress } from "viem";

import { createPermit2Nonce } from "../permit2/nonces.js";
import { InvalidClearingInputError } from "./errors.js";
import type { Permit2Deposit } from "./types.js";

export type BuildPermit2DepositParameters = {
  payer: Address;
  clearingHouse: Address;
  token: Address;
  operator: Address;
  /** Default: none (the zero address). */
  voucherSigner?: Address;
  amount: bigint;
  /** Unix seconds (uint48). */
  deadline: bigint;
  /** Default: a random unordered nonce ({@link createPermit2Nonce}). */
  nonce?: bigint;
};

/**
 * A Permit2 deposit into the account (payer, operator, token), checked against the packed
 * layout's ranges (amount uint128, deadline uint48, nonce uint256).
 *
 * @example
 * const deposit = buildPermit2Deposit({ payer, clearingHouse, token: usdt, operator, amount: 5_000_000n, deadline });
 * const signed = await signPermit2Deposit(payerAccount, { chainId: 8453, deposit });
 */
export function buildPermit2Deposit({
  payer,
  clearingHouse,
  token,
  operator,
  voucherSigner = zeroAddress,
  amount,
  deadline,
  nonce = createPermit2Nonce(),
}: BuildPermit2DepositParameters): Permit2Deposit {
  const range = (field: string, value: bigint, bits: number) => {
    if (typeof value !== "bigint" || value < 0n || value >= 1n << BigInt(bits))
      throw new InvalidClearingInputError(field, `must be a bigint in [0, 2^${bits})`);
  };
  range("amount", amount, 128);
  range("deadline", deadline, 48);
  range("nonce", nonce, 256);
  const address = (field: string, value: Address) => {
    try {
      return getAddress(value);
    } catch (cause) {
      throw new InvalidClearingInputError(field, `${String(value)} is not an address`, { cause });
    }
  };
  return {
    kind: "permit2-deposit",
    payer: address("payer", payer),
    clearingHouse: address("clearingHouse", clearingHouse),
    token: address("token", token),
    operator: address("operator", operator),
    voucherSigner: address("voucherSigner", voucherSigner),
    amount,
    nonce,
    deadline,
  };
}
