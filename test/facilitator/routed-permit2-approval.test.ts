import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { toClientEvmSigner } from "@x402/evm";
import { expect } from "chai";
import {
  createWalletClient,
  decodeFunctionData,
  hexToBytes,
  erc20Abi,
  http,
  maxUint256,
  parseSignature,
  type Address,
  type Hex,
  type LocalAccount,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

import { settlementRouterAbi } from "../../src/abi/settlementRouter.js";
import { PERMIT2_ADDRESS, USDC_ADDRESS } from "../../src/chain/base.js";
import {
  newPermit2Payment,
  parseRoutedPermit2Request,
  permit2ItemOf,
} from "../../src/facilitator/routedPermit2.js";
import { FacilitatorStore } from "../../src/facilitator/store.js";
import { eip2612Abi } from "../../src/permit2/approval.js";
import {
  decodePermit2Items,
  encodePermit2Items,
  getPermit2ApprovalTypedData,
  PERMIT2_GROUP_HEADER_SIZE,
  PERMIT2_ITEM_PERMIT_SIZE,
  PERMIT2_SHORT_NONCE_EOA_ITEM_SIZE,
} from "../../src/permit2/router.js";
import {
  type Eip2612GasSponsoringInfo,
  RoutedClientScheme,
  routedDefaultAsset,
} from "../../src/x402/index.js";
import {
  fundedPayers,
  network,
  postJson,
  startFacilitator,
  startLocalBase,
  type LocalBase,
  type RunningFacilitator,
} from "./harness.js";

const PRICE = 1_000n;
const FEE = 50n;
const CAIP = network.v2 as `${string}:${string}`;

// As a type alias (assignable to Record<string, unknown>, which the mutations take).
type Info = { [K in keyof Eip2612GasSponsoringInfo]: Eip2612GasSponsoringInfo[K] };

type Body = {
  x402Version: 2;
  paymentPayload: {
    x402Version: 2;
    accepted: Record<string, unknown>;
    payload: Record<string, unknown>;
    extensions?: { eip2612GasSponsoring?: { info: Record<string, unknown> } };
  };
  paymentRequirements: Record<string, unknown>;
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

describe("facilitator: EIP-2612 permits of Permit2 riding in routed Permit2 payments", function () {
  this.timeout(300_000);
  let base: LocalBase;
  let facilitator: RunningFacilitator;
  const payTo = privateKeyToAccount(generatePrivateKey()).address;
  const feeRecipient = privateKeyToAccount(generatePrivateKey()).address;
  const usdc = routedDefaultAsset(CAIP)!;

  before(async () => {
    base = await startLocalBase();
    facilitator = await startFacilitator(base, {
      assets: [USDC_ADDRESS],
      fee: FEE,
      feeRecipient,
      maxWaitMs: 1_000,
    });
  });

  after(async () => {
    await facilitator?.facilitator.close();
    await facilitator?.stop();
    await base?.stop();
  });

  const relayerNonce = () =>
    base.client.getTransactionCount({ address: base.relayer.address, blockTag: "pending" });
  const allowanceOf = (owner: Address) =>
    base.client.readContract({
      address: USDC_ADDRESS,
      abi: erc20Abi,
      functionName: "allowance",
      args: [owner, PERMIT2_ADDRESS],
    });

  const requirements = {
    scheme: "routed",
    network: CAIP,
    amount: PRICE.toString(),
    asset: USDC_ADDRESS,
    payTo,
    maxTimeoutSeconds: 300,
    extra: { assetTransferMethod: "permit2" },
  };

  /** A settle body of `account` paying PRICE through Permit2, its permit signed by our client. */
  async function body(
    account: LocalAccount,
    approval: { value?: bigint; force?: boolean } | false = {},
  ): Promise<Body> {
    const accepted = {
      ...requirements,
      extra: {
        ...requirements.extra,
        router: base.router,
        fee: FEE.toString(),
        feeRecipient,
      },
    };
    const scheme = new RoutedClientScheme(toClientEvmSigner(account, base.client as never), {
      permit2Approval: approval === false ? false : { ...approval },
    });
    const created = await scheme.createPaymentPayload(2, accepted as never);
    return {
      x402Version: 2,
      paymentPayload: {
        x402Version: 2,
        accepted,
        payload: created.payload,
        ...(created.extensions
          ? { extensions: created.extensions as Body["paymentPayload"]["extensions"] }
          : {}),
      },
      paymentRequirements: accepted,
    };
  }

  function infoOf(b: Body): Info {
    return b.paymentPayload.extensions!.eip2612GasSponsoring!.info as Info;
  }

  function withInfo(b: Body, info: Record<string, unknown>): Body {
    const copy = structuredClone(b);
    copy.paymentPayload.extensions = { eip2612GasSponsoring: { info } };
    return copy;
  }

  /** A permit of `signer` for `owner`, as x402's info carries it. */
  async function signedInfo(
    signer: LocalAccount,
    fields: { owner: Address; value: bigint; nonce: bigint; deadline: bigint; spender?: Address },
  ): Promise<Info> {
    const typed = getPermit2ApprovalTypedData({
      token: {
        name: usdc.name,
        version: usdc.version,
        chainId: 8453,
        verifyingContract: USDC_ADDRESS,
      },
      owner: fields.owner,
      value: fields.value,
      nonce: fields.nonce,
      deadline: fields.deadline,
      permit2: fields.spender ?? PERMIT2_ADDRESS,
    });
    return {
      from: fields.owner,
      asset: USDC_ADDRESS,
      spender: fields.spender ?? PERMIT2_ADDRESS,
      amount: fields.value.toString(),
      nonce: fields.nonce.toString(),
      deadline: fields.deadline.toString(),
      signature: await signer.signTypedData(typed as never),
      version: "1",
    };
  }

  /** How many items of a `settlePermit2` transaction carry an EIP-2612 permit (flag bit 0). */
  async function permitsIn(hash: Hex): Promise<number> {
    const tx = await base.client.getTransaction({ hash });
    const call = decodeFunctionData({ abi: settlementRouterAbi, data: tx.input });
    return decodePermit2Items(call.args![2] as Hex).filter((item) => item.permit).length;
  }

  async function expectRefused(b: Body, reason: string, status = 200): Promise<void> {
    const before = await relayerNonce();
    const verify = await postJson(`${facilitator.url}/verify`, b);
    expect(verify.status, JSON.stringify(verify.json)).to.equal(status);
    expect(verify.json.isValid, JSON.stringify(verify.json)).to.equal(false);
    expect(verify.json.invalidReason, JSON.stringify(verify.json)).to.equal(reason);
    const settle = await postJson(`${facilitator.url}/settle`, b);
    expect(settle.json.success, JSON.stringify(settle.json)).to.equal(false);
    expect(settle.json.errorReason, JSON.stringify(settle.json)).to.equal(reason);
    expect(await relayerNonce()).to.equal(before);
  }

  it("refuses each bad permit with its own reason, before any gas is spent", async () => {
    const [payer] = await fundedPayers(base, 1, 1_000_000n);
    const valid = await body(payer!);
    const info = infoOf(valid);
    expect(info.from).to.equal(payer!.address);
    const other = privateKeyToAccount(generatePrivateKey());
    const now = BigInt(Math.floor(Date.now() / 1000));
    const deadline = BigInt(info.deadline);
    const cases: [string, Record<string, unknown>, string, number?][] = [
      ["another owner", { ...info, from: other.address }, "eip2612_from_mismatch"],
      ["another asset", { ...info, asset: other.address }, "eip2612_asset_mismatch"],
      ["another spender", { ...info, spender: base.router }, "eip2612_spender_not_permit2"],
      [
        "an expired deadline",
        await signedInfo(payer!, {
          owner: payer!.address,
          value: maxUint256,
          nonce: 0n,
          deadline: now - 1n,
        }),
        "eip2612_deadline_expired",
      ],
      [
        "a value below amount + fee",
        await signedInfo(payer!, { owner: payer!.address, value: PRICE, nonce: 0n, deadline }),
        "eip2612_amount_insufficient",
      ],
      [
        "another signer",
        await signedInfo(other, { owner: payer!.address, value: maxUint256, nonce: 0n, deadline }),
        "eip2612_invalid_signature",
      ],
      [
        "a value other than the one signed",
        { ...info, amount: (maxUint256 - 1n).toString() },
        "eip2612_invalid_signature",
      ],
      [
        "a deadline other than the one signed",
        { ...info, deadline: (deadline + 1n).toString() },
        "eip2612_invalid_signature",
      ],
      [
        "a nonce ahead of the token's",
        await signedInfo(payer!, { owner: payer!.address, value: maxUint256, nonce: 1n, deadline }),
        "eip2612_nonce_mismatch",
      ],
      [
        "a malformed signature",
        { ...info, signature: "0x1234" },
        "invalid_eip2612_extension_format",
        400,
      ],
      ["a missing field", { ...info, nonce: undefined }, "invalid_eip2612_extension_format", 400],
    ];
    for (const [name, mutated, reason, status] of cases) {
      try {
        await expectRefused(withInfo(valid, mutated), reason, status);
      } catch (error) {
        throw new Error(`${name}: ${(error as Error).message}`);
      }
    }
    // Without a permit the same payment is refused for the allowance, as before.
    await expectRefused(await body(payer!, false), "permit2_allowance_required");
    // The valid one settles, and the payer's allowance is its permit's.
    const settled = await postJson(`${facilitator.url}/settle`, valid);
    expect(settled.json.success, JSON.stringify(settled.json)).to.equal(true);
    expect(await allowanceOf(payer!.address)).to.equal(maxUint256 - PRICE - FEE);
  });

  it("random mutations of a permit are all refused with an eip2612 reason, without gas", async () => {
    const [payer] = await fundedPayers(base, 1, 1_000_000n);
    const valid = await body(payer!);
    const info = infoOf(valid);
    const random = prng(2612);
    const fields = [
      "from",
      "asset",
      "spender",
      "amount",
      "nonce",
      "deadline",
      "signature",
    ] as const;
    const replacements = (field: (typeof fields)[number]): unknown[] => {
      const hex = info[field] as string;
      return [
        undefined,
        "",
        "0x",
        "0",
        "-1",
        (2n ** 256n).toString(),
        "0x" + "00".repeat(20),
        payer!.address,
        base.router,
        PERMIT2_ADDRESS,
        // One hex digit changed (to another value, not just to another case of a checksummed one).
        typeof hex === "string" && hex.startsWith("0x")
          ? hex.slice(0, 10) + (hex[10]?.toLowerCase() === "a" ? "b" : "a") + hex.slice(11)
          : hex,
        typeof hex === "string" && /^[0-9]+$/.test(hex) ? (BigInt(hex) + 1n).toString() : hex,
      ];
    };
    const before = await relayerNonce();
    for (let round = 0; round < 40; round++) {
      const field = fields[random.int(fields.length)]!;
      const options = replacements(field);
      const value = options[random.int(options.length)];
      const current = info[field];
      if (
        value === current ||
        (typeof value === "string" &&
          typeof current === "string" &&
          value.toLowerCase() === current.toLowerCase())
      )
        continue;
      const mutated = withInfo(valid, { ...info, [field]: value });
      const verify = await postJson(`${facilitator.url}/verify`, mutated);
      const label = `round ${round}: ${field} = ${String(value)}: ${JSON.stringify(verify.json)}`;
      expect(verify.json.isValid, label).to.equal(false);
      expect(String(verify.json.invalidReason), label).to.match(/eip2612/);
    }
    expect(await relayerNonce()).to.equal(before);
  });

  it("the same permit in two payments of one payer is run once: both settle when its value covers them", async () => {
    const [payer] = await fundedPayers(base, 1, 1_000_000n);
    // Signed one after the other before either settled: the same token nonce, the same permit.
    const first = await body(payer!);
    const second = await body(payer!);
    expect(infoOf(first).nonce).to.equal(infoOf(second).nonce);
    const [a, b] = await Promise.all([
      postJson(`${facilitator.url}/settle`, first),
      postJson(`${facilitator.url}/settle`, second),
    ]);
    expect(a.json.success, JSON.stringify(a.json)).to.equal(true);
    expect(b.json.success, JSON.stringify(b.json)).to.equal(true);
    expect(await allowanceOf(payer!.address)).to.equal(maxUint256 - 2n * (PRICE + FEE));
    // One item in all carried the permit (the other's was dropped, its nonce then used).
    const hashes = [...new Set([a.json.transaction as Hex, b.json.transaction as Hex])];
    let carried = 0;
    for (const hash of hashes) carried += await permitsIn(hash);
    expect(carried).to.equal(1);
    // A later payment still carrying that used permit settles on the allowance it left.
    const later = await body(payer!, { force: true });
    const stale = withInfo(later, infoOf(first));
    const c = await postJson(`${facilitator.url}/settle`, stale);
    expect(c.json.success, JSON.stringify(c.json)).to.equal(true);
  });

  it("a permit that covers one of two payments: one settles, the other is refused before signing", async () => {
    const [payer] = await fundedPayers(base, 1, 1_000_000n);
    const exact = { value: PRICE + FEE, force: true };
    const first = await body(payer!, exact);
    const second = await body(payer!, exact);
    const before = await relayerNonce();
    const answers = await Promise.all([
      postJson(`${facilitator.url}/settle`, first),
      postJson(`${facilitator.url}/settle`, second),
    ]);
    const outcomes = answers.map((answer) => answer.json);
    const settled = outcomes.filter((outcome) => outcome.success === true);
    const refused = outcomes.filter((outcome) => outcome.success !== true);
    expect(settled.length, JSON.stringify(outcomes)).to.equal(1);
    expect(refused.length).to.equal(1);
    expect(refused[0]!.errorReason).to.be.oneOf([
      "permit2_allowance_required",
      "eip2612_nonce_used",
    ]);
    // One settlePermit2 call was sent, for the payment that settled.
    expect(await relayerNonce()).to.equal(before + 1);
    expect(await allowanceOf(payer!.address)).to.equal(0n);
  });

  it("the permit is stored with its payment and packed into its router item after a restart", async () => {
    const [payer] = await fundedPayers(base, 1, 1_000_000n);
    const b = await body(payer!);
    const parsed = parseRoutedPermit2Request(b);
    if (!parsed?.ok || !parsed.request.approval) throw new Error("not parsed with its permit");
    const dir = mkdtempSync(path.join(tmpdir(), "x402-permit-"));
    try {
      const file = path.join(dir, "facilitator.db");
      const writer = new FacilitatorStore(file);
      writer.insertPayment(
        newPermit2Payment(
          parsed.request,
          { id: "p", fingerprint: "0x01", fromBlock: 0n },
          parsed.request.approval,
        ),
      );
      writer.close();
      const reader = new FacilitatorStore(file);
      const stored = reader.getPayment("p")!;
      reader.close();
      const info = infoOf(b);
      expect(stored.permit).to.deep.equal({
        owner: payer!.address,
        value: maxUint256,
        nonce: 0n,
        deadline: BigInt(info.deadline),
        signature: info.signature.toLowerCase(),
      });
      const item = permit2ItemOf(stored, base.router);
      expect(item.permit).to.deep.equal({
        value: maxUint256,
        deadline: BigInt(info.deadline),
        signature: info.signature.toLowerCase(),
      });
      // The packed item carries it: a group header, the EOA item (the client's 128-bit nonce in
      // 16 bytes) and the permit, flag bit 0 set.
      const packed = hexToBytes(encodePermit2Items([item]));
      expect(packed.length).to.equal(
        PERMIT2_GROUP_HEADER_SIZE + PERMIT2_SHORT_NONCE_EOA_ITEM_SIZE + PERMIT2_ITEM_PERMIT_SIZE,
      );
      expect(packed[23]! & 1).to.equal(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a used permit with no allowance left is refused eip2612_nonce_used", async () => {
    const [payer] = await fundedPayers(base, 1, 1_000_000n);
    const b = await body(payer!, { value: PRICE + FEE });
    const info = infoOf(b);
    // Someone submits the permit to the token directly, then the payer revokes Permit2.
    const { r, s, v } = parseSignature(info.signature);
    const submitter = privateKeyToAccount(generatePrivateKey());
    await base.testClient.setBalance({ address: submitter.address, value: 10n ** 18n });
    const outsider = createWalletClient({ account: submitter, transport: http(base.rpcUrl) });
    await base.client.waitForTransactionReceipt({
      hash: await outsider.writeContract({
        chain: null,
        address: USDC_ADDRESS,
        abi: eip2612Abi,
        functionName: "permit",
        args: [
          payer!.address,
          PERMIT2_ADDRESS,
          BigInt(info.amount),
          BigInt(info.deadline),
          Number(v),
          r,
          s,
        ],
      }),
    });
    await base.testClient.setBalance({ address: payer!.address, value: 10n ** 18n });
    const wallet = createWalletClient({ account: payer!, transport: http(base.rpcUrl) });
    await base.client.waitForTransactionReceipt({
      hash: await wallet.writeContract({
        chain: null,
        address: USDC_ADDRESS,
        abi: erc20Abi,
        functionName: "approve",
        args: [PERMIT2_ADDRESS, 0n],
      }),
    });
    await expectRefused(b, "eip2612_nonce_used");
  });
});
