import { createWalletClient, http, type Address, type LocalAccount } from "viem";

import { clearingHouseAbi } from "../../src/abi/clearingHouse.js";
import { getTokenDomain } from "../../src/authorization/getTokenDomain.js";
import { readBenchArtifact } from "../../src/bench/contracts.js";
import { USDC_ADDRESS } from "../../src/chain/base.js";
import { buildDepositAuthorization } from "../../src/clearing/buildDepositAuthorization.js";
import { computeVoucherFee } from "../../src/clearing/computeVoucherFee.js";
import { getClearingHouseDomain } from "../../src/clearing/getClearingHouseDomain.js";
import { signDepositAuthorization } from "../../src/clearing/signDepositAuthorization.js";
import { signVoucher } from "../../src/clearing/signVoucher.js";
import type { SignedDepositAuthorization, SignedVoucher } from "../../src/clearing/types.js";
import { network, type LocalBase } from "./harness.js";

export const FEE_BPS = 100;
export const DELAY = 900;

/** Deploys a ClearingHouse from its build artifact with the relayer and returns its address. */
export async function deployClearingHouse(base: LocalBase): Promise<Address> {
  const { abi, bytecode } = readBenchArtifact("ClearingHouse");
  const wallet = createWalletClient({ account: base.relayer, transport: http(base.rpcUrl) });
  const hash = await wallet.deployContract({ abi, bytecode, chain: null });
  const receipt = await base.client.waitForTransactionReceipt({ hash, pollingInterval: 50 });
  if (!receipt.contractAddress) throw new Error("ClearingHouse not deployed");
  return receipt.contractAddress;
}

/** Reads the account (payer, operator, USDC) on the ClearingHouse. */
export function readAccount(
  base: LocalBase,
  clearingHouse: Address,
  payer: Address,
  operator: Address,
) {
  return base.client.readContract({
    address: clearingHouse,
    abi: clearingHouseAbi,
    functionName: "getAccount",
    args: [payer, operator, USDC_ADDRESS],
  });
}

/** Reads a pair's cleared totals. */
export function readCleared(
  base: LocalBase,
  clearingHouse: Address,
  payer: Address,
  payee: Address,
  operator: Address,
) {
  return base.client.readContract({
    address: clearingHouse,
    abi: clearingHouseAbi,
    functionName: "getCleared",
    args: [payer, payee, operator, USDC_ADDRESS],
  });
}

export interface ClearingTerms {
  clearingHouse: Address;
  operator: Address;
  feeBasisPoints?: number;
}

/** The `clearing` requirements of one request of price `amount` to `payTo`. */
export function clearingRequirements(terms: ClearingTerms, payTo: Address, amount: bigint) {
  return {
    scheme: "clearing",
    network: network.v2,
    amount: amount.toString(),
    asset: USDC_ADDRESS,
    payTo,
    maxTimeoutSeconds: 300,
    extra: {
      name: "USD Coin",
      version: "2",
      clearingHouse: terms.clearingHouse,
      operator: terms.operator,
      feeBasisPoints: terms.feeBasisPoints ?? FEE_BPS,
      withdrawalDelay: DELAY,
    },
  };
}

/** Signs the voucher of cumulative `value` (fee from the terms) from `payer` to `payee`. */
export function voucherFor(
  terms: ClearingTerms,
  payer: LocalAccount,
  payee: Address,
  value: bigint,
  signer: LocalAccount = payer,
): Promise<SignedVoucher> {
  return signVoucher(signer, {
    domain: getClearingHouseDomain({
      chainId: network.chainId,
      clearingHouse: terms.clearingHouse,
    }),
    voucher: {
      payer: payer.address,
      payee,
      token: USDC_ADDRESS,
      operator: terms.operator,
      cumulativeValue: value,
      cumulativeFee: computeVoucherFee({ basisPoints: terms.feeBasisPoints ?? FEE_BPS }, value),
    },
  });
}

/** Signs a deposit of `value` into (payer, operator, USDC). */
export function depositFor(
  terms: ClearingTerms,
  payer: LocalAccount,
  value: bigint,
  options: { operator?: Address; voucherSigner?: Address; to?: Address } = {},
): Promise<SignedDepositAuthorization> {
  const authorization = buildDepositAuthorization({
    from: payer.address,
    clearingHouse: options.to ?? terms.clearingHouse,
    operator: options.operator ?? terms.operator,
    ...(options.voucherSigner ? { voucherSigner: options.voucherSigner } : {}),
    value,
    maxTimeoutSeconds: 3_600,
    // The chain's clock may run a little ahead of the wall clock.
    validAfter: BigInt(Math.floor(Date.now() / 1000) - 600),
  });
  return signDepositAuthorization(payer, { domain: getTokenDomain(), authorization });
}

function voucherJson(voucher: SignedVoucher) {
  return {
    payer: voucher.payer,
    payee: voucher.payee,
    token: voucher.token,
    operator: voucher.operator,
    cumulativeValue: voucher.cumulativeValue.toString(),
    cumulativeFee: voucher.cumulativeFee.toString(),
    signature: voucher.signature,
  };
}

function depositJson(deposit: SignedDepositAuthorization) {
  return {
    authorization: {
      from: deposit.from,
      to: deposit.to,
      value: deposit.value.toString(),
      validAfter: deposit.validAfter.toString(),
      validBefore: deposit.validBefore.toString(),
      nonce: deposit.nonce,
    },
    voucherSigner: deposit.voucherSigner,
    salt: deposit.salt,
    signature: deposit.signature,
  };
}

/** A `/verify` or `/settle` body of the `clearing` scheme. */
export function clearingBody(
  terms: ClearingTerms,
  payTo: Address,
  price: bigint,
  voucher: SignedVoucher,
  deposit?: SignedDepositAuthorization,
) {
  const requirements = clearingRequirements(terms, payTo, price);
  return {
    x402Version: 2,
    paymentPayload: {
      x402Version: 2,
      accepted: requirements,
      payload: {
        voucher: voucherJson(voucher),
        ...(deposit ? { deposit: depositJson(deposit) } : {}),
      },
    },
    paymentRequirements: requirements,
  };
}
