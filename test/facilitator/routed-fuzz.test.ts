import type { PaymentRequirements } from "@x402/core/types";
import { expect } from "chai";
import { encodeFunctionData, getAddress, type Address, type Hex, type LocalAccount } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

import { settlementRouterAbi } from "../../src/abi/settlementRouter.js";
import { buildRoutedAuthorization } from "../../src/authorization/buildRoutedAuthorization.js";
import { getAuthorizationTypedData } from "../../src/authorization/getAuthorizationTypedData.js";
import { encodeItems } from "../../src/batch/encodeItems.js";
import { USDC_ADDRESS } from "../../src/chain/base.js";
import { RoutedClientScheme, type RoutedPayload } from "../../src/x402/index.js";
import {
  fundedPayers,
  network,
  nonceUsed,
  postJson,
  startFacilitator,
  startLocalBase,
  usdcBalance,
  type LocalBase,
  type RunningFacilitator,
} from "./harness.js";
import {
  OUTSIDER,
  paymentBody,
  requirementsFor,
  sendAsOutsider,
  waitFor,
} from "./attacks/helpers.js";

const PRICE = 1_000n;
const FEE = 50n;
const CAIP = network.v2 as `${string}:${string}`;

type Body = {
  x402Version: 2;
  paymentPayload: {
    x402Version: 2;
    resource: { url: string; description: string; mimeType: string };
    accepted: PaymentRequirements;
    payload: RoutedPayload;
  };
  paymentRequirements: PaymentRequirements;
};

/** A small deterministic PRNG (mulberry32): a failure replays from its seed. */
function prng(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { int: (n: number) => Math.floor(next() * n) };
}

const WEIRD: unknown[] = [
  null,
  true,
  0,
  -1,
  1.5,
  "",
  "0",
  "-1",
  "1e3",
  (2n ** 256n).toString(),
  "0x",
  "0x123",
  "0x" + "ff".repeat(20),
  "0x" + "ab".repeat(32),
  "0x" + "11".repeat(65),
  "routed",
  "exact",
  "eip155:1",
  [],
  {},
];

function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** Every leaf path of a JSON value. */
function leaves(value: unknown, path: string[] = []): string[][] {
  if (value === null || typeof value !== "object") return [path];
  return Object.entries(value as Record<string, unknown>).flatMap(([key, child]) =>
    leaves(child, [...path, key]),
  );
}

function setPath(target: unknown, path: readonly string[], value: unknown): void {
  let node = target as Record<string, unknown>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string, unknown>;
  node[path[path.length - 1]!] = value;
}

describe("facilitator: malformed and adversarial routed payloads", function () {
  let base: LocalBase;
  let ours: RunningFacilitator;
  const payTo = privateKeyToAccount(generatePrivateKey()).address;
  const feeRecipient = privateKeyToAccount(generatePrivateKey()).address;
  const other = getAddress("0x00000000000000000000000000000000000000e1");
  let payers: LocalAccount[];

  function requirements(overrides: Partial<PaymentRequirements> = {}, extra = {}) {
    return {
      scheme: "routed",
      network: CAIP,
      asset: USDC_ADDRESS,
      amount: PRICE.toString(),
      payTo,
      maxTimeoutSeconds: 300,
      extra: {
        name: "USD Coin",
        version: "2",
        router: base.router,
        fee: FEE.toString(),
        feeRecipient,
        ...extra,
      },
      ...overrides,
    } as PaymentRequirements;
  }

  /** A body as the routed client signs it for `signed`, sent with `sent` requirements. */
  async function body(
    payer: LocalAccount,
    signed: PaymentRequirements = requirements(),
    sent: PaymentRequirements = signed,
    now?: () => number,
  ): Promise<Body> {
    const scheme = new RoutedClientScheme(payer, now ? { now } : {});
    const { payload } = await scheme.createPaymentPayload(2, signed);
    return {
      x402Version: 2,
      paymentPayload: {
        x402Version: 2,
        resource: { url: "http://localhost/routed", description: "", mimeType: "" },
        accepted: sent,
        payload: payload as RoutedPayload,
      },
      paymentRequirements: sent,
    };
  }

  /** A routed body signed with the toolkit, for terms the client scheme refuses to sign. */
  async function handSigned(
    payer: LocalAccount,
    terms: { payee: Address; to?: Address; primaryType?: "TransferWithAuthorization" },
  ): Promise<Body> {
    const authorization = buildRoutedAuthorization({
      from: payer.address,
      router: terms.to ?? base.router,
      payee: terms.payee,
      value: PRICE + FEE,
      fee: FEE,
      feeRecipient,
    });
    const typed = getAuthorizationTypedData({
      domain: {
        name: "USD Coin",
        version: "2",
        chainId: network.chainId,
        verifyingContract: USDC_ADDRESS,
      },
      authorization: terms.primaryType ? { ...authorization, kind: "direct" } : authorization,
    });
    const signature = await payer.signTypedData(typed as never);
    const sent = requirements({ payTo: terms.payee });
    return {
      x402Version: 2,
      paymentPayload: {
        x402Version: 2,
        resource: { url: "http://localhost/routed", description: "", mimeType: "" },
        accepted: sent,
        payload: {
          authorization: {
            from: authorization.from,
            to: authorization.to,
            value: authorization.value.toString(),
            validAfter: authorization.validAfter.toString(),
            validBefore: authorization.validBefore.toString(),
            nonce: authorization.nonce,
          },
          salt: authorization.salt,
          signature,
        },
      },
      paymentRequirements: sent,
    };
  }

  async function balances(accounts: readonly Address[]): Promise<bigint[]> {
    return Promise.all(accounts.map((account) => usdcBalance(base.client, account)));
  }

  before(async function () {
    base = await startLocalBase();
    ours = await startFacilitator(base, {
      maxBatchSize: 100,
      maxWaitMs: 4_000,
      fee: FEE,
      feeRecipient,
    });
    payers = await fundedPayers(base, 4, 1_000_000n);
  });

  after(async function () {
    if (ours) await ours.stop();
    if (base) await base.stop();
  });

  it("refuses every adversarial routed payload with its exact reason, on /verify and /settle, and nothing moves", async function () {
    const [payer, second] = payers as [LocalAccount, LocalAccount];
    const unfunded = privateKeyToAccount(generatePrivateKey());
    const relayerNonce = await base.client.getTransactionCount({ address: base.relayer.address });
    const watched = [payer.address, second.address, payTo, feeRecipient, other, base.router];
    const before = await balances(watched);
    const valid = await body(payer);
    const mutate = (change: (b: Body) => void) => {
      const copy = clone(valid);
      change(copy);
      return copy;
    };
    const withRequirements = (change: (r: PaymentRequirements) => void) =>
      mutate((b) => {
        change(b.paymentRequirements);
        change(b.paymentPayload.accepted);
      });
    const cases: [string, Promise<Body> | Body, number, string][] = [
      [
        "payee swapped (payTo)",
        withRequirements((r) => (r.payTo = other)),
        200,
        "invalid_routed_nonce_commitment",
      ],
      [
        "fee raised in the requirements",
        withRequirements((r) => (r.extra.fee = "60")),
        200,
        "invalid_routed_value_mismatch",
      ],
      [
        "fee raised with the value",
        mutate((b) => {
          b.paymentRequirements.extra.fee = b.paymentPayload.accepted.extra.fee = "60";
          b.paymentPayload.payload.authorization.value = "1060";
        }),
        200,
        "invalid_routed_nonce_commitment",
      ],
      [
        "fee recipient swapped",
        withRequirements((r) => (r.extra.feeRecipient = other)),
        200,
        "invalid_routed_fee_recipient_mismatch",
      ],
      [
        "signed for another fee recipient",
        body(payer, requirements({}, { feeRecipient: other })),
        200,
        "invalid_routed_fee_recipient_mismatch",
      ],
      [
        "salt swapped",
        mutate((b) => (b.paymentPayload.payload.salt = `0x${"ab".repeat(32)}`)),
        200,
        "invalid_routed_nonce_commitment",
      ],
      [
        "nonce swapped",
        mutate((b) => (b.paymentPayload.payload.authorization.nonce = `0x${"cd".repeat(32)}`)),
        200,
        "invalid_routed_nonce_commitment",
      ],
      [
        "to = the payee, not the router",
        mutate((b) => (b.paymentPayload.payload.authorization.to = payTo)),
        200,
        "invalid_routed_router_mismatch",
      ],
      [
        "extra.router another contract",
        withRequirements((r) => (r.extra.router = other)),
        200,
        "invalid_routed_router_mismatch",
      ],
      [
        "signed to another router",
        handSigned(payer, { payee: payTo, to: other }),
        200,
        "invalid_routed_router_mismatch",
      ],
      [
        "value without the fee",
        mutate((b) => (b.paymentPayload.payload.authorization.value = PRICE.toString())),
        200,
        "invalid_routed_value_mismatch",
      ],
      [
        "value above amount + fee",
        mutate((b) => (b.paymentPayload.payload.authorization.value = "1051")),
        200,
        "invalid_routed_value_mismatch",
      ],
      [
        "fee below the facilitator's",
        body(payer, requirements({}, { fee: "10" })),
        200,
        "invalid_routed_fee_below_minimum",
      ],
      [
        "no extra.fee",
        withRequirements((r) => delete r.extra.fee),
        200,
        "invalid_routed_missing_extra",
      ],
      [
        "no extra.router",
        withRequirements((r) => delete r.extra.router),
        200,
        "invalid_routed_missing_extra",
      ],
      [
        "no extra.feeRecipient",
        withRequirements((r) => delete r.extra.feeRecipient),
        200,
        "invalid_routed_missing_extra",
      ],
      [
        "no salt",
        mutate((b) => delete (b.paymentPayload.payload as Partial<RoutedPayload>).salt),
        400,
        "invalid_payload",
      ],
      [
        "a malformed salt",
        mutate((b) => (b.paymentPayload.payload.salt = "0x1234" as Hex)),
        400,
        "invalid_payload",
      ],
      [
        "payload of another scheme",
        mutate((b) => (b.paymentPayload.accepted.scheme = "exact")),
        200,
        "invalid_routed_scheme",
      ],
      [
        "requirements of exact",
        mutate((b) => (b.paymentRequirements.scheme = "exact")),
        200,
        "invalid_exact_evm_scheme",
      ],
      [
        "another network",
        withRequirements((r) => (r.network = "eip155:84532")),
        200,
        "invalid_network",
      ],
      [
        "from another payer",
        mutate((b) => (b.paymentPayload.payload.authorization.from = second.address)),
        200,
        "invalid_exact_evm_signature",
      ],
      [
        "signed as TransferWithAuthorization",
        handSigned(payer, { payee: payTo, primaryType: "TransferWithAuthorization" }),
        200,
        "invalid_exact_evm_signature",
      ],
      [
        "payTo = the router",
        handSigned(payer, { payee: base.router }),
        200,
        "facilitator_pay_to_router",
      ],
      ["an unfunded payer", body(unfunded), 200, "invalid_exact_evm_insufficient_balance"],
      [
        "expired (signed long ago)",
        body(payer, requirements(), requirements(), () => 1_000),
        200,
        "invalid_exact_evm_payload_authorization_valid_before",
      ],
    ];
    for (const [what, pending, status, reason] of cases) {
      const request = await pending;
      const verified = await postJson(`${ours.url}/verify`, request);
      expect(verified.status, `${what}: /verify status`).to.equal(status);
      expect(verified.json.isValid, `${what}: /verify`).to.equal(false);
      expect(verified.json.invalidReason, `${what}: /verify reason`).to.equal(reason);
      const settled = await postJson(`${ours.url}/settle`, request);
      expect(settled.status, `${what}: /settle status`).to.equal(status);
      expect(settled.json.success, `${what}: /settle`).to.equal(false);
      expect(settled.json.errorReason, `${what}: /settle reason`).to.equal(reason);
    }
    expect(
      await nonceUsed(base.client, payer.address, valid.paymentPayload.payload.authorization.nonce),
    ).to.equal(false);
    expect(await balances(watched)).to.deep.equal(before);
    expect(await base.client.getTransactionCount({ address: base.relayer.address })).to.equal(
      relayerNonce,
    );
  });

  it("answers 300 random mutations of a routed payload without a 5xx, accepting none that changes a signed term", async function () {
    const [payer] = payers as [LocalAccount];
    const valid = await body(payer);
    const rng = prng(Number(process.env.ROUTED_FUZZ_SEED ?? 13));
    const paths = leaves(valid);
    // Fields no signature or check covers: the resource, the timeout, and the payload's
    // `accepted` copy but for its scheme and network (the facilitator judges
    // `paymentRequirements`, as the official one does; the resource server matches `accepted`).
    const free =
      /^(paymentPayload\.resource|paymentRequirements\.maxTimeoutSeconds|paymentPayload\.accepted\.(?!scheme$|network$))/;
    for (let i = 0; i < 300; i++) {
      const path = paths[rng.int(paths.length)]!;
      const value = WEIRD[rng.int(WEIRD.length)];
      const mutated = clone(valid);
      setPath(mutated, path, value);
      if (JSON.stringify(mutated) === JSON.stringify(valid)) continue; // no change
      const { status, json } = await postJson(`${ours.url}/verify`, mutated);
      const label = `${path.join(".")} = ${JSON.stringify(value)}`;
      expect(status, label).to.be.below(500);
      expect(json.invalidReason ?? "", label).to.match(/^([a-z0-9]+(_[a-z0-9]+)*)?$/);
      if (json.isValid === true) expect(path.join("."), label).to.match(free);
    }
  });

  it("counts a routed payment once when someone else submits its authorization through the router first", async function () {
    const [, , payer] = payers as [LocalAccount, LocalAccount, LocalAccount];
    const request = await body(payer);
    const { authorization, salt, signature } = request.paymentPayload.payload;
    const item = {
      kind: "routed" as const,
      from: authorization.from,
      payee: payTo,
      value: BigInt(authorization.value),
      validAfter: BigInt(authorization.validAfter),
      validBefore: BigInt(authorization.validBefore),
      fee: FEE,
      salt,
      signature,
    };
    const watched = [payer.address, payTo, feeRecipient, OUTSIDER];
    const before = await balances(watched);
    const relayerNonce = await base.client.getTransactionCount({ address: base.relayer.address });

    // The front-runner first tries to take the fee: its own fee recipient breaks the nonce.
    const stolen = await sendAsOutsider(base, {
      to: base.router,
      data: encodeFunctionData({
        abi: settlementRouterAbi,
        functionName: "settle",
        args: [USDC_ADDRESS, OUTSIDER, encodeItems([item])],
      }),
    });
    await base.client.waitForTransactionReceipt({ hash: stolen });
    expect(await nonceUsed(base.client, payer.address, authorization.nonce)).to.equal(false);

    const answer = postJson(`${ours.url}/settle`, request);
    expect(
      await waitFor(() => ours.facilitator.health().payments.queued >= 1, 30_000),
      "accepted and queued",
    ).to.equal(true);
    const frontRun = await sendAsOutsider(base, {
      to: base.router,
      data: encodeFunctionData({
        abi: settlementRouterAbi,
        functionName: "settle",
        args: [USDC_ADDRESS, feeRecipient, encodeItems([item])],
      }),
    });
    await base.client.waitForTransactionReceipt({ hash: frontRun });

    const { status, json } = await answer;
    expect(status).to.equal(200);
    expect(json, JSON.stringify(json)).to.include({ success: true, transaction: frontRun });
    const again = await postJson(`${ours.url}/settle`, request);
    expect(again.json).to.include({
      success: false,
      errorReason: "invalid_exact_evm_nonce_already_used",
    });

    const after = await balances(watched);
    expect(after[0]).to.equal(before[0]! - PRICE - FEE);
    expect(after[1]).to.equal(before[1]! + PRICE);
    expect(after[2]).to.equal(before[2]! + FEE);
    expect(after[3]).to.equal(before[3]);
    // The relayer sent nothing for it: the batch saw the nonce used and found the front-run's proof.
    expect(await base.client.getTransactionCount({ address: base.relayer.address })).to.equal(
      relayerNonce,
    );
  });

  it("settles a valid routed payment in one batch beside an exact one (control: the suite can move money)", async function () {
    const [, , , payer] = payers as [LocalAccount, LocalAccount, LocalAccount, LocalAccount];
    const [exactPayer] = await fundedPayers(base, 1, 1_000_000n);
    const routedRequest = await body(payer);
    const exactRequest = await paymentBody(exactPayer!, requirementsFor(payTo, PRICE));
    const before = await balances([payer.address, exactPayer!.address, payTo, feeRecipient]);
    const [routed, exact] = await Promise.all([
      postJson(`${ours.url}/settle`, routedRequest),
      postJson(`${ours.url}/settle`, exactRequest),
    ]);
    expect(routed.json.success, JSON.stringify(routed.json)).to.equal(true);
    expect(exact.json.success, JSON.stringify(exact.json)).to.equal(true);
    expect(routed.json.transaction, "one mixed batch").to.equal(exact.json.transaction);
    const after = await balances([payer.address, exactPayer!.address, payTo, feeRecipient]);
    expect(after).to.deep.equal([
      before[0]! - PRICE - FEE,
      before[1]! - PRICE,
      before[2]! + 2n * PRICE,
      before[3]! + FEE,
    ]);
  });
});
