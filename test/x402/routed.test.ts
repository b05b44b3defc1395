import type { PaymentRequirements } from "@x402/core/types";
import { expect } from "chai";
import { getAddress } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

import { computeRoutedNonce } from "../../src/authorization/computeRoutedNonce.js";
import { verifyAuthorization } from "../../src/authorization/verifyAuthorization.js";
import { USDC_ADDRESS } from "../../src/chain/base.js";
import {
  RoutedClientScheme,
  RoutedRequirementsError,
  RoutedServerScheme,
  RoutedServerSchemeError,
  type RoutedPayload,
} from "../../src/x402/index.js";

const router = getAddress("0x00000000000000000000000000000000000000aa");
const feeRecipient = getAddress("0x00000000000000000000000000000000000000fe");
const payTo = getAddress("0x00000000000000000000000000000000000000b0");
const NOW = 1_800_000_000;

function requirements(
  overrides: Partial<PaymentRequirements> = {},
  extra = {},
): PaymentRequirements {
  return {
    scheme: "routed",
    network: "eip155:8453",
    asset: USDC_ADDRESS,
    amount: "1000",
    payTo,
    maxTimeoutSeconds: 300,
    extra: { name: "USD Coin", version: "2", router, fee: "50", feeRecipient, ...extra },
    ...overrides,
  };
}

async function refusal(promise: Promise<unknown>): Promise<RoutedRequirementsError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error, "refused").to.be.instanceOf(RoutedRequirementsError);
  return error as RoutedRequirementsError;
}

describe("x402 routed scheme: client", function () {
  const account = privateKeyToAccount(generatePrivateKey());
  const scheme = new RoutedClientScheme(account, { maxFee: 100n, now: () => NOW });

  it("signs a ReceiveWithAuthorization of amount + fee to the router, its nonce committing to payTo, fee, fee recipient and salt", async function () {
    const { x402Version, payload } = await scheme.createPaymentPayload(2, requirements());
    expect(x402Version).to.equal(2);
    const { authorization, salt, signature } = payload as RoutedPayload;
    expect(authorization.from).to.equal(account.address);
    expect(authorization.to).to.equal(router);
    expect(authorization.value).to.equal("1050");
    expect(authorization.validAfter).to.equal("0");
    expect(authorization.validBefore).to.equal(String(NOW + 300));
    expect(salt).to.match(/^0x[0-9a-f]{64}$/);
    expect(authorization.nonce).to.equal(
      computeRoutedNonce({ payee: payTo, fee: 50n, feeRecipient, salt }),
    );
    const verdict = await verifyAuthorization({
      domain: { name: "USD Coin", version: "2", chainId: 8453, verifyingContract: USDC_ADDRESS },
      authorization: {
        kind: "routed",
        from: authorization.from,
        to: authorization.to,
        value: BigInt(authorization.value),
        validAfter: BigInt(authorization.validAfter),
        validBefore: BigInt(authorization.validBefore),
        nonce: authorization.nonce,
        payee: payTo,
        fee: 50n,
        feeRecipient,
        salt,
        signature,
      },
      now: NOW,
      expected: { payTo, value: 1050n, router, feeRecipient, chainId: 8453 },
    });
    expect(verdict).to.deep.equal({ valid: true, payer: account.address });
  });

  it("uses a fresh salt (and so a fresh nonce) for every payment", async function () {
    const a = (await scheme.createPaymentPayload(2, requirements())).payload as RoutedPayload;
    const b = (await scheme.createPaymentPayload(2, requirements())).payload as RoutedPayload;
    expect(a.salt).to.not.equal(b.salt);
    expect(a.authorization.nonce).to.not.equal(b.authorization.nonce);
  });

  it("signs for Base Sepolia with its chain id", async function () {
    const sepolia = requirements(
      {
        network: "eip155:84532",
        asset: "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
      },
      { name: "USDC" },
    );
    const { payload } = await scheme.createPaymentPayload(2, sepolia);
    const { authorization, salt, signature } = payload as RoutedPayload;
    const verdict = await verifyAuthorization({
      domain: {
        name: "USDC",
        version: "2",
        chainId: 84532,
        verifyingContract: "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
      },
      authorization: {
        kind: "routed",
        ...authorization,
        value: BigInt(authorization.value),
        validAfter: BigInt(authorization.validAfter),
        validBefore: BigInt(authorization.validBefore),
        payee: payTo,
        fee: 50n,
        feeRecipient,
        salt,
        signature,
      },
      now: NOW,
    });
    expect(verdict.valid).to.equal(true);
  });

  type Attempt = (scheme: RoutedClientScheme) => Promise<unknown>;
  const refused: [string, Attempt, string][] = [
    ["x402 v1", (s) => s.createPaymentPayload(1, requirements()), "x402Version"],
    [
      "another scheme",
      (s) => s.createPaymentPayload(2, requirements({ scheme: "exact" })),
      "scheme",
    ],
    [
      "another network",
      (s) => s.createPaymentPayload(2, requirements({ network: "eip155:1" })),
      "network",
    ],
    [
      "no router",
      (s) => s.createPaymentPayload(2, requirements({}, { router: undefined })),
      "extra.router",
    ],
    [
      "a malformed router",
      (s) => s.createPaymentPayload(2, requirements({}, { router: "0x1234" })),
      "extra.router",
    ],
    ["no fee", (s) => s.createPaymentPayload(2, requirements({}, { fee: undefined })), "extra.fee"],
    [
      "a fee that is not a decimal string",
      (s) => s.createPaymentPayload(2, requirements({}, { fee: 50 })),
      "extra.fee",
    ],
    [
      "a negative fee",
      (s) => s.createPaymentPayload(2, requirements({}, { fee: "-1" })),
      "extra.fee",
    ],
    [
      "no fee recipient",
      (s) => s.createPaymentPayload(2, requirements({}, { feeRecipient: undefined })),
      "extra.feeRecipient",
    ],
    [
      "a fee above maxFee",
      (s) => s.createPaymentPayload(2, requirements({}, { fee: "101" })),
      "extra.fee",
    ],
    [
      "no EIP-712 domain",
      (s) => s.createPaymentPayload(2, requirements({}, { name: undefined })),
      "extra.name",
    ],
    [
      "payTo = the router",
      (s) => s.createPaymentPayload(2, requirements({ payTo: router })),
      "payTo",
    ],
    [
      "a malformed amount",
      (s) => s.createPaymentPayload(2, requirements({ amount: "1e3" })),
      "amount",
    ],
    [
      "amount + fee above the spend cap",
      (s) => s.createPaymentPayload(2, requirements(), { maxAmountPerPayment: "1049" }),
      "amount",
    ],
  ];
  for (const [what, attempt, field] of refused) {
    it(`refuses ${what} (${field}) without signing`, async function () {
      let signed = false;
      const watched = new RoutedClientScheme(
        {
          address: account.address,
          signTypedData: async (parameters) => {
            signed = true;
            return account.signTypedData(parameters as never);
          },
        },
        { maxFee: 100n, now: () => NOW },
      );
      const error = await refusal(attempt(watched));
      expect(error.field).to.equal(field);
      expect(signed).to.equal(false);
    });
  }

  it("accepts any fee without maxFee, within the spend cap", async function () {
    const open = new RoutedClientScheme(account);
    const { payload } = await open.createPaymentPayload(2, requirements({}, { fee: "100000" }), {
      maxAmountPerPayment: "101000",
    });
    expect((payload as RoutedPayload).authorization.value).to.equal("101000");
  });

  it("refuses a router outside its routers option", async function () {
    const pinned = new RoutedClientScheme(account, { routers: [feeRecipient] });
    const error = await refusal(pinned.createPaymentPayload(2, requirements()));
    expect(error.field).to.equal("extra.router");
  });

  it("reports USDC on Base as a default asset for the client's spend controls", function () {
    expect(scheme.findDefaultAsset(USDC_ADDRESS, "eip155:8453")).to.deep.equal({
      asset: USDC_ADDRESS,
      decimals: 6,
      symbol: "USDC",
    });
    expect(scheme.findDefaultAsset(router, "eip155:8453")).to.equal(undefined);
    expect(scheme.findDefaultAsset(USDC_ADDRESS, "eip155:1")).to.equal(undefined);
  });
});

describe("x402 routed scheme: server", function () {
  const server = new RoutedServerScheme();
  const kind = {
    x402Version: 2,
    scheme: "routed",
    network: "eip155:8453" as const,
    extra: { router, fee: "50", feeRecipient },
  };

  it("prices in USDC base units on Base and Base Sepolia, like exact", async function () {
    expect(await server.parsePrice("$0.001", "eip155:8453")).to.deep.equal({
      amount: "1000",
      asset: USDC_ADDRESS,
      extra: { name: "USD Coin", version: "2" },
    });
    expect(await server.parsePrice("0.25", "eip155:84532")).to.deep.equal({
      amount: "250000",
      asset: "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
      extra: { name: "USDC", version: "2" },
    });
    expect((await server.parsePrice(0.01, "eip155:8453")).amount).to.equal("10000");
    expect((await server.parsePrice("1.5 USDC", "eip155:8453")).amount).to.equal("1500000");
    const asset = {
      amount: "7",
      asset: "0x00000000000000000000000000000000000000c0",
      extra: { a: 1 },
    };
    expect(await server.parsePrice(asset, "eip155:8453")).to.deep.equal(asset);
  });

  it("refuses prices it cannot express", async function () {
    for (const [price, network] of [
      ["$0.001", "eip155:1"],
      ["ten dollars", "eip155:8453"],
      ["1 EURC", "eip155:8453"],
      [-1, "eip155:8453"],
    ] as const) {
      const error = await server.parsePrice(price, network).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error, `${price} on ${network}`).to.be.instanceOf(RoutedServerSchemeError);
    }
  });

  it("tries registered money parsers first", async function () {
    const custom = new RoutedServerScheme().registerMoneyParser(async (amount) =>
      amount === "2" ? { amount: "42", asset: USDC_ADDRESS } : null,
    );
    expect((await custom.parsePrice("$2", "eip155:8453")).amount).to.equal("42");
    expect((await custom.parsePrice("$3", "eip155:8453")).amount).to.equal("3000000");
  });

  it("copies the facilitator's router, fee and fee recipient into the requirements", async function () {
    const base = { ...requirements(), extra: { name: "USD Coin", version: "2" } };
    const enhanced = await server.enhancePaymentRequirements(base, kind, []);
    expect(enhanced.extra).to.deep.equal({
      name: "USD Coin",
      version: "2",
      router,
      fee: "50",
      feeRecipient,
    });
    expect(enhanced.amount).to.equal("1000");
  });

  it("refuses a facilitator kind without the routed terms", async function () {
    const base = { ...requirements(), extra: { name: "USD Coin", version: "2" } };
    for (const extra of [undefined, { router, fee: "50" }, { router, fee: "x", feeRecipient }]) {
      const error = await server
        .enhancePaymentRequirements(base, { ...kind, extra: extra as Record<string, unknown> }, [])
        .then(
          () => undefined,
          (caught: unknown) => caught,
        );
      expect(error).to.be.instanceOf(RoutedServerSchemeError);
      expect(server.validateFacilitatorSupport("eip155:8453", { ...kind, extra })).to.be.a(
        "string",
      );
    }
    expect(server.validateFacilitatorSupport("eip155:8453", kind)).to.equal(undefined);
  });
});
