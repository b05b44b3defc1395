import { expect } from "chai";
import { Wallet } from "ethers";
import {
  encodeFunctionData,
  getAddress,
  numberToHex,
  parseSignature,
  serializeSignature,
  serializeTransaction,
  type Address,
  type Hex,
} from "viem";
import { generatePrivateKey, privateKeyToAccount, type PrivateKeyAccount } from "viem/accounts";

import { fiatTokenV2_2Abi } from "../../src/abi/fiatTokenV2_2.js";
import { settlementRouterAbi } from "../../src/abi/settlementRouter.js";
import { buildDirectAuthorization } from "../../src/authorization/buildDirectAuthorization.js";
import { buildRoutedAuthorization } from "../../src/authorization/buildRoutedAuthorization.js";
import { computeRoutedNonce } from "../../src/authorization/computeRoutedNonce.js";
import { createNonce } from "../../src/authorization/createNonce.js";
import { cancelAuthorizationTypes } from "../../src/authorization/eip712Types.js";
import { getAuthorizationStates } from "../../src/authorization/getAuthorizationStates.js";
import { getAuthorizationTypedData } from "../../src/authorization/getAuthorizationTypedData.js";
import { hashAuthorization } from "../../src/authorization/hashAuthorization.js";
import { readTokenDomain } from "../../src/authorization/readTokenDomain.js";
import { signAuthorization } from "../../src/authorization/signAuthorization.js";
import type { SignedAuthorization, TokenDomain } from "../../src/authorization/types.js";
import { verifyAuthorization } from "../../src/authorization/verifyAuthorization.js";
import { decodeSettleReceipt } from "../../src/batch/decodeSettleReceipt.js";
import { dropFailures } from "../../src/batch/dropFailures.js";
import { encodeItems } from "../../src/batch/encodeItems.js";
import { estimateGasProfile } from "../../src/batch/estimateGasProfile.js";
import { FIAT_TOKEN_V2_2_GAS_PROFILE } from "../../src/batch/gasProfiles.js";
import { getL1DataEstimate } from "../../src/batch/getL1DataEstimate.js";
import { getReceiptL1Data } from "../../src/batch/getReceiptL1Data.js";
import { planBatches } from "../../src/batch/planBatches.js";
import {
  settleAuthorizations,
  type SettlementProgress,
} from "../../src/batch/settleAuthorizations.js";
import { simulateBatch } from "../../src/batch/simulateBatch.js";
import { submitBatch } from "../../src/batch/submitBatch.js";
import { TRANSACTION_GAS_CAP, USDC_ADDRESS } from "../../src/chain/base.js";
import { readArtifact, startSettlementChain } from "./fixture.js";

const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const randomAddress = (): Address => privateKeyToAccount(generatePrivateKey()).address;

describe("toolkit: settlement pipeline over JSON-RPC (viem HTTP transport only)", function () {
  let env: Awaited<ReturnType<typeof startSettlementChain>>;
  let domain: TokenDomain;
  let now: bigint;

  before(async function () {
    env = await startSettlementChain();
    domain = await readTokenDomain(env.testClient, { token: USDC_ADDRESS });
  });
  beforeEach(async () => {
    now = (await env.testClient.getBlock()).timestamp;
  });
  after(async () => {
    await env?.stop();
  });

  it("sign -> verify -> plan -> simulate -> drop -> submit -> decode, one bad payment never sinks the others", async () => {
    const { router, relayer, relayerClient, testClient } = env;
    const feeRecipient = relayer.address;
    const [merchantA, merchantB] = [randomAddress(), randomAddress()];
    const payers = await env.newPayers(8, 1_000_000n);
    const [poor] = await env.newPayers(1, 0n);
    const sign = <a extends Parameters<typeof signAuthorization>[1]["authorization"]>(
      payer: PrivateKeyAccount,
      authorization: a,
    ) => signAuthorization(payer, { domain, authorization });
    const direct = (payer: PrivateKeyAccount, to: Address, value: bigint, extra = {}) =>
      sign(payer, buildDirectAuthorization({ from: payer.address, to, value, now, ...extra }));
    const routed = (payer: PrivateKeyAccount, payee: Address, value: bigint, fee: bigint) =>
      sign(
        payer,
        buildRoutedAuthorization({
          from: payer.address,
          router,
          payee,
          value,
          fee,
          feeRecipient,
          now,
        }),
      );

    // A nonce the payer cancels on chain before settlement.
    const cancelled = await direct(payers[6]!, merchantA, 1_000n);
    const cancelSignature = parseSignature(
      await payers[6]!.signTypedData({
        domain,
        types: cancelAuthorizationTypes,
        primaryType: "CancelAuthorization",
        message: { authorizer: cancelled.from, nonce: cancelled.nonce },
      }),
    );
    await relayerClient.waitForTransactionReceipt({
      hash: await relayerClient.writeContract({
        chain: null,
        address: USDC_ADDRESS,
        abi: fiatTokenV2_2Abi,
        functionName: "cancelAuthorization",
        args: [
          cancelled.from,
          cancelled.nonce,
          Number(cancelSignature.v),
          cancelSignature.r,
          cancelSignature.s,
        ],
      }),
    });
    // fee > value, signed with a consistent commitment: the router refuses it per item.
    const greedyTerms = { payee: merchantA, fee: 600n, feeRecipient, salt: createNonce() };
    const greedy = await sign(payers[7]!, {
      ...buildRoutedAuthorization({
        from: payers[7]!.address,
        router,
        payee: merchantA,
        value: 500n,
        fee: 0n,
        feeRecipient,
        now,
      }),
      ...greedyTerms,
      nonce: computeRoutedNonce(greedyTerms),
    });

    const items: SignedAuthorization[] = [
      await direct(payers[0]!, merchantA, 100_000n), // 0
      await routed(payers[1]!, merchantB, 200_000n, 1_000n), // 1
      await routed(payers[2]!, merchantA, 300_000n, 2_000n), // 2
      await direct(payers[3]!, merchantB, 50_000n), // 3
      await routed(payers[4]!, merchantB, 400_000n, 3_000n), // 4
      await direct(payers[5]!, merchantA, 7_000n, { validBefore: now - 1n }), // 5 expired
      await direct(poor!, merchantA, 10n), // 6 no funds
      cancelled, // 7 nonce cancelled
      greedy, // 8 fee > value
    ];
    items.push({ ...items[0]! }); // 9: the same authorization twice

    // Offline verification sees what needs no chain state.
    const verdicts = await Promise.all(
      items.map((authorization) =>
        verifyAuthorization({
          domain,
          authorization,
          now,
          expected: { chainId: 8453, token: USDC_ADDRESS },
        }),
      ),
    );
    expect(verdicts.map((verdict) => (verdict.valid ? "ok" : verdict.reason))).to.deep.equal([
      "ok",
      "ok",
      "ok",
      "ok",
      "ok",
      "invalid_exact_evm_payload_authorization_valid_before",
      "ok",
      "ok",
      "invalid_routed_fee_exceeds_value",
      "ok",
    ]);
    // The chain state for the rest: balances, used nonces, code at the payer.
    const states = await getAuthorizationStates(testClient, { token: USDC_ADDRESS, items });
    expect(states[6]!.balance).to.equal(0n);
    expect(states.map((state) => state.nonceUsed)).to.deep.equal(items.map((_, i) => i === 7));
    expect(states.every((state) => !state.payerHasCode)).to.equal(true);

    // Plan: the duplicate is dropped, direct items first, routed items grouped by payee.
    const plan = planBatches({ items });
    expect(plan.duplicates).to.deep.equal([{ index: 9, duplicateOf: 0 }]);
    expect(plan.batches).to.have.length(1);
    const [batch] = plan.batches;
    const routedPayees = batch!.items.flatMap((item) =>
      item.kind === "routed" ? [item.payee] : [],
    );
    expect(batch!.items.slice(0, 5).every((item) => item.kind === "direct")).to.equal(true);
    expect(routedPayees).to.deep.equal(
      [...routedPayees].sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? -1 : 1)),
    );
    expect(batch!.routedGroups).to.equal(new Set(routedPayees).size);

    // Simulate: predicted outcomes per item, with reasons.
    const simulation = await simulateBatch(testClient, {
      router,
      token: USDC_ADDRESS,
      feeRecipient,
      items: batch!.items,
      account: relayer.address,
    });
    const predicted = new Map(
      simulation.outcomes.map((outcome) => [
        batch!.indices[outcome.index]!,
        outcome.status === "success" ? "settled" : outcome.reason,
      ]),
    );
    expect(Object.fromEntries(predicted)).to.deep.equal({
      0: "settled",
      1: "settled",
      2: "settled",
      3: "settled",
      4: "settled",
      5: "invalid_exact_evm_payload_authorization_valid_before",
      6: "invalid_exact_evm_insufficient_balance",
      7: "invalid_exact_evm_nonce_already_used",
      8: "router_fee_exceeds_value",
    });

    // Drop the predicted failures and settle the rest.
    const kept = dropFailures({ items: batch!.items, simulation });
    expect(kept.items).to.have.length(5);
    const before = {
      a: await env.balanceOf(merchantA),
      b: await env.balanceOf(merchantB),
      fees: await env.balanceOf(feeRecipient),
    };
    const { receipt } = await submitBatch(relayerClient, {
      router,
      token: USDC_ADDRESS,
      feeRecipient,
      items: kept.items,
    });
    const results = decodeSettleReceipt({ receipt, router, itemCount: kept.items.length });
    expect(results.map((result) => result.status)).to.deep.equal(Array(5).fill("success"));
    expect(results.map((result) => [result.from, result.nonce])).to.deep.equal(
      kept.items.map((item) => [getAddress(item.from), item.nonce]),
    );
    expect(await env.balanceOf(merchantA)).to.equal(before.a + 100_000n + 300_000n - 2_000n);
    expect(await env.balanceOf(merchantB)).to.equal(
      before.b + 50_000n + 200_000n - 1_000n + 400_000n - 3_000n,
    );
    expect(await env.balanceOf(feeRecipient)).to.equal(before.fees + 6_000n);
    expect(await env.balanceOf(router)).to.equal(0n);

    // Sent anyway, the predicted failures fail on chain for the predicted reasons, and move nothing.
    const failing = kept.dropped.map(({ item }) => item);
    const sent = await submitBatch(relayerClient, {
      router,
      token: USDC_ADDRESS,
      feeRecipient,
      items: failing,
    });
    const onChain = decodeSettleReceipt({
      receipt: sent.receipt,
      router,
      itemCount: failing.length,
    });
    expect(
      onChain.map((result) => (result.status === "failure" ? result.reason : "settled")),
    ).to.deep.equal(kept.dropped.map(({ outcome }) => outcome.reason));
    expect(await env.balanceOf(merchantA)).to.equal(before.a + 398_000n);
    // The already-settled items, resubmitted, are reported as used.
    const again = await submitBatch(relayerClient, {
      router,
      token: USDC_ADDRESS,
      feeRecipient,
      items: kept.items,
    });
    expect(
      decodeSettleReceipt({ receipt: again.receipt, router, itemCount: 5 }).map((result) =>
        result.status === "failure" ? result.reason : "settled",
      ),
    ).to.deep.equal(Array(5).fill("invalid_exact_evm_nonce_already_used"));
  });

  it("accepts authorizations signed with ethers v6 Wallet.signTypedData", async () => {
    const { router, relayer, relayerClient } = env;
    const merchant = randomAddress();
    const wallets = [Wallet.createRandom(), Wallet.createRandom()];
    await env.testClient.setBalance({ address: relayer.address, value: 10n ** 20n });
    const { fundUsdc } = await import("../../src/chain/bootstrap.js");
    await fundUsdc(env.testClient, {
      recipients: wallets.map((wallet) => wallet.address as Address),
      amount: 1_000_000n,
    });
    const unsigned = [
      buildDirectAuthorization({
        from: wallets[0]!.address as Address,
        to: merchant,
        value: 123_456n,
        now,
      }),
      buildRoutedAuthorization({
        from: wallets[1]!.address as Address,
        router,
        payee: merchant,
        value: 654_321n,
        fee: 321n,
        feeRecipient: relayer.address,
        now,
      }),
    ];
    const signed: SignedAuthorization[] = [];
    for (const [i, authorization] of unsigned.entries()) {
      const { domain: d, types, message } = getAuthorizationTypedData({ domain, authorization });
      const signature = (await wallets[i]!.signTypedData(d, types as never, message)) as Hex;
      signed.push({ ...authorization, signature });
      expect(await verifyAuthorization({ domain, authorization: signed[i]!, now })).to.deep.equal({
        valid: true,
        payer: getAddress(wallets[i]!.address),
      });
    }
    const { results } = await settleAuthorizations(relayerClient, {
      router,
      token: USDC_ADDRESS,
      feeRecipient: relayer.address,
      items: signed,
    });
    expect(results.map((result) => result.status)).to.deep.equal(["success", "success"]);
    expect(await env.balanceOf(merchant)).to.equal(123_456n + 654_321n - 321n);
  });

  it("settles an ERC-1271 contract wallet's authorization and estimates its L1 data", async () => {
    const { router, relayer, relayerClient, testClient } = env;
    const owner = privateKeyToAccount(generatePrivateKey());
    const artifact = await readArtifact(
      "contracts/test/mocks/ERC1271WalletMock.sol",
      "ERC1271WalletMock",
    );
    const deployed = await relayerClient.waitForTransactionReceipt({
      hash: await relayerClient.deployContract({
        abi: artifact.abi,
        bytecode: artifact.bytecode,
        args: [owner.address],
        chain: null,
      }),
    });
    const wallet = deployed.contractAddress!;
    const { fundUsdc } = await import("../../src/chain/bootstrap.js");
    await fundUsdc(testClient, { recipients: [wallet], amount: 80_000n });
    const merchant = randomAddress();
    const authorization = buildDirectAuthorization({
      from: wallet,
      to: merchant,
      value: 80_000n,
      now,
    });
    // The wallet accepts its owner's ECDSA signature of the EIP-712 digest.
    const signature = await owner.sign({ hash: hashAuthorization({ domain, authorization }) });
    const signed: SignedAuthorization = { ...authorization, signature, contractSignature: true };

    const [state] = await getAuthorizationStates(testClient, {
      token: USDC_ADDRESS,
      items: [signed],
    });
    expect(state).to.include({ payerHasCode: true, balance: 80_000n, nonceUsed: false });
    expect(await verifyAuthorization({ domain, authorization: signed, now })).to.include({
      valid: false,
      reason: "invalid_exact_evm_signature", // not checkable offline: the chain decides
    });
    const simulation = await simulateBatch(testClient, {
      router,
      token: USDC_ADDRESS,
      feeRecipient: relayer.address,
      items: [signed],
    });
    expect(simulation.outcomes[0]!.status).to.equal("success");

    // L1 data: the GasPriceOracle's estimate for the unsigned transaction vs. the receipt's figure.
    const data = encodeFunctionData({
      abi: settlementRouterAbi,
      functionName: "settle",
      args: [USDC_ADDRESS, relayer.address, encodeItems([signed])],
    });
    const request = await relayerClient.prepareTransactionRequest({
      chain: null,
      to: router,
      data,
      type: "eip1559",
    });
    const estimate = await getL1DataEstimate(testClient, {
      serializedTransaction: serializeTransaction({ ...request, chainId: 8453 } as never),
    });
    const { receipt } = await submitBatch(relayerClient, {
      router,
      token: USDC_ADDRESS,
      feeRecipient: relayer.address,
      items: [signed],
    });
    expect(decodeSettleReceipt({ receipt, router, itemCount: 1 })[0]!.status).to.equal("success");
    expect(await env.balanceOf(merchant)).to.equal(80_000n);
    const actual = getReceiptL1Data(receipt)!;
    expect(actual.l1Bytes > 0n).to.equal(true);
    expect(estimate.l1Bytes).to.equal(estimate.l1GasUsed / 16n);
    // The oracle pads the unsigned transaction for a signature: within a tenth of the real figure.
    const diff =
      estimate.l1Bytes > actual.l1Bytes
        ? estimate.l1Bytes - actual.l1Bytes
        : actual.l1Bytes - estimate.l1Bytes;
    expect(diff * 10n <= actual.l1Bytes).to.equal(true);
  });

  it("settleAuthorizations reports every input once, with the stage that stopped a failure", async () => {
    const { router, relayer, relayerClient } = env;
    const merchant = randomAddress();
    const payers = await env.newPayers(4, 10_000n);
    now = (await env.testClient.getBlock()).timestamp;
    const sign = (i: number, extra = {}) =>
      signAuthorization(payers[i]!, {
        domain,
        authorization: buildDirectAuthorization({
          from: payers[i]!.address,
          to: merchant,
          value: 10_000n,
          now,
          ...extra,
        }),
      });
    const good = await sign(0);
    const expired = await sign(1, { validBefore: now - 5n });
    const huge = await sign(2, { value: 2n ** 130n });
    const { r, s, yParity } = parseSignature((await sign(3)).signature);
    const highS = {
      ...(await sign(3)),
      signature: serializeSignature({
        r,
        s: numberToHex(SECP256K1_N - BigInt(s), { size: 32 }),
        yParity: yParity === 0 ? 1 : 0,
      }),
    };
    const progress: SettlementProgress[] = [];
    const outcome = await settleAuthorizations(
      { publicClient: env.testClient, walletClient: relayerClient },
      {
        router,
        token: USDC_ADDRESS,
        feeRecipient: relayer.address,
        items: [good, expired, huge, good, highS, { ...good, from: "0x1234" as Address }],
        onProgress: (update) => progress.push(update),
      },
    );
    expect(
      outcome.results.map((result) =>
        result.status === "success" ? "success" : `${result.stage}:${result.reason}`,
      ),
    ).to.deep.equal([
      "success",
      "simulate:invalid_exact_evm_payload_authorization_valid_before",
      "plan:unsettleable_field_out_of_range",
      "plan:invalid_exact_evm_nonce_already_used",
      "plan:invalid_exact_evm_signature",
      "plan:invalid_payload", // `from` is not an address
    ]);
    expect(outcome.results[5]!.from).to.equal("0x1234");
    expect(outcome.transactions).to.have.length(1);
    expect(outcome.transactions[0]).to.include({ items: 1, settled: 1, failed: 0 });
    expect(progress.map((update) => update.stage)).to.deep.equal([
      "planned",
      "simulated",
      "submitted",
      "confirmed",
    ]);
    expect(await env.balanceOf(merchant)).to.equal(10_000n);
  });

  it("estimates a gas profile from a sample that predicts the receipts and matches the shipped constants", async () => {
    const { router, relayer, relayerClient } = env;
    const merchant = randomAddress();
    const payers = await env.newPayers(40, 10_000n);
    now = (await env.testClient.getBlock()).timestamp;
    const sample = await Promise.all(
      payers.map((payer, i) =>
        signAuthorization(payer, {
          domain,
          authorization:
            i < 20
              ? buildDirectAuthorization({ from: payer.address, to: merchant, value: 4_000n, now })
              : buildRoutedAuthorization({
                  from: payer.address,
                  router,
                  payee: merchant,
                  value: 4_000n,
                  fee: 10n,
                  feeRecipient: relayer.address,
                  now,
                }),
        }),
      ),
    );
    const profile = await estimateGasProfile(env.testClient, {
      router,
      token: USDC_ADDRESS,
      feeRecipient: relayer.address,
      sample,
    });
    // (Payers keep a balance: emptying it earns a gas refund estimates do not count.)
    // The shipped USDC constants agree with this chain's estimates (within 8%).
    for (const kind of ["direct", "routed"] as const) {
      const shipped = Number(FIAT_TOKEN_V2_2_GAS_PROFILE.perItem[kind]);
      expect(Math.abs(Number(profile.perItem[kind]) - shipped) / shipped).to.be.lessThan(0.08);
    }
    // And the profile predicts what the direct batch really uses (within 3%).
    const { batches } = planBatches({ items: sample.slice(0, 20), gasProfile: profile });
    const { receipt } = await submitBatch(relayerClient, {
      router,
      token: USDC_ADDRESS,
      feeRecipient: relayer.address,
      items: batches[0]!.items,
    });
    const predicted = Number(batches[0]!.estimatedGas);
    expect(Math.abs(predicted - Number(receipt.gasUsed)) / Number(receipt.gasUsed)).to.be.lessThan(
      0.03,
    );
  });

  it("settles 1,000 authorizations in batches that each stay under the 2^24 gas cap", async () => {
    const { router, relayer, relayerClient } = env;
    const merchants = Array.from({ length: 4 }, randomAddress);
    const payers = await env.newPayers(1_000, 100_000n);
    // Funding mined a block per mint, each a second later: take the chain's clock again.
    now = (await env.testClient.getBlock()).timestamp;
    const items: SignedAuthorization[] = await Promise.all(
      payers.map((payer, i) => {
        const payee = merchants[i % merchants.length]!;
        const authorization =
          i % 2 === 0
            ? buildDirectAuthorization({ from: payer.address, to: payee, value: 10_000n, now })
            : buildRoutedAuthorization({
                from: payer.address,
                router,
                payee,
                value: 10_000n,
                fee: 100n,
                feeRecipient: relayer.address,
                now,
              });
        return signAuthorization(payer, { domain, authorization });
      }),
    );
    const progress: SettlementProgress[] = [];
    const { results, transactions, settled, failed } = await settleAuthorizations(relayerClient, {
      router,
      token: USDC_ADDRESS,
      feeRecipient: relayer.address,
      items,
      onProgress: (update) => progress.push(update),
    });
    if (failed)
      console.log(
        results.find((r) => r.status === "failure"),
        progress.slice(0, 6),
      );
    expect({ settled, failed }).to.deep.equal({ settled: 1_000, failed: 0 });
    expect(
      results.every((result, index) => result.status === "success" && result.index === index),
    ).to.equal(true);
    expect(transactions.length).to.be.greaterThanOrEqual(3);
    expect(transactions.reduce((sum, tx) => sum + tx.items, 0)).to.equal(1_000);
    for (const { receipt } of transactions) {
      expect(receipt.status).to.equal("success");
      expect(receipt.gasUsed < TRANSACTION_GAS_CAP).to.equal(true);
    }
    // Progress ends with every item accounted for.
    expect(progress.at(-1)).to.include({
      stage: "confirmed",
      settled: 1_000,
      failed: 0,
      total: 1_000,
    });
    // Even payers pay direct, odd ones routed (fee 100): merchants 0 and 2 get direct payments only.
    for (const [m, merchant] of merchants.entries()) {
      expect(await env.balanceOf(merchant)).to.equal(250n * (m % 2 === 0 ? 10_000n : 9_900n));
    }
    const gasUsed = transactions.reduce((sum, tx) => sum + tx.gasUsed, 0n);
    const l1Bytes = transactions.reduce(
      (sum, tx) => sum + (getReceiptL1Data(tx.receipt)?.l1Bytes ?? 0n),
      0n,
    );
    console.log(
      `      1,000 payments in ${transactions.length} transactions (${transactions.map((tx) => tx.items).join(", ")} items), ` +
        `max ${transactions.reduce((m, tx) => (tx.gasUsed > m ? tx.gasUsed : m), 0n)} gas; ` +
        `${gasUsed / 1_000n} gas and ${Number(l1Bytes) / 1_000} L1 bytes per payment`,
    );
  });

  it("numbers a relayer's transactions itself and reports unmined ones as settlement_pending", async () => {
    const { router, relayer, relayerClient, testClient } = env;
    const merchant = randomAddress();
    const payers = await env.newPayers(2, 50_000n);
    now = (await env.testClient.getBlock()).timestamp;
    const items = await Promise.all(
      payers.map((payer) =>
        signAuthorization(payer, {
          domain,
          authorization: buildDirectAuthorization({
            from: payer.address,
            to: merchant,
            value: 20_000n,
            now,
          }),
        }),
      ),
    );
    const firstNonce = await testClient.getTransactionCount({
      address: relayer.address,
      blockTag: "pending",
    });
    await testClient.setAutomine(false);
    try {
      const outcome = await settleAuthorizations(relayerClient, {
        router,
        token: USDC_ADDRESS,
        feeRecipient: relayer.address,
        items,
        maxItemsPerBatch: 1,
        timeoutMs: 300,
        pollingInterval: 50,
        maxReplacements: 0,
      });
      expect(
        outcome.results.map((result) => result.status === "failure" && result.reason),
      ).to.deep.equal(["settlement_pending", "settlement_pending"]);
      // Both transactions wait in the pool with consecutive nonces.
      const hashes = outcome.results.map(
        (result) => result.status === "failure" && result.transactionHash,
      );
      const pending = await Promise.all(
        hashes.map((hash) => testClient.getTransaction({ hash: hash as Hex })),
      );
      expect(pending.map((tx) => tx.nonce)).to.deep.equal([firstNonce, firstNonce + 1]);
      await testClient.mine({ blocks: 1 });
      const receipts = await Promise.all(
        hashes.map((hash) => testClient.getTransactionReceipt({ hash: hash as Hex })),
      );
      expect(receipts.map((receipt) => receipt.status)).to.deep.equal(["success", "success"]);
      expect(await env.balanceOf(merchant)).to.equal(40_000n);
    } finally {
      await testClient.setAutomine(true);
    }
  });

  it("replaces a settle transaction that is not mined in time with higher fees", async () => {
    const { router, relayer, relayerClient, testClient } = env;
    const merchant = randomAddress();
    const [payer] = await env.newPayers(1, 50_000n);
    const signed = await signAuthorization(payer!, {
      domain,
      authorization: buildDirectAuthorization({
        from: payer!.address,
        to: merchant,
        value: 50_000n,
        now,
      }),
    });
    await testClient.setAutomine(false);
    try {
      const replaced: Hex[] = [];
      const submitted = await submitBatch(relayerClient, {
        router,
        token: USDC_ADDRESS,
        feeRecipient: relayer.address,
        items: [signed],
        timeoutMs: 1_500,
        pollingInterval: 100,
        maxReplacements: 2,
        onReplaced: ({ replacement }) => {
          replaced.push(replacement);
          void testClient.mine({ blocks: 1 });
        },
      });
      expect(submitted.broadcast).to.have.length(2);
      expect(replaced).to.deep.equal([submitted.broadcast[1]]);
      expect(submitted.transactionHash).to.equal(submitted.broadcast[1]);
      const [first, second] = await Promise.all(
        submitted.broadcast.map((hash) =>
          testClient.getTransaction({ hash }).catch(() => undefined),
        ),
      );
      expect(first).to.equal(undefined); // the node dropped the replaced transaction
      expect(second!.nonce).to.equal(submitted.nonce);
      expect(
        decodeSettleReceipt({ receipt: submitted.receipt, router, itemCount: 1 })[0]!.status,
      ).to.equal("success");
      expect(await env.balanceOf(merchant)).to.equal(50_000n);
    } finally {
      await testClient.setAutomine(true);
    }
  });
});
