/**
 * The ClearingHouse's Permit2 deposits under attack: a Permit2 nonce reused (its bitmap), the
 * witness's operator or voucher signer swapped, the amount raised, a deadline passed, another
 * spender (a second ClearingHouse, the attacker calling Permit2 itself), another chain, a
 * router-bound signature replayed on the ClearingHouse, and a token's failed, non-returning
 * transfer taken for a payment. Run on the USDT-like token and on USDC. An attempt is accepted
 * when the payer's account, wallet or a ClearingHouse lost funds it must not have, or an account
 * was credited more than its ClearingHouse received.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import { type Address, type Hex, parseAbi, type TransactionReceipt, zeroAddress } from "viem";
import type { LocalAccount } from "viem/accounts";

import { permit2Abi } from "../../src/abi/permit2.js";
import { buildPermit2Deposit } from "../../src/clearing/buildPermit2Deposit.js";
import { encodePermit2Deposits } from "../../src/clearing/encodePermit2Deposits.js";
import { permit2DepositWitness } from "../../src/clearing/permit2DepositWitness.js";
import { signPermit2Deposit } from "../../src/clearing/signPermit2Deposit.js";
import type { SignedPermit2Deposit } from "../../src/clearing/types.js";
import { PERMIT2_ADDRESS } from "../../src/chain/base.js";
import type { BootstrapClient } from "../../src/chain/bootstrap.js";
import { setTetherLikeBlacklisted } from "../../src/chain/tetherLike.js";
import { approvePermit2 } from "../../src/permit2/approve.js";
import { buildRouterPermit2Payment, signRouterPermit2Payment } from "../../src/permit2/router.js";
import { hashPermit2Witness, permit2WitnessTypeString } from "../../src/permit2/typedData.js";
import type { NodeWallet } from "../../src/bench/node.js";
import { ClearingScenario, refusalOf } from "./clearing.js";
import { type AttackOutcome, type ReplayMethod, Tally } from "./scenario.js";

export interface Permit2DepositOptions {
  operator?: Address;
  voucherSigner?: Address;
  amount?: bigint;
  house?: Address;
  deadline?: bigint;
  nonce?: bigint;
  chainId?: number;
  token?: Address;
}

/** A ClearingScenario whose accounts are opened by Permit2 deposits (the token may lack EIP-3009). */
export class Permit2ClearingScenario extends ClearingScenario {
  private readonly approved = new Set<string>();
  /** A SettlementRouter of the run: the spender of router-bound Permit2 signatures. */
  router: Address = zeroAddress;

  override get method(): ReplayMethod {
    return "clearing-permit2";
  }

  override get label(): string {
    return `${this.token.name}/clearing-permit2`;
  }

  /** The payer's one-time on-chain approval of Permit2 (the payer pays its gas). */
  async approve(payer: LocalAccount, token: Address = this.token.address): Promise<void> {
    if (this.approved.has(`${payer.address}:${token}`)) return;
    await approvePermit2(await this.payerWallet(payer), { token });
    this.approved.add(`${payer.address}:${token}`);
  }

  /** A Permit2 deposit into (payer, operator, token) of `house`, signed by the payer. */
  async signPermit2(
    payer: LocalAccount,
    options: Permit2DepositOptions = {},
  ): Promise<SignedPermit2Deposit> {
    return signPermit2Deposit(payer, {
      chainId: options.chainId ?? this.chain.info.chainId,
      deposit: buildPermit2Deposit({
        payer: payer.address,
        clearingHouse: options.house ?? this.houses[0],
        token: options.token ?? this.token.address,
        operator: options.operator ?? this.operator.account.address,
        voucherSigner: options.voucherSigner,
        amount: options.amount ?? this.deposit,
        deadline: options.deadline ?? (await this.now()) + 3600n,
        nonce: options.nonce,
      }),
    });
  }

  /** Submits Permit2 deposits (or packed items) to `house`; never throws. */
  async submitPermit2(
    deposits: readonly SignedPermit2Deposit[] | Hex,
    options: { house?: Address; token?: Address } = {},
  ): Promise<TransactionReceipt | undefined> {
    const token = options.token ?? this.token.address;
    const items =
      typeof deposits === "string" ? deposits : encodePermit2Deposits({ token, deposits });
    return this.send(
      options.house ?? this.houses[0],
      "depositWithPermit2",
      [token, items],
      "deposit",
    );
  }

  override async openAccount(payer: LocalAccount = this.freshPayer()): Promise<LocalAccount> {
    await this.approve(payer);
    await this.submitPermit2([await this.signPermit2(payer)]);
    if ((await this.accountBalance(payer.address)) !== this.deposit)
      throw new Error(`${this.label}: the honest Permit2 deposit did not credit the account`);
    return payer;
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
}

export interface Permit2Attack {
  name: string;
  description: string;
  run(s: Permit2ClearingScenario): Promise<AttackOutcome>;
}

const silentTokenAbi = parseAbi([
  "function mint(address to, uint256 value)",
  "function approve(address spender, uint256 value)",
]);

/** Deploys the test-only SilentFailToken (a failed transfer neither reverts nor moves). */
export async function deploySilentToken(s: {
  chain: Permit2ClearingScenario["chain"];
  operator: NodeWallet;
}): Promise<Address> {
  const file = fileURLToPath(
    new URL(
      "../../artifacts/contracts/test/mocks/SilentFailToken.sol/SilentFailToken.json",
      import.meta.url,
    ),
  );
  const { abi, bytecode } = JSON.parse(readFileSync(file, "utf8")) as { abi: never; bytecode: Hex };
  const hash = await s.operator.deployContract({ abi, bytecode, args: [] } as never);
  const receipt = await s.chain.client.waitForTransactionReceipt({ hash });
  if (!receipt.contractAddress) throw new Error("deploying SilentFailToken failed");
  return receipt.contractAddress;
}

export const PERMIT2_ATTACKS: readonly Permit2Attack[] = [
  {
    name: "permit2-nonce-reused",
    description:
      "one Permit2 deposit twice in a batch, again in a later batch, and a second permit signed with the same nonce (Permit2's bitmap)",
    async run(s) {
      const t = new Tally();
      const payer = s.freshPayer();
      await s.approve(payer);
      const d = await s.signPermit2(payer);
      await t.add(s.attempt(payer.address, () => s.submitPermit2([d, d]), d.amount));
      await t.add(s.attempt(payer.address, () => s.submitPermit2([d])));
      const sameNonce = await s.signPermit2(payer, { nonce: d.nonce, amount: d.amount / 2n });
      await t.add(s.attempt(payer.address, () => s.submitPermit2([sameNonce])));
      return t;
    },
  },
  {
    name: "permit2-witness-swapped",
    description:
      "a Permit2 deposit submitted naming another operator (the attacker) or another voucher signer than its witness binds",
    async run(s) {
      const t = new Tally();
      const payer = s.freshPayer();
      await s.approve(payer);
      const d = await s.signPermit2(payer);
      const attacker = s.attacker.account.address;
      await t.add(s.attempt(payer.address, () => s.submitPermit2([{ ...d, operator: attacker }])));
      await t.add(
        s.attempt(payer.address, () => s.submitPermit2([{ ...d, voucherSigner: attacker }])),
      );
      await s.submitPermit2([d]);
      if ((await s.accountBalance(payer.address)) !== d.amount)
        throw new Error(
          `${s.label}: the deposit did not credit its own witness after the attempts`,
        );
      return t;
    },
  },
  {
    name: "permit2-amount-raised",
    description: "a Permit2 deposit submitted with a larger amount than the payer signed",
    async run(s) {
      const t = new Tally();
      const payer = s.freshPayer();
      await s.approve(payer);
      const d = await s.signPermit2(payer);
      await t.add(
        s.attempt(payer.address, () => s.submitPermit2([{ ...d, amount: d.amount * 5n }])),
      );
      return t;
    },
  },
  {
    name: "permit2-deadline-passed",
    description:
      "a Permit2 deposit whose deadline was already past when signed, and one submitted a second after its deadline",
    async run(s) {
      const t = new Tally();
      const payer = s.freshPayer();
      await s.approve(payer);
      const now = await s.now();
      const past = await s.signPermit2(payer, { deadline: now - 1n });
      await t.add(s.attempt(payer.address, () => s.submitPermit2([past])));
      const soon = await s.signPermit2(payer, { deadline: now + 60n });
      await s.setTime(now + 61n);
      await t.add(s.attempt(payer.address, () => s.submitPermit2([soon])));
      return t;
    },
  },
  {
    name: "permit2-other-spender",
    description:
      "a Permit2 deposit signed for a second ClearingHouse submitted to the first, and one pulled by the attacker calling Permit2 itself",
    async run(s) {
      const t = new Tally();
      const payer = s.freshPayer();
      await s.approve(payer);
      const forSecond = await s.signPermit2(payer, { house: s.houses[1] });
      await t.add(s.attempt(payer.address, () => s.submitPermit2([forSecond])));
      const d = await s.signPermit2(payer);
      const witness = permit2DepositWitness(d);
      await t.add(
        s.attempt(payer.address, () =>
          s.permit2Call(s.attacker, [
            {
              permitted: { token: d.token, amount: d.amount },
              nonce: d.nonce,
              deadline: d.deadline,
            },
            { to: s.attacker.account.address, requestedAmount: d.amount },
            d.payer,
            hashPermit2Witness(witness),
            permit2WitnessTypeString(witness),
            d.signature,
          ]),
        ),
      );
      return t;
    },
  },
  {
    name: "permit2-other-chain",
    description:
      "a Permit2 deposit signed under chain 84532 (Base Sepolia), submitted on this chain",
    async run(s) {
      const t = new Tally();
      const payer = s.freshPayer();
      await s.approve(payer);
      const d = await s.signPermit2(payer, { chainId: 84532 });
      await t.add(s.attempt(payer.address, () => s.submitPermit2([d])));
      return t;
    },
  },
  {
    name: "permit2-router-signature-on-clearing-house",
    description:
      "a Permit2 signature the payer gave the SettlementRouter (spender the router, its `RouterPayment` witness) submitted to the ClearingHouse as a deposit",
    async run(s) {
      const t = new Tally();
      const payer = s.freshPayer();
      await s.approve(payer);
      const d = await s.signPermit2(payer);
      const { signature: routerSignature } = await signRouterPermit2Payment(payer, {
        chainId: s.chain.info.chainId,
        payment: buildRouterPermit2Payment({
          owner: payer.address,
          token: d.token,
          router: s.router,
          payee: s.payee,
          amount: d.amount,
          feeRecipient: s.operator.account.address,
          validAfter: 0n,
          deadline: d.deadline,
          nonce: d.nonce,
        }),
      });
      await t.add(
        s.attempt(payer.address, () => s.submitPermit2([{ ...d, signature: routerSignature }])),
      );
      return t;
    },
  },
  {
    name: "permit2-failed-transfer-as-paid",
    description:
      "a token transfer that fails without data (USDT-like: more than the balance) or silently (returns nothing, moves nothing) counted as a deposit, and a payout the token refuses without data counted as paid",
    async run(s) {
      const t = new Tally();
      const payer = s.freshPayer();
      await s.approve(payer);
      // More than the wallet holds: the token reverts (USDT: without data), Permit2 reports it.
      const tooMuch = await s.signPermit2(payer, {
        amount: (await s.tokenBalance(payer.address)) + 1n,
      });
      await t.add(s.attempt(payer.address, () => s.submitPermit2([tooMuch])));
      // A token whose failed transferFrom returns nothing and moves nothing: Permit2 sees success.
      const silent = await deploySilentToken(s);
      const mint = await s.operator.writeContract({
        address: silent,
        abi: silentTokenAbi,
        functionName: "mint",
        args: [payer.address, 1_000n],
      } as never);
      await s.chain.client.waitForTransactionReceipt({ hash: mint });
      await s.approve(payer, silent);
      const hollow = await s.signPermit2(payer, { token: silent, amount: 1_000_000n });
      await t.add(
        s.attempt(payer.address, () => s.submitPermit2([hollow], { token: silent }), 0n, {
          token: silent,
        }),
      );
      if (s.token.name === ("TetherLikeToken" as never)) {
        // USDT freezes the ClearingHouse: the payout reverts without data and must not count.
        const holder = await s.openAccount();
        const voucher = await s.voucher(holder);
        await setTetherLikeBlacklisted(s.chain.client as unknown as BootstrapClient, {
          account: s.houses[0],
          token: s.token.address,
        });
        await t.add(s.attempt(holder.address, () => s.clear([voucher])));
        await setTetherLikeBlacklisted(s.chain.client as unknown as BootstrapClient, {
          account: s.houses[0],
          token: s.token.address,
          listed: false,
        });
        await s.clearHonestly(voucher, s.value + s.fee);
      }
      return t;
    },
  },
];
