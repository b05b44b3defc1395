import {
  type Address,
  type Hex,
  getContract,
  hexToBytes,
  keccak256,
  parseEventLogs,
  toHex,
  zeroAddress,
} from "viem";
import type { PrivateKeyAccount } from "viem/accounts";

import ClearingHouseModule from "../../ignition/modules/ClearingHouse.js";
import { clearingHouseAbi } from "../../src/abi/clearingHouse.js";
import { buildDepositAuthorization } from "../../src/clearing/buildDepositAuthorization.js";
import { encodeDeposits } from "../../src/clearing/encodeDeposits.js";
import { encodeVouchers } from "../../src/clearing/encodeVouchers.js";
import { getClearingHouseDomain } from "../../src/clearing/getClearingHouseDomain.js";
import { signDepositAuthorization } from "../../src/clearing/signDepositAuthorization.js";
import { signVoucher } from "../../src/clearing/signVoucher.js";
import type {
  ClearingHouseDomain,
  SignedDepositAuthorization,
  SignedVoucher,
} from "../../src/clearing/types.js";
import { type TokenInfo, VALID_BEFORE, account, deployStack } from "../router/fixtures.js";

/** `IClearingHouse.ClearStatus`, by name. */
export const ClearStatus = {
  Cleared: 0,
  UnknownOperator: 1,
  CumulativeDecreased: 2,
  AlreadyCleared: 3,
  InsufficientBalance: 4,
  InvalidSignature: 5,
  PayoutFailed: 6,
} as const;

/** `IClearingHouse.DepositStatus`, by name. */
export const DepositStatus = {
  Deposited: 0,
  UnknownOperator: 1,
  SignerMismatch: 2,
  BalanceOverflow: 3,
  AuthorizationFailed: 4,
  NothingReceived: 5,
} as const;

/** The default operator delay: one hour. */
export const DELAY = 3_600;

/** A deterministic 32-byte value per label. */
export function salt(label: string): Hex {
  return keccak256(toHex(`x402-clearing:clearing-test:salt:${label}`));
}

function addressOf(contract: unknown): Address {
  return (contract as { address: Address }).address;
}

/**
 * The router test stack (simulated Base with USDC at its canonical address, the test token) plus
 * a ClearingHouse deployed through its Ignition module, and an operator registered with a fee
 * recipient that already holds a balance.
 */
export async function deployClearing() {
  const stack = await deployStack();
  const { clearingHouse: deployed } = await stack.conn.ignition.deploy(ClearingHouseModule, {
    strategy: "create2",
  });
  const wallets = await stack.conn.viem.getWalletClients();
  const operatorWallet = wallets[1]!;
  const strangerWallet = wallets[2]!;
  const house = getContract({
    address: addressOf(deployed),
    abi: clearingHouseAbi,
    client: { public: stack.client, wallet: stack.relayerWallet },
  });
  const domain: ClearingHouseDomain = getClearingHouseDomain({
    chainId: await stack.client.getChainId(),
    clearingHouse: house.address,
  });
  const operator = operatorWallet.account.address;
  const feeRecipient = account("clearing-fee-recipient").address;

  async function send(hash: Hex) {
    const receipt = await stack.client.waitForTransactionReceipt({ hash });
    if (receipt.status !== "success") throw new Error(`transaction ${hash} reverted`);
    return receipt;
  }

  await send(
    await house.write.registerOperator([feeRecipient, DELAY], {
      account: operatorWallet.account,
    }),
  );

  /** Signs a deposit of `value` into (payer, operator, token) naming `voucherSigner`. */
  async function signDeposit(
    token: TokenInfo,
    payer: PrivateKeyAccount,
    value: bigint,
    options: { operator?: Address; voucherSigner?: Address; salt?: Hex } = {},
  ): Promise<SignedDepositAuthorization> {
    const authorization = buildDepositAuthorization({
      from: payer.address,
      clearingHouse: house.address,
      operator: options.operator ?? operator,
      voucherSigner: options.voucherSigner ?? zeroAddress,
      value,
      salt: options.salt ?? salt(`${payer.address}:${value}:${options.voucherSigner ?? ""}`),
      validBefore: VALID_BEFORE,
    });
    return signDepositAuthorization(payer, { domain: token.domain, authorization });
  }

  /** Simulates and sends `depositWithAuthorizations`, decoding statuses and failure events. */
  async function depositAll(
    token: TokenInfo,
    depositsOrBytes: readonly SignedDepositAuthorization[] | Hex,
  ) {
    const items =
      typeof depositsOrBytes === "string" ? depositsOrBytes : encodeDeposits(depositsOrBytes);
    const { result } = await house.simulate.depositWithAuthorizations([token.address, items], {
      account: stack.relayer,
    });
    const receipt = await send(
      await house.write.depositWithAuthorizations([token.address, items], {
        account: stack.relayer,
      }),
    );
    const logs = parseEventLogs({ abi: house.abi, logs: receipt.logs });
    const processed = logs.filter((log) => log.eventName === "DepositsProcessed");
    if (processed.length !== 1) throw new Error(`expected one DepositsProcessed`);
    return {
      statuses: [...hexToBytes(result)],
      eventStatuses: [...hexToBytes(processed[0]!.args.results)],
      failures: logs
        .filter((log) => log.eventName === "DepositFailed")
        .map((log) => ({
          index: Number(log.args.index),
          payer: log.args.payer,
          status: Number(log.args.status),
          reason: log.args.reason,
        })),
      deposited: logs.filter((log) => log.eventName === "Deposited"),
      receipt,
      calldataBytes: (items.length - 2) / 2,
    };
  }

  /** Signs a voucher with `signer` (the payer by default). */
  async function voucher(
    token: TokenInfo,
    signer: PrivateKeyAccount,
    fields: {
      payer?: Address;
      payee: Address;
      value: bigint;
      fee?: bigint;
      operator?: Address;
      token?: Address;
    },
    signDomain: ClearingHouseDomain = domain,
  ): Promise<SignedVoucher> {
    return signVoucher(signer, {
      domain: signDomain,
      voucher: {
        payer: fields.payer ?? signer.address,
        payee: fields.payee,
        token: fields.token ?? token.address,
        operator: fields.operator ?? operator,
        cumulativeValue: fields.value,
        cumulativeFee: fields.fee ?? 0n,
      },
    });
  }

  /** Simulates and sends `clear`, decoding statuses and rejection events. */
  async function clear(
    token: TokenInfo,
    vouchersOrBytes: readonly SignedVoucher[] | Hex,
    options: { from?: Address } = {},
  ) {
    const items =
      typeof vouchersOrBytes === "string"
        ? vouchersOrBytes
        : encodeVouchers({ token: token.address, vouchers: vouchersOrBytes });
    const from = options.from ?? stack.relayer;
    const { result } = await house.simulate.clear([token.address, items], { account: from });
    const receipt = await send(await house.write.clear([token.address, items], { account: from }));
    const logs = parseEventLogs({ abi: house.abi, logs: receipt.logs });
    const cleared = logs.filter((log) => log.eventName === "VouchersCleared");
    if (cleared.length !== 1) throw new Error(`expected one VouchersCleared`);
    return {
      statuses: [...hexToBytes(result)],
      eventStatuses: [...hexToBytes(cleared[0]!.args.results)],
      rejections: logs
        .filter((log) => log.eventName === "VoucherRejected")
        .map((log) => ({
          index: Number(log.args.index),
          payer: log.args.payer,
          payee: log.args.payee,
          status: Number(log.args.status),
        })),
      receipt,
      calldataBytes: (items.length - 2) / 2,
    };
  }

  async function getAccount(token: TokenInfo, payer: Address, accountOperator = operator) {
    return house.read.getAccount([payer, accountOperator, token.address]);
  }

  async function getCleared(token: TokenInfo, payer: Address, payee: Address) {
    const [value, fee] = await house.read.getCleared([payer, payee, operator, token.address]);
    return { value, fee };
  }

  return {
    ...stack,
    house,
    domain,
    operator,
    operatorWallet,
    strangerWallet,
    feeRecipient,
    send,
    signDeposit,
    depositAll,
    voucher,
    clear,
    getAccount,
    getCleared,
  };
}

export type ClearingStack = Awaited<ReturnType<typeof deployClearing>>;
