import { ExactEvmScheme } from "@x402/evm/exact/client";
import { toClientEvmSigner } from "@x402/evm";
import { expect } from "chai";
import { network } from "hardhat";
import {
  concatHex,
  createPublicClient,
  custom,
  getAddress,
  numberToHex,
  parseAbi,
  parseSignature,
  publicActions,
  serializeSignature,
  walletActions,
  type Hex,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

import { buildDirectAuthorization } from "../../src/authorization/buildDirectAuthorization.js";
import { buildRoutedAuthorization } from "../../src/authorization/buildRoutedAuthorization.js";
import { computeRoutedNonce } from "../../src/authorization/computeRoutedNonce.js";
import { InvalidAuthorizationInputError } from "../../src/authorization/errors.js";
import { fromX402Payload } from "../../src/authorization/fromX402Payload.js";
import { getAuthorizationStates } from "../../src/authorization/getAuthorizationStates.js";
import { getTokenDomain } from "../../src/authorization/getTokenDomain.js";
import { hashAuthorization } from "../../src/authorization/hashAuthorization.js";
import { readTokenDomain } from "../../src/authorization/readTokenDomain.js";
import { signAuthorization } from "../../src/authorization/signAuthorization.js";
import { toX402Payload } from "../../src/authorization/toX402Payload.js";
import { verifyAuthorization } from "../../src/authorization/verifyAuthorization.js";
import { MULTICALL3_ADDRESS, USDC_ADDRESS } from "../../src/chain/base.js";
import { bootstrapBase, fundUsdc } from "../../src/chain/bootstrap.js";

const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const NOW = 1_800_000_000n;

const payer = privateKeyToAccount(generatePrivateKey());
const payee = getAddress("0x00000000000000000000000000000000000a11ce");
const router = getAddress("0x000000000000000000000000000000000000b0b0");
const relayer = getAddress("0x000000000000000000000000000000000000fee5");
const domain = getTokenDomain();

function expectInputError(fn: () => unknown, field: string): void {
  try {
    fn();
  } catch (error) {
    expect(error).to.be.instanceOf(InvalidAuthorizationInputError);
    expect((error as InvalidAuthorizationInputError).field).to.equal(field);
    return;
  }
  expect.fail(`expected an InvalidAuthorizationInputError on ${field}`);
}

describe("toolkit: authorizations", () => {
  describe("builders", () => {
    it("direct: x402 v2 defaults (validAfter 0, validBefore now + timeout, random nonce)", () => {
      const a = buildDirectAuthorization({
        from: payer.address,
        to: payee,
        value: 10_000n,
        maxTimeoutSeconds: 60,
        now: NOW,
      });
      const b = buildDirectAuthorization({ from: payer.address, to: payee, value: 1n, now: NOW });
      expect(a).to.include({ kind: "direct", from: payer.address, to: payee, value: 10_000n });
      expect(a.validAfter).to.equal(0n);
      expect(a.validBefore).to.equal(NOW + 60n);
      expect(b.validBefore).to.equal(NOW + 300n);
      expect(a.nonce).to.match(/^0x[0-9a-f]{64}$/);
      expect(a.nonce).to.not.equal(b.nonce);
    });

    it("direct: rejects malformed input with a typed error naming the field", () => {
      const base = { from: payer.address, to: payee, value: 1n };
      expectInputError(() => buildDirectAuthorization({ ...base, to: "0x1234" as Hex }), "to");
      expectInputError(() => buildDirectAuthorization({ ...base, value: -1n }), "value");
      expectInputError(
        () => buildDirectAuthorization({ ...base, validAfter: 10n, validBefore: 10n }),
        "validBefore",
      );
      expectInputError(() => buildDirectAuthorization({ ...base, nonce: "0x01" }), "nonce");
      expectInputError(
        () => buildDirectAuthorization({ ...base, maxTimeoutSeconds: 0 }),
        "maxTimeoutSeconds",
      );
    });

    it("routed: to = router and nonce = keccak256(abi.encode(payee, fee, feeRecipient, salt))", () => {
      const salt = numberToHex(7n, { size: 32 });
      const a = buildRoutedAuthorization({
        from: payer.address,
        router,
        payee,
        value: 1_000n,
        fee: 10n,
        feeRecipient: relayer,
        salt,
        now: NOW,
      });
      expect(a).to.include({ kind: "routed", to: router, payee, fee: 10n, feeRecipient: relayer });
      // Independent of the helper: the nonce changes with every committed field.
      const nonces = new Set([
        a.nonce,
        computeRoutedNonce({ payee: relayer, fee: 10n, feeRecipient: relayer, salt }),
        computeRoutedNonce({ payee, fee: 11n, feeRecipient: relayer, salt }),
        computeRoutedNonce({ payee, fee: 10n, feeRecipient: payee, salt }),
        computeRoutedNonce({
          payee,
          fee: 10n,
          feeRecipient: relayer,
          salt: numberToHex(8n, { size: 32 }),
        }),
      ]);
      expect(nonces.size).to.equal(5);
      expect(a.nonce).to.equal(
        computeRoutedNonce({ payee, fee: 10n, feeRecipient: relayer, salt }),
      );
      expectInputError(
        () =>
          buildRoutedAuthorization({
            from: payer.address,
            router,
            payee,
            value: 5n,
            fee: 6n,
            feeRecipient: relayer,
          }),
        "fee",
      );
    });
  });

  describe("sign and verify offline", () => {
    it("a local-account signature verifies; the digest is the EIP-712 hash the signer signed", async () => {
      const authorization = buildDirectAuthorization({
        from: payer.address,
        to: payee,
        value: 5n,
        now: NOW,
      });
      const signed = await signAuthorization(payer, { domain, authorization });
      expect(await verifyAuthorization({ domain, authorization: signed, now: NOW })).to.deep.equal({
        valid: true,
        payer: payer.address,
      });
      const digestSignature = await payer.sign({
        hash: hashAuthorization({ domain, authorization }),
      });
      expect(digestSignature).to.equal(signed.signature);
    });

    it("refuses to sign for another payer", async () => {
      const other = privateKeyToAccount(generatePrivateKey());
      const authorization = buildDirectAuthorization({ from: other.address, to: payee, value: 5n });
      try {
        await signAuthorization(payer, { domain, authorization });
        expect.fail("signed for another payer");
      } catch (error) {
        expect(error).to.be.instanceOf(InvalidAuthorizationInputError);
      }
    });

    it("rejects tampering, the wrong domain and foreign signers with x402 reason codes", async () => {
      const authorization = buildDirectAuthorization({
        from: payer.address,
        to: payee,
        value: 5n,
        now: NOW,
      });
      const signed = await signAuthorization(payer, { domain, authorization });
      const verify = (overrides: object, extra: object = {}) =>
        verifyAuthorization({
          domain,
          authorization: { ...signed, ...overrides },
          now: NOW,
          ...extra,
        });

      expect(await verify({ value: 6n })).to.include({
        valid: false,
        reason: "invalid_exact_evm_signature",
      });
      expect(await verify({ to: relayer })).to.include({
        reason: "invalid_exact_evm_signature",
      });
      const otherChain = { ...domain, chainId: 84532 };
      expect(
        await verifyAuthorization({ domain: otherChain, authorization: signed, now: NOW }),
      ).to.include({
        reason: "invalid_exact_evm_signature",
      });
      expect(await verify({}, { expected: { chainId: 84532 } })).to.include({
        reason: "invalid_exact_evm_network_mismatch",
      });
      expect(await verify({}, { expected: { token: router } })).to.include({
        reason: "invalid_exact_evm_asset_mismatch",
      });
      expect(await verify({}, { expected: { payTo: relayer } })).to.include({
        reason: "invalid_exact_evm_recipient_mismatch",
      });
      expect(await verify({}, { expected: { value: 4n } })).to.include({
        reason: "invalid_exact_evm_payload_authorization_value_mismatch",
      });
      expect(
        await verify(
          {},
          { expected: { payTo: payee, value: 5n, chainId: 8453, token: USDC_ADDRESS } },
        ),
      ).to.deep.equal({ valid: true, payer: payer.address });
      expect(await verify({ signature: "0x1234" })).to.include({
        reason: "invalid_exact_evm_failed_to_parse_signature",
      });
      const intruder = privateKeyToAccount(generatePrivateKey());
      const forged = await intruder.signTypedData({
        domain,
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
      const result = await verify({ signature: forged });
      expect(result).to.include({ valid: false, reason: "invalid_exact_evm_signature" });
    });

    it("rejects the high-s twin of a valid signature although it recovers the same signer", async () => {
      const authorization = buildDirectAuthorization({
        from: payer.address,
        to: payee,
        value: 5n,
        now: NOW,
      });
      const signed = await signAuthorization(payer, { domain, authorization });
      const { r, s, yParity } = parseSignature(signed.signature);
      const twin = serializeSignature({
        r,
        s: numberToHex(SECP256K1_N - BigInt(s), { size: 32 }),
        yParity: yParity === 0 ? 1 : 0,
      });
      const { recoverTypedDataAddress } = await import("viem");
      const recovered = await recoverTypedDataAddress({
        domain,
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
        signature: twin,
      }).catch(() => undefined);
      if (recovered !== undefined) expect(recovered).to.equal(payer.address);
      expect(
        await verifyAuthorization({
          domain,
          authorization: { ...signed, signature: twin },
          now: NOW,
        }),
      ).to.include({ valid: false, reason: "invalid_exact_evm_signature" });
    });

    it("accepts the EIP-2098 compact form of the same signature", async () => {
      const authorization = buildDirectAuthorization({
        from: payer.address,
        to: payee,
        value: 5n,
        now: NOW,
      });
      const signed = await signAuthorization(payer, { domain, authorization });
      const { r, s, yParity } = parseSignature(signed.signature);
      const yParityAndS = numberToHex(BigInt(s) | (BigInt(yParity!) << 255n), { size: 32 });
      const compact = concatHex([r, yParityAndS]);
      expect(
        await verifyAuthorization({
          domain,
          authorization: { ...signed, signature: compact },
          now: NOW,
        }),
      ).to.deep.equal({ valid: true, payer: payer.address });
    });

    it("checks the time window against `now` with a configurable validBefore margin", async () => {
      const authorization = buildDirectAuthorization({
        from: payer.address,
        to: payee,
        value: 5n,
        validAfter: NOW - 10n,
        validBefore: NOW + 10n,
      });
      const authorizationSigned = await signAuthorization(payer, { domain, authorization });
      const at = (now: bigint, validBeforeMarginSeconds?: number) =>
        verifyAuthorization({
          domain,
          authorization: authorizationSigned,
          now,
          ...(validBeforeMarginSeconds === undefined ? {} : { validBeforeMarginSeconds }),
        });
      expect(await at(NOW)).to.include({ valid: true });
      expect(await at(NOW + 4n)).to.include({ valid: true }); // 10 - 4 = 6 s left: exactly the margin
      expect(await at(NOW + 5n)).to.include({
        reason: "invalid_exact_evm_payload_authorization_valid_before",
      });
      expect(await at(NOW + 5n, 0)).to.include({ valid: true });
      expect(await at(NOW + 4n, 30)).to.include({
        reason: "invalid_exact_evm_payload_authorization_valid_before",
      });
      expect(await at(NOW - 10n)).to.include({ valid: true });
      expect(await at(NOW - 11n)).to.include({
        reason: "invalid_exact_evm_payload_authorization_valid_after",
      });
    });

    it("routed: checks the nonce commitment, router, payee, fee recipient and fee", async () => {
      const authorization = buildRoutedAuthorization({
        from: payer.address,
        router,
        payee,
        value: 1_000n,
        fee: 10n,
        feeRecipient: relayer,
        now: NOW,
      });
      const signed = await signAuthorization(payer, { domain, authorization });
      const verify = (overrides: object, expected: object = {}) =>
        verifyAuthorization({
          domain,
          authorization: { ...signed, ...overrides },
          now: NOW,
          expected,
        });
      expect(
        await verify({}, { router, payTo: payee, feeRecipient: relayer, value: 1_000n }),
      ).to.deep.equal({
        valid: true,
        payer: payer.address,
      });
      // Swapping the payee or the fee breaks the commitment before any signature check.
      expect(await verify({ payee: relayer })).to.include({
        reason: "invalid_routed_nonce_commitment",
      });
      expect(await verify({ fee: 0n })).to.include({ reason: "invalid_routed_nonce_commitment" });
      expect(await verify({}, { router: payee })).to.include({
        reason: "invalid_exact_evm_recipient_mismatch",
      });
      expect(await verify({}, { payTo: relayer })).to.include({
        reason: "invalid_exact_evm_recipient_mismatch",
      });
      expect(await verify({}, { feeRecipient: payee })).to.include({
        reason: "invalid_routed_fee_recipient_mismatch",
      });
      // A direct-kind signature over the same fields does not verify as routed (different primary type).
      const asDirect = await signAuthorization(payer, {
        domain,
        authorization: { ...authorization, kind: "direct" },
      });
      expect(await verify({ signature: asDirect.signature })).to.include({
        reason: "invalid_exact_evm_signature",
      });

      // fee > value: signed consistently, still unsettleable.
      const greedy = buildRoutedAuthorization({
        from: payer.address,
        router,
        payee,
        value: 1_000n,
        fee: 1_000n,
        feeRecipient: relayer,
        now: NOW,
      });
      const nonce = computeRoutedNonce({ ...greedy, fee: 1_001n });
      const greedySigned = await signAuthorization(payer, {
        domain,
        authorization: { ...greedy, fee: 1_001n, nonce },
      });
      expect(
        await verifyAuthorization({ domain, authorization: greedySigned, now: NOW }),
      ).to.include({
        reason: "invalid_routed_fee_exceeds_value",
      });
    });

    it("flags fields the router's packed layout cannot carry", async () => {
      const authorization = buildDirectAuthorization({
        from: payer.address,
        to: payee,
        value: 2n ** 128n,
        now: NOW,
      });
      const signed = await signAuthorization(payer, { domain, authorization });
      expect(await verifyAuthorization({ domain, authorization: signed, now: NOW })).to.include({
        reason: "unsettleable_field_out_of_range",
      });
    });
  });

  describe("x402 payload form", () => {
    it("round-trips and verifies a payload made by the official x402 v2 client", async () => {
      const client = new ExactEvmScheme(toClientEvmSigner(payer));
      const paymentPayload = await client.createPaymentPayload(2, {
        scheme: "exact",
        network: "eip155:8453",
        amount: "12345",
        asset: USDC_ADDRESS,
        payTo: payee,
        maxTimeoutSeconds: 120,
        extra: { name: "USD Coin", version: "2" },
      });
      const signed = fromX402Payload(paymentPayload);
      expect(signed).to.include({
        kind: "direct",
        from: payer.address,
        to: payee,
        value: 12_345n,
        validAfter: 0n,
      });
      expect(signed.contractSignature).to.equal(undefined);
      expect(
        await verifyAuthorization({
          domain,
          authorization: signed,
          expected: { payTo: payee, value: 12_345n },
        }),
      ).to.deep.equal({ valid: true, payer: payer.address });
      expect(toX402Payload(signed)).to.deep.equal(paymentPayload.payload);
    });

    it("rejects malformed payloads with a typed error naming the field", () => {
      const good = {
        signature: `0x${"11".repeat(65)}`,
        authorization: {
          from: payer.address,
          to: payee,
          value: "100",
          validAfter: "0",
          validBefore: "1800000000",
          nonce: `0x${"22".repeat(32)}`,
        },
      };
      expect(fromX402Payload(good)).to.include({ value: 100n, validBefore: 1_800_000_000n });
      const withAuthorization = (field: string, value: unknown) => ({
        ...good,
        authorization: { ...good.authorization, [field]: value },
      });
      expectInputError(() => fromX402Payload(null), "payload");
      expectInputError(() => fromX402Payload({ signature: good.signature }), "authorization");
      expectInputError(() => fromX402Payload({ ...good, signature: "0xzz" }), "signature");
      expectInputError(() => fromX402Payload({ ...good, signature: "0x" }), "signature");
      expectInputError(
        () => fromX402Payload(withAuthorization("from", "0xnot")),
        "authorization.from",
      );
      expectInputError(
        () => fromX402Payload(withAuthorization("value", "-5")),
        "authorization.value",
      );
      expectInputError(
        () => fromX402Payload(withAuthorization("value", "1e6")),
        "authorization.value",
      );
      expectInputError(
        () => fromX402Payload(withAuthorization("value", 2 ** 60)),
        "authorization.value",
      );
      expectInputError(
        () => fromX402Payload(withAuthorization("validBefore", "0x10")),
        "authorization.validBefore",
      );
      expectInputError(
        () => fromX402Payload(withAuthorization("nonce", "0x1234")),
        "authorization.nonce",
      );
      // A signature that is not 65/64 bytes is a contract-wallet signature.
      expect(
        fromX402Payload({ ...good, signature: `0x${"33".repeat(100)}` }).contractSignature,
      ).to.equal(true);
    });
  });

  describe("on chain", () => {
    it("signs through a JSON-RPC WalletClient and reads states for many items in two calls", async () => {
      const conn = await network.create();
      const testClient = (await conn.viem.getTestClient())
        .extend(publicActions)
        .extend(walletActions);
      await bootstrapBase(testClient);
      expect(await readTokenDomain(testClient, { token: USDC_ADDRESS })).to.deep.equal(domain);

      // The node's own (JSON-RPC) account signs through eth_signTypedData_v4.
      const [wallet] = await conn.viem.getWalletClients();
      const nodeAccount = wallet!.account.address;
      const payers = [nodeAccount, payer.address, MULTICALL3_ADDRESS];
      await fundUsdc(testClient, { recipients: [nodeAccount, payer.address], amount: 1_000_000n });

      const authorization = buildDirectAuthorization({
        from: nodeAccount,
        to: payee,
        value: 250_000n,
      });
      const signed = await signAuthorization(wallet!, { domain, authorization });
      expect(await verifyAuthorization({ domain, authorization: signed })).to.include({
        valid: true,
      });

      // Spend it on chain: authorizationState must turn true for that nonce only.
      const { r, s, v } = parseSignature(signed.signature);
      const usdc = parseAbi([
        "function transferWithAuthorization(address from, address to, uint256 value, uint256 validAfter, uint256 validBefore, bytes32 nonce, uint8 v, bytes32 r, bytes32 s)",
      ]);
      const hash = await wallet!.writeContract({
        address: USDC_ADDRESS,
        abi: usdc,
        functionName: "transferWithAuthorization",
        args: [
          signed.from,
          signed.to,
          signed.value,
          signed.validAfter,
          signed.validBefore,
          signed.nonce,
          Number(v),
          r,
          s,
        ],
      });
      await testClient.waitForTransactionReceipt({ hash });

      let rpcCalls = 0;
      const counting = createPublicClient({
        transport: custom({
          request: (args) => {
            rpcCalls++;
            return testClient.request(args as never);
          },
        }),
      });
      const items = [
        { from: nodeAccount, nonce: signed.nonce },
        { from: nodeAccount, nonce: numberToHex(1n, { size: 32 }) },
        ...payers.slice(1).map((from) => ({ from, nonce: numberToHex(2n, { size: 32 }) })),
      ];
      const states = await getAuthorizationStates(counting, { token: USDC_ADDRESS, items });
      expect(rpcCalls).to.equal(2);
      expect(states.map((state) => state.nonceUsed)).to.deep.equal([true, false, false, false]);
      expect(states.map((state) => state.balance)).to.deep.equal([
        750_000n,
        750_000n,
        1_000_000n,
        0n,
      ]);
      expect(states.map((state) => state.payerHasCode)).to.deep.equal([false, false, false, true]);

      // 800 distinct payers: 800 words of code sizes exceed the 24,576-byte code limit (EIP-170)
      // of one deployless call.
      const many = Array.from({ length: 800 }, (_, index) => ({
        from: numberToHex(BigInt(index + 1) << 80n, { size: 20 }),
        nonce: numberToHex(BigInt(index), { size: 32 }),
      }));
      many[799] = { from: MULTICALL3_ADDRESS, nonce: numberToHex(7n, { size: 32 }) };
      const manyStates = await getAuthorizationStates(testClient, {
        token: USDC_ADDRESS,
        items: many,
      });
      expect(manyStates).to.have.length(800);
      expect(
        manyStates.filter((state) => state.payerHasCode).map((state) => state.from),
      ).to.deep.equal([getAddress(MULTICALL3_ADDRESS)]);
      expect(manyStates.every((state) => !state.nonceUsed)).to.equal(true);
    });
  });
});
