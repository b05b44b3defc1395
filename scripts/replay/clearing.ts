/**
 * The ClearingHouse's attack scenario and its attacks: vouchers replayed, lowered, redirected or
 * forged, withdrawals early or by someone else, deposits reused or redirected, releases reused.
 * An attempt is accepted when funds moved that must not have: the payer's account in the
 * ClearingHouse fell, the payer's wallet fell, or a ClearingHouse paid out, by more than what the
 * same submission legitimately moves.
 */
import {
  type Address,
  type Hex,
  type TransactionReceipt,
  concat,
  createWalletClient,
  custom,
  decodeErrorResult,
  erc20Abi,
  parseEventLogs,
  parseSignature,
  serializeSignature,
  size,
  slice,
  toHex,
} from "viem";
import { type LocalAccount, generatePrivateKey, privateKeyToAccount } from "viem/accounts";

import { clearingHouseAbi } from "../../src/abi/clearingHouse.js";
import { permit2Abi } from "../../src/abi/permit2.js";
import { iEIP3009TokenAbi } from "../../src/abi/iEIP3009Token.js";
import type { TokenDomain } from "../../src/authorization/types.js";
import { buildDepositAuthorization } from "../../src/clearing/buildDepositAuthorization.js";
import { decodeClearResults } from "../../src/clearing/decodeClearResults.js";
import { getReleaseTypedData } from "../../src/clearing/getReleaseTypedData.js";
import { encodeDeposits } from "../../src/clearing/encodeDeposits.js";
import { encodeVouchers } from "../../src/clearing/encodeVouchers.js";
import { getClearingHouseDomain } from "../../src/clearing/getClearingHouseDomain.js";
import { signDepositAuthorization } from "../../src/clearing/signDepositAuthorization.js";
import { signVoucher } from "../../src/clearing/signVoucher.js";
import type {
  ClearingHouseDomain,
  Release,
  SignedDepositAuthorization,
  SignedVoucher,
} from "../../src/clearing/types.js";
import { decodeRevertReason } from "../../src/errors/decodeRevertReason.js";
import type { NodeWallet } from "../../src/bench/node.js";
import type { BenchToken } from "../../src/bench/tokens.js";
import type { BenchChain } from "../bench/chain.js";
import {
  type AttackOutcome,
  type Refusal,
  type ReplayMethod,
  SECP256K1_N,
  Tally,
} from "./scenario.js";

/** `IClearingHouse.DepositStatus`, by name. */
const DEPOSIT_STATUS = [
  "deposited",
  "unknown_operator",
  "signer_mismatch",
  "balance_overflow",
  "authorization_failed",
  "nothing_received",
] as const;

/** The operator's withdrawal delay in the scenario (the shortest allowed). */
export const REPLAY_WITHDRAWAL_DELAY = 15 * 60;

export type Submission =
  | { kind: "clear"; receipt: TransactionReceipt; house: Address }
  | { kind: "deposit"; receipt: TransactionReceipt; house: Address }
  | { kind: "call"; receipt: TransactionReceipt }
  | { kind: "reverted"; refusal: Refusal };

/**
 * Why a call was refused: the toolkit's reason for token and string reverts, or the
 * ClearingHouse's custom error (`ClearingHouseWithdrawalNotReady` becomes `withdrawal_not_ready`).
 */
export function refusalOf(error: unknown): Refusal {
  const decoded = decodeRevertReason(error);
  // Permit2's SafeTransferLib reports a token's failed (or data-less) transferFrom with this string.
  if (decoded.errorName === "Error" && String(decoded.args[0]) === "TRANSFER_FROM_FAILED")
    return { by: "token", reason: "transfer_from_failed", error: "TRANSFER_FROM_FAILED" };
  if (decoded.reason === "unknown_revert" && decoded.data && size(decoded.data) >= 4) {
    try {
      const { errorName } = decodeErrorResult({ abi: clearingHouseAbi, data: decoded.data });
      const reason = errorName
        .replace(/^ClearingHouse/, "")
        .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
        .toLowerCase();
      return { by: "clearing-house", reason, error: errorName };
    } catch {
      // not one of the ClearingHouse's errors
    }
    try {
      const { errorName } = decodeErrorResult({ abi: permit2Abi, data: decoded.data });
      const reason = `permit2_${errorName.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase()}`;
      return { by: "permit2", reason, error: errorName };
    } catch {
      // not one of Permit2's errors
    }
  }
  const message = decoded.errorName === "Error" ? String(decoded.args[0]) : decoded.errorName;
  return { by: "clearing-house", reason: decoded.reason, ...(message ? { error: message } : {}) };
}

export interface VoucherOptions {
  /** Cumulative payments of the scenario's value (and fee) the voucher covers. Default 1. */
  payments?: bigint;
  payee?: Address;
  operator?: Address;
  token?: Address;
  fee?: bigint;
  /** Who signs (default: the payer). */
  signer?: LocalAccount;
  domain?: Partial<ClearingHouseDomain>;
}

/** One token's ClearingHouse scenario. */
export class ClearingScenario {
  readonly value = 10_000n;
  readonly fee = 100n;
  /** What each scenario account deposits: ten payments with their fees. */
  readonly deposit = 101_000n;
  private nextPayer = 0;
  protected lastSubmission: Submission | undefined;
  private refusals: (Refusal | null)[] = [];

  constructor(
    readonly chain: BenchChain,
    readonly token: BenchToken,
    readonly otherToken: BenchToken,
    /** Two ClearingHouse instances; the first is the one attacked. */
    readonly houses: readonly [Address, Address],
    /** The registered operator (also submits clears, deposits and releases). */
    readonly operator: NodeWallet,
    /** A third party with gas, registered as another operator of the first ClearingHouse. */
    readonly attacker: NodeWallet,
    readonly payee: Address,
    private readonly payers: readonly LocalAccount[],
  ) {}

  get method(): ReplayMethod {
    return "clearing";
  }

  get label(): string {
    return `${this.token.name}/clearing`;
  }

  freshPayer(): LocalAccount {
    const payer = this.payers[this.nextPayer++];
    if (!payer) throw new Error(`scenario ${this.label}: ran out of funded payers`);
    return payer;
  }

  tokenDomain(overrides: Partial<TokenDomain> = {}): TokenDomain {
    return {
      name: this.token.domain.name,
      version: this.token.domain.version,
      chainId: this.chain.info.chainId,
      verifyingContract: this.token.address,
      ...overrides,
    };
  }

  houseDomain(house: Address = this.houses[0]): ClearingHouseDomain {
    return getClearingHouseDomain({ chainId: this.chain.info.chainId, clearingHouse: house });
  }

  async now(): Promise<bigint> {
    return (await this.chain.client.getBlock()).timestamp;
  }

  /** Moves the chain's clock to `timestamp` with a block. */
  async setTime(timestamp: bigint): Promise<void> {
    await this.chain.client.setNextBlockTimestamp({ timestamp });
    await this.chain.client.mine({ blocks: 1 });
  }

  /** A deposit authorization into (payer, operator, token) of `house`, signed by the payer. */
  async signDeposit(
    payer: LocalAccount,
    options: { operator?: Address; value?: bigint; house?: Address } = {},
  ): Promise<SignedDepositAuthorization> {
    return signDepositAuthorization(payer, {
      domain: this.tokenDomain(),
      authorization: buildDepositAuthorization({
        from: payer.address,
        clearingHouse: options.house ?? this.houses[0],
        operator: options.operator ?? this.operator.account.address,
        value: options.value ?? this.deposit,
        validBefore: (await this.now()) + 3600n,
      }),
    });
  }

  /** Submits packed deposits (or deposit authorizations) to `house`; never throws. */
  async submitDeposits(
    deposits: readonly SignedDepositAuthorization[] | Hex,
    house: Address = this.houses[0],
  ): Promise<TransactionReceipt | undefined> {
    const items = typeof deposits === "string" ? deposits : encodeDeposits(deposits);
    return this.send(house, "depositWithAuthorizations", [this.token.address, items], "deposit");
  }

  /** A fresh payer with a funded account under the scenario's operator in the first ClearingHouse. */
  async openAccount(payer: LocalAccount = this.freshPayer()): Promise<LocalAccount> {
    await this.submitDeposits([await this.signDeposit(payer)]);
    if ((await this.accountBalance(payer.address)) !== this.deposit)
      throw new Error(`${this.label}: the honest deposit did not credit the account`);
    return payer;
  }

  /** A voucher of `payer` for the scenario's payee, token and operator unless overridden. */
  async voucher(payer: LocalAccount, options: VoucherOptions = {}): Promise<SignedVoucher> {
    const payments = options.payments ?? 1n;
    return signVoucher(options.signer ?? payer, {
      domain: { ...this.houseDomain(), ...options.domain },
      voucher: {
        payer: payer.address,
        payee: options.payee ?? this.payee,
        token: options.token ?? this.token.address,
        operator: options.operator ?? this.operator.account.address,
        cumulativeValue: this.value * payments,
        cumulativeFee: (options.fee ?? this.fee) * payments,
      },
    });
  }

  /** Calls `clear` with the vouchers (their token set to the call's) or packed items; never throws. */
  async clear(
    vouchers: readonly SignedVoucher[] | Hex,
    options: { house?: Address; from?: NodeWallet } = {},
  ): Promise<TransactionReceipt | undefined> {
    const token = this.token.address;
    const items =
      typeof vouchers === "string"
        ? vouchers
        : encodeVouchers({ token, vouchers: vouchers.map((v) => ({ ...v, token })) });
    return this.send(
      options.house ?? this.houses[0],
      "clear",
      [token, items],
      "clear",
      options.from,
    );
  }

  /** Sends a ClearingHouse call (gas estimated first, so a revert is caught); never throws. */
  async send(
    house: Address,
    functionName: string,
    args: readonly unknown[],
    kind: "clear" | "deposit" | "call" = "call",
    from: NodeWallet = this.operator,
  ): Promise<TransactionReceipt | undefined> {
    const request = { address: house, abi: clearingHouseAbi, functionName, args } as never;
    try {
      const gas = await this.chain.client.estimateContractGas({
        ...(request as object),
        account: from.account,
      } as never);
      const hash = await from.writeContract({
        ...(request as object),
        gas: gas + gas / 4n,
      } as never);
      const receipt = await this.chain.client.waitForTransactionReceipt({ hash });
      this.lastSubmission =
        kind === "call" ? { kind, receipt } : ({ kind, receipt, house } as Submission);
      return receipt;
    } catch (error) {
      this.lastSubmission = { kind: "reverted", refusal: refusalOf(error) };
      return undefined;
    }
  }

  /** The payer as a wallet with gas, to send its own withdrawal calls. */
  async payerWallet(payer: LocalAccount): Promise<NodeWallet> {
    await this.chain.client.setBalance({ address: payer.address, value: 10n ** 18n });
    return createWalletClient({
      account: payer,
      chain: this.chain.client.chain,
      transport: custom(this.chain.client),
    }) as unknown as NodeWallet;
  }

  /** Calls the token directly as the attacker; never throws. */
  async tokenCall(
    functionName: "receiveWithAuthorization",
    args: readonly unknown[],
  ): Promise<TransactionReceipt | undefined> {
    try {
      const hash = await this.attacker.writeContract({
        address: this.token.address,
        abi: iEIP3009TokenAbi,
        functionName,
        args,
        gas: 400_000n,
      } as never);
      const receipt = await this.chain.client.waitForTransactionReceipt({ hash });
      this.lastSubmission = { kind: "call", receipt };
      return receipt;
    } catch (error) {
      this.lastSubmission = { kind: "reverted", refusal: { ...refusalOf(error), by: "token" } };
      return undefined;
    }
  }

  /** The operator's cooperative release for `payer`, signed by the operator. */
  async signRelease(payer: Address, amount: bigint): Promise<{ release: Release; signature: Hex }> {
    const release: Release = {
      payer,
      operator: this.operator.account.address,
      token: this.token.address,
      amount,
      salt: toHex(crypto.getRandomValues(new Uint8Array(32))),
      deadline: Number((await this.now()) + 3600n),
    };
    const signature = await this.operator.signTypedData({
      account: this.operator.account,
      ...getReleaseTypedData({ domain: this.houseDomain(), release }),
    });
    return { release, signature };
  }

  async tokenBalance(address: Address, token: Address = this.token.address): Promise<bigint> {
    return this.chain.client.readContract({
      address: token,
      abi: erc20Abi,
      functionName: "balanceOf",
      args: [address],
    });
  }

  /** The balance of (payer, operator, token) in `house`. */
  async accountBalance(
    payer: Address,
    operator: Address = this.operator.account.address,
    house: Address = this.houses[0],
    token: Address = this.token.address,
  ): Promise<bigint> {
    const account = await this.chain.client.readContract({
      address: house,
      abi: clearingHouseAbi,
      functionName: "getAccount",
      args: [payer, operator, token],
    });
    return account.balance;
  }

  /**
   * Runs one attempt that must not move `payer`'s funds beyond `allowed` and returns whether it
   * did: the payer's accounts (under either operator, in either ClearingHouse) fell, the payer's
   * wallet fell, or the ClearingHouses paid out more than `allowed`.
   */
  async attempt(
    payer: Address,
    run: () => Promise<unknown>,
    allowed = 0n,
    options: { token?: Address } = {},
  ): Promise<boolean> {
    const token = options.token ?? this.token.address;
    const measure = async () => {
      let accounts = 0n;
      let held = 0n;
      for (const house of this.houses) {
        held += await this.tokenBalance(house, token);
        for (const operator of [this.operator.account.address, this.attacker.account.address])
          accounts += await this.accountBalance(payer, operator, house, token);
      }
      return { accounts, held, wallet: await this.tokenBalance(payer, token) };
    };
    const before = await measure();
    this.lastSubmission = undefined;
    await run();
    const after = await measure();
    const accepted =
      before.accounts - after.accounts > allowed ||
      before.held - after.held > allowed ||
      before.wallet - after.wallet > allowed ||
      // Credited more than arrived: an account backed by nothing (a failed transfer taken as paid).
      after.accounts - before.accounts > after.held - before.held;
    this.refusals.push(accepted ? null : this.refusalFor(payer));
    return accepted;
  }

  protected refusalFor(payer: Address): Refusal {
    const last = this.lastSubmission;
    if (!last) return { by: "clearing-house", reason: "not_submitted" };
    if (last.kind === "reverted") return last.refusal;
    if (last.kind === "call") return { by: "clearing-house", reason: "no_effect" };
    if (last.kind === "clear") {
      let results;
      try {
        results = decodeClearResults({ clearingHouse: last.house, logs: last.receipt.logs });
      } catch (error) {
        return refusalOf(error);
      }
      const failure = results.findLast((r) => r.status === "failure");
      return failure?.status === "failure"
        ? { by: "clearing-house", reason: failure.reason }
        : { by: "clearing-house", reason: "no_effect" };
    }
    const failed = parseEventLogs({
      abi: clearingHouseAbi,
      eventName: "DepositFailed",
      logs: last.receipt.logs,
    }).filter((log) => log.args.payer.toLowerCase() === payer.toLowerCase());
    const event = failed.at(-1);
    if (!event) return { by: "clearing-house", reason: "no_effect" };
    const reason = DEPOSIT_STATUS[event.args.status] ?? `status_${event.args.status}`;
    const decoded =
      size(event.args.reason) > 0 ? refusalOf({ data: event.args.reason }) : undefined;
    return {
      by:
        reason === "authorization_failed"
          ? decoded?.by === "permit2"
            ? "permit2"
            : "token"
          : "clearing-house",
      reason: reason === "authorization_failed" && decoded ? decoded.reason : reason,
      itemStatus: reason,
      ...(decoded?.error ? { error: decoded.error } : {}),
    };
  }

  takeRefusals(): (Refusal | null)[] {
    const taken = this.refusals;
    this.refusals = [];
    return taken;
  }

  /** Clears a voucher honestly and checks that exactly its increase left the account. */
  async clearHonestly(voucher: SignedVoucher, increase: bigint): Promise<void> {
    const before = await this.accountBalance(voucher.payer);
    await this.clear([voucher]);
    if (before - (await this.accountBalance(voucher.payer)) !== increase)
      throw new Error(`${this.label}: the honest clear of a valid voucher did not go through`);
  }

  /** A fresh account pays with a valid voucher that clears: what must still work after an attack. */
  async honestPaymentSettles(): Promise<boolean> {
    try {
      const payer = await this.openAccount();
      await this.clearHonestly(await this.voucher(payer), this.value + this.fee);
      return true;
    } catch {
      return false;
    }
  }

  /** The high-s twin (r, n - s, other parity) of a 65-byte low-s signature. */
  malleate(signature: Hex): Hex {
    const { r, s, yParity } = parseSignature(signature);
    return serializeSignature({
      r,
      s: `0x${(SECP256K1_N - BigInt(s)).toString(16).padStart(64, "0")}`,
      yParity: yParity === 0 ? 1 : 0,
    });
  }
}

export interface ClearingAttack {
  name: string;
  description: string;
  run(s: ClearingScenario): Promise<AttackOutcome>;
}

const increase = (s: ClearingScenario, payments = 1n) => (s.value + s.fee) * payments;

export const CLEARING_ATTACKS: readonly ClearingAttack[] = [
  {
    name: "clearing-voucher-twice",
    description: "one voucher twice in one clear call, then again in a later call",
    async run(s) {
      const t = new Tally();
      const payer = await s.openAccount();
      const v = await s.voucher(payer);
      await t.add(s.attempt(payer.address, () => s.clear([v, v]), increase(s)));
      await t.add(s.attempt(payer.address, () => s.clear([v])));
      return t;
    },
  },
  {
    name: "clearing-lower-cumulative",
    description: "a voucher of a lower cumulative after a higher one was cleared",
    async run(s) {
      const t = new Tally();
      const payer = await s.openAccount();
      const low = await s.voucher(payer, { payments: 2n });
      await s.clearHonestly(await s.voucher(payer, { payments: 3n }), increase(s, 3n));
      await t.add(s.attempt(payer.address, () => s.clear([low])));
      return t;
    },
  },
  {
    name: "clearing-other-payee",
    description: "a voucher signed for one payee, submitted naming another (the attacker)",
    async run(s) {
      const t = new Tally();
      const payer = await s.openAccount();
      const v = await s.voucher(payer);
      const thief = s.attacker.account.address;
      await t.add(s.attempt(payer.address, () => s.clear([{ ...v, payee: thief }])));
      await s.clearHonestly(v, increase(s));
      return t;
    },
  },
  {
    name: "clearing-other-operator",
    description:
      "a voucher signed for another operator, submitted as is and naming the account's operator",
    async run(s) {
      const t = new Tally();
      const payer = await s.openAccount();
      const other = await s.voucher(payer, { operator: s.attacker.account.address });
      await t.add(s.attempt(payer.address, () => s.clear([other])));
      await t.add(
        s.attempt(payer.address, () =>
          s.clear([{ ...other, operator: s.operator.account.address }]),
        ),
      );
      return t;
    },
  },
  {
    name: "clearing-other-token",
    description: "a voucher signed for the other token, cleared on this one",
    async run(s) {
      const t = new Tally();
      const payer = await s.openAccount();
      const v = await s.voucher(payer, { token: s.otherToken.address });
      await t.add(s.attempt(payer.address, () => s.clear([v])));
      return t;
    },
  },
  {
    name: "clearing-other-chain",
    description: "a voucher signed under chain 84532 (Base Sepolia), cleared on this chain",
    async run(s) {
      const t = new Tally();
      const payer = await s.openAccount();
      const v = await s.voucher(payer, { domain: { chainId: 84532 } });
      await t.add(s.attempt(payer.address, () => s.clear([v])));
      return t;
    },
  },
  {
    name: "clearing-other-clearing-house",
    description:
      "a voucher signed for a second ClearingHouse, cleared on the first, and the reverse",
    async run(s) {
      const t = new Tally();
      const payer = await s.openAccount();
      await s.submitDeposits([await s.signDeposit(payer, { house: s.houses[1] })], s.houses[1]);
      const forSecond = await s.voucher(payer, { domain: s.houseDomain(s.houses[1]) });
      await t.add(s.attempt(payer.address, () => s.clear([forSecond])));
      const forFirst = await s.voucher(payer);
      await t.add(s.attempt(payer.address, () => s.clear([forFirst], { house: s.houses[1] })));
      return t;
    },
  },
  {
    name: "clearing-raised-fee",
    description: "a voucher submitted with a higher cumulative fee than signed",
    async run(s) {
      const t = new Tally();
      const payer = await s.openAccount();
      const v = await s.voucher(payer);
      await t.add(
        s.attempt(payer.address, () => s.clear([{ ...v, cumulativeFee: v.cumulativeFee * 10n }])),
      );
      await s.clearHonestly(v, increase(s));
      return t;
    },
  },
  {
    name: "clearing-unnamed-signer",
    description: "a voucher signed by a key the account did not name as its voucher signer",
    async run(s) {
      const t = new Tally();
      const payer = await s.openAccount();
      const stranger = privateKeyToAccount(generatePrivateKey());
      const v = await s.voucher(payer, { signer: stranger });
      await t.add(s.attempt(payer.address, () => s.clear([v])));
      return t;
    },
  },
  {
    name: "clearing-over-balance",
    description: "a voucher whose increase exceeds the account's balance (nothing partial moves)",
    async run(s) {
      const t = new Tally();
      const payer = await s.openAccount();
      const v = await s.voucher(payer, { payments: 11n });
      await t.add(s.attempt(payer.address, () => s.clear([v])));
      return t;
    },
  },
  {
    name: "clearing-after-withdrawal",
    description: "a voucher signed before a completed withdrawal of the whole balance",
    async run(s) {
      const t = new Tally();
      const payer = await s.openAccount();
      const v = await s.voucher(payer);
      const asPayer = await s.payerWallet(payer);
      const args = [s.operator.account.address, s.token.address] as const;
      await s.send(s.houses[0], "requestWithdrawal", [...args, s.deposit], "call", asPayer);
      await s.setTime((await s.now()) + BigInt(REPLAY_WITHDRAWAL_DELAY) + 1n);
      await s.send(s.houses[0], "withdraw", args, "call", asPayer);
      if ((await s.accountBalance(payer.address)) !== 0n)
        throw new Error(`${s.label}: the withdrawal did not complete`);
      await t.add(s.attempt(payer.address, () => s.clear([v])));
      return t;
    },
  },
  {
    name: "clearing-withdrawal-early-or-by-other",
    description:
      "a withdrawal completed before the delay (at once, one second early), and by someone else after it",
    async run(s) {
      const t = new Tally();
      const payer = await s.openAccount();
      const asPayer = await s.payerWallet(payer);
      const args = [s.operator.account.address, s.token.address] as const;
      await s.send(s.houses[0], "requestWithdrawal", [...args, s.deposit], "call", asPayer);
      const readyAt = BigInt(
        (
          await s.chain.client.readContract({
            address: s.houses[0],
            abi: clearingHouseAbi,
            functionName: "getAccount",
            args: [payer.address, s.operator.account.address, s.token.address],
          })
        ).withdrawalReadyAt,
      );
      if (readyAt === 0n) throw new Error(`${s.label}: the withdrawal request did not register`);
      await t.add(
        s.attempt(payer.address, () => s.send(s.houses[0], "withdraw", args, "call", asPayer)),
      );
      // Mined one second before the delay ends.
      await t.add(
        s.attempt(payer.address, async () => {
          await s.chain.client.setNextBlockTimestamp({ timestamp: readyAt - 1n });
          await s.send(s.houses[0], "withdraw", args, "call", asPayer);
        }),
      );
      await s.setTime(readyAt + 1n);
      await t.add(
        s.attempt(payer.address, () => s.send(s.houses[0], "withdraw", args, "call", s.attacker)),
      );
      // The payer's own withdrawal after the delay still works.
      await s.send(s.houses[0], "withdraw", args, "call", asPayer);
      if ((await s.accountBalance(payer.address)) !== 0n)
        throw new Error(`${s.label}: the payer's withdrawal after the delay did not complete`);
      return t;
    },
  },
  {
    name: "clearing-deposit-reused",
    description: "a deposit authorization executed, then submitted again, and called on the token",
    async run(s) {
      const t = new Tally();
      const payer = s.freshPayer();
      const d = await s.signDeposit(payer);
      await t.add(s.attempt(payer.address, () => s.submitDeposits([d, d]), d.value));
      await t.add(s.attempt(payer.address, () => s.submitDeposits([d])));
      return t;
    },
  },
  {
    name: "clearing-deposit-other-operator",
    description:
      "a deposit authorization for one operator submitted naming another, and executed on the token by a third party",
    async run(s) {
      const t = new Tally();
      const payer = s.freshPayer();
      const d = await s.signDeposit(payer);
      await t.add(
        s.attempt(payer.address, () =>
          s.submitDeposits([{ ...d, operator: s.attacker.account.address }]),
        ),
      );
      const { r, s: sv, v } = parseSignature(d.signature);
      await t.add(
        s.attempt(payer.address, () =>
          s.tokenCall("receiveWithAuthorization", [
            d.from,
            d.to,
            d.value,
            d.validAfter,
            d.validBefore,
            d.nonce,
            Number(v),
            r,
            sv,
          ]),
        ),
      );
      // The authorization still credits its own operator.
      await s.submitDeposits([d]);
      if ((await s.accountBalance(payer.address)) !== d.value)
        throw new Error(`${s.label}: the deposit did not credit its operator after the attempts`);
      return t;
    },
  },
  {
    name: "clearing-release-twice",
    description:
      "an operator's cooperative release relayed again after it paid out, by the attacker and by the operator",
    async run(s) {
      const t = new Tally();
      const payer = await s.openAccount();
      const { release, signature } = await s.signRelease(payer.address, s.deposit / 2n);
      await s.send(s.houses[0], "withdrawWithRelease", [release, signature]);
      if ((await s.accountBalance(payer.address)) !== s.deposit - release.amount)
        throw new Error(`${s.label}: the release did not pay out`);
      for (const relayer of [s.attacker, s.operator])
        await t.add(
          s.attempt(payer.address, () =>
            s.send(s.houses[0], "withdrawWithRelease", [release, signature], "call", relayer),
          ),
        );
      return t;
    },
  },
  {
    name: "clearing-high-s-voucher",
    description:
      "the high-s twin of a valid voucher signature, as raw packed bytes and as a contract signature, before and after the original clears",
    async run(s) {
      const t = new Tally();
      const payer = await s.openAccount();
      const v = await s.voucher(payer);
      const twin = s.malleate(v.signature);
      if (BigInt(slice(twin, 32, 64)) <= SECP256K1_N / 2n)
        throw new Error(`${s.label}: malleation did not produce a high s`);
      // The packed EIP-2098 form has no room for a high s: send r ‖ (n - s) as raw bytes.
      const honest = encodeVouchers({ token: s.token.address, vouchers: [v] });
      const raw = concat([slice(honest, 0, size(honest) - 64), slice(twin, 0, 64)]);
      const tries = async () => {
        await t.add(s.attempt(payer.address, () => s.clear(raw)));
        await t.add(
          s.attempt(payer.address, () =>
            s.clear([{ ...v, signature: twin, contractSignature: true }]),
          ),
        );
      };
      await tries();
      await s.clearHonestly(v, increase(s));
      await tries();
      return t;
    },
  },
];
