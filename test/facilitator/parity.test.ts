import type { PaymentPayload, PaymentRequirements } from "@x402/core/types";
import { expect } from "chai";
import { createWalletClient, http, type Address, type Hex, type LocalAccount } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { base as baseChain } from "viem/chains";

import { createOfficialFacilitator, loadOfficialSdk } from "../../src/bench/official.js";
import { USDC_ADDRESS } from "../../src/chain/base.js";
import {
  fundedPayers,
  network,
  postJson,
  startFacilitator,
  startLocalBase,
  type LocalBase,
  type RunningFacilitator,
} from "./harness.js";

const TRANSFER_WITH_AUTHORIZATION = {
  TransferWithAuthorization: [
    { name: "from", type: "address" },
    { name: "to", type: "address" },
    { name: "value", type: "uint256" },
    { name: "validAfter", type: "uint256" },
    { name: "validBefore", type: "uint256" },
    { name: "nonce", type: "bytes32" },
  ],
} as const;

interface Variant {
  /** Changes to the requirements the payment is checked against. */
  requirements?: Record<string, unknown>;
  /** Changes to what the payer signs (and sends). */
  authorization?: Partial<{ to: Address; value: bigint; validAfter: bigint; validBefore: bigint }>;
  /** EIP-712 domain overrides for the signature. */
  domain?: Partial<{ name: string; verifyingContract: Address; chainId: number }>;
  /** Someone else signs. */
  signer?: LocalAccount;
  /** Changes to the `accepted` requirements inside the payload. */
  accepted?: Record<string, unknown>;
}

describe("facilitator: same verdicts as the official @x402/evm exact facilitator", function () {
  let base: LocalBase;
  let ours: RunningFacilitator;
  let payer: LocalAccount;
  let official: ReturnType<typeof createOfficialFacilitator>;
  const payTo = privateKeyToAccount(generatePrivateKey()).address;
  const stranger = privateKeyToAccount(generatePrivateKey());
  const requirements = {
    scheme: "exact",
    network: network.v2,
    amount: "5000",
    asset: USDC_ADDRESS,
    payTo,
    maxTimeoutSeconds: 300,
    extra: { name: "USD Coin", version: "2" },
  };

  before(async function () {
    base = await startLocalBase();
    // The official facilitator settles any asset; ours only allow-listed ones (checked before the
    // official checks), so the codeless asset of one case is allow-listed to compare its verdict.
    ours = await startFacilitator(base, { assets: [USDC_ADDRESS, stranger.address] });
    [payer] = await fundedPayers(base, 1, 1_000_000n);
    const walletClient = createWalletClient({
      account: privateKeyToAccount(generatePrivateKey()),
      chain: baseChain,
      transport: http(base.rpcUrl),
    });
    official = createOfficialFacilitator(await loadOfficialSdk("parity"), {
      publicClient: base.client,
      walletClient,
    });
  });

  after(async function () {
    if (ours) await ours.stop();
    if (base) await base.stop();
  });

  /** A payment signed like the official v2 client (validAfter 0), with the variant's changes. */
  async function payment(variant: Variant = {}, nonce?: Hex) {
    const now = BigInt(Math.floor(Date.now() / 1000));
    const signer = variant.signer ?? payer;
    const authorization = {
      from: payer.address,
      to: payTo,
      value: 5_000n,
      validAfter: 0n,
      validBefore: now + 300n,
      nonce: nonce ?? generatePrivateKey(),
      ...variant.authorization,
    };
    const signature = await signer.signTypedData({
      domain: {
        name: "USD Coin",
        version: "2",
        chainId: 8453,
        verifyingContract: USDC_ADDRESS,
        ...variant.domain,
      },
      types: TRANSFER_WITH_AUTHORIZATION,
      primaryType: "TransferWithAuthorization",
      message: authorization,
    });
    const checked = { ...requirements, ...variant.requirements };
    const payload = {
      x402Version: 2,
      resource: { url: "http://localhost/parity", description: "", mimeType: "" },
      accepted: { ...checked, ...variant.accepted },
      payload: {
        signature,
        authorization: {
          from: authorization.from,
          to: authorization.to,
          value: authorization.value.toString(),
          validAfter: authorization.validAfter.toString(),
          validBefore: authorization.validBefore.toString(),
          nonce: authorization.nonce,
        },
      },
    };
    return { payload, requirements: checked };
  }

  async function both(variant: Variant = {}, nonce?: Hex) {
    const { payload, requirements: checked } = await payment(variant, nonce);
    const theirs = await official.verify(
      payload as unknown as PaymentPayload,
      checked as unknown as PaymentRequirements,
    );
    const mine = await postJson(`${ours.url}/verify`, {
      x402Version: 2,
      paymentPayload: payload,
      paymentRequirements: checked,
    });
    expect(mine.status).to.equal(200);
    return { theirs, mine: mine.json, payload, requirements: checked };
  }

  // Variants are built when each test runs: time windows are relative to that moment.
  const cases: [string, () => Variant, string | undefined][] = [
    ["a valid payment", () => ({}), undefined],
    [
      "a payload accepted under another scheme",
      () => ({ accepted: { scheme: "upto" } }),
      "invalid_exact_evm_scheme",
    ],
    [
      "requirements without the EIP-712 domain",
      () => ({ requirements: { extra: {} } }),
      "invalid_exact_evm_missing_eip712_domain",
    ],
    [
      "a payload accepted on another network",
      () => ({ accepted: { network: "eip155:84532" } }),
      "invalid_exact_evm_network_mismatch",
    ],
    ["a signature by someone else", () => ({ signer: stranger }), "invalid_exact_evm_signature"],
    [
      "a signature for another chain",
      () => ({ domain: { chainId: 1 } }),
      "invalid_exact_evm_signature",
    ],
    [
      "a payment to someone else",
      () => ({ authorization: { to: stranger.address } }),
      "invalid_exact_evm_recipient_mismatch",
    ],
    [
      "validBefore within 6 seconds",
      () => ({ authorization: { validBefore: BigInt(Math.floor(Date.now() / 1000) + 3) } }),
      "invalid_exact_evm_payload_authorization_valid_before",
    ],
    [
      "validAfter in the future",
      () => ({ authorization: { validAfter: BigInt(Math.floor(Date.now() / 1000) + 120) } }),
      "invalid_exact_evm_payload_authorization_valid_after",
    ],
    [
      "an amount other than required",
      () => ({ authorization: { value: 4_999n } }),
      "invalid_exact_evm_payload_authorization_value_mismatch",
    ],
    [
      "more than the payer holds",
      () => ({ authorization: { value: 10_000_000n }, requirements: { amount: "10000000" } }),
      "invalid_exact_evm_insufficient_balance",
    ],
    [
      "the wrong token name (signed for it)",
      () => ({ domain: { name: "USDC" }, requirements: { extra: { name: "USDC", version: "2" } } }),
      "invalid_exact_evm_token_name_mismatch",
    ],
    [
      "an asset without code",
      () => ({
        domain: { verifyingContract: stranger.address },
        requirements: { asset: stranger.address },
      }),
      "asset_not_deployed_contract",
    ],
  ];

  for (const [name, variant, reason] of cases) {
    it(`agrees on ${name}: ${reason ?? "valid"}`, async function () {
      const { theirs, mine } = await both(variant());
      expect(theirs.invalidReason).to.equal(reason);
      expect(mine.isValid, JSON.stringify({ theirs, mine })).to.equal(theirs.isValid);
      expect(mine.invalidReason).to.equal(theirs.invalidReason);
      expect(mine.payer).to.equal(theirs.payer);
    });
  }

  it("agrees on a nonce already used (after our facilitator settled it)", async function () {
    const nonce = generatePrivateKey();
    const { payload, requirements: checked } = await payment({}, nonce);
    const settled = await postJson(`${ours.url}/settle`, {
      x402Version: 2,
      paymentPayload: payload,
      paymentRequirements: checked,
    });
    expect(settled.json.success).to.equal(true);
    const { theirs, mine } = await both({}, nonce);
    expect(theirs.invalidReason).to.equal("invalid_exact_evm_nonce_already_used");
    expect(mine.invalidReason).to.equal(theirs.invalidReason);
  });

  it("rejects a high-s twin of a valid signature, which the token would refuse", async function () {
    const { payload, requirements: checked } = await payment();
    const signature = payload.payload.signature as Hex;
    const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
    const s = BigInt(`0x${signature.slice(66, 130)}`);
    const v = Number.parseInt(signature.slice(130, 132), 16);
    payload.payload.signature = `0x${signature.slice(2, 66)}${(n - s).toString(16).padStart(64, "0")}${(v === 27 ? 28 : 27).toString(16)}`;
    const mine = await postJson(`${ours.url}/verify`, {
      x402Version: 2,
      paymentPayload: payload,
      paymentRequirements: checked,
    });
    expect(mine.json.isValid).to.equal(false);
    expect(mine.json.invalidReason).to.equal("invalid_exact_evm_signature");
  });
});
