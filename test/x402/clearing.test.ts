import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

import type { PaymentRequirements } from "@x402/core/types";
import { expect } from "chai";
import {
  type Address,
  type Hex,
  createPublicClient,
  custom,
  getAddress,
  keccak256,
  toHex,
  zeroAddress,
} from "viem";
import { base } from "viem/chains";
import { privateKeyToAccount } from "viem/accounts";

import { computeDepositNonce } from "../../src/clearing/computeDepositNonce.js";
import { computeVoucherFee } from "../../src/clearing/computeVoucherFee.js";
import { getClearingHouseDomain } from "../../src/clearing/getClearingHouseDomain.js";
import { getDomainSeparator } from "../../src/clearing/getDomainSeparator.js";
import { getVoucherTypedData } from "../../src/clearing/getVoucherTypedData.js";
import { createMemoryLedgerStore } from "../../src/clearing/ledgerStore.js";
import { OperatorLedger } from "../../src/clearing/OperatorLedger.js";
import { signVoucher } from "../../src/clearing/signVoucher.js";
import type { SignedDepositAuthorization, SignedVoucher } from "../../src/clearing/types.js";
import { verifyPermit2Deposit } from "../../src/clearing/verifyPermit2Deposit.js";
import { verifyVoucher } from "../../src/clearing/verifyVoucher.js";
import {
  ClearingClientScheme,
  type ClearingClientSchemeOptions,
} from "../../src/x402/clearing/ClearingClientScheme.js";
import { ClearingServerScheme } from "../../src/x402/clearing/ClearingServerScheme.js";
import {
  ClearingClientError,
  InvalidClearingPayloadError,
} from "../../src/x402/clearing/errors.js";
import {
  type ClearingPayload,
  decodeClearingPayload,
  encodeClearingPayload,
  encodePairState,
} from "../../src/x402/clearing/payload.js";
import { createVoucherSigner } from "../../src/x402/clearing/voucherSigner.js";
import { FileVoucherStore } from "../../src/x402/clearing/voucherStore.js";

const keyOf = (label: string): Hex => keccak256(toHex(`x402-clearing:x402-clearing-test:${label}`));
const PAYER_KEY = keyOf("payer");
const payer = privateKeyToAccount(PAYER_KEY);
const stranger = privateKeyToAccount(keyOf("stranger"));
const payee = privateKeyToAccount(keyOf("payee")).address;
const otherPayee = privateKeyToAccount(keyOf("payee-2")).address;
const operator = privateKeyToAccount(keyOf("operator")).address;
const clearingHouse = getAddress("0x000000000000000000000000000000000000c1ea");
const USDC = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913" as Address;
const domain = getClearingHouseDomain({ chainId: 8453, clearingHouse });
const separator = getDomainSeparator(domain);
const PRICE = 1_000n;
const BPS = 100;

function requirements(
  overrides: Partial<PaymentRequirements> = {},
  extra = {},
): PaymentRequirements {
  return {
    scheme: "clearing",
    network: "eip155:8453",
    amount: PRICE.toString(),
    asset: USDC,
    payTo: payee,
    maxTimeoutSeconds: 300,
    ...overrides,
    extra: {
      name: "USD Coin",
      version: "2",
      clearingHouse,
      operator,
      feeBasisPoints: BPS,
      withdrawalDelay: 3_600,
      ...extra,
    },
  };
}

/** The payload's deposit, which must be an EIP-3009 one. */
function eip3009(deposit: ClearingPayload["deposit"]): SignedDepositAuthorization {
  if (deposit?.kind !== "deposit")
    throw new Error(`expected an EIP-3009 deposit, got ${deposit?.kind}`);
  return deposit;
}

function newClient(options: Partial<ClearingClientSchemeOptions> = {}) {
  return new ClearingClientScheme({ signer: PAYER_KEY, deposit: { payments: 100 }, ...options });
}

async function pay(client: ClearingClientScheme, req = requirements()): Promise<ClearingPayload> {
  const result = await client.createPaymentPayload(2, req);
  return decodeClearingPayload(result.payload);
}

/** What the x402 HTTP client hands the scheme's hook after a paid request. */
function respond(
  client: ClearingClientScheme,
  payload: ClearingPayload,
  answer: { success: boolean; errorReason?: string; extra?: Record<string, unknown> },
  req = requirements(),
) {
  return client.schemeHooks.onPaymentResponse!({
    paymentPayload: { x402Version: 2, accepted: req, payload: toWire(payload) },
    requirements: req,
    settleResponse: { ...answer, transaction: "", network: "eip155:8453" },
  });
}

function toWire(payload: ClearingPayload): Record<string, unknown> {
  return encodeClearingPayload(payload);
}

/** The operator's ledger (the facilitator's verify path), with the payer's account deposited. */
function newLedger(balance = 10_000_000n) {
  const ledger = new OperatorLedger({
    clearingHouse,
    chainId: 8453,
    operator,
    tokens: [USDC],
    fee: { basisPoints: BPS },
    store: createMemoryLedgerStore(),
  });
  ledger.setAccount({
    payer: payer.address,
    token: USDC,
    balance,
    voucherSigner: zeroAddress,
    withdrawalDelay: 3_600,
    withdrawalAmount: 0n,
    withdrawalReadyAt: 0,
  });
  return ledger;
}

function shuffle<T>(items: T[], seed = 7): T[] {
  const out = [...items];
  let state = seed;
  for (let i = out.length - 1; i > 0; i--) {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    const j = state % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function pairOf(voucher: SignedVoucher | null, charged = 0n) {
  return encodePairState({
    payer: payer.address,
    charged,
    cumulativeValue: voucher?.cumulativeValue ?? 0n,
    cumulativeFee: voucher?.cumulativeFee ?? 0n,
    voucher,
  });
}

async function ownVoucher(value: bigint, signer = payer): Promise<SignedVoucher> {
  return signVoucher(signer, {
    domain,
    voucher: {
      payer: payer.address,
      payee,
      token: USDC,
      operator,
      cumulativeValue: value,
      cumulativeFee: computeVoucherFee({ basisPoints: BPS }, value),
    },
  });
}

describe("x402 clearing scheme: client", function () {
  it("first payment carries a deposit to the ClearingHouse and the first voucher; later ones only the next cumulative", async function () {
    const client = newClient();
    const first = await pay(client);
    expect(first.voucher).to.include({
      payer: payer.address,
      payee,
      token: USDC,
      operator,
      cumulativeValue: PRICE,
      cumulativeFee: 10n,
    });
    const { signature, ...fields } = first.voucher;
    expect(verifyVoucher({ domainSeparator: separator, voucher: fields, signature })).to.deep.equal(
      {
        valid: true,
        signer: payer.address,
      },
    );
    const deposit = eip3009(first.deposit);
    expect(deposit.from).to.equal(payer.address);
    expect(deposit.to).to.equal(clearingHouse);
    // 100 payments of 1,000 plus the operator's 1% on them.
    expect(deposit.value).to.equal(101_000n);
    expect(deposit.voucherSigner).to.equal(zeroAddress);
    expect(deposit.nonce).to.equal(
      computeDepositNonce({ operator, voucherSigner: zeroAddress, salt: deposit.salt }),
    );
    await respond(client, first, { success: true });

    const second = await pay(client);
    expect(second.deposit).to.equal(undefined);
    expect(second.voucher.cumulativeValue).to.equal(2n * PRICE);
    expect(second.voucher.cumulativeFee).to.equal(20n);
    // Another payee under the same operator: its own pair from zero, the account's deposit.
    const other = await pay(client, requirements({ payTo: otherPayee }));
    expect(other.deposit).to.equal(undefined);
    expect(other.voucher.cumulativeValue).to.equal(PRICE);
  });

  it("signs natively with a private key the same signature viem signs; an account signs its digest", async function () {
    const native = createVoucherSigner(PAYER_KEY);
    const digest = createVoucherSigner(payer);
    expect(native.path).to.equal("native");
    expect(digest.path).to.equal("digest");
    const voucher = {
      payer: payer.address,
      payee,
      token: USDC,
      operator,
      cumulativeValue: 123_456n,
      cumulativeFee: 1_234n,
    };
    const expected = await payer.signTypedData(getVoucherTypedData({ domain, voucher }));
    expect(await native.sign({ domain, domainSeparator: separator, voucher })).to.equal(expected);
    expect(await digest.sign({ domain, domainSeparator: separator, voucher })).to.equal(expected);
  });

  it("50 concurrent payments to one payee reserve 50 distinct cumulatives, and the ledger accepts them in any order, each charged once", async function () {
    const client = newClient();
    await respond(client, await pay(client), { success: true });
    const payloads = await Promise.all(Array.from({ length: 50 }, () => pay(client)));
    const values = payloads.map((p) => p.voucher.cumulativeValue).sort((a, b) => (a < b ? -1 : 1));
    expect(values).to.deep.equal(Array.from({ length: 50 }, (_, i) => BigInt(i + 2) * PRICE));
    expect(payloads.filter((p) => p.deposit)).to.have.length(0);

    const ledger = newLedger();
    const results = await Promise.all(
      shuffle(payloads).map((p) => ledger.accept({ voucher: p.voucher, price: PRICE, payee })),
    );
    expect(results.filter((r) => !r.accepted)).to.deep.equal([]);
    const pair = ledger.getPair({ payer: payer.address, payee, token: USDC })!;
    expect(pair.chargedValue).to.equal(50n * PRICE);
    expect(pair.best!.cumulativeValue).to.equal(51n * PRICE);
  });

  it("concurrent first payments: one carries the deposit, the rest wait for its answer and carry none", async function () {
    const client = newClient();
    const pending = Array.from({ length: 10 }, () => pay(client));
    // The first resolves at once; the others wait for the deposit's answer.
    const first = await Promise.race(pending);
    expect(first.deposit).to.not.equal(undefined);
    await respond(client, first, { success: true });
    const all = await Promise.all(pending);
    expect(all.filter((p) => p.deposit)).to.have.length(1);
    expect(new Set(all.map((p) => p.voucher.cumulativeValue)).size).to.equal(10);
  });

  it("a refused deposit is not counted: the next payment carries a deposit again", async function () {
    const client = newClient();
    const first = await pay(client);
    const recovered = await respond(client, first, {
      success: false,
      errorReason: "clearing_deposit_failed",
    });
    expect(recovered).to.deep.equal({ recovered: true });
    const again = await pay(client);
    expect(eip3009(again.deposit).value).to.equal(101_000n);
  });

  it("tops the account up when the balance it knows of runs short", async function () {
    const client = newClient({ deposit: { amount: 2_500n } });
    const first = await pay(client);
    expect(eip3009(first.deposit).value).to.equal(2_500n);
    await respond(client, first, { success: true });
    // 1,010 then 2,020 committed of 2,500: the third payment (3,030) needs a top-up.
    expect((await pay(client)).deposit).to.equal(undefined);
    const third = await pay(client);
    expect(eip3009(third.deposit).value).to.equal(2_500n);
    expect(third.voucher.cumulativeValue).to.equal(3n * PRICE);
  });

  it("recovers from the pair's voucher when it is the payer's own, and resumes one price above it", async function () {
    const ledger = newLedger();
    const before = newClient();
    const opening = await pay(before);
    expect(
      (await ledger.accept({ voucher: opening.voucher, price: PRICE, payee })).accepted,
    ).to.equal(true);
    await respond(before, opening, { success: true });
    for (let i = 0; i < 9; i++) {
      const p = await pay(before);
      expect((await ledger.accept({ voucher: p.voucher, price: PRICE, payee })).accepted).to.equal(
        true,
      );
    }
    // The client restarts with an empty store: its first voucher is refused by the ledger...
    const after = newClient();
    const stale = await pay(after);
    const refused = await ledger.accept({ voucher: stale.voucher, price: PRICE, payee });
    expect(refused).to.include({ accepted: false, reason: "voucher_already_accepted" });
    const best = ledger.getPair({ payer: payer.address, payee, token: USDC })!.best!;
    // ...and the refusal carries the pair: the client checks its own signature and resumes.
    const recovered = await respond(after, stale, {
      success: false,
      errorReason: "clearing_voucher_already_accepted",
      extra: { pair: pairOf(best, 9n * PRICE) },
    });
    expect(recovered).to.deep.equal({ recovered: true });
    const next = await pay(after);
    expect(next.deposit).to.equal(undefined);
    expect(next.voucher.cumulativeValue).to.equal(best.cumulativeValue + PRICE);
    expect((await ledger.accept({ voucher: next.voucher, price: PRICE, payee })).accepted).to.equal(
      true,
    );
  });

  it("a 402's extra.pair is read before signing", async function () {
    const client = newClient();
    const best = await ownVoucher(40n * PRICE);
    const p = await pay(client, requirements({}, { pair: pairOf(best) }));
    expect(p.voucher.cumulativeValue).to.equal(41n * PRICE);
  });

  it("refuses a forged, foreign or tampered pair voucher, and ignores unproven totals: it never signs more than the price above what it proved", async function () {
    const client = newClient();
    await respond(client, await pay(client), { success: true });
    // A voucher for the payer signed by a stranger.
    const foreign = await ownVoucher(500n * PRICE, stranger);
    // The payer's own voucher, its value raised after signing.
    const genuine = await ownVoucher(3n * PRICE);
    const tampered = { ...genuine, cumulativeValue: 900n * PRICE, cumulativeFee: 9n * 900n * 10n };
    tampered.cumulativeFee = computeVoucherFee({ basisPoints: BPS }, tampered.cumulativeValue);
    // The payer's own voucher for another payee, offered for this one.
    const elsewhere = await signVoucher(payer, {
      domain,
      voucher: {
        ...genuine,
        payee: otherPayee,
        cumulativeValue: 700n * PRICE,
        cumulativeFee: 7_000n,
      },
    });
    for (const voucher of [foreign, tampered, { ...elsewhere, payee }]) {
      const p = await pay(client, requirements({}, { pair: pairOf(voucher, 800n * PRICE) }));
      const answer = await respond(client, p, {
        success: false,
        errorReason: "clearing_cumulative_too_low",
        extra: { pair: pairOf(voucher, 800n * PRICE) },
      });
      expect(answer).to.equal(undefined);
    }
    // Unproven totals alone (no voucher) move nothing.
    const bare = {
      payer: payer.address,
      charged: "999000",
      cumulativeValue: "999000",
      cumulativeFee: "9990",
      voucher: null,
    };
    const last = await pay(client, requirements({}, { pair: bare }));
    // One initial payment, three refused rounds, then this one: each exactly one price up.
    expect(last.voucher.cumulativeValue).to.equal(5n * PRICE);
    // The genuine voucher (3 prices) is below what the client holds: it changes nothing either.
    const again = await pay(client, requirements({}, { pair: pairOf(genuine) }));
    expect(again.voucher.cumulativeValue).to.equal(6n * PRICE);
  });

  it("refuses requirements it cannot or will not pay, naming the field", async function () {
    const client = newClient({ trust: { operators: [operator], maxPrice: 10_000n } });
    const cases: [PaymentRequirements, string, string][] = [
      [requirements({ scheme: "exact" }), "invalid_requirements", "scheme"],
      [requirements({ network: "eip155:1" }), "invalid_requirements", "network"],
      [requirements({ payTo: "0x1234" }), "invalid_requirements", "payTo"],
      [requirements({ amount: "0" }), "invalid_requirements", "amount"],
      [requirements({ amount: "1.5" }), "invalid_requirements", "amount"],
      [
        requirements({}, { clearingHouse: undefined }),
        "invalid_requirements",
        "extra.clearingHouse",
      ],
      [
        requirements({}, { feeBasisPoints: 10_001 }),
        "invalid_requirements",
        "extra.feeBasisPoints",
      ],
      [requirements({}, { feeBasisPoints: 101 }), "untrusted_terms", "extra.feeBasisPoints"],
      [requirements({}, { withdrawalDelay: 0 }), "invalid_requirements", "extra.withdrawalDelay"],
      [
        requirements({}, { withdrawalDelay: 30 * 86_400 }),
        "untrusted_terms",
        "extra.withdrawalDelay",
      ],
      [requirements({}, { operator: payee }), "untrusted_terms", "extra.operator"],
      [requirements({ amount: "10001" }), "untrusted_terms", "amount"],
      [requirements({}, { name: undefined }), "invalid_requirements", "extra.name"],
    ];
    for (const [req, reason, field] of cases) {
      const error = await client.createPaymentPayload(2, req).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, field).to.be.instanceOf(ClearingClientError);
      expect((error as ClearingClientError).reason, field).to.equal(reason);
      expect((error as ClearingClientError).field).to.equal(field);
    }
    const capped = await client
      .createPaymentPayload(2, requirements(), { maxAmountPerPayment: "999" })
      .catch((e: unknown) => e);
    expect((capped as ClearingClientError).reason).to.equal("untrusted_terms");
    // Nothing was reserved by the refusals.
    expect((await pay(client)).voucher.cumulativeValue).to.equal(PRICE);
  });

  it("pays a Permit2 asset with a Permit2 deposit (spender the ClearingHouse, witness the operator), checked offline and round-tripped on the wire", async function () {
    const usdt = getAddress("0x00000000000000000000000000000000000057d7");
    for (const req of [
      requirements(
        { asset: usdt },
        { assetTransferMethod: "permit2", name: undefined, version: undefined },
      ),
      // No EIP-3009 domain in the requirements: Permit2 too.
      requirements({ asset: usdt }, { name: undefined, version: undefined }),
    ]) {
      const client = newClient();
      const raw = (await client.createPaymentPayload(2, req)).payload as Record<string, unknown>;
      const first = decodeClearingPayload(raw);
      expect(encodeClearingPayload(first)).to.deep.equal(raw);
      const deposit = first.deposit;
      if (deposit?.kind !== "permit2-deposit") throw new Error(`got ${deposit?.kind}`);
      expect(deposit).to.deep.include({
        payer: payer.address,
        clearingHouse,
        token: usdt,
        operator,
        voucherSigner: zeroAddress,
        amount: 101_000n,
      });
      expect(verifyPermit2Deposit({ chainId: 8453, deposit })).to.deep.include({ valid: true });
      // The witness binds the operator: another one does not verify.
      expect(
        verifyPermit2Deposit({ chainId: 8453, deposit: { ...deposit, operator: payee } }).valid,
      ).to.equal(false);
      expect(first.voucher.token).to.equal(usdt);
      await respond(client, first, { success: true }, req);
      expect((await pay(client, req)).deposit).to.equal(undefined);
    }
    // A malformed Permit2 deposit on the wire names its field.
    const good = encodeClearingPayload(
      await pay(newClient(), requirements({ asset: usdt }, { assetTransferMethod: "permit2" })),
    ) as { deposit: { permit2Authorization: Record<string, unknown> } };
    const bad = structuredClone(good);
    bad.deposit.permit2Authorization.deadline = String(1n << 48n);
    expect(() => decodeClearingPayload(bad)).to.throw(InvalidClearingPayloadError, "deadline");
  });

  it("refuses a Permit2 deposit the payer's allowance to Permit2 does not cover (approvePermit2 named), reserving nothing", async function () {
    const usdt = getAddress("0x00000000000000000000000000000000000057d7");
    let allowance = 100_000n;
    const publicClient = createPublicClient({
      chain: base,
      transport: custom({
        request: async ({ method }: { method: string }) => {
          if (method === "eth_chainId") return "0x2105";
          if (method === "eth_call") return toHex(allowance, { size: 32 });
          throw new Error(`unexpected ${method}`);
        },
      }),
    });
    const client = newClient({ publicClient });
    const req = requirements({ asset: usdt }, { assetTransferMethod: "permit2" });
    const error = await client.createPaymentPayload(2, req).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(ClearingClientError);
    expect((error as ClearingClientError).reason).to.equal("permit2_approval_required");
    expect((error as ClearingClientError).details).to.contain("approvePermit2");
    allowance = 101_000n;
    const paid = await pay(client, req);
    expect(paid.voucher.cumulativeValue).to.equal(PRICE);
    expect(paid.deposit?.kind).to.equal("permit2-deposit");
  });

  it("a voucher signer named in the deposit signs the vouchers", async function () {
    const session = keyOf("session");
    const client = newClient({ voucherSigner: session });
    const first = await pay(client);
    const sessionAddress = privateKeyToAccount(session).address;
    expect(first.deposit!.voucherSigner).to.equal(sessionAddress);
    const { signature, ...fields } = first.voucher;
    expect(
      verifyVoucher({
        domainSeparator: separator,
        voucher: fields,
        signature,
        voucherSigner: sessionAddress,
      }),
    ).to.deep.equal({ valid: true, signer: sessionAddress });
  });

  describe("file store", function () {
    let dir: string;
    beforeEach(async function () {
      dir = await mkdtemp(path.join(tmpdir(), "x402-clearing-vouchers-"));
    });
    afterEach(async function () {
      await rm(dir, { recursive: true, force: true });
    });

    it("keeps the totals across a restart, with concurrent payments written atomically", async function () {
      const file = path.join(dir, "nested", "vouchers.json");
      const first = newClient({ store: new FileVoucherStore(file) });
      await respond(first, await pay(first), { success: true });
      const concurrent = await Promise.all(Array.from({ length: 30 }, () => pay(first)));
      expect(new Set(concurrent.map((p) => p.voucher.cumulativeValue)).size).to.equal(30);
      expect((await readdir(path.dirname(file))).filter((f) => f.endsWith(".tmp"))).to.deep.equal(
        [],
      );

      // A new process: a new client on the same file resumes above every voucher signed.
      const restarted = newClient({ store: new FileVoucherStore(file) });
      const next = await pay(restarted);
      expect(next.deposit).to.equal(undefined);
      expect(next.voucher.cumulativeValue).to.equal(32n * PRICE);
    });

    it("refuses a corrupt file instead of starting over from zero", async function () {
      const file = path.join(dir, "vouchers.json");
      const { writeFile } = await import("node:fs/promises");
      await writeFile(file, "{not json");
      const client = newClient({ store: new FileVoucherStore(file) });
      const error = await client.createPaymentPayload(2, requirements()).catch((e: unknown) => e);
      expect((error as Error).name).to.equal("VoucherStoreError");
    });
  });
});

describe("x402 clearing scheme: server", function () {
  const kind = {
    x402Version: 2,
    scheme: "clearing",
    network: "eip155:8453" as const,
    extra: { clearingHouse, operator, feeBasisPoints: BPS, withdrawalDelay: 3_600 },
  };

  it("prices money in USDC as exact does and fills the facilitator's clearing terms", async function () {
    const server = new ClearingServerScheme();
    const flows = { supported: ["upfront", "authorization"], default: "upfront" };
    expect(server.paymentFlows).to.deep.equal({ default: flows, permit2: flows });
    for (const price of ["$0.001", "0.001", "0.001 USDC", 0.001]) {
      expect(await server.parsePrice(price, "eip155:8453")).to.deep.equal({
        amount: "1000",
        asset: USDC,
        extra: { name: "USD Coin", version: "2" },
      });
    }
    expect((await server.parsePrice("$1", "eip155:84532")).extra).to.deep.equal({
      name: "USDC",
      version: "2",
    });
    const base = {
      scheme: "clearing",
      network: "eip155:8453" as const,
      amount: "1000",
      asset: USDC,
      payTo: payee,
      maxTimeoutSeconds: 300,
      extra: { name: "USD Coin", version: "2" },
    };
    const enhanced = await server.enhancePaymentRequirements(base, kind, []);
    expect(enhanced.extra).to.deep.equal({
      name: "USD Coin",
      version: "2",
      clearingHouse,
      operator,
      feeBasisPoints: BPS,
      withdrawalDelay: 3_600,
    });
    // What the server builds, the client pays.
    const client = newClient();
    expect((await pay(client, enhanced)).voucher.cumulativeValue).to.equal(1_000n);
    // Another token: its EIP-712 domain comes from the kind's asset list.
    const token = getAddress("0x00000000000000000000000000000000000070c0");
    const listed = {
      ...kind,
      extra: { ...kind.extra, assets: [{ asset: token, name: "T", version: "1" }] },
    };
    const other = await server.enhancePaymentRequirements(
      { ...base, asset: token, extra: {} },
      listed,
      [],
    );
    expect(other.extra).to.deep.include({ name: "T", version: "1" });
    // A Permit2 asset of the kind (or of the server's option) asks for a Permit2 deposit, no domain.
    for (const [scheme, from] of [
      [server, { ...kind, extra: { ...kind.extra, permit2Assets: [token] } }],
      [new ClearingServerScheme({ permit2Assets: [token] }), kind],
    ] as const) {
      const permit2 = await scheme.enhancePaymentRequirements(
        { ...base, asset: token, extra: {} },
        from,
        [],
      );
      expect(permit2.extra).to.deep.include({ assetTransferMethod: "permit2", clearingHouse });
      expect(permit2.extra.name).to.equal(undefined);
      const paid = await pay(newClient(), permit2);
      expect(paid.deposit?.kind).to.equal("permit2-deposit");
    }
    const unlisted = await server
      .enhancePaymentRequirements({ ...base, asset: token, extra: {} }, kind, [])
      .catch((e: unknown) => e);
    expect((unlisted as Error).name).to.equal("ClearingServerError");
    // A facilitator kind without the terms is refused at start-up.
    expect(server.validateFacilitatorSupport("eip155:8453", { ...kind, extra: {} })).to.match(
      /clearingHouse/,
    );
    const error = await server
      .enhancePaymentRequirements(
        base,
        { ...kind, extra: { ...kind.extra, feeBasisPoints: -1 } },
        [],
      )
      .catch((e: unknown) => e);
    expect((error as Error).name).to.equal("ClearingServerError");
  });

  it("fills extra.pair of a failed payment's 402 from the facilitator's /clearing/pair", async function () {
    const best = await ownVoucher(7n * PRICE);
    const asked: unknown[] = [];
    const fakeFetch = (async (url: string, init: RequestInit) => {
      asked.push({ url, body: JSON.parse(init.body as string) });
      return new Response(JSON.stringify(pairOf(best, 7n * PRICE)), { status: 200 });
    }) as unknown as typeof fetch;
    const server = new ClearingServerScheme({ facilitatorUrl: "http://fac/", fetch: fakeFetch });
    const accepts = [requirements(), { ...requirements(), scheme: "exact" }];
    const client = newClient();
    const failed = await client.createPaymentPayload(2, requirements());
    const enriched = await server.enrichPaymentRequiredResponse!({
      requirements: accepts,
      paymentPayload: { x402Version: 2, accepted: accepts[0]!, payload: failed.payload },
      resourceInfo: { url: "http://resource/" },
      paymentRequiredResponse: { x402Version: 2, resource: { url: "" }, accepts },
    });
    expect(asked).to.deep.equal([
      { url: "http://fac/clearing/pair", body: { payer: payer.address, payee, token: USDC } },
    ]);
    expect(enriched![0]!.extra.pair).to.deep.equal(pairOf(best, 7n * PRICE));
    expect(enriched![1]!.extra.pair).to.equal(undefined);
    // The client reads it from the 402 and resumes above the proven voucher.
    const recovered = await client.schemeHooks.onPaymentResponse!({
      paymentPayload: { x402Version: 2, accepted: accepts[0]!, payload: failed.payload },
      requirements: requirements(),
      paymentRequired: { x402Version: 2, resource: { url: "" }, accepts: enriched! },
    });
    expect(recovered).to.deep.equal({ recovered: true });
    expect((await pay(client)).voucher.cumulativeValue).to.equal(8n * PRICE);
    // Without a payer (the first 402) nothing is asked.
    const none = await server.enrichPaymentRequiredResponse!({
      requirements: accepts,
      resourceInfo: { url: "" },
      paymentRequiredResponse: { x402Version: 2, resource: { url: "" }, accepts },
    });
    expect(none).to.equal(undefined);
    expect(asked).to.have.length(1);
  });
});
