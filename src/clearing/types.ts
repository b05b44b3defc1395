import type { Address, Hex } from "viem";

import type { AuthorizationFields } from "../authorization/types.js";

/**
 * The EIP-712 domain of a ClearingHouse: `name` "x402 ClearingHouse", `version` "1", the chain id
 * and the ClearingHouse's address.
 */
export type ClearingHouseDomain = {
  name: string;
  version: string;
  chainId: number;
  verifyingContract: Address;
};

/**
 * A cumulative voucher for one (payer, payee) pair under one operator and token: everything the
 * payer has agreed to pay the payee so far (`cumulativeValue`) and the operator's fee on top
 * (`cumulativeFee`). A later voucher supersedes an earlier one. Amounts are below 2^128.
 */
export type Voucher = {
  payer: Address;
  payee: Address;
  token: Address;
  operator: Address;
  cumulativeValue: bigint;
  cumulativeFee: bigint;
};

/**
 * A voucher with its signature, by the payer or the account's voucher signer: 65 bytes
 * `r ‖ s ‖ v` (or 64-byte EIP-2098) for an EOA, low s; arbitrary bytes checked through ERC-1271
 * when `contractSignature` is set.
 */
export type SignedVoucher = Voucher & { signature: Hex; contractSignature?: boolean };

/**
 * An EIP-3009 deposit: `ReceiveWithAuthorization` to the ClearingHouse with
 * `nonce = keccak256(abi.encode(operator, voucherSigner, salt))`, so the deposit cannot be credited
 * to another operator or name another voucher signer.
 */
export type DepositAuthorization = AuthorizationFields & {
  kind: "deposit";
  /** The operator whose account (payer, operator, token) is credited. */
  operator: Address;
  /** The session key that may sign vouchers beside the payer; the zero address for none. */
  voucherSigner: Address;
  /** Random 32 bytes that make the nonce unique. */
  salt: Hex;
};

/** A deposit authorization with the payer's EOA signature (65 bytes, or 64-byte EIP-2098). */
export type SignedDepositAuthorization = DepositAuthorization & { signature: Hex };

/** An operator-signed cooperative release: pays `amount` to the payer at once, once. */
export type Release = {
  payer: Address;
  operator: Address;
  token: Address;
  amount: bigint;
  salt: Hex;
  /** Unix seconds (uint48). */
  deadline: number;
};

/**
 * A Permit2 deposit: the payer lets the ClearingHouse pull `amount` of `token` once through
 * Permit2 (`PermitWitnessTransferFrom`, spender the ClearingHouse) with the witness
 * `ClearingDeposit(address operator,address voucherSigner)`, so the deposit cannot be credited to
 * another operator, name another voucher signer or be pulled by another spender. For tokens
 * without EIP-3009 (USDT); the payer approved Permit2 once beforehand.
 */
export type Permit2Deposit = {
  kind: "permit2-deposit";
  payer: Address;
  clearingHouse: Address;
  token: Address;
  /** The operator whose account (payer, operator, token) is credited. */
  operator: Address;
  /** The session key that may sign vouchers beside the payer; the zero address for none. */
  voucherSigner: Address;
  /** Token units (uint128). */
  amount: bigint;
  /** Permit2's unordered nonce (uint256). */
  nonce: bigint;
  /** Unix seconds (uint48): Permit2 refuses the transfer after it. */
  deadline: bigint;
};

/** A Permit2 deposit with the payer's EOA signature (65 bytes, or 64-byte EIP-2098), low s. */
export type SignedPermit2Deposit = Permit2Deposit & { signature: Hex };
