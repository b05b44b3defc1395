/**
 * The SettlementRouter's Permit2 items under attack: a Permit2 nonce reused (same batch, later
 * batch), the `RouterPayment` witness's payee, fee or fee recipient swapped, a deadline passed,
 * another spender (the attacker calling Permit2 itself, a second router), another chain, a
 * ClearingHouse deposit signature replayed on the router, and a token's failed transfer (the
 * USDT-like token's data-less reverts, a token whose failed transfer returns nothing and moves
 * nothing) taken for a payment. Run on the USDT-like token and on USDC. An attempt is accepted
 * when the payer's wallet fell beyond what the submission legitimately settles, a router kept
 * funds, the payee, fee recipient and attacker together gained more than the payer lost, or the
 * router reported the payer's items paid beyond what left the payer's wallet.
 */
import {
  type Address,
  type Hex,
  type TransactionReceipt,
  createWalletClient,
  custom,
  erc20Abi,
} from "viem";
import type { LocalAccount } from "viem/accounts";

import { permit2Abi } from "../../src/abi/permit2.js";
import { settlementRouterAbi } from "../../src/abi/settlementRouter.js";
import { decodePermit2SettleReceipt } from "../../src/batch/permit2Items.js";
import type { BootstrapClient } from "../../src/chain/bootstrap.js";
import { PERMIT2_ADDRESS } from "../../src/chain/base.js";
import { setTetherLikeBlacklisted } from "../../src/chain/tetherLike.js";
import { buildPermit2Deposit } from "../../src/clearing/buildPermit2Deposit.js";
import { signPermit2Deposit } from "../../src/clearing/signPermit2Deposit.js";
import { approvePermit2 } from "../../src/permit2/approve.js";
import {
  buildRouterPermit2Payment,
  encodePermit2Items,
  hashRouterPaymentWitness,
  ROUTER_PAYMENT_WITNESS_TYPE_STRING,
  signRouterPermit2Payment,
  type SignedRouterPermit2Payment,
} from "../../src/permit2/router.js";
import type { NodeWallet } from "../../src/bench/node.js";
import type { BenchToken } from "../../src/bench/tokens.js";
import type { BenchChain } from "../bench/chain.js";
import { refusalOf } from "./clearing.js";
import { deploySilentToken } from "./permit2.js";
import { type AttackOutcome, type Refusal, Tally } from "./scenario.js";

export interface RouterPermit2PaymentOptions {
  payee?: Address;
  amount?: bigint;
  fee?: bigint;
  feeRecipient?: Address;
  router?: Address;
  deadline?: bigint;
  nonce?: bigint;
  chainId?: number;
  token?: Address;
}

type Submission =
  | {
      kind: "settle";
      receipt: TransactionReceipt;
      router: Address;
      items: readonly SignedRouterPermit2Payment[];
    }
  | { kind: "call"; receipt: TransactionReceipt }
  | { kind: "reverted"; refusal: Refusal };

/** One token's SettlementRouter Permit2 scenario. */
export class RouterPermit2Scenario {
  readonly value = 10_000n;
  readonly fee = 100n;
  private nextPayer = 0;
  private readonly approved = new Set<string>();
  private lastSubmission: Submission | undefined;
  private refusals: (Refusal | null)[] = [];

  constructor(
    readonly chain: BenchChain,
    readonly token: BenchToken,
    /** Two independent SettlementRouter instances. */
    readonly routers: readonly [Address, Address],
    /** A ClearingHouse of the run (its deposit signatures are replayed on the router). */
    readonly house: Address,
    /** Submits settlements (an honest relayer, also a ClearingHouse operator). */
    readonly operator: NodeWallet,
    /** A third party with gas and no authority over anyone's funds. */
    readonly attacker: NodeWallet,
    readonly payee: Address,
    readonly feeRecipient: Address,
    private readonly payers: readonly LocalAccount[],
  ) {}

  get label(): string {
    return `${this.token.name}/router-permit2`;
  }

  freshPayer(): LocalAccount {
    const payer = this.payers[this.nextPayer++];
    if (!payer) throw new Error(`scenario ${this.label}: ran out of funded payers`);
    return payer;
  }

  async now(): Promise<bigint> {
    return (await this.chain.client.getBlock()).timestamp;
  }

  async setTime(timestamp: bigint): Promise<void> {
    await this.chain.client.setNextBlockTimestamp({ timestamp });
    await this.chain.client.mine({ blocks: 1 });
  }

  /** The payer's one-time approval of Permit2 (gas given to the payer). */
  async approve(payer: LocalAccount, token: Address = this.token.address): Promise<void> {
    const key = `${payer.address}:${token}`;
    if (this.approved.has(key)) return;
    await this.chain.client.setBalance({ address: payer.address, value: 10n ** 18n });
    const wallet = createWalletClient({
      account: payer,
      chain: this.chain.client.chain,
      transport: custom(this.chain.client),
    });
    await approvePermit2(wallet as never, { token });
    this.approved.add(key);
  }

  /** A router Permit2 payment signed by `payer` through the toolkit. */
  async sign(
    payer: LocalAccount,
    options: RouterPermit2PaymentOptions = {},
  ): Promise<SignedRouterPermit2Payment> {
    return signRouterPermit2Payment(payer, {
      chainId: options.chainId ?? this.chain.info.chainId,
      payment: buildRouterPermit2Payment({
        owner: payer.address,
        token: options.token ?? this.token.address,
        router: options.router ?? this.routers[0],
        payee: options.payee ?? this.payee,
        amount: options.amount ?? this.value,
        fee: options.fee ?? this.fee,
        feeRecipient: options.feeRecipient ?? this.feeRecipient,
        validAfter: 0n,
        deadline: options.deadline ?? (await this.now()) + 3600n,
        ...(options.nonce !== undefined ? { nonce: options.nonce } : {}),
      }),
    });
  }

  /** Calls `settlePermit2` on a router as the relayer; never throws. */
  async settle(
    items: readonly SignedRouterPermit2Payment[],
    options: { router?: Address; feeRecipient?: Address; token?: Address } = {},
  ): Promise<TransactionReceipt | undefined> {
    const router = options.router ?? this.routers[0];
    const request = {
      address: router,
      abi: settlementRouterAbi,
      functionName: "settlePermit2",
      args: [
        options.token ?? this.token.address,
        options.feeRecipient ?? this.feeRecipient,
        encodePermit2Items(items) as Hex,
      ],
    } as const;
    try {
      const gas = await this.chain.client.estimateContractGas({
        ...request,
        account: this.operator.account,
      });
      const hash = await this.operator.writeContract({ ...request, gas: gas + gas / 4n });
      const receipt = await this.chain.client.waitForTransactionReceipt({ hash });
      this.lastSubmission = { kind: "settle", receipt, router, items };
      return receipt;
    } catch (error) {
      this.lastSubmission = { kind: "reverted", refusal: { ...refusalOf(error), by: "router" } };
      return undefined;
    }
  }

  /** Calls Permit2's `permitWitnessTransferFrom` directly as `from`; never throws. */
  async permit2Call(
    from: NodeWallet,
    args: readonly unknown[],
  ): Promise<TransactionReceipt | undefined> {
    const request = {
      address: PERMIT2_ADDRESS,
      abi: permit2Abi,
      functionName: "permitWitnessTransferFrom",
      args,
    } as never;
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
      this.lastSubmission = { kind: "call", receipt };
      return receipt;
    } catch (error) {
      this.lastSubmission = { kind: "reverted", refusal: { ...refusalOf(error), by: "permit2" } };
      return undefined;
    }
  }

  async balanceOf(address: Address, token: Address = this.token.address): Promise<bigint> {
    return this.chain.client.readContract({
      address: token,
      abi: erc20Abi,
      functionName: "balanceOf",
      args: [address],
    });
  }

  /** The items of `payer` the last settlement reported paid, by amount. */
  private reportedPaid(payer: Address): bigint {
    const last = this.lastSubmission;
    if (last?.kind !== "settle") return 0n;
    const results = decodePermit2SettleReceipt({
      receipt: last.receipt,
      router: last.router,
      items: last.items,
    });
    return results.reduce(
      (sum, r, i) =>
        r.status === "success" && r.from.toLowerCase() === payer.toLowerCase()
          ? sum + last.items[i]!.amount
          : sum,
      0n,
    );
  }

  /**
   * Runs one attempt that must not move `payer`'s funds beyond `allowed` and returns whether it
   * did: the payer's wallet fell by more, a router kept funds, the payee, fee recipient and
   * attacker gained more than the payer lost, or the router reported more paid than left the
   * payer's wallet (a failed transfer counted as paid).
   */
  async attempt(
    payer: Address,
    run: () => Promise<unknown>,
    allowed = 0n,
    options: { token?: Address; payee?: Address } = {},
  ): Promise<boolean> {
    const token = options.token ?? this.token.address;
    const receivers = [
      ...new Set([options.payee ?? this.payee, this.feeRecipient, this.attacker.account.address]),
    ];
    const measure = async () => {
      let routers = 0n;
      for (const router of this.routers) routers += await this.balanceOf(router, token);
      let received = 0n;
      for (const r of receivers) received += await this.balanceOf(r, token);
      return { wallet: await this.balanceOf(payer, token), routers, received };
    };
    const before = await measure();
    this.lastSubmission = undefined;
    await run();
    const after = await measure();
    const paid = before.wallet - after.wallet;
    const accepted =
      paid > allowed ||
      after.routers !== 0n ||
      after.received - before.received > (paid > 0n ? paid : 0n) ||
      this.reportedPaid(payer) > paid;
    this.refusals.push(accepted ? null : this.refusalFor(payer));
    return accepted;
  }

  private refusalFor(payer: Address): Refusal {
    const last = this.lastSubmission;
    if (!last) return { by: "router", reason: "not_submitted" };
    if (last.kind === "reverted") return last.refusal;
    if (last.kind === "call") return { by: "permit2", reason: "no_effect" };
    const results = decodePermit2SettleReceipt({
      receipt: last.receipt,
      router: last.router,
      items: last.items,
    });
    const failure = results.findLast(
      (r) => r.status === "failure" && r.from.toLowerCase() === payer.toLowerCase(),
    );
    if (failure?.status !== "failure") return { by: "router", reason: "no_effect" };
    const decoded = refusalOf({ data: failure.revertData });
    return {
      by:
        decoded.by === "permit2"
          ? "permit2"
          : failure.itemStatus === "TokenReverted"
            ? "token"
            : "router",
      reason: failure.reason,
      itemStatus: failure.itemStatus,
      ...(decoded.error ? { error: decoded.error } : {}),
    };
  }

  takeRefusals(): (Refusal | null)[] {
    const taken = this.refusals;
    this.refusals = [];
    return taken;
  }

  /** Settles a payment honestly and checks that exactly its amount left and its parts arrived. */
  async settleHonestly(p: SignedRouterPermit2Payment): Promise<void> {
    const [wallet, payee, fees] = [
      await this.balanceOf(p.owner),
      await this.balanceOf(p.payee),
      await this.balanceOf(p.feeRecipient),
    ];
    await this.settle([p]);
    if (
      wallet - (await this.balanceOf(p.owner)) !== p.amount ||
      (await this.balanceOf(p.payee)) - payee !== p.amount - p.fee ||
      (await this.balanceOf(p.feeRecipient)) - fees !== p.fee
    )
      throw new Error(`${this.label}: the honest Permit2 payment did not settle`);
  }

  /** A fresh payer's valid Permit2 payment settles: what must still work after an attack. */
  async honestPaymentSettles(): Promise<boolean> {
    try {
      const payer = this.freshPayer();
      await this.approve(payer);
      await this.settleHonestly(await this.sign(payer));
      return true;
    } catch {
      return false;
    }
  }
}

export interface RouterPermit2Attack {
  name: string;
  description: string;
  run(s: RouterPermit2Scenario): Promise<AttackOutcome>;
}

/** Permit2's `permitWitnessTransferFrom` arguments for a router payment, paid to `to`. */
function permit2Args(p: SignedRouterPermit2Payment, to: Address): unknown[] {
  return [
    { permitted: { token: p.token, amount: p.amount }, nonce: p.nonce, deadline: p.deadline },
    { to, requestedAmount: p.amount },
    p.owner,
    hashRouterPaymentWitness(p),
    ROUTER_PAYMENT_WITNESS_TYPE_STRING,
    p.signature,
  ];
}

export const ROUTER_PERMIT2_ATTACKS: readonly RouterPermit2Attack[] = [
  {
    name: "router-permit2-nonce-reused",
    description:
      "one Permit2 payment twice in a batch, again in a later batch, and a second payment signed with the same nonce",
    async run(s) {
      const t = new Tally();
      const payer = s.freshPayer();
      await s.approve(payer);
      const p = await s.sign(payer);
      await t.add(s.attempt(payer.address, () => s.settle([p, p]), p.amount));
      await t.add(s.attempt(payer.address, () => s.settle([p])));
      const sameNonce = await s.sign(payer, { nonce: p.nonce, amount: p.amount / 2n });
      await t.add(s.attempt(payer.address, () => s.settle([sameNonce])));
      return t;
    },
  },
  {
    name: "router-permit2-payee-swapped",
    description:
      "a Permit2 payment submitted naming the attacker as payee instead of the signed one",
    async run(s) {
      const t = new Tally();
      const payer = s.freshPayer();
      await s.approve(payer);
      const p = await s.sign(payer);
      await t.add(
        s.attempt(payer.address, () => s.settle([{ ...p, payee: s.attacker.account.address }])),
      );
      await s.settleHonestly(p);
      return t;
    },
  },
  {
    name: "router-permit2-fee-raised",
    description: "a Permit2 payment submitted with a larger fee than the payer signed",
    async run(s) {
      const t = new Tally();
      const payer = s.freshPayer();
      await s.approve(payer);
      const p = await s.sign(payer);
      await t.add(s.attempt(payer.address, () => s.settle([{ ...p, fee: p.fee * 50n }])));
      return t;
    },
  },
  {
    name: "router-permit2-fee-recipient-swapped",
    description:
      "a relayer passing another fee recipient (the attacker) to settlePermit2 than the payer signed",
    async run(s) {
      const t = new Tally();
      const payer = s.freshPayer();
      await s.approve(payer);
      const p = await s.sign(payer);
      await t.add(
        s.attempt(payer.address, () => s.settle([p], { feeRecipient: s.attacker.account.address })),
      );
      return t;
    },
  },
  {
    name: "router-permit2-deadline-passed",
    description:
      "a Permit2 payment whose deadline was already past when signed, and one submitted a second after its deadline",
    async run(s) {
      const t = new Tally();
      const payer = s.freshPayer();
      await s.approve(payer);
      const now = await s.now();
      const past = await s.sign(payer, { deadline: now - 1n });
      await t.add(s.attempt(payer.address, () => s.settle([past])));
      const soon = await s.sign(payer, { deadline: now + 60n });
      await s.setTime(now + 61n);
      await t.add(s.attempt(payer.address, () => s.settle([soon])));
      return t;
    },
  },
  {
    name: "router-permit2-other-spender",
    description:
      "a Permit2 payment signed for the router pulled by the attacker calling Permit2 itself, and one signed for a second router submitted to the first",
    async run(s) {
      const t = new Tally();
      const payer = s.freshPayer();
      await s.approve(payer);
      const p = await s.sign(payer);
      await t.add(
        s.attempt(payer.address, () =>
          s.permit2Call(s.attacker, permit2Args(p, s.attacker.account.address)),
        ),
      );
      const forSecond = await s.sign(payer, { router: s.routers[1] });
      await t.add(
        s.attempt(payer.address, () =>
          s.settle([{ ...forSecond, router: s.routers[0] }], { router: s.routers[0] }),
        ),
      );
      return t;
    },
  },
  {
    name: "router-permit2-other-chain",
    description:
      "a Permit2 payment signed under chain 84532 (Base Sepolia), submitted on this chain",
    async run(s) {
      const t = new Tally();
      const payer = s.freshPayer();
      await s.approve(payer);
      const p = await s.sign(payer, { chainId: 84532 });
      await t.add(s.attempt(payer.address, () => s.settle([p])));
      return t;
    },
  },
  {
    name: "router-permit2-clearing-deposit-signature",
    description:
      "a Permit2 signature the payer gave the ClearingHouse (spender the ClearingHouse, a ClearingDeposit witness) submitted to the router as a payment",
    async run(s) {
      const t = new Tally();
      const payer = s.freshPayer();
      await s.approve(payer);
      const deposit = await signPermit2Deposit(payer, {
        chainId: s.chain.info.chainId,
        deposit: buildPermit2Deposit({
          payer: payer.address,
          clearingHouse: s.house,
          token: s.token.address,
          operator: s.operator.account.address,
          amount: s.value,
          deadline: (await s.now()) + 3600n,
        }),
      });
      const p = await s.sign(payer, { nonce: deposit.nonce, deadline: deposit.deadline, fee: 0n });
      await t.add(
        s.attempt(payer.address, () => s.settle([{ ...p, signature: deposit.signature }])),
      );
      return t;
    },
  },
  {
    name: "router-permit2-failed-transfer-as-paid",
    description:
      "a Permit2 pull the token refuses (more than the balance; USDT-like: without data) or that silently moves nothing (returns nothing) counted as paid, and (USDT-like) a payout the token refuses without data because it froze the router",
    async run(s) {
      const t = new Tally();
      const payer = s.freshPayer();
      await s.approve(payer);
      const tooMuch = await s.sign(payer, { amount: (await s.balanceOf(payer.address)) + 1n });
      await t.add(s.attempt(payer.address, () => s.settle([tooMuch])));
      // A token whose failed transferFrom returns nothing and moves nothing: Permit2 sees success,
      // the router's balance check does not.
      const silent = await deploySilentToken(s);
      await s.approve(payer, silent);
      const hollow = await s.sign(payer, { token: silent, amount: 1_000_000n });
      await t.add(
        s.attempt(payer.address, () => s.settle([hollow], { token: silent }), 0n, {
          token: silent,
        }),
      );
      if (s.token.name === ("TetherLikeToken" as never)) {
        // USDT freezes the router: its payout reverts without data and must not count as paid.
        const p = await s.sign(payer);
        const client = s.chain.client as unknown as BootstrapClient;
        await setTetherLikeBlacklisted(client, { account: s.routers[0], token: s.token.address });
        await t.add(s.attempt(payer.address, () => s.settle([p])));
        await setTetherLikeBlacklisted(client, {
          account: s.routers[0],
          token: s.token.address,
          listed: false,
        });
        await s.settleHonestly(p);
      }
      return t;
    },
  },
];
