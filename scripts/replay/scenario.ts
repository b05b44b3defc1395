/**
 * One (token, router method) attack scenario: fresh funded payers, signing through the toolkit,
 * raw submissions to the SettlementRouter and to the token, and the measurement every attack
 * relies on: did a payer's balance drop or an authorization get used when it must not have.
 */
import {
  type Address,
  type Hex,
  type TransactionReceipt,
  erc20Abi,
  parseAbi,
  parseSignature,
  serializeSignature,
} from "viem";
import type { LocalAccount } from "viem/accounts";

import { iEIP3009TokenAbi } from "../../src/abi/iEIP3009Token.js";
import { buildDirectAuthorization } from "../../src/authorization/buildDirectAuthorization.js";
import { buildRoutedAuthorization } from "../../src/authorization/buildRoutedAuthorization.js";
import { cancelAuthorizationTypes } from "../../src/authorization/eip712Types.js";
import { signAuthorization } from "../../src/authorization/signAuthorization.js";
import type { SignedAuthorization, TokenDomain } from "../../src/authorization/types.js";
import { decodeSettleReceipt } from "../../src/batch/decodeSettleReceipt.js";
import { type SettlementItem, encodeItems } from "../../src/batch/encodeItems.js";
import { decodeRevertReason } from "../../src/errors/decodeRevertReason.js";
import type { NodeWallet } from "../../src/bench/node.js";
import { type BenchToken, benchAccount } from "../../src/bench/tokens.js";
import type { BenchChain } from "../bench/chain.js";

export type ReplayMethod =
  "router-direct" | "router-routed" | "clearing" | "clearing-permit2" | "router-permit2";

/** What one attack measured. */
export interface AttackOutcome {
  attempts: number;
  accepted: number;
}

/**
 * Why an attempt moved nothing: who refused it and the reason it gave, decoded by the toolkit
 * (`decodeRevertReason`, or the router's per-item `PaymentFailed` through `decodeSettleReceipt`).
 */
export interface Refusal {
  /**
   * `token`: the token reverted (called directly, or inside the router or the ClearingHouse);
   * `router`: the router itself; `clearing-house`: the ClearingHouse itself; `permit2`: Permit2
   * (inside the ClearingHouse's Permit2 deposit).
   */
  by: "token" | "router" | "clearing-house" | "permit2";
  /** The reason code, e.g. `invalid_exact_evm_nonce_already_used` or `Expired`'s reason. */
  reason: string;
  /** The router's item status for an item it reported failed, e.g. `TokenReverted`. */
  itemStatus?: string;
  /** The revert message or custom error's name, when the revert carried one. */
  error?: string;
}

/** What a submission did: its receipt when it was mined, or the decoded revert of the call. */
type Submission =
  | { kind: "settle"; receipt: TransactionReceipt; router: Address }
  | { kind: "token"; receipt: TransactionReceipt }
  | { kind: "reverted"; refusal: Refusal };

function refusalOf(by: Refusal["by"], error: unknown): Refusal {
  const decoded = decodeRevertReason(error);
  const message = decoded.errorName === "Error" ? String(decoded.args[0]) : decoded.errorName;
  return { by, reason: decoded.reason, ...(message ? { error: message } : {}) };
}

const settleAbi = parseAbi([
  "function settle(address token, address feeRecipient, bytes items) returns (bytes results)",
]);
const tokenAbi = [...iEIP3009TokenAbi, ...erc20Abi] as const;

/** secp256k1's group order. */
export const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

/** Options for one signed payment of a scenario. */
export interface PaymentOptions {
  payer?: LocalAccount;
  value?: bigint;
  validAfter?: bigint;
  validBefore?: bigint;
  /** Overrides of the EIP-712 domain (wrong chain, wrong token). */
  domain?: Partial<TokenDomain>;
  /** Direct payments: the payee (default: the scenario's payee); routed: the payee in the nonce. */
  payee?: Address;
  /** Direct payments only: a chosen nonce. */
  nonce?: Hex;
  /** Routed payments only. */
  fee?: bigint;
  /** Routed payments only: a chosen salt. */
  salt?: Hex;
  /** Routed payments only: the router the payer signs for (default: the first). */
  router?: Address;
}

/** A payment as signed, plus the identity (payer, nonce) the token tracks it by. */
export type SignedPayment = SignedAuthorization & { payer: LocalAccount };

export class ReplayScenario {
  readonly value = 10_000n;
  readonly fee = 100n;
  private nextPayer = 0;
  /** The last settle or token call, for {@link attempt} to say why it was refused. */
  private lastSubmission: Submission | undefined;
  /** Per attempt since the last {@link takeRefusals}: why it was refused, or null when it was accepted. */
  private refusals: (Refusal | null)[] = [];

  constructor(
    readonly chain: BenchChain,
    readonly token: BenchToken,
    /** Another EIP-3009 token on the same chain (cross-token replay). */
    readonly otherToken: BenchToken,
    readonly method: ReplayMethod,
    /** Two independent SettlementRouter instances. */
    readonly routers: readonly [Address, Address],
    /** Submits settlements (an honest relayer). */
    readonly relayer: NodeWallet,
    /** A third party with gas and no authority over anyone's funds. */
    readonly attacker: NodeWallet,
    readonly payee: Address,
    readonly feeRecipient: Address,
    private readonly payers: readonly LocalAccount[],
  ) {}

  get routed(): boolean {
    return this.method === "router-routed";
  }

  /** The token's EIP-712 domain on this chain. */
  domain(overrides: Partial<TokenDomain> = {}): TokenDomain {
    return {
      name: this.token.domain.name,
      version: this.token.domain.version,
      chainId: this.chain.info.chainId,
      verifyingContract: this.token.address,
      ...overrides,
    };
  }

  /** A payer nobody has used yet in this scenario (funded with several payments' worth). */
  freshPayer(): LocalAccount {
    const payer = this.payers[this.nextPayer++];
    if (!payer) throw new Error(`scenario ${this.label}: ran out of funded payers`);
    return payer;
  }

  get label(): string {
    return `${this.token.name}/${this.method}`;
  }

  /** The chain's clock (latest block), which the token checks time windows against. */
  async now(): Promise<bigint> {
    return (await this.chain.client.getBlock()).timestamp;
  }

  /** Signs a payment of the scenario's kind (direct or routed) through the toolkit. */
  async sign(options: PaymentOptions = {}): Promise<SignedPayment> {
    const payer = options.payer ?? this.freshPayer();
    const now = await this.now();
    const window = {
      validAfter: options.validAfter ?? 0n,
      validBefore: options.validBefore ?? now + 3600n,
    };
    const domain = this.domain(options.domain);
    if (this.routed) {
      const authorization = buildRoutedAuthorization({
        from: payer.address,
        router: options.router ?? this.routers[0],
        payee: options.payee ?? this.payee,
        value: options.value ?? this.value,
        fee: options.fee ?? this.fee,
        feeRecipient: this.feeRecipient,
        ...(options.salt ? { salt: options.salt } : {}),
        ...window,
      });
      return { ...(await signAuthorization(payer, { domain, authorization })), payer };
    }
    const authorization = buildDirectAuthorization({
      from: payer.address,
      to: options.payee ?? this.payee,
      value: options.value ?? this.value,
      ...(options.nonce ? { nonce: options.nonce } : {}),
      ...window,
    });
    return { ...(await signAuthorization(payer, { domain, authorization })), payer };
  }

  /** The packed-item form of a signed payment (routed items carry payee, fee and salt). */
  item(p: SignedAuthorization, overrides: Partial<Record<string, unknown>> = {}): SettlementItem {
    const base = {
      from: p.from,
      value: p.value,
      validAfter: p.validAfter,
      validBefore: p.validBefore,
      signature: p.signature,
      ...(p.contractSignature ? { contractSignature: true } : {}),
    };
    const item: SettlementItem =
      p.kind === "routed"
        ? { kind: "routed", ...base, payee: p.payee, fee: p.fee, salt: p.salt }
        : { kind: "direct", ...base, to: p.to, nonce: p.nonce };
    return { ...item, ...overrides } as SettlementItem;
  }

  /** Calls `settle` on a router; never throws (a reverted call is an outcome like any other). */
  async settle(
    items: readonly SettlementItem[] | Hex,
    options: { router?: Address; feeRecipient?: Address; from?: NodeWallet } = {},
  ): Promise<TransactionReceipt | undefined> {
    const packed = typeof items === "string" ? items : encodeItems(items);
    const wallet = options.from ?? this.relayer;
    const request = {
      address: options.router ?? this.routers[0],
      abi: settleAbi,
      functionName: "settle",
      args: [this.token.address, options.feeRecipient ?? this.feeRecipient, packed],
    } as const;
    try {
      const gas = await this.chain.client.estimateContractGas({
        ...request,
        account: wallet.account,
      });
      const hash = await wallet.writeContract({ ...request, gas: gas + gas / 4n });
      const receipt = await this.chain.client.waitForTransactionReceipt({ hash });
      this.lastSubmission = { kind: "settle", receipt, router: request.address };
      return receipt;
    } catch (error) {
      this.lastSubmission = { kind: "reverted", refusal: refusalOf("router", error) };
      return undefined;
    }
  }

  /** Calls the token directly (as `from`, default the attacker); never throws. */
  async tokenCall(
    functionName: "transferWithAuthorization" | "receiveWithAuthorization" | "cancelAuthorization",
    args: readonly unknown[],
    from: NodeWallet = this.attacker,
  ): Promise<TransactionReceipt | undefined> {
    try {
      const hash = await from.writeContract({
        address: this.token.address,
        abi: tokenAbi,
        functionName,
        args,
        gas: 400_000n,
      } as never);
      const receipt = await this.chain.client.waitForTransactionReceipt({ hash });
      this.lastSubmission = { kind: "token", receipt };
      return receipt;
    } catch (error) {
      this.lastSubmission = { kind: "reverted", refusal: refusalOf("token", error) };
      return undefined;
    }
  }

  /** The (v, r, s) arguments of a 65-byte signature. */
  vrs(signature: Hex): [number, Hex, Hex] {
    const { r, s, v, yParity } = parseSignature(signature);
    return [Number(v ?? BigInt(27 + yParity)), r, s];
  }

  /** The EIP-3009 argument list of a payment (to = the signed `to`), then `sig` (v, r, s or bytes). */
  authorizationArgs(p: SignedAuthorization, sig: "vrs" | Hex = "vrs"): unknown[] {
    const head = [p.from, p.to, p.value, p.validAfter, p.validBefore, p.nonce];
    return sig === "vrs" ? [...head, ...this.vrs(p.signature)] : [...head, sig];
  }

  /** The high-s twin of a low-s signature: (r, n - s) with the other parity. */
  malleate(signature: Hex): Hex {
    const { r, s, yParity } = parseSignature(signature);
    const highS = SECP256K1_N - BigInt(s);
    return serializeSignature({
      r,
      s: `0x${highS.toString(16).padStart(64, "0")}`,
      yParity: yParity === 0 ? 1 : 0,
    });
  }

  /** The EIP-2098 64-byte form `r ‖ yParityAndS` of a 65-byte signature. */
  compact(signature: Hex): Hex {
    const { r, s, yParity } = parseSignature(signature);
    const yParityAndS = (BigInt(yParity) << 255n) | BigInt(s);
    return `0x${r.slice(2)}${yParityAndS.toString(16).padStart(64, "0")}`;
  }

  /** Signs and submits `CancelAuthorization` for the payment's nonce (by the relayer). */
  async cancel(p: SignedPayment): Promise<void> {
    const signature = await p.payer.signTypedData({
      domain: this.domain(),
      types: cancelAuthorizationTypes,
      primaryType: "CancelAuthorization",
      message: { authorizer: p.from, nonce: p.nonce },
    });
    const receipt = await this.tokenCall(
      "cancelAuthorization",
      [p.from, p.nonce, ...this.vrs(signature)],
      this.relayer,
    );
    if (receipt?.status !== "success")
      throw new Error(`${this.label}: cancelAuthorization did not go through`);
  }

  async balanceOf(address: Address): Promise<bigint> {
    return this.chain.client.readContract({
      address: this.token.address,
      abi: tokenAbi,
      functionName: "balanceOf",
      args: [address],
    });
  }

  async isUsed(p: SignedAuthorization): Promise<boolean> {
    return this.chain.client.readContract({
      address: this.token.address,
      abi: tokenAbi,
      functionName: "authorizationState",
      args: [p.from, p.nonce],
    });
  }

  /**
   * Runs one attempt that must not move the payer's funds (beyond `allowed`, the legitimate
   * amount the same submission may settle) and returns whether it did anyway: the payer's
   * balance dropped by more than `allowed`, the authorization became used when nothing was
   * allowed, or a router was left holding funds.
   */
  async attempt(
    p: SignedAuthorization,
    run: () => Promise<unknown>,
    allowed = 0n,
  ): Promise<boolean> {
    const before = await this.balanceOf(p.from);
    const usedBefore = await this.isUsed(p);
    this.lastSubmission = undefined;
    await run();
    const after = await this.balanceOf(p.from);
    const usedAfter = await this.isUsed(p);
    const moved = before - after > allowed;
    const consumed = allowed === 0n && !usedBefore && usedAfter;
    const accepted = moved || consumed || (await this.routerHoldsFunds());
    this.refusals.push(accepted ? null : this.refusalFor(p));
    return accepted;
  }

  /** Why the last submission refused `p`: the call's revert, or the router's verdict on p's item. */
  private refusalFor(p: SignedAuthorization): Refusal {
    const last = this.lastSubmission;
    if (!last) return { by: "router", reason: "not_submitted" };
    if (last.kind === "reverted") return last.refusal;
    if (last.kind === "token")
      // A mined direct token call that moved nothing: only a reverted one is a refusal.
      return { by: "token", reason: last.receipt.status === "success" ? "no_effect" : "reverted" };
    let results;
    try {
      results = decodeSettleReceipt({ receipt: last.receipt, router: last.router });
    } catch (error) {
      return refusalOf("router", error);
    }
    const failures = results.filter((r) => r.status === "failure");
    const failure =
      failures.find((r) => r.from.toLowerCase() === p.from.toLowerCase()) ?? failures[0];
    if (!failure) return { by: "router", reason: "no_effect" };
    const decoded =
      failure.itemStatus === "TokenReverted" ? refusalOf("token", failure.revertData) : undefined;
    return {
      by: failure.itemStatus === "TokenReverted" ? "token" : "router",
      reason: failure.reason,
      itemStatus: failure.itemStatus,
      ...(decoded?.error ? { error: decoded.error } : {}),
    };
  }

  /** The refusals recorded since the last call, one per attempt (null: accepted). */
  takeRefusals(): (Refusal | null)[] {
    const taken = this.refusals;
    this.refusals = [];
    return taken;
  }

  async routerHoldsFunds(): Promise<boolean> {
    for (const router of this.routers) if ((await this.balanceOf(router)) !== 0n) return true;
    return false;
  }

  /**
   * Signs a fresh payment and settles it the honest way: true when it moved exactly its value
   * (what must still work after an attack).
   */
  async honestPaymentSettles(): Promise<boolean> {
    try {
      await this.settleHonestly(await this.sign());
      return true;
    } catch {
      return false;
    }
  }

  /** Settles a payment the honest way (through the first router) and checks that it moved. */
  async settleHonestly(p: SignedPayment, options: { router?: Address } = {}): Promise<void> {
    const before = await this.balanceOf(p.from);
    await this.settle([this.item(p)], options);
    const after = await this.balanceOf(p.from);
    if (before - after !== p.value || !(await this.isUsed(p)))
      throw new Error(`${this.label}: the honest settlement of a valid payment did not go through`);
  }
}

/** Accumulates the attempts of one attack. */
export class Tally implements AttackOutcome {
  attempts = 0;
  accepted = 0;
  async add(accepted: Promise<boolean> | boolean): Promise<void> {
    this.attempts += 1;
    if (await accepted) this.accepted += 1;
  }
}

/** `count` payers for a scenario, distinct per token and method. */
export function scenarioPayers(tag: string, count: number): LocalAccount[] {
  return Array.from({ length: count }, (_, i) => benchAccount(`replay-payer:${tag}`, i));
}
