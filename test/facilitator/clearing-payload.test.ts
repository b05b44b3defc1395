import assert from "node:assert/strict";

import {
  parseClearingRequest,
  parseClearingRequestBySchema,
  parseVoucherOnlyRequest,
} from "../../src/facilitator/clearing/payload.js";

const PAYER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
const PAYEE = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";
const TOKEN = "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913";
const OPERATOR = "0x90F79bf6EB2c4f870365E785982E1f101E93b906";
const HOUSE = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65";

function validBody() {
  const requirements = {
    scheme: "clearing",
    network: "eip155:8453",
    amount: "1000",
    asset: TOKEN,
    payTo: PAYEE,
    maxTimeoutSeconds: 60,
    extra: {
      name: "USD Coin",
      version: "2",
      clearingHouse: HOUSE,
      operator: OPERATOR,
      feeBasisPoints: 25,
      withdrawalDelay: 86_400,
    },
  };
  return {
    x402Version: 2,
    paymentPayload: {
      x402Version: 2,
      resource: { url: "http://localhost/resource" },
      accepted: { ...requirements, extra: { ...requirements.extra } },
      payload: {
        voucher: {
          payer: PAYER,
          payee: PAYEE,
          token: TOKEN,
          operator: OPERATOR,
          cumulativeValue: "5000",
          cumulativeFee: "12",
          signature: `0x${"ab".repeat(65)}`,
        },
      },
    },
    paymentRequirements: requirements,
  };
}

/** The paths a mutation may touch: every field either parser reads, and some it ignores. */
const PATHS = [
  ["x402Version"],
  ["paymentPayload"],
  ["paymentPayload", "x402Version"],
  ["paymentPayload", "accepted"],
  ["paymentPayload", "accepted", "scheme"],
  ["paymentPayload", "accepted", "network"],
  ["paymentPayload", "payload"],
  ["paymentPayload", "payload", "deposit"],
  ["paymentPayload", "payload", "voucher"],
  ...["payer", "payee", "token", "operator", "cumulativeValue", "cumulativeFee", "signature"].map(
    (field) => ["paymentPayload", "payload", "voucher", field],
  ),
  ["paymentPayload", "payload", "voucher", "extraField"],
  ["paymentRequirements"],
  ...["scheme", "network", "amount", "asset", "payTo", "maxTimeoutSeconds", "extra"].map(
    (field) => ["paymentRequirements", field],
  ),
  ...["clearingHouse", "operator", "feeBasisPoints", "withdrawalDelay", "name"].map((field) => [
    "paymentRequirements",
    "extra",
    field,
  ]),
];

const VALUES: unknown[] = [
  undefined,
  null,
  0,
  -0,
  -1,
  1.5,
  2,
  3,
  12,
  Number.MAX_SAFE_INTEGER,
  true,
  "",
  "2",
  "0x",
  "1e3",
  "00012",
  "123456789012",
  "1234567890123",
  "-5",
  " 5",
  "x".repeat(128),
  "x".repeat(129),
  PAYER.toLowerCase(),
  PAYER.toUpperCase().replace("0X", "0x"),
  PAYER.slice(0, 41),
  `${PAYER}0`,
  `0x${"g".repeat(40)}`,
  (2n ** 256n - 1n).toString(),
  (2n ** 256n).toString(),
  "9".repeat(78),
  "9".repeat(79),
  `0x${"AB".repeat(65)}`,
  `0x${"ab".repeat(4096)}`,
  `0x${"ab".repeat(4097)}`,
  "0xabc",
  [],
  [1],
  {},
  { scheme: "clearing" },
];

/** A deterministic PRNG (mulberry32), so a failure names a reproducible case. */
function random(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function set(body: Record<string, unknown>, path: string[], value: unknown): void {
  let node: unknown = body;
  for (const key of path.slice(0, -1)) {
    if (typeof node !== "object" || node === null) return;
    node = (node as Record<string, unknown>)[key];
  }
  if (typeof node !== "object" || node === null) return;
  const last = path[path.length - 1]!;
  if (value === undefined) delete (node as Record<string, unknown>)[last];
  else (node as Record<string, unknown>)[last] = structuredClone(value);
}

describe("clearing request parsing: the voucher-only fast path", () => {
  it("accepts exactly the voucher-only bodies the schema accepts, with the same result, over 4,000 seeded mutations", () => {
    const next = random(402);
    let accepted = 0;
    let refused = 0;
    for (let trial = 0; trial < 4_000; trial++) {
      const body = validBody() as unknown as Record<string, unknown>;
      const mutations = trial === 0 ? 0 : 1 + Math.floor(next() * 3);
      for (let m = 0; m < mutations; m++) {
        const path = PATHS[Math.floor(next() * PATHS.length)]!;
        set(body, path, VALUES[Math.floor(next() * VALUES.length)]);
      }
      const reference = parseClearingRequestBySchema(body);
      const fast = parseVoucherOnlyRequest(body);
      const deposit = (body as { paymentPayload?: { payload?: { deposit?: unknown } } })
        .paymentPayload?.payload?.deposit;
      const label = `trial ${trial}: ${JSON.stringify(body).slice(0, 600)}`;
      if (fast !== undefined) {
        assert.ok(reference.ok, `the fast path accepted what the schema refuses; ${label}`);
        assert.deepEqual(fast, reference.request, label);
        accepted += 1;
      } else if (deposit === undefined) {
        assert.ok(
          !reference.ok,
          `the fast path refused a voucher-only body the schema accepts; ${label}`,
        );
        refused += 1;
      }
      // Whichever path answers, parseClearingRequest answers as the schema does.
      assert.deepEqual(parseClearingRequest(body), reference, label);
    }
    // Both sides of the comparison are exercised.
    assert.ok(accepted > 200, `only ${accepted} bodies took the fast path`);
    assert.ok(refused > 1_000, `only ${refused} voucher-only bodies were refused`);
  });
});
