import { toClientEvmSigner } from "@x402/evm";
import { ExactEvmScheme as ExactEvmClientScheme } from "@x402/evm/exact/client";
import { expect } from "chai";
import { type Address, type Hex, type LocalAccount } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

import { USDC_ADDRESS } from "../../src/chain/base.js";
import {
  fundedPayers,
  network,
  postJson,
  startFacilitator,
  startLocalBase,
  usdcBalance,
  type LocalBase,
  type RunningFacilitator,
} from "./harness.js";

const REQUESTS = 5_200;
const CONCURRENCY = 40;
const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

/** A small deterministic PRNG (mulberry32) so a failure can be replayed from its seed. */
function prng(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!,
  };
}
type Rng = ReturnType<typeof prng>;

const WEIRD_VALUES: unknown[] = [
  null,
  true,
  false,
  0,
  -1,
  1.5,
  1e308,
  -1e308,
  Number.MAX_SAFE_INTEGER + 2,
  "",
  " ",
  "0",
  "-1",
  "1e400",
  "9".repeat(100),
  (2n ** 256n).toString(),
  (2n ** 256n - 1n).toString(),
  "0x",
  "0xzz",
  "0x123",
  "0x" + "ff".repeat(20),
  "0x" + "ab".repeat(32),
  "0x" + "00".repeat(65),
  "0x" + "11".repeat(5000),
  "base",
  "base-sepolia",
  "eip155:1",
  "eip155:84532",
  "solana",
  "exact",
  "upto",
  "\u0000\uffff",
  "<script>",
  [],
  [1, 2, 3],
  {},
  { __proto__: { polluted: true } },
  { constructor: { prototype: { polluted: true } } },
];

function randomJson(rng: Rng, depth = 0): unknown {
  const kind = rng.int(depth > 3 ? 4 : 6);
  switch (kind) {
    case 0:
      return rng.pick(WEIRD_VALUES);
    case 1:
      return rng.next() * 10 ** rng.int(30) * (rng.next() < 0.5 ? -1 : 1);
    case 2:
      return Array.from({ length: rng.int(8) }, () => String.fromCharCode(32 + rng.int(90))).join(
        "",
      );
    case 3:
      return rng.next() < 0.5;
    case 4:
      return Array.from({ length: rng.int(4) }, () => randomJson(rng, depth + 1));
    default: {
      const keys = [
        "x402Version",
        "paymentPayload",
        "paymentRequirements",
        "payload",
        "authorization",
        "signature",
        "accepted",
        "scheme",
        "network",
        "amount",
        "asset",
        "payTo",
        "from",
        "to",
        "value",
        "nonce",
      ];
      const object: Record<string, unknown> = {};
      for (let i = rng.int(5); i > 0; i -= 1) object[rng.pick(keys)] = randomJson(rng, depth + 1);
      return object;
    }
  }
}

/** Every path (as key lists) to a leaf of a JSON value. */
function leafPaths(value: unknown, prefix: string[] = []): string[][] {
  if (typeof value !== "object" || value === null) return [prefix];
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) return [prefix];
  return entries.flatMap(([key, child]) => leafPaths(child, [...prefix, key]));
}

function withValue(value: unknown, path: string[], replacement: unknown, remove = false): unknown {
  const copy = structuredClone(value) as Record<string, unknown>;
  let node: Record<string, unknown> = copy;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string, unknown>;
  const last = path[path.length - 1]!;
  if (remove) delete node[last];
  else node[last] = replacement;
  return copy;
}

function flipHexChar(hex: string, rng: Rng): string {
  const position = 2 + rng.int(hex.length - 2);
  const current = hex[position]!;
  const replacement = current === "0" ? "1" : "0";
  return hex.slice(0, position) + replacement + hex.slice(position + 1);
}

/** The malleable twin of a 65-byte signature: s → n − s, v flipped. Valid ECDSA, rejected by USDC. */
function highS(signature: Hex): Hex {
  const r = signature.slice(2, 66);
  const s = BigInt(`0x${signature.slice(66, 130)}`);
  const v = Number.parseInt(signature.slice(130, 132), 16);
  const twin = (SECP256K1_N - s).toString(16).padStart(64, "0");
  const flipped = (v === 27 ? 28 : 27).toString(16);
  return `0x${r}${twin}${flipped}`;
}

describe("facilitator: fuzzing /verify and /settle", function () {
  let base: LocalBase;
  let ours: RunningFacilitator;
  let payers: LocalAccount[];
  const payTo: Address = privateKeyToAccount(generatePrivateKey()).address;

  before(async function () {
    base = await startLocalBase();
    ours = await startFacilitator(base, { maxWaitMs: 100 });
    payers = await fundedPayers(base, 3, 1_000_000n);
  });

  after(async function () {
    if (ours) await ours.stop();
    if (base) await base.stop();
  });

  it(`answers ${REQUESTS} malformed and adversarial bodies without a 5xx and settles none`, async function () {
    const requirements = {
      scheme: "exact",
      network: network.v2,
      amount: "1000",
      asset: USDC_ADDRESS,
      payTo,
      maxTimeoutSeconds: 300,
      extra: { name: "USD Coin", version: "2" },
    };
    const v1Requirements = {
      scheme: "exact",
      network: "base",
      maxAmountRequired: "1000",
      resource: "http://localhost/fuzz",
      description: "",
      mimeType: "",
      asset: USDC_ADDRESS,
      payTo,
      maxTimeoutSeconds: 300,
      extra: { name: "USD Coin", version: "2" },
    };
    const sign = async (payer: LocalAccount, req: Record<string, unknown> = requirements) =>
      new ExactEvmClientScheme(toClientEvmSigner(payer)).createPaymentPayload(2, req as never);
    const v2Body = (created: Awaited<ReturnType<typeof sign>>, req = requirements) => ({
      x402Version: 2,
      paymentPayload: { ...created, accepted: req },
      paymentRequirements: req,
    });

    // One payment settled for real before the fuzzing: its replays must answer the same result.
    const settledBody = v2Body(await sign(payers[0]!));
    const original = await postJson(`${ours.url}/settle`, settledBody);
    expect(original.json.success).to.equal(true);

    // Fresh, valid payments are only ever sent tampered (so nothing the fuzzer sends can settle).
    const fresh = await Promise.all(
      Array.from({ length: 30 }, (_, i) => sign(payers[i % payers.length]!)),
    );
    const freshV1 = await Promise.all(
      Array.from({ length: 10 }, async (_, i) => {
        const created = await sign(payers[i % payers.length]!, {
          ...requirements,
          network: network.v2,
        });
        return {
          x402Version: 1,
          paymentPayload: {
            x402Version: 1,
            scheme: "exact",
            network: "base",
            payload: created.payload,
          },
          paymentRequirements: v1Requirements,
        };
      }),
    );

    const balancesBefore = await Promise.all(
      [...payers.map((p) => p.address), payTo].map((a) => usdcBalance(base.client, a)),
    );
    const relayerNonceBefore = await base.client.getTransactionCount({
      address: base.relayer.address,
    });

    const rng = prng(0x402);
    type Case = { path: "/verify" | "/settle"; body: unknown; raw?: string; replay?: boolean };
    const tamper = (body: unknown): unknown => {
      const b = structuredClone(body) as {
        paymentPayload: { payload: { signature: Hex; authorization: Record<string, string> } };
        paymentRequirements: Record<string, unknown>;
      };
      const auth = b.paymentPayload.payload.authorization;
      switch (rng.int(9)) {
        case 0:
          b.paymentPayload.payload.signature = flipHexChar(
            b.paymentPayload.payload.signature,
            rng,
          ) as Hex;
          break;
        case 1:
          b.paymentPayload.payload.signature = highS(b.paymentPayload.payload.signature);
          break;
        case 2:
          auth.value = (BigInt(auth.value) + 1n).toString();
          break;
        case 3:
          auth.to = privateKeyToAccount(generatePrivateKey()).address;
          break;
        case 4:
          auth.nonce = flipHexChar(auth.nonce, rng);
          break;
        case 5:
          auth.validBefore = (BigInt(auth.validBefore) + 1n).toString();
          break;
        case 6:
          b.paymentRequirements.payTo = privateKeyToAccount(generatePrivateKey()).address;
          break;
        case 7:
          auth.from =
            payers[(payers.findIndex((p) => p.address === auth.from) + 1) % payers.length]!.address;
          break;
        default:
          // Truncated to 64 bytes (not the 65-byte form the official client signs).
          b.paymentPayload.payload.signature = b.paymentPayload.payload.signature.slice(
            0,
            130,
          ) as Hex;
      }
      return b;
    };

    const cases: Case[] = [];
    while (cases.length < REQUESTS) {
      const path = rng.next() < 0.5 ? "/verify" : "/settle";
      const template = rng.next() < 0.8 ? v2Body(rng.pick(fresh)) : (rng.pick(freshV1) as unknown);
      const r = rng.int(100);
      if (r < 20) cases.push({ path, body: randomJson(rng) });
      else if (r < 45) {
        // A field of a real (tampered) payment replaced by something of the wrong type or range.
        const target = tamper(template);
        const leaf = rng.pick(leafPaths(target));
        cases.push({ path, body: withValue(target, leaf, rng.pick(WEIRD_VALUES)) });
      } else if (r < 55) {
        const target = tamper(template);
        const leaf = rng.pick(leafPaths(target));
        cases.push({ path, body: withValue(target, leaf, undefined, true) });
      } else if (r < 80) cases.push({ path, body: tamper(template) });
      else if (r < 85) cases.push({ path, body: settledBody, replay: true });
      else if (r < 90) {
        const raw = rng.pick([
          "",
          "{",
          "null",
          "[]",
          "123",
          '"text"',
          '{"x402Version":2,',
          "\u0000\u0001",
          JSON.stringify(settledBody).slice(0, 200),
        ]);
        cases.push({ path, body: undefined, raw });
      } else if (r < 92) {
        cases.push({
          path,
          body: undefined,
          raw: JSON.stringify({ pad: "x".repeat(70_000 + rng.int(200_000)) }),
        });
      } else {
        // Wrong network, scheme or version on a tampered payment.
        const target = tamper(template) as Record<string, Record<string, unknown>>;
        const field = rng.pick(["network", "scheme", "x402Version"]);
        if (field === "x402Version")
          target.paymentPayload!.x402Version = rng.pick([0, 3, "2", null, 1.5]);
        else target.paymentRequirements![field] = rng.pick(WEIRD_VALUES.slice(23, 30));
        cases.push({ path, body: target });
      }
    }

    const statuses = new Map<number, number>();
    let next = 0;
    const worker = async () => {
      for (;;) {
        const index = next;
        next += 1;
        if (index >= cases.length) return;
        const c = cases[index]!;
        const { status, json } = await postJson(`${ours.url}${c.path}`, c.raw ?? c.body);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        expect(status, `case ${index}: ${JSON.stringify(c.body)?.slice(0, 300)}`).to.be.below(500);
        if (c.path === "/settle" && json.success === true) {
          expect(
            c.replay,
            `case ${index} settled: ${JSON.stringify(c.body)?.slice(0, 300)}`,
          ).to.equal(true);
          expect(json).to.deep.equal(original.json);
        }
        if (c.path === "/verify" && json.isValid === true) {
          expect.fail(`case ${index} verified: ${JSON.stringify(c.body)?.slice(0, 300)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    process.stdout.write(`      HTTP statuses: ${JSON.stringify(Object.fromEntries(statuses))}\n`);

    // Nothing moved, nothing was sent, and the facilitator is still up.
    const balancesAfter = await Promise.all(
      [...payers.map((p) => p.address), payTo].map((a) => usdcBalance(base.client, a)),
    );
    expect(balancesAfter).to.deep.equal(balancesBefore);
    expect(await base.client.getTransactionCount({ address: base.relayer.address })).to.equal(
      relayerNonceBefore,
    );
    const health = await fetch(`${ours.url}/health`);
    expect(health.status).to.equal(200);
    const summary = (await health.json()) as { payments: Record<string, number> };
    expect(summary.payments).to.deep.equal({ queued: 0, submitted: 0, settled: 1, failed: 0 });
  });
});
