import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { expect } from "chai";
import {
  createPublicClient,
  createWalletClient,
  custom,
  encodeFunctionData,
  http,
  keccak256,
  parseSignature,
  parseTransaction,
  type Address,
  type Hex,
  type LocalAccount,
  type PublicClient,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { base as baseChain } from "viem/chains";

import { multicall3Abi } from "../../src/abi/multicall3.js";
import { settlementRouterAbi } from "../../src/abi/settlementRouter.js";
import { encodeItems } from "../../src/batch/encodeItems.js";
import { MULTICALL3_ADDRESS, USDC_ADDRESS } from "../../src/chain/base.js";
import {
  BatchFacilitator,
  type BatchFacilitatorOptions,
} from "../../src/facilitator/facilitator.js";
import { FacilitatorStore, type NewPayment } from "../../src/facilitator/store.js";
import {
  fundedPayers,
  network,
  nonceUsed,
  setAutomine,
  setIntervalMining,
  startLocalBase,
  usdcBalance,
  type LocalBase,
} from "./harness.js";

const transferWithAuthorizationAbi = [
  {
    type: "function",
    name: "transferWithAuthorization",
    stateMutability: "nonpayable",
    inputs: [
      { name: "from", type: "address" },
      { name: "to", type: "address" },
      { name: "value", type: "uint256" },
      { name: "validAfter", type: "uint256" },
      { name: "validBefore", type: "uint256" },
      { name: "nonce", type: "bytes32" },
      { name: "v", type: "uint8" },
      { name: "r", type: "bytes32" },
      { name: "s", type: "bytes32" },
    ],
    outputs: [],
  },
] as const;

interface Signed {
  payer: LocalAccount;
  authorization: {
    from: Address;
    to: Address;
    value: bigint;
    validAfter: bigint;
    validBefore: bigint;
    nonce: Hex;
  };
  signature: Hex;
}

async function sign(
  payer: LocalAccount,
  payee: Address,
  value: bigint,
  options: { nonce?: Hex; name?: string; validBefore?: bigint } = {},
): Promise<Signed> {
  const authorization = {
    from: payer.address,
    to: payee,
    value,
    validAfter: 0n,
    validBefore: options.validBefore ?? BigInt(Math.floor(Date.now() / 1000) + 600),
    nonce: options.nonce ?? (generatePrivateKey() as Hex),
  };
  const signature = await payer.signTypedData({
    domain: {
      name: options.name ?? "USD Coin",
      version: "2",
      chainId: 8453,
      verifyingContract: USDC_ADDRESS,
    },
    types: {
      TransferWithAuthorization: [
        { name: "from", type: "address" },
        { name: "to", type: "address" },
        { name: "value", type: "uint256" },
        { name: "validAfter", type: "uint256" },
        { name: "validBefore", type: "uint256" },
        { name: "nonce", type: "bytes32" },
      ],
    },
    primaryType: "TransferWithAuthorization",
    message: authorization,
  });
  return { payer, authorization, signature };
}

/** A /settle (or /verify) body as the official v2 client sends it. */
function bodyOf(signed: Signed, options: { asset?: Address; name?: string; id?: string } = {}) {
  const a = signed.authorization;
  const requirements = {
    scheme: "exact",
    network: network.v2,
    amount: a.value.toString(),
    asset: options.asset ?? USDC_ADDRESS,
    payTo: a.to,
    maxTimeoutSeconds: 300,
    extra: { name: options.name ?? "USD Coin", version: "2" },
  };
  return {
    x402Version: 2,
    paymentPayload: {
      x402Version: 2,
      accepted: requirements,
      payload: {
        signature: signed.signature,
        authorization: {
          from: a.from,
          to: a.to,
          value: a.value.toString(),
          validAfter: a.validAfter.toString(),
          validBefore: a.validBefore.toString(),
          nonce: a.nonce,
        },
      },
      ...(options.id
        ? { extensions: { "payment-identifier": { info: { required: false, id: options.id } } } }
        : {}),
    },
    paymentRequirements: requirements,
  };
}

function row(signed: Signed, fromBlock: bigint): NewPayment {
  const a = signed.authorization;
  return {
    id: `8453:${USDC_ADDRESS}:${a.from}:${a.nonce}`.toLowerCase(),
    fingerprint: keccak256(signed.signature),
    x402Version: 2,
    network: network.v2,
    token: USDC_ADDRESS,
    payer: a.from,
    payee: a.to,
    value: a.value,
    validAfter: a.validAfter,
    validBefore: a.validBefore,
    nonce: a.nonce,
    signature: signed.signature,
    contractSignature: false,
    fromBlock,
  };
}

type Intercept = (
  method: string,
  params: unknown,
  forward: () => Promise<unknown>,
) => Promise<unknown>;

/** The chain through a fault injector: every request passes `intercept`, which may forward it. */
function faultyClient(base: LocalBase, intercept: Intercept): PublicClient {
  return createPublicClient({
    chain: base.client.chain,
    pollingInterval: 100,
    transport: custom({
      request: ({ method, params }) =>
        intercept(
          method,
          params,
          () => base.client.request({ method, params } as never) as Promise<unknown>,
        ),
    }),
  }) as PublicClient;
}

function newFacilitator(
  base: LocalBase,
  options: Partial<BatchFacilitatorOptions> = {},
): BatchFacilitator {
  return new BatchFacilitator({
    client: base.client,
    relayer: base.relayer,
    network,
    router: base.router,
    store: new FacilitatorStore(":memory:"),
    maxWaitMs: 100,
    pollingIntervalMs: 100,
    ...options,
  });
}

async function until(condition: () => boolean | Promise<boolean>, what: string, ms = 60_000) {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function relayerWallet(base: LocalBase) {
  return createWalletClient({
    account: base.relayer,
    chain: baseChain,
    transport: http(base.rpcUrl),
  });
}

describe("facilitator findings (issue 9), in process", function () {
  let base: LocalBase;
  let dir: string;
  const payee = privateKeyToAccount(generatePrivateKey()).address;

  before(async function () {
    base = await startLocalBase();
    dir = mkdtempSync(path.join(tmpdir(), "facilitator-findings-"));
  });

  after(async function () {
    if (base) await base.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  afterEach(async function () {
    await setAutomine(base);
  });

  it("1: one success answer per payment; verify refuses a held payment; a pending answer's retry gets the outcome", async function () {
    const [payer] = await fundedPayers(base, 1, 100_000n);
    const facilitator = newFacilitator(base, { maxWaitMs: 300 });
    await facilitator.start();
    try {
      const signed = await sign(payer!, payee, 1_000n);
      const body = bodyOf(signed);
      const answers = await Promise.all(
        Array.from({ length: 5 }, async (_, index) => {
          if (index > 0) await new Promise((resolve) => setTimeout(resolve, 20 * index));
          return facilitator.settle(body);
        }),
      );
      const successes = answers.filter((answer) => answer.body.success);
      expect(successes, JSON.stringify(answers)).to.have.length(1);
      for (const answer of answers.filter((a) => !a.body.success)) {
        expect(answer.body.errorReason).to.equal("invalid_exact_evm_nonce_already_used");
      }
      // After mining: still refused, by settle and by verify.
      expect((await facilitator.settle(body)).body.errorReason).to.equal(
        "invalid_exact_evm_nonce_already_used",
      );
      expect((await facilitator.verify(body)).body.invalidReason).to.equal(
        "invalid_exact_evm_nonce_already_used",
      );
      expect(await usdcBalance(base.client, payee)).to.equal(1_000n);

      // Queued (not yet on chain): verify refuses it while it waits.
      const queued = bodyOf(await sign(payer!, payee, 1_000n));
      const settling = facilitator.settle(queued);
      await until(() => facilitator.health().payments.queued > 0, "the payment to be queued");
      expect((await facilitator.verify(queued)).body.invalidReason).to.equal(
        "invalid_exact_evm_nonce_already_used",
      );
      expect((await settling).body.success).to.equal(true);
    } finally {
      await facilitator.close();
    }

    // settlement_pending gives no success: the retry gets it, once.
    const slow = newFacilitator(base, { maxWaitMs: 1_500, settleTimeoutMs: 50 });
    await slow.start();
    try {
      const body = bodyOf(await sign(payer!, payee, 1_000n), { id: "pay_findings_0000001" });
      const first = await slow.settle(body);
      expect(first.body.errorReason).to.equal("settlement_pending");
      await until(() => slow.health().payments.settled === 1, "the payment to settle");
      const retry = await slow.settle(body);
      expect(retry.body.success).to.equal(true);
      // The same identifier again: the same answer; without it: refused.
      expect((await slow.settle(body)).body).to.deep.equal(retry.body);
      const { extensions: _, ...payload } = body.paymentPayload as Record<string, unknown>;
      const copy = { ...body, paymentPayload: payload };
      expect((await slow.settle(copy)).body.errorReason).to.equal(
        "invalid_exact_evm_nonce_already_used",
      );
    } finally {
      await slow.close();
    }
  });

  it("4: refuses free, unfunded, wrong-domain, double-spent, unknown-asset and router-bound payments before any gas is spent", async function () {
    const [payer] = await fundedPayers(base, 1, 1_000n);
    const unfunded = privateKeyToAccount(generatePrivateKey());
    const facilitator = newFacilitator(base, { maxPendingPerPayer: 2, maxWaitMs: 1_500 });
    await facilitator.start();
    const relayerBefore = await base.client.getTransactionCount({ address: base.relayer.address });
    try {
      const zero = await facilitator.settle(bodyOf(await sign(unfunded, payee, 0n)));
      expect(zero.body.success).to.equal(false);
      expect(zero.body.errorReason).to.equal("facilitator_amount_below_minimum");
      const wrongName = bodyOf(await sign(payer!, payee, 1_000n, { name: "USDC" }), {
        name: "USDC",
      });
      expect((await facilitator.verify(wrongName)).body.isValid).to.equal(false);
      expect((await facilitator.settle(wrongName)).body.errorReason).to.equal(
        "invalid_exact_evm_token_name_mismatch",
      );
      const toRouter = await facilitator.settle(bodyOf(await sign(payer!, base.router, 1_000n)));
      expect(toRouter.body.errorReason).to.equal("facilitator_pay_to_router");
      // A token this facilitator does not settle (the router has code and answers anything).
      const fake = await facilitator.verify(
        bodyOf(await sign(payer!, payee, 1_000n), { asset: MULTICALL3_ADDRESS }),
      );
      expect(fake.body.isValid).to.equal(false);

      // One balance of 1,000 backs one queued payment of 1,000, not two.
      const first = facilitator.settle(bodyOf(await sign(payer!, payee, 1_000n)));
      await until(() => facilitator.health().payments.queued === 1, "the first payment queued");
      const second = bodyOf(await sign(payer!, payee, 1_000n));
      expect((await facilitator.verify(second)).body.invalidReason).to.equal(
        "invalid_exact_evm_insufficient_balance",
      );
      const refused = await facilitator.settle(second);
      expect(refused.body.errorReason).to.equal("invalid_exact_evm_insufficient_balance");
      expect((await first).body.success).to.equal(true);
      expect((await usdcBalance(base.client, payee)) >= 1_000n).to.equal(true);
      // One batch, one transaction: the refused payments cost the relayer nothing.
      const relayerAfter = await base.client.getTransactionCount({ address: base.relayer.address });
      expect(relayerAfter - relayerBefore).to.equal(1);
      expect(facilitator.health().wastedGas).to.equal(0);
    } finally {
      await facilitator.close();
    }

    // Pending limits: 429.
    const payers = await fundedPayers(base, 1, 100_000n);
    const limited = newFacilitator(base, { maxPendingPerPayer: 1, maxWaitMs: 1_500 });
    await limited.start();
    try {
      const queued = limited.settle(bodyOf(await sign(payers[0]!, payee, 1_000n)));
      await until(() => limited.health().payments.queued === 1, "a payment queued");
      const over = await limited.settle(bodyOf(await sign(payers[0]!, payee, 1_000n)));
      expect(over.status).to.equal(429);
      expect(over.body.errorReason).to.equal("facilitator_payer_pending_limit");
      expect((await queued).body.success).to.equal(true);
    } finally {
      await limited.close();
    }
  });

  it("2: one Transfer proves one payment: zero-value authorizations reusing nonces settle nothing", async function () {
    const [payer] = await fundedPayers(base, 1, 1_000n);
    const fromBlock = await base.client.getBlockNumber();
    // Three payments of the whole balance accepted while the facilitator was down...
    const payments = await Promise.all([1, 2, 3].map(() => sign(payer!, payee, 1_000n)));
    const dbPath = path.join(dir, "proof.sqlite");
    const before = new FacilitatorStore(dbPath);
    before.insertPayments(payments.map((payment) => row(payment, fromBlock)));
    before.close();
    // ...then front-run in one Multicall3 transaction: the first as signed, the others' nonces
    // used by zero-value authorizations to the same payee.
    const calls = await Promise.all(
      payments.map(async (payment, index) => {
        const signed =
          index === 0
            ? payment
            : await sign(payer!, payee, 0n, { nonce: payment.authorization.nonce });
        const { r, s, v } = parseSignature(signed.signature);
        const a = signed.authorization;
        return {
          target: USDC_ADDRESS,
          allowFailure: false,
          callData: encodeFunctionData({
            abi: transferWithAuthorizationAbi,
            functionName: "transferWithAuthorization",
            args: [a.from, a.to, a.value, a.validAfter, a.validBefore, a.nonce, Number(v), r, s],
          }),
        };
      }),
    );
    const frontRun = await relayerWallet(base).writeContract({
      address: MULTICALL3_ADDRESS,
      abi: multicall3Abi,
      functionName: "aggregate3",
      args: [calls],
    });
    await base.client.waitForTransactionReceipt({ hash: frontRun });
    const store = new FacilitatorStore(dbPath);
    const facilitator = newFacilitator(base, { store });
    await facilitator.start();
    try {
      await until(
        () => facilitator.health().payments.queued + facilitator.health().payments.submitted === 0,
        "reconciliation",
      );
      const [first, ...others] = payments.map((payment) => store.getPayment(row(payment, 0n).id)!);
      expect(first).to.include({ status: "settled", txHash: frontRun });
      for (const other of others) {
        expect(other).to.include({
          status: "failed",
          errorReason: "invalid_exact_evm_nonce_already_used",
        });
      }
    } finally {
      await facilitator.close();
    }
  });

  it("7: start() reconciles orphans; a failed log search is retried, never a verdict; searches stay in bounded ranges", async function () {
    const [alice, bob] = await fundedPayers(base, 2, 100_000n);
    const fromBlock = await base.client.getBlockNumber();
    // Front-run (settled by someone else) and a payment a crash left submitted in an abandoned batch.
    const elsewhere = await sign(alice!, payee, 1_000n);
    const orphan = await sign(bob!, payee, 1_000n);
    const dbPath = path.join(dir, "orphans.sqlite");
    const before = new FacilitatorStore(dbPath);
    before.insertPayments([row(elsewhere, fromBlock), row(orphan, fromBlock)]);
    const batchId = before.recordBatch(
      { txHash: `0x${"00".repeat(32)}`, rawTx: "0x00", relayerNonce: 0 },
      [row(orphan, 0n).id],
    );
    before.closeBatch(batchId, "abandoned");
    before.close();
    const { r, s, v } = parseSignature(elsewhere.signature);
    const a = elsewhere.authorization;
    const frontRun = await relayerWallet(base).writeContract({
      address: USDC_ADDRESS,
      abi: transferWithAuthorizationAbi,
      functionName: "transferWithAuthorization",
      args: [a.from, a.to, a.value, a.validAfter, a.validBefore, a.nonce, Number(v), r, s],
    });
    await base.client.waitForTransactionReceipt({ hash: frontRun });
    // A quiet facilitator: many blocks since the payments were accepted.
    for (let i = 0; i < 40; i++) await base.testClient.request({ method: "evm_mine" } as never);
    // An RPC that refuses log ranges over 10 blocks, and fails the first three log searches.
    let failures = 3;
    let widest = 0n;
    const client = faultyClient(base, async (method, params, forward) => {
      if (method === "eth_getLogs") {
        const [filter] = params as [{ fromBlock: Hex; toBlock: Hex }];
        const width = BigInt(filter.toBlock) - BigInt(filter.fromBlock) + 1n;
        if (width > widest) widest = width;
        if (width > 10n) throw new Error("query exceeds max block range 10");
        if (failures-- > 0) throw new Error("upstream timeout");
      }
      return forward();
    });
    const store = new FacilitatorStore(dbPath);
    const facilitator = newFacilitator(base, { store, client, maxLogBlockRange: 10n });
    await facilitator.start();
    try {
      await until(
        () => facilitator.health().payments.queued + facilitator.health().payments.submitted === 0,
        "reconciliation",
      );
      expect(store.getPayment(row(elsewhere, 0n).id)).to.include({
        status: "settled",
        txHash: frontRun,
      });
      const settledOrphan = store.getPayment(row(orphan, 0n).id)!;
      expect(settledOrphan.status).to.equal("settled");
      expect(await nonceUsed(base.client, bob!.address, orphan.authorization.nonce)).to.equal(true);
      expect(widest <= 10n).to.equal(true);
    } finally {
      await facilitator.close();
    }
  });

  it("5: a receipt counts only for its own hash: a batch replaced by another transaction is reconciled, not answered with its hash", async function () {
    const [alice, bob] = await fundedPayers(base, 2, 100_000n);
    await setIntervalMining(base, 1_000);
    const intruder = await sign(bob!, payee, 1_000n);
    let replaced: Hex | undefined;
    const client = faultyClient(base, async (method, params, forward) => {
      const result = await forward();
      if (method === "eth_sendRawTransaction" && !replaced) {
        const [raw] = params as [Hex];
        const tx = parseTransaction(raw);
        if (tx.to?.toLowerCase() === base.router.toLowerCase()) {
          replaced = keccak256(raw);
          // Someone with the relayer's key replaces it: another router batch at the same nonce.
          const a = intruder.authorization;
          const data = encodeFunctionData({
            abi: settlementRouterAbi,
            functionName: "settle",
            args: [
              USDC_ADDRESS,
              base.relayer.address,
              encodeItems([{ kind: "direct", ...a, signature: intruder.signature }]),
            ],
          });
          const replacement = await base.relayer.signTransaction({
            type: "eip1559",
            chainId: 8453,
            to: base.router,
            data,
            gas: tx.gas,
            nonce: tx.nonce,
            maxFeePerGas: tx.maxFeePerGas! * 3n,
            maxPriorityFeePerGas: tx.maxPriorityFeePerGas! * 3n + 1_000_000n,
          });
          await base.client.request({ method: "eth_sendRawTransaction", params: [replacement] });
        }
      }
      return result;
    });
    const facilitator = newFacilitator(base, { client });
    await facilitator.start();
    try {
      const answer = await facilitator.settle(bodyOf(await sign(alice!, payee, 1_000n)));
      expect(answer.body.success, JSON.stringify(answer.body)).to.equal(true);
      expect(replaced).to.be.a("string");
      expect(answer.body.transaction).to.not.equal(replaced);
      const receipt = await base.client.getTransactionReceipt({
        hash: answer.body.transaction as Hex,
      });
      expect(receipt.status).to.equal("success");
      expect(await nonceUsed(base.client, bob!.address, intruder.authorization.nonce)).to.equal(
        true,
      );
    } finally {
      await facilitator.close();
    }
  });

  it("6: a dropped batch is re-broadcast, then abandoned with its nonce re-read and the gap filled: nothing waits behind it", async function () {
    const [alice, bob] = await fundedPayers(base, 2, 100_000n);
    let swallowed: Hex | undefined;
    const client = faultyClient(base, async (method, params, forward) => {
      if (method === "eth_sendRawTransaction") {
        const [raw] = params as [Hex];
        const tx = parseTransaction(raw);
        if (
          tx.to?.toLowerCase() === base.router.toLowerCase() &&
          (!swallowed || swallowed === raw)
        ) {
          // The node accepts it and loses it (or a load balancer sent it to a node that died).
          swallowed = raw;
          return keccak256(raw);
        }
      }
      return forward();
    });
    const facilitator = newFacilitator(base, { client });
    await facilitator.start();
    try {
      const first = facilitator.settle(bodyOf(await sign(alice!, payee, 1_000n)));
      await until(() => facilitator.health().batchesSent === 1, "the first batch");
      const second = facilitator.settle(bodyOf(await sign(bob!, payee, 1_000n)));
      const answers = await Promise.all([first, second]);
      for (const answer of answers)
        expect(answer.body.success, JSON.stringify(answer.body)).to.equal(true);
      const latest = await base.client.getTransactionCount({ address: base.relayer.address });
      const pending = await base.client.getTransactionCount({
        address: base.relayer.address,
        blockTag: "pending",
      });
      expect(pending).to.equal(latest);
    } finally {
      await facilitator.close();
    }
  });

  it("9: a receipt is trusted only at the configured confirmation depth", async function () {
    const [payer] = await fundedPayers(base, 1, 100_000n);
    const facilitator = newFacilitator(base, { confirmations: 3 });
    await facilitator.start();
    try {
      const settling = facilitator.settle(bodyOf(await sign(payer!, payee, 1_000n)));
      await until(() => facilitator.health().batchesSent === 1, "the batch");
      const latest = await base.client.getBlock();
      const hash = latest.transactions[0] as Hex;
      await base.client.waitForTransactionReceipt({ hash });
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      // Mined once: not yet trusted.
      expect(facilitator.health().payments.submitted).to.equal(1);
      for (let i = 0; i < 2; i++) await base.testClient.request({ method: "evm_mine" } as never);
      const answer = await settling;
      expect(answer.body).to.include({ success: true, transaction: hash });
    } finally {
      await facilitator.close();
    }
  });

  it("3: payers that gain code after verification are evicted before signing; the honest payments beside them settle", async function () {
    const payers = await fundedPayers(base, 8, 100_000n);
    const honest = payers.slice(0, 5);
    const gaining = payers.slice(5);
    const facilitator = newFacilitator(base, { maxWaitMs: 4_000 });
    await facilitator.start();
    try {
      const settling = [...honest, ...gaining].map(async (payer) =>
        facilitator.settle(bodyOf(await sign(payer, payee, 1_000n))),
      );
      await until(() => facilitator.health().payments.queued === payers.length, "all queued");
      // Each gaining payer's account gets code (as an EIP-7702 delegation gives it) while its
      // payment waits for the batch: code that burns all the gas it is given (JUMPDEST PUSH1 0 JUMP).
      for (const payer of gaining) {
        await base.testClient.setCode({ address: payer.address, bytecode: "0x5b600056" });
      }
      const answers = await Promise.all(settling);
      answers
        .slice(0, honest.length)
        .forEach((answer) =>
          expect(answer.body.success, JSON.stringify(answer.body)).to.equal(true),
        );
      answers.slice(honest.length).forEach((answer) => expect(answer.body.success).to.equal(false));
      expect(facilitator.health().wastedGas).to.equal(0);
    } finally {
      await facilitator.close();
    }
  });
});
