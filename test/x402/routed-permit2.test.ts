import { readFileSync } from "node:fs";
import type { Server } from "node:http";
import path from "node:path";

import { HTTPFacilitatorClient } from "@x402/core/server";
import { toClientEvmSigner } from "@x402/evm";
import { paymentMiddleware, x402ResourceServer } from "@x402/express";
import { decodePaymentResponseHeader, wrapFetchWithPayment, x402Client } from "@x402/fetch";
import { expect } from "chai";
import express from "express";
import {
  createWalletClient,
  erc20Abi,
  getAddress,
  http,
  maxUint256,
  type Address,
  type Hex,
  type LocalAccount,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

import { submitPermit2Batch } from "../../src/batch/permit2Items.js";
import { getPermit2ApprovalTypedData } from "../../src/permit2/router.js";
import { PERMIT2_ADDRESS, USDC_ADDRESS } from "../../src/chain/base.js";
import { Reconciler } from "../../src/facilitator/reconcile.js";
import {
  newPermit2Payment,
  parseRoutedPermit2Request,
} from "../../src/facilitator/routedPermit2.js";
import type { StoredPayment } from "../../src/facilitator/store.js";
import { RoutedClientScheme, RoutedServerScheme } from "../../src/x402/index.js";
import {
  fundedPayers,
  network,
  postJson,
  projectRoot,
  startFacilitator,
  startLocalBase,
  type LocalBase,
  type RunningFacilitator,
} from "../facilitator/harness.js";

const PRICE = 1_000n;
const FEE = 50n;
const CAIP = network.v2 as `${string}:${string}`;
const PAYERS = 20;

async function listen(app: express.Express): Promise<{ server: Server; url: string }> {
  const server = await new Promise<Server>((resolve) => {
    const started = app.listen(0, "127.0.0.1", () => resolve(started));
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  return { server, url: `http://127.0.0.1:${port}` };
}

function readArtifact(name: string): { abi: unknown[]; bytecode: Hex } {
  const file = path.join(
    projectRoot,
    "artifacts/contracts/test/router/mocks",
    `${name}.sol`,
    `${name}.json`,
  );
  return JSON.parse(readFileSync(file, "utf8")) as { abi: unknown[]; bytecode: Hex };
}

describe("routed scheme through Permit2 (official @x402/fetch + @x402/express, our facilitator)", function () {
  this.timeout(300_000);
  let base: LocalBase;
  let facilitator: RunningFacilitator;
  let usdt: Address;
  let resource: { server: Server; url: string };
  const payTo = privateKeyToAccount(generatePrivateKey()).address;
  const feeRecipient = privateKeyToAccount(generatePrivateKey()).address;
  const funder = privateKeyToAccount(generatePrivateKey());

  const balanceOf = (token: Address, owner: Address) =>
    base.client.readContract({
      address: token,
      abi: erc20Abi,
      functionName: "balanceOf",
      args: [owner],
    });

  async function wallet(account: LocalAccount) {
    await base.testClient.setBalance({ address: account.address, value: 10n ** 18n });
    return createWalletClient({ account, chain: base.client.chain, transport: http(base.rpcUrl) });
  }

  /** Payers holding `token` (USDT-like minted, USDC funded), approving Permit2 unless told not. */
  async function payers(token: Address, count: number, approve = true): Promise<LocalAccount[]> {
    let accounts: LocalAccount[];
    if (token === USDC_ADDRESS) accounts = await fundedPayers(base, count, 1_000_000n);
    else {
      accounts = Array.from({ length: count }, () => privateKeyToAccount(generatePrivateKey()));
      const minter = await wallet(funder);
      for (const account of accounts) {
        const hash = await minter.writeContract({
          address: usdt,
          abi: [
            {
              type: "function",
              name: "mint",
              stateMutability: "nonpayable",
              inputs: [
                { name: "to", type: "address" },
                { name: "value", type: "uint256" },
              ],
              outputs: [],
            },
          ],
          functionName: "mint",
          args: [account.address, 1_000_000n],
          chain: null,
        });
        await base.client.waitForTransactionReceipt({ hash });
      }
    }
    if (approve) {
      for (const account of accounts) {
        const client = await wallet(account);
        const hash = await client.writeContract({
          address: token,
          abi: erc20Abi,
          functionName: "approve",
          args: [PERMIT2_ADDRESS, maxUint256],
          chain: null,
        });
        await base.client.waitForTransactionReceipt({ hash });
      }
    }
    return accounts;
  }

  function routedFetch(account: LocalAccount, options: { reads?: boolean } = {}) {
    // The USDT-like token is not one of x402's default assets: the client opts in with a cap.
    // With reads, the signer reads the chain (the Permit2 approval's allowance and nonce).
    const signer = options.reads
      ? toClientEvmSigner(account, base.client as never)
      : toClientEvmSigner(account);
    const client = x402Client.fromConfig({
      schemes: [
        {
          network: CAIP,
          client: new RoutedClientScheme(signer, {
            maxFee: FEE,
            routers: [base.router],
          }),
        },
      ],
      spendControls: {
        allowedAssets: [{ network: CAIP, asset: usdt, maxAmountPerPayment: String(PRICE + FEE) }],
      },
    });
    return wrapFetchWithPayment(fetch, client);
  }

  before(async () => {
    base = await startLocalBase();
    const deployer = await wallet(funder);
    const artifact = readArtifact("UsdtLikeMock");
    const hash = await deployer.deployContract({
      abi: artifact.abi,
      bytecode: artifact.bytecode,
      args: [],
      chain: null,
    });
    usdt = (await base.client.waitForTransactionReceipt({ hash })).contractAddress!;
    facilitator = await startFacilitator(base, {
      assets: [USDC_ADDRESS, usdt],
      permit2Assets: [usdt],
      fee: FEE,
      feeRecipient,
      maxWaitMs: 1_000,
    });
    const app = express();
    // The USDT-like asset is marked Permit2 by the facilitator's kind; USDC by this server's option.
    const server = new x402ResourceServer(
      new HTTPFacilitatorClient({ url: facilitator.url }),
    ).register(CAIP, new RoutedServerScheme({ permit2Assets: [USDC_ADDRESS] }));
    const route = (asset: Address) => ({
      accepts: {
        scheme: "routed",
        price: { amount: PRICE.toString(), asset },
        network: CAIP,
        payTo,
        maxTimeoutSeconds: 300,
      },
      description: "weather, paid through Permit2",
    });
    app.use(
      paymentMiddleware(
        {
          "GET /usdt/weather": route(usdt),
          "GET /usdc/weather": route(USDC_ADDRESS),
          // The route declares x402's eip2612GasSponsoring extension, as @x402/extensions does.
          "GET /usdc-permit/weather": {
            ...route(USDC_ADDRESS),
            extensions: {
              eip2612GasSponsoring: {
                info: {
                  description: "The facilitator accepts EIP-2612 gasless Permit to Permit2.",
                  version: "1",
                },
              },
            },
          },
        },
        server,
      ),
    );
    app.get("/usdt/weather", (_req, res) => void res.json({ report: "sunny" }));
    app.get("/usdc/weather", (_req, res) => void res.json({ report: "sunny" }));
    app.get("/usdc-permit/weather", (_req, res) => void res.json({ report: "sunny" }));
    resource = await listen(app);
  });

  after(async () => {
    resource?.server.closeAllConnections();
    await new Promise<void>((resolve) =>
      resource ? resource.server.close(() => resolve()) : resolve(),
    );
    await facilitator?.facilitator.close();
    await facilitator?.stop();
    await base?.stop();
  });

  it("/supported lists the USDT-like token as a Permit2 asset of the routed kind", async () => {
    const supported = facilitator.facilitator.supported();
    const routed = supported.kinds.find((kind) => kind.scheme === "routed");
    expect((routed?.extra as Record<string, unknown> | undefined)?.permit2Assets).to.deep.equal([
      getAddress(usdt),
    ]);
  });

  for (const asset of ["usdt", "usdc"] as const) {
    it(`${PAYERS} concurrent ${asset} payments settle in few settlePermit2 calls, fees received`, async () => {
      const token = asset === "usdt" ? usdt : USDC_ADDRESS;
      const accounts = await payers(token, PAYERS);
      const [payeeBefore, feesBefore] = await Promise.all([
        balanceOf(token, payTo),
        balanceOf(token, feeRecipient),
      ]);
      const results = await Promise.all(
        accounts.map(async (account) => {
          const response = await routedFetch(account)(`${resource.url}/${asset}/weather`);
          const body = (await response.json()) as { report?: string };
          return {
            status: response.status,
            body,
            header: response.headers.get("PAYMENT-RESPONSE"),
          };
        }),
      );
      const transactions = new Set<Hex>();
      for (const result of results) {
        expect(result.status, JSON.stringify(result)).to.equal(200);
        expect(result.body.report).to.equal("sunny");
        const settle = decodePaymentResponseHeader(result.header!) as {
          success: boolean;
          transaction: Hex;
        };
        expect(settle.success).to.equal(true);
        transactions.add(settle.transaction);
      }
      expect(transactions.size).to.be.at.most(4);
      let gasUsed = 0n;
      for (const hash of transactions) {
        const receipt = await base.client.getTransactionReceipt({ hash });
        expect(receipt.status).to.equal("success");
        expect(receipt.to?.toLowerCase()).to.equal(base.router.toLowerCase());
        gasUsed += receipt.gasUsed;
      }
      for (const account of accounts) {
        expect(await balanceOf(token, account.address)).to.equal(1_000_000n - PRICE - FEE);
      }
      expect((await balanceOf(token, payTo)) - payeeBefore).to.equal(PRICE * BigInt(PAYERS));
      expect((await balanceOf(token, feeRecipient)) - feesBefore).to.equal(FEE * BigInt(PAYERS));
      console.log(
        `      ${asset}: ${PAYERS} payments in ${transactions.size} tx, ${gasUsed / BigInt(PAYERS)} gas per payment`,
      );
    });
  }

  it(`${PAYERS} USDC payers without a Permit2 allowance pay gaslessly: their EIP-2612 permits ride in the batch`, async () => {
    const accounts = await payers(USDC_ADDRESS, PAYERS, false);
    const allowanceOf = (owner: Address) =>
      base.client.readContract({
        address: USDC_ADDRESS,
        abi: erc20Abi,
        functionName: "allowance",
        args: [owner, PERMIT2_ADDRESS],
      });
    for (const account of accounts) expect(await allowanceOf(account.address)).to.equal(0n);
    const payeeBefore = await balanceOf(USDC_ADDRESS, payTo);
    const results = await Promise.all(
      accounts.map(async (account) => {
        const response = await routedFetch(account, { reads: true })(
          `${resource.url}/usdc-permit/weather`,
        );
        return {
          status: response.status,
          body: (await response.json()) as { report?: string },
          header: response.headers.get("PAYMENT-RESPONSE"),
        };
      }),
    );
    const transactions = new Set<Hex>();
    for (const result of results) {
      expect(result.status, JSON.stringify(result)).to.equal(200);
      expect(result.body.report).to.equal("sunny");
      const settle = decodePaymentResponseHeader(result.header!) as { transaction: Hex };
      transactions.add(settle.transaction);
    }
    expect(transactions.size).to.be.at.most(4);
    let gasUsed = 0n;
    for (const hash of transactions) {
      const receipt = await base.client.getTransactionReceipt({ hash });
      expect(receipt.status).to.equal("success");
      expect(receipt.to?.toLowerCase()).to.equal(base.router.toLowerCase());
      gasUsed += receipt.gasUsed;
    }
    console.log(
      `      usdc with permits: ${PAYERS} payments in ${transactions.size} tx, ${gasUsed / BigInt(PAYERS)} gas per payment`,
    );
    for (const account of accounts) {
      // The payer sent nothing itself; its one-time approval (maxUint256) was its permit.
      expect(await base.client.getTransactionCount({ address: account.address })).to.equal(0);
      expect(await allowanceOf(account.address)).to.equal(maxUint256 - PRICE - FEE);
      expect(await balanceOf(USDC_ADDRESS, account.address)).to.equal(1_000_000n - PRICE - FEE);
    }
    expect((await balanceOf(USDC_ADDRESS, payTo)) - payeeBefore).to.equal(PRICE * BigInt(PAYERS));
    // A second payment of the same payer needs no permit: the allowance is there.
    const again = await routedFetch(accounts[0]!, { reads: true })(
      `${resource.url}/usdc-permit/weather`,
    );
    expect(again.status).to.equal(200);
  });

  it("the client signs no permit for an asset without a known EIP-2612 domain, nor with permit2Approval: false", async () => {
    const account = privateKeyToAccount(generatePrivateKey());
    const signer = toClientEvmSigner(account, base.client as never);
    const requirements = (asset: Address) =>
      ({
        scheme: "routed",
        network: CAIP,
        amount: PRICE.toString(),
        asset,
        payTo,
        maxTimeoutSeconds: 300,
        extra: {
          router: base.router,
          fee: FEE.toString(),
          feeRecipient,
          assetTransferMethod: "permit2",
        },
      }) as never;
    const declared = { extensions: { eip2612GasSponsoring: { info: { version: "1" } } } };
    const usdcPayment = await new RoutedClientScheme(signer).createPaymentPayload(
      2,
      requirements(USDC_ADDRESS),
      declared,
    );
    expect(usdcPayment.extensions?.eip2612GasSponsoring).to.have.property("info");
    for (const [scheme, asset] of [
      [new RoutedClientScheme(signer), usdt],
      [new RoutedClientScheme(signer, { permit2Approval: false }), USDC_ADDRESS],
      [new RoutedClientScheme(toClientEvmSigner(account)), USDC_ADDRESS],
    ] as const) {
      const result = await scheme.createPaymentPayload(2, requirements(asset), declared);
      expect(result.extensions).to.equal(undefined);
    }
    // Not declared by the 402 and not asked by an option: none either.
    const silent = await new RoutedClientScheme(signer).createPaymentPayload(
      2,
      requirements(USDC_ADDRESS),
    );
    expect(silent.extensions).to.equal(undefined);
  });

  /** A `/settle` body for one routed Permit2 payment of `account`, signed by our client scheme. */
  async function settleBody(account: LocalAccount, token: Address) {
    const requirements = {
      scheme: "routed",
      network: CAIP,
      amount: PRICE.toString(),
      asset: token,
      payTo,
      maxTimeoutSeconds: 300,
      extra: {
        router: base.router,
        fee: FEE.toString(),
        feeRecipient,
        assetTransferMethod: "permit2",
      },
    };
    const { payload } = await new RoutedClientScheme(account).createPaymentPayload(
      2,
      requirements as never,
    );
    return {
      x402Version: 2,
      paymentPayload: { x402Version: 2, accepted: requirements, payload },
      paymentRequirements: requirements,
    };
  }

  it("the client signs a Permit2 payload only within its router allow-list, max fee and spend cap", async () => {
    const account = privateKeyToAccount(generatePrivateKey());
    const requirements = {
      scheme: "routed",
      network: CAIP,
      amount: PRICE.toString(),
      asset: usdt,
      payTo,
      maxTimeoutSeconds: 300,
      extra: {
        router: base.router,
        fee: FEE.toString(),
        feeRecipient,
        assetTransferMethod: "permit2",
      },
    } as never;
    const other = privateKeyToAccount(generatePrivateKey()).address;
    const refusals = [
      () =>
        new RoutedClientScheme(account, { routers: [other] }).createPaymentPayload(2, requirements),
      () =>
        new RoutedClientScheme(account, { maxFee: FEE - 1n }).createPaymentPayload(2, requirements),
      () =>
        new RoutedClientScheme(account).createPaymentPayload(2, requirements, {
          maxAmountPerPayment: String(PRICE + FEE - 1n),
        } as never),
    ];
    for (const refusal of refusals) {
      let error: unknown;
      await refusal().catch((caught: unknown) => (error = caught));
      expect((error as Error | undefined)?.name).to.equal("RoutedRequirementsError");
    }
    const { payload } = await new RoutedClientScheme(account, {
      routers: [base.router],
      maxFee: FEE,
    }).createPaymentPayload(2, requirements, { maxAmountPerPayment: String(PRICE + FEE) } as never);
    const permit = (payload as { permit2Authorization: Record<string, unknown> })
      .permit2Authorization;
    expect(permit.spender).to.equal(getAddress(base.router));
    expect(permit.permitted).to.deep.equal({
      token: getAddress(usdt),
      amount: String(PRICE + FEE),
    });
    expect(permit.witness).to.include({ payee: getAddress(payTo), fee: FEE.toString() });
  });

  it("a replayed payload is refused (after it settled, and with another payee)", async () => {
    const [account] = await payers(usdt, 1);
    const body = await settleBody(account!, usdt);
    const first = await postJson(`${facilitator.url}/settle`, body);
    expect(first.json.success, JSON.stringify(first.json)).to.equal(true);
    const again = await postJson(`${facilitator.url}/settle`, body);
    expect(again.json.success).to.equal(false);
    expect(again.json.errorReason).to.equal("invalid_exact_evm_nonce_already_used");
    const verify = await postJson(`${facilitator.url}/verify`, body);
    expect(verify.json.isValid).to.equal(false);
    // The same signature offered for another payee: the witness no longer matches.
    const swapped = structuredClone(body) as typeof body & {
      paymentPayload: { payload: { permit2Authorization: { witness: { payee: Address } } } };
    };
    const other = privateKeyToAccount(generatePrivateKey()).address;
    swapped.paymentRequirements.payTo = other;
    swapped.paymentPayload.payload.permit2Authorization.witness.payee = other;
    const redirected = await postJson(`${facilitator.url}/settle`, swapped);
    expect(redirected.json.success).to.equal(false);
    expect(redirected.json.errorReason).to.be.oneOf([
      "invalid_permit2_signature",
      "invalid_exact_evm_nonce_already_used",
    ]);
  });

  it("a payer without a Permit2 allowance is refused with a clear reason and no gas spent", async () => {
    const [account] = await payers(usdt, 1, false);
    const before = await base.client.getTransactionCount({ address: base.relayer.address });
    const body = await settleBody(account!, usdt);
    const verify = await postJson(`${facilitator.url}/verify`, body);
    expect(verify.json.isValid).to.equal(false);
    expect(verify.json.invalidReason).to.equal("permit2_allowance_required");
    const settle = await postJson(`${facilitator.url}/settle`, body);
    expect(settle.json.success).to.equal(false);
    expect(settle.json.errorReason).to.equal("permit2_allowance_required");
    expect(await base.client.getTransactionCount({ address: base.relayer.address })).to.equal(
      before,
    );
  });

  it("a permit for a token without EIP-2612 is refused eip2612_not_supported, with no gas spent", async () => {
    const [account] = await payers(usdt, 1, false);
    const body = await settleBody(account!, usdt);
    const deadline = BigInt(Math.floor(Date.now() / 1000) + 300);
    // Signed under a made-up domain: the USDT-like token has no DOMAIN_SEPARATOR() to check it by.
    const signature = await account!.signTypedData(
      getPermit2ApprovalTypedData({
        token: { name: "Tether USD", version: "1", chainId: 8453, verifyingContract: usdt },
        owner: account!.address,
        value: maxUint256,
        nonce: 0n,
        deadline,
      }),
    );
    const withPermit = {
      ...body,
      paymentPayload: {
        ...body.paymentPayload,
        extensions: {
          eip2612GasSponsoring: {
            info: {
              from: account!.address,
              asset: usdt,
              spender: PERMIT2_ADDRESS,
              amount: maxUint256.toString(),
              nonce: "0",
              deadline: deadline.toString(),
              signature,
              version: "1",
            },
          },
        },
      },
    };
    const before = await base.client.getTransactionCount({ address: base.relayer.address });
    const verify = await postJson(`${facilitator.url}/verify`, withPermit);
    expect(verify.json.invalidReason, JSON.stringify(verify.json)).to.equal(
      "eip2612_not_supported",
    );
    const settle = await postJson(`${facilitator.url}/settle`, withPermit);
    expect(settle.json.errorReason).to.equal("eip2612_not_supported");
    expect(await base.client.getTransactionCount({ address: base.relayer.address })).to.equal(
      before,
    );
  });

  it("a payment front-run through the router is proven settled by that call; another witness is not", async () => {
    const [account] = await payers(usdt, 1);
    const body = await settleBody(account!, usdt);
    const parsed = parseRoutedPermit2Request(body);
    if (!parsed?.ok) throw new Error("not parsed");
    const attacker = await wallet(privateKeyToAccount(generatePrivateKey()));
    const fromBlock = await base.client.getBlockNumber();
    const { receipt, results } = await submitPermit2Batch(attacker as never, {
      items: [parsed.request.payment],
    });
    expect(results[0]?.status).to.equal("success");
    const stored = {
      ...newPermit2Payment(parsed.request, { id: "x", fingerprint: "0x", fromBlock }),
      status: "submitted",
      attempts: 1,
    } as unknown as StoredPayment;
    const reconciler = new Reconciler({
      client: base.client,
      router: base.router,
      now: () => Math.floor(Date.now() / 1000),
    });
    expect(await reconciler.verdict(stored)).to.deep.equal({
      kind: "settled",
      txHash: receipt.transactionHash,
    });
    // The same nonce under another witness (say the payer signed a second one and it went first).
    // Its payouts would match this one's too: only the item itself tells them apart.
    for (const other of [
      { ...stored, fee: stored.fee + 1n },
      { ...stored, validAfter: stored.validAfter + 1n },
      { ...stored, validBefore: stored.validBefore + 1n },
    ]) {
      expect((await reconciler.verdict(other)).kind).to.equal("usedElsewhere");
    }
    // The facilitator refuses the payload now: its nonce is used.
    const settle = await postJson(`${facilitator.url}/settle`, body);
    expect(settle.json.success).to.equal(false);
    expect(settle.json.errorReason).to.equal("permit2_invalid_nonce");
  });
});
