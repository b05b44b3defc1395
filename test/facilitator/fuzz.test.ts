import { toClientEvmSigner } from "@x402/evm";
import { ExactEvmScheme as ExactEvmClientScheme } from "@x402/evm/exact/client";
import { expect } from "chai";
import { toHex, type Address, type Hex, type LocalAccount } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

import { MULTICALL3_ADDRESS, USDC_ADDRESS } from "../../src/chain/base.js";
import { deployArtifact } from "./attacks/helpers.js";
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

/** Reads a seed from the environment (decimal or 0x hex), else the default. */
function seedFrom(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const seed = Number(raw);
  if (!Number.isSafeInteger(seed)) throw new Error(`${name} must be an integer, got ${raw}`);
  return seed;
}

/**
 * The answers the facilitator must give that go beyond the official checks (issue 9, findings 4 and
 * 9): a zero amount, an asset outside the allow-list and `payTo` equal to the router are refused
 * before anything is sent. x402 has no dedicated code for them: the facilitator answers its own
 * `facilitator_*` codes (src/facilitator/reasons.ts), written out here.
 */
const POLICY_REFUSALS = {
  zeroValue: "facilitator_amount_below_minimum",
  assetNotAllowed: "facilitator_asset_not_allowed",
  payToRouter: "facilitator_pay_to_router",
} as const;

/** x402 v1 spelling of a reason (src/errors/reasons.ts X402_V1_REASONS), written out. */
const V1_SPELLING: Record<string, string> = {
  invalid_exact_evm_signature: "invalid_exact_evm_payload_signature",
  invalid_exact_evm_insufficient_balance: "insufficient_funds",
  invalid_exact_evm_payload_authorization_value_mismatch: "invalid_exact_evm_authorization_value",
};

/** Values that are not of a field's type (each fails its schema for certain). */
const BAD = {
  address: [
    null,
    true,
    0,
    "",
    "0x",
    "0xzz",
    "0x123",
    "0x" + "ab".repeat(32),
    "0x" + "ff".repeat(19),
    "0x" + "gg".repeat(20),
    [],
    {},
    "base",
  ],
  uint: [
    null,
    0,
    1000,
    -1,
    1.5,
    "",
    " 1",
    "-1",
    "1e3",
    "0x10",
    "1.0",
    "9".repeat(79),
    (2n ** 256n).toString(),
    [],
    {},
  ],
  bytes32: [
    null,
    0,
    "",
    "0x",
    "0x" + "ab".repeat(31),
    "0x" + "zz".repeat(32),
    "0x" + "ab".repeat(33),
    [],
    {},
  ],
  signature: [
    null,
    0,
    "",
    "0x",
    "0x123",
    "0xzz",
    "0x" + "11".repeat(4097),
    "11".repeat(65),
    [],
    {},
  ],
  string: [null, 0, true, [], {}, "x".repeat(129)],
  object: [null, "x", 0, true, []],
  timeout: [-1, 1.5, "300", null, true, {}],
  version: [0, 3, -1, 1.5, "1", "2", null, true, []],
} as const;
type FieldType = keyof typeof BAD;

type Body = Record<string, unknown>;
/** What the facilitator must answer: HTTP status and the reason code of the body. */
type Expected = { status: number; reason: string };
type Case = {
  kind: string;
  path: "/verify" | "/settle";
  body?: unknown;
  raw?: string;
  expected: Expected;
};

/** Where a field sits decides the generic x402 code of a body that is not a payment request. */
function locationReason(path: readonly string[]): string {
  const joined = path.join(".");
  if (
    joined === "x402Version" ||
    joined === "paymentPayload" ||
    joined === "paymentPayload.x402Version"
  ) {
    return "invalid_x402_version";
  }
  // A field inside the payload's `accepted` copy is a requirement; `accepted` itself missing or of
  // the wrong type is a defect of the payload.
  if (
    path[0] === "paymentRequirements" ||
    (path[0] === "paymentPayload" && path[1] === "accepted" && path.length > 2)
  ) {
    return "invalid_payment_requirements";
  }
  return "invalid_payload";
}

const REQUIREMENT_FIELDS = (amountField: string): [string, FieldType][] => [
  ["scheme", "string"],
  ["network", "string"],
  [amountField, "uint"],
  ["asset", "address"],
  ["payTo", "address"],
  ["maxTimeoutSeconds", "timeout"],
  ["extra", "object"],
];
const PAYLOAD_FIELDS: [string[], FieldType][] = [
  [["payload"], "object"],
  [["payload", "signature"], "signature"],
  [["payload", "authorization"], "object"],
  [["payload", "authorization", "from"], "address"],
  [["payload", "authorization", "to"], "address"],
  [["payload", "authorization", "value"], "uint"],
  [["payload", "authorization", "validAfter"], "uint"],
  [["payload", "authorization", "validBefore"], "uint"],
  [["payload", "authorization", "nonce"], "bytes32"],
];
/** Every schema-checked field of a v1 or v2 body, its type and whether it may be left out. */
function fieldTable(version: 1 | 2): { path: string[]; type: FieldType; optional: boolean }[] {
  const optional = new Set(["x402Version", "maxTimeoutSeconds", "extra"]);
  const rows: [string[], FieldType][] = [
    [["x402Version"], "version"],
    [["paymentPayload"], "object"],
    [["paymentPayload", "x402Version"], "version"],
    ...PAYLOAD_FIELDS.map(([path, type]): [string[], FieldType] => [
      ["paymentPayload", ...path],
      type,
    ]),
    [["paymentRequirements"], "object"],
    ...REQUIREMENT_FIELDS(version === 2 ? "amount" : "maxAmountRequired").map(
      ([field, type]): [string[], FieldType] => [["paymentRequirements", field], type],
    ),
  ];
  if (version === 2) {
    rows.push([["paymentPayload", "accepted"], "object"]);
    for (const [field, type] of REQUIREMENT_FIELDS("amount")) {
      rows.push([["paymentPayload", "accepted", field], type]);
    }
  } else {
    rows.push([["paymentPayload", "scheme"], "string"], [["paymentPayload", "network"], "string"]);
  }
  return rows.map(([path, type]) => ({ path, type, optional: optional.has(path.at(-1)!) }));
}

function setPath(body: Body, path: readonly string[], value: unknown, remove = false): Body {
  const copy = structuredClone(body);
  let node = copy as Record<string, unknown>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string, unknown>;
  if (remove) delete node[path.at(-1)!];
  else node[path.at(-1)!] = value;
  return copy;
}

describe("facilitator: fuzzing /verify and /settle", function () {
  let base: LocalBase;
  let ours: RunningFacilitator;
  let payers: LocalAccount[];
  const payTo: Address = privateKeyToAccount(generatePrivateKey()).address;

  before(async function () {
    base = await startLocalBase();
    ours = await startFacilitator(base, { maxWaitMs: 100 });
    payers = await fundedPayers(base, 4, 1_000_000n);
  });

  after(async function () {
    if (ours) await ours.stop();
    if (base) await base.stop();
  });

  it(`answers ${REQUESTS} malformed and adversarial bodies with the exact status and reason, and nothing moves`, async function () {
    const seed = seedFrom("FUZZ_SEED", 0x402);
    process.stdout.write(`      FUZZ_SEED=${seed}\n`);
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
      network: network.v1,
      maxAmountRequired: "1000",
      resource: "http://localhost/fuzz",
      description: "",
      mimeType: "",
      asset: USDC_ADDRESS,
      payTo,
      maxTimeoutSeconds: 300,
      extra: { name: "USD Coin", version: "2" },
    };
    type Requirements = typeof requirements;
    const sign = async (payer: LocalAccount, req: Requirements = requirements) =>
      new ExactEvmClientScheme(toClientEvmSigner(payer)).createPaymentPayload(2, req as never);
    type Signed = Awaited<ReturnType<typeof sign>>;
    const v2Body = (created: Signed, req: Requirements = requirements): Body => ({
      x402Version: 2,
      paymentPayload: { ...created, accepted: structuredClone(req) },
      paymentRequirements: req,
    });
    const v1Body = (created: Signed): Body => ({
      x402Version: 1,
      paymentPayload: {
        x402Version: 1,
        scheme: "exact",
        network: network.v1,
        payload: created.payload,
      },
      paymentRequirements: v1Requirements,
    });
    /** An authorization the SDK would not make (validAfter in the future), signed by hand. */
    const signRaw = async (payer: LocalAccount, validAfter: bigint): Promise<Signed> => {
      const authorization = {
        from: payer.address,
        to: payTo,
        value: 1000n,
        validAfter,
        validBefore: validAfter + 3_600n,
        nonce: toHex(crypto.getRandomValues(new Uint8Array(32))),
      };
      const signature = await payer.signTypedData({
        domain: {
          name: "USD Coin",
          version: "2",
          chainId: network.chainId,
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
      const strings = Object.fromEntries(
        Object.entries(authorization).map(([key, value]) => [key, String(value)]),
      );
      return {
        x402Version: 2,
        payload: { signature, authorization: strings },
      } as unknown as Signed;
    };

    // One payment settled for real before the fuzzing: its replays must be refused as a used nonce.
    const settledBody = v2Body(await sign(payers[0]!));
    const original = await postJson(`${ours.url}/settle`, settledBody);
    expect(original.json.success, JSON.stringify(original.json)).to.equal(true);

    // Valid payments are only ever sent with one defect (so nothing the fuzzer sends can settle).
    const fresh = await Promise.all(
      Array.from({ length: 30 }, (_, i) => sign(payers[i % payers.length]!)),
    );
    const unfunded = await Promise.all(
      Array.from({ length: 4 }, () => sign(privateKeyToAccount(generatePrivateKey()))),
    );
    const expired = await Promise.all(
      payers.map((payer) => sign(payer, { ...requirements, maxTimeoutSeconds: 2 })),
    );
    const now = BigInt(Math.floor(Date.now() / 1000));
    const notYetValid = await Promise.all(payers.map((payer) => signRaw(payer, now + 3_600n)));
    const zeroRequirements = { ...requirements, amount: "0" };
    const zeroValue = await Promise.all(payers.map((payer) => sign(payer, zeroRequirements)));
    // A token that answers every read a verifier makes (so the official checks pass) but is not
    // allow-listed: only the facilitator's policy refuses it.
    const fake = await deployArtifact(
      base,
      "contracts/test/mocks/GasBurningEIP3009Token.sol",
      "GasBurningEIP3009Token",
    );
    const otherAssetRequirements = {
      ...requirements,
      asset: fake,
      extra: { name: "Fake Dollar", version: "2" },
    };
    const otherAsset = await Promise.all(
      payers.map((payer) => sign(payer, otherAssetRequirements)),
    );
    const toRouterRequirements = { ...requirements, payTo: base.router };
    const toRouter = await Promise.all(payers.map((payer) => sign(payer, toRouterRequirements)));

    const rng = prng(seed);
    const reason = (version: 1 | 2, code: string) =>
      version === 1 ? (V1_SPELLING[code] ?? code) : code;
    const answer = (status: number, code: string): Expected => ({ status, reason: code });
    /** A semantically wrong payment: schema-valid, answered 200 with the reason. */
    type Mutation = { kind: string; reason: string; apply: (b: Body, version: 1 | 2) => Body };
    const auth = (b: Body) =>
      ((b.paymentPayload as Body).payload as { authorization: Record<string, string> })
        .authorization;
    const sigOf = (b: Body) => (b.paymentPayload as Body).payload as { signature: Hex };
    /** Sets a requirement field, in the v2 payload's `accepted` copy too. */
    const requirement = (
      b: Body,
      version: 1 | 2,
      field: string,
      value: unknown,
      remove = false,
    ) => {
      let out = setPath(b, ["paymentRequirements", field], value, remove);
      if (version === 2) out = setPath(out, ["paymentPayload", "accepted", field], value, remove);
      return out;
    };
    const mutations: Mutation[] = [
      {
        kind: "signature with one hex digit changed",
        reason: "invalid_exact_evm_signature",
        apply: (b) => {
          const c = structuredClone(b);
          sigOf(c).signature = flipHexChar(sigOf(c).signature, rng) as Hex;
          return c;
        },
      },
      {
        kind: "high-s twin of the signature",
        reason: "invalid_exact_evm_signature",
        apply: (b) => {
          const c = structuredClone(b);
          sigOf(c).signature = highS(sigOf(c).signature);
          return c;
        },
      },
      {
        kind: "signature cut to 64 bytes",
        reason: "invalid_exact_evm_signature",
        apply: (b) => {
          const c = structuredClone(b);
          sigOf(c).signature = sigOf(c).signature.slice(0, 130) as Hex;
          return c;
        },
      },
      ...(["value", "validBefore"] as const).map((field) => ({
        kind: `authorization.${field} raised after signing`,
        reason: "invalid_exact_evm_signature",
        apply: (b: Body) => {
          const c = structuredClone(b);
          auth(c)[field] = (BigInt(auth(c)[field]!) + 1n).toString();
          return c;
        },
      })),
      {
        kind: "authorization.to changed after signing",
        reason: "invalid_exact_evm_signature",
        apply: (b) => {
          const c = structuredClone(b);
          auth(c).to = privateKeyToAccount(generatePrivateKey()).address;
          return c;
        },
      },
      {
        kind: "authorization.nonce changed after signing",
        reason: "invalid_exact_evm_signature",
        apply: (b) => {
          const c = structuredClone(b);
          auth(c).nonce = flipHexChar(auth(c).nonce!, rng);
          return c;
        },
      },
      {
        kind: "authorization.from set to another payer",
        reason: "invalid_exact_evm_signature",
        apply: (b) => {
          const c = structuredClone(b);
          const index = payers.findIndex((p) => p.address === auth(c).from);
          auth(c).from = payers[(index + 1) % payers.length]!.address;
          return c;
        },
      },
      {
        kind: "EIP-712 name other than the signed one",
        reason: "invalid_exact_evm_signature",
        apply: (b, v) => requirement(b, v, "extra", { name: "USDC", version: "2" }),
      },
      {
        // Any other asset is outside the allow-list, which is checked before the signature.
        kind: "asset other than the signed one",
        reason: POLICY_REFUSALS.assetNotAllowed,
        apply: (b, v) =>
          requirement(b, v, "asset", privateKeyToAccount(generatePrivateKey()).address),
      },
      {
        kind: "payTo other than authorization.to",
        reason: "invalid_exact_evm_recipient_mismatch",
        apply: (b, v) =>
          requirement(b, v, "payTo", privateKeyToAccount(generatePrivateKey()).address),
      },
      {
        kind: "amount other than authorization.value",
        reason: "invalid_exact_evm_payload_authorization_value_mismatch",
        apply: (b, v) => requirement(b, v, v === 2 ? "amount" : "maxAmountRequired", "1001"),
      },
      {
        kind: "requirements scheme not exact",
        reason: "unsupported_scheme",
        apply: (b) =>
          setPath(
            b,
            ["paymentRequirements", "scheme"],
            rng.pick(["upto", "batch-settlement", "", "EXACT"]),
          ),
      },
      {
        kind: "requirements network not served",
        reason: "invalid_network",
        apply: (b, v) =>
          setPath(
            b,
            ["paymentRequirements", "network"],
            rng.pick(
              v === 2
                ? ["eip155:84532", "eip155:1", "base", "solana"]
                : ["base-sepolia", "eip155:8453", "solana"],
            ),
          ),
      },
      {
        kind: "payload scheme not exact",
        reason: "invalid_exact_evm_scheme",
        apply: (b, v) =>
          setPath(
            b,
            v === 2 ? ["paymentPayload", "accepted", "scheme"] : ["paymentPayload", "scheme"],
            "upto",
          ),
      },
      {
        kind: "payload network other than the requirements'",
        reason: "invalid_exact_evm_network_mismatch",
        apply: (b, v) =>
          setPath(
            b,
            v === 2 ? ["paymentPayload", "accepted", "network"] : ["paymentPayload", "network"],
            v === 2 ? "eip155:84532" : "base-sepolia",
          ),
      },
      {
        kind: "EIP-712 domain missing from extra",
        reason: "invalid_exact_evm_missing_eip712_domain",
        apply: (b) =>
          rng.pick([
            () => setPath(b, ["paymentRequirements", "extra"], undefined, true),
            () => setPath(b, ["paymentRequirements", "extra"], { version: "2" }),
            () => setPath(b, ["paymentRequirements", "extra"], { name: "USD Coin", version: 2 }),
          ])(),
      },
    ];

    const cases: Case[] = [];
    const add = (
      kind: string,
      path: Case["path"],
      expected: Expected,
      body?: unknown,
      raw?: string,
    ) =>
      cases.push({
        kind,
        path,
        expected,
        ...(body !== undefined ? { body } : {}),
        ...(raw !== undefined ? { raw } : {}),
      });
    const pickTemplate = (): { body: Body; version: 1 | 2 } =>
      rng.next() < 0.75
        ? { body: v2Body(rng.pick(fresh)), version: 2 }
        : { body: v1Body(rng.pick(fresh)), version: 1 };
    const tables = { 1: fieldTable(1), 2: fieldTable(2) };

    while (cases.length < REQUESTS) {
      const path = rng.next() < 0.5 ? "/verify" : "/settle";
      const r = rng.int(100);
      if (r < 12) {
        // Random JSON that is not a payment request at all.
        const body = randomJson(rng);
        const isObject = typeof body === "object" && body !== null && !Array.isArray(body);
        const version = isObject
          ? (body as { paymentPayload?: { x402Version?: unknown } }).paymentPayload?.x402Version
          : undefined;
        if (version === 1 || version === 2) continue;
        // An object carrying a prototype-poisoning key is refused by the JSON parser itself.
        const poisoned = /"(__proto__|constructor)":/.test(JSON.stringify(body));
        add(
          "random JSON",
          path,
          answer(400, isObject && !poisoned ? "invalid_x402_version" : "invalid_payload"),
          body,
        );
      } else if (r < 36) {
        // One schema-checked field of a real payment replaced by a value not of its type.
        const { body, version } = pickTemplate();
        const field = rng.pick(tables[version]);
        // The top-level version may also name the other protocol version (it must match the payload's).
        const value = rng.pick<unknown>(
          field.path.join(".") === "x402Version"
            ? [...BAD.version, version === 1 ? 2 : 1]
            : BAD[field.type],
        );
        add(
          `v${version} ${field.path.join(".")} of the wrong type`,
          path,
          answer(400, locationReason(field.path)),
          setPath(body, field.path, value),
        );
      } else if (r < 44) {
        // One required field left out.
        const { body, version } = pickTemplate();
        const field = rng.pick(tables[version].filter((row) => !row.optional));
        add(
          `v${version} ${field.path.join(".")} missing`,
          path,
          answer(400, locationReason(field.path)),
          setPath(body, field.path, undefined, true),
        );
      } else if (r < 72) {
        const { body, version } = pickTemplate();
        const mutation = rng.pick(mutations);
        add(
          `v${version} ${mutation.kind}`,
          path,
          answer(200, reason(version, mutation.reason)),
          mutation.apply(body, version),
        );
      } else if (r < 80) {
        const special = rng.pick([
          {
            kind: "v2 expired (validBefore < now + 6 s)",
            body: () => v2Body(rng.pick(expired), { ...requirements, maxTimeoutSeconds: 2 }),
            code: "invalid_exact_evm_payload_authorization_valid_before",
          },
          {
            kind: "v2 not yet valid",
            body: () => v2Body(rng.pick(notYetValid)),
            code: "invalid_exact_evm_payload_authorization_valid_after",
          },
          {
            kind: "v2 payer without funds",
            body: () => v2Body(rng.pick(unfunded)),
            code: "invalid_exact_evm_insufficient_balance",
          },
          {
            kind: "v1 payer without funds",
            body: () => v1Body(rng.pick(unfunded)),
            code: "insufficient_funds",
          },
          {
            kind: "replay of a settled payment",
            body: () => settledBody,
            code: "invalid_exact_evm_nonce_already_used",
          },
        ]);
        add(special.kind, path, answer(200, special.code), special.body());
      } else if (r < 84) {
        const policy = rng.pick([
          {
            kind: "zero-value payment",
            code: POLICY_REFUSALS.zeroValue,
            body: () => v2Body(rng.pick(zeroValue), zeroRequirements),
          },
          {
            kind: "asset not on the allow-list",
            code: POLICY_REFUSALS.assetNotAllowed,
            body: () => v2Body(rng.pick(otherAsset), otherAssetRequirements),
          },
          {
            kind: "payTo is the router",
            code: POLICY_REFUSALS.payToRouter,
            body: () => v2Body(rng.pick(toRouter), toRouterRequirements),
          },
        ]);
        add(policy.kind, path, answer(200, policy.code), policy.body());
      } else if (r < 92) {
        const raw = rng.pick([
          "",
          "{",
          '{"x402Version":2,',
          "\u0000\u0001",
          "nul",
          JSON.stringify(settledBody).slice(0, 200),
        ]);
        add("body not JSON", path, answer(400, "invalid_payload"), undefined, raw);
      } else if (r < 96) {
        const raw = rng.pick([
          "null",
          "[]",
          "123",
          '"text"',
          "true",
          JSON.stringify([settledBody]),
        ]);
        add("JSON that is not an object", path, answer(400, "invalid_payload"), undefined, raw);
      } else {
        const raw = JSON.stringify({ pad: "x".repeat(70_000 + rng.int(200_000)) });
        add("body over 64 KiB", path, answer(413, "invalid_payload"), undefined, raw);
      }
    }

    const addresses = [
      ...payers.map((p) => p.address),
      ...unfunded.map((p) => (p.payload.authorization as { from: Address }).from),
      payTo,
      base.router,
      base.relayer.address,
    ];
    const balances = () => Promise.all(addresses.map((a) => usdcBalance(base.client, a)));
    const relayerState = async () => ({
      nonce: await base.client.getTransactionCount({
        address: base.relayer.address,
        blockTag: "pending",
      }),
      eth: await base.client.getBalance({ address: base.relayer.address }),
    });
    const unsettled = [
      ...fresh,
      ...unfunded,
      ...expired,
      ...notYetValid,
      ...zeroValue,
      ...otherAsset,
      ...toRouter,
    ];
    const balancesBefore = await balances();
    const relayerBefore = await relayerState();

    const mismatches = new Map<string, { count: number; example: string }>();
    const answered = new Map<string, number>();
    let next = 0;
    const worker = async () => {
      for (;;) {
        const index = next;
        next += 1;
        if (index >= cases.length) return;
        const c = cases[index]!;
        const { status, json } = await postJson(`${ours.url}${c.path}`, c.raw ?? c.body);
        const got =
          c.path === "/verify"
            ? { status, ok: json.isValid, reason: json.invalidReason }
            : { status, ok: json.success, reason: json.errorReason };
        const key = `${status} ${String(got.reason)}`;
        answered.set(key, (answered.get(key) ?? 0) + 1);
        if (
          got.status !== c.expected.status ||
          got.ok !== false ||
          got.reason !== c.expected.reason
        ) {
          const label = `${c.path} ${c.kind}: expected ${c.expected.status} ${c.expected.reason}, got ${status} ${got.ok === false ? "" : `${c.path === "/verify" ? "isValid" : "success"}=${String(got.ok)} `}${String(got.reason)}`;
          const seen = mismatches.get(label);
          if (seen) seen.count += 1;
          else
            mismatches.set(label, {
              count: 1,
              example: `case ${index}: ${(c.raw ?? JSON.stringify(c.body))?.slice(0, 300)}`,
            });
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    process.stdout.write(`      answers: ${JSON.stringify(Object.fromEntries(answered))}\n`);

    // Every answer as required; nothing moved, nothing was sent; the facilitator is still up.
    const problems = [...mismatches].map(
      ([label, { count, example }]) => `${count}× ${label}\n        ${example}`,
    );
    const balancesAfter = await balances();
    addresses.forEach((address, i) => {
      if (balancesAfter[i] !== balancesBefore[i]) {
        problems.push(`USDC balance of ${address}: ${balancesBefore[i]} → ${balancesAfter[i]}`);
      }
    });
    const relayerAfter = await relayerState();
    if (relayerAfter.nonce !== relayerBefore.nonce || relayerAfter.eth !== relayerBefore.eth) {
      problems.push(
        `relayer sent ${relayerAfter.nonce - relayerBefore.nonce} transactions, ` +
          `spent ${relayerBefore.eth - relayerAfter.eth} wei`,
      );
    }
    for (const created of unsettled) {
      const { from, nonce } = created.payload.authorization as { from: Address; nonce: Hex };
      if (await nonceUsed(base.client, from, nonce))
        problems.push(`nonce ${nonce} of ${from} used`);
    }
    const health = await fetch(`${ours.url}/health`);
    const summary = (await health.json()) as { payments: Record<string, number> };
    expect(health.status).to.equal(200);
    expect(problems, `FUZZ_SEED=${seed}:\n${problems.join("\n")}`).to.have.length(0);
    expect(summary.payments).to.deep.equal({ queued: 0, submitted: 0, settled: 1, failed: 0 });
  });
});
