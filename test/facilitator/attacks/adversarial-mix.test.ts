import { decodePaymentSignatureHeader } from "@x402/core/http";
import { ExactEvmScheme as ExactEvmClientScheme } from "@x402/evm/exact/client";
import { toClientEvmSigner } from "@x402/evm";
import { wrapFetchWithPayment, x402Client } from "@x402/fetch";
import { expect } from "chai";
import { type Address, type Hex, type LocalAccount } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

import { getAuthorizationStates } from "../../../src/authorization/getAuthorizationStates.js";
import { USDC_ADDRESS } from "../../../src/chain/base.js";
import {
  fundedPayers,
  setAutomine,
  setIntervalMining,
  startFacilitator,
  startLocalBase,
  usdcBalance,
  type LocalBase,
  type RunningFacilitator,
} from "../harness.js";
import {
  NETWORK,
  PRICE,
  REASON_CODE,
  deployArtifact,
  paymentBody,
  refusalReason,
  relayerIdle,
  relayerSpend,
  requirementsFor,
  sendDelegations,
  settle,
  startPaidResource,
  verify,
  waitFor,
  type PaidResource,
} from "./helpers.js";

const CLIENTS = 50;
const REQUESTS_PER_CLIENT = 10;
const KINDS = ["zero-value", "unfunded", "wrong-domain", "code-gaining", "duplicate"] as const;
type Kind = (typeof KINDS)[number];

/** One honest paid request: the payment it carried and the answers it (and a replayed copy) got. */
interface HonestRequest {
  payer: Address;
  nonce?: Hex;
  statuses: number[];
}

interface AdversarialOutcome {
  kind: Kind;
  client: number;
  /** For the payments sent to /settle: its answer. */
  success?: boolean;
  reason?: string;
}

describe("facilitator under attack: an adversarial mix among 500 honest payments (issue 9)", function () {
  this.timeout(900_000);
  let base: LocalBase;
  let ours: RunningFacilitator;
  let resource: PaidResource;
  const payTo = privateKeyToAccount(generatePrivateKey()).address;

  before(async function () {
    base = await startLocalBase();
    ours = await startFacilitator(base);
    resource = await startPaidResource(ours.url, payTo);
  });

  after(async function () {
    if (base) await setAutomine(base).catch(() => {});
    if (resource) await resource.close();
    if (ours) await ours.stop();
    if (base) await base.stop();
  });

  it("settles every honest payment from 50 concurrent SDK clients among 10% adversarial ones, and spends under 2% of the relayer's gas on payments that did not settle", async function () {
    const burner = await deployArtifact(
      base,
      "contracts/test/router/mocks/HostileERC1271Wallet.sol",
      "HostileERC1271Wallet",
      [true],
    );
    const honestPayers = await fundedPayers(base, CLIENTS, BigInt(REQUESTS_PER_CLIENT) * PRICE);
    // Funded accounts for the adversarial payments that need a balance to look honest.
    const wrongDomainPayers = await fundedPayers(base, CLIENTS / KINDS.length, PRICE);
    const codeGainingPayers = await fundedPayers(base, CLIENTS / KINDS.length, PRICE);
    const payeeBefore = await usdcBalance(base.client, payTo);
    await setIntervalMining(base, 1_000);
    const startBlock = await base.client.getBlockNumber({ cacheTime: 0 });

    const honest: HonestRequest[] = [];
    const adversarial: AdversarialOutcome[] = [];
    const refusedReasons: (string | undefined)[] = [];

    /** Client `client`'s adversarial payment, sent around the resource server to /settle. */
    async function attack(client: number, kind: Kind, slot: number): Promise<void> {
      const outcome: AdversarialOutcome = { kind, client };
      adversarial.push(outcome);
      let answer;
      if (kind === "zero-value") {
        const body = await paymentBody(
          privateKeyToAccount(generatePrivateKey()),
          requirementsFor(payTo, 0n),
        );
        answer = await settle(ours.url, body);
      } else if (kind === "unfunded") {
        const body = await paymentBody(
          privateKeyToAccount(generatePrivateKey()),
          requirementsFor(payTo, PRICE),
        );
        answer = await settle(ours.url, body);
      } else if (kind === "wrong-domain") {
        const body = await paymentBody(
          wrongDomainPayers[slot]!,
          requirementsFor(payTo, PRICE, { name: "USDC" }),
        );
        answer = await settle(ours.url, body);
      } else {
        // code-gaining: verified as an EOA, then delegated to a gas-burning wallet, then settled.
        const payer = codeGainingPayers[slot]!;
        const body = await paymentBody(payer, requirementsFor(payTo, PRICE));
        const verdict = await verify(ours.url, body);
        expect(verdict.json.isValid, JSON.stringify(verdict.json)).to.equal(true);
        const hash = await sendDelegations(base, [payer], burner);
        const receipt = await base.client.waitForTransactionReceipt({ hash, pollingInterval: 100 });
        expect(receipt.status).to.equal("success");
        answer = await settle(ours.url, body);
      }
      outcome.success = answer.json.success;
      outcome.reason = answer.json.errorReason;
    }

    /** A fetch for the official client that records the payment it sends (and replays it once). */
    function recordingFetch(record: HonestRequest, duplicate: boolean) {
      return async (input: Parameters<typeof fetch>[0], init?: RequestInit) => {
        const request = new Request(input, init);
        const header = request.headers.get("PAYMENT-SIGNATURE");
        if (!header) return fetch(request);
        const payload = decodePaymentSignatureHeader(header) as unknown as {
          payload: { authorization: { nonce: Hex } };
        };
        record.nonce = payload.payload.authorization.nonce;
        if (!duplicate) return fetch(request);
        const copy = fetch(resource.url, { headers: { "PAYMENT-SIGNATURE": header } });
        const [original, replayed] = await Promise.all([fetch(request), copy]);
        record.statuses.push(replayed.status);
        if (replayed.status !== 200) refusedReasons.push(refusalReason(replayed));
        await replayed.arrayBuffer();
        return original;
      };
    }

    async function runClient(client: number, payer: LocalAccount): Promise<void> {
      const kind = KINDS[client % KINDS.length]!;
      const slot = Math.floor(client / KINDS.length);
      const attackAt = client % REQUESTS_PER_CLIENT;
      const sdk = new x402Client().register(
        NETWORK,
        new ExactEvmClientScheme(toClientEvmSigner(payer)),
      );
      for (let index = 0; index < REQUESTS_PER_CLIENT; index++) {
        if (index === attackAt && kind !== "duplicate") await attack(client, kind, slot);
        const record: HonestRequest = { payer: payer.address, statuses: [] };
        honest.push(record);
        const duplicate = index === attackAt && kind === "duplicate";
        if (duplicate) adversarial.push({ kind, client });
        const pay = wrapFetchWithPayment(recordingFetch(record, duplicate) as typeof fetch, sdk);
        const response = await pay(resource.url);
        record.statuses.push(response.status);
        if (response.status !== 200) refusedReasons.push(refusalReason(response));
        await response.arrayBuffer();
      }
    }

    const T0 = Date.now();
    await Promise.all(honestPayers.map((payer, client) => runClient(client, payer)));
    console.log(
      `      ${CLIENTS * REQUESTS_PER_CLIENT} paid requests from ${CLIENTS} clients in ${((Date.now() - T0) / 1000).toFixed(1)} s`,
    );
    // Everything the clients were answered about is final on chain before it is counted.
    const settledOnChain = async () => {
      const states = await getAuthorizationStates(base.client, {
        token: USDC_ADDRESS,
        items: honest.flatMap((r) => (r.nonce ? [{ from: r.payer, nonce: r.nonce }] : [])),
      });
      return states.filter((state) => state.nonceUsed).length;
    };
    await waitFor(async () => (await settledOnChain()) === honest.length, 120_000, 500);
    await setAutomine(base);
    await relayerIdle(base);

    const spend = await relayerSpend(base, startBlock);
    const share = Number(spend.wastedGas) / Number(spend.gasUsed);
    console.log(
      `      relayer: ${spend.transactions} transaction(s), ${spend.gasUsed} gas in all, ` +
        `${spend.wastedGas} (${(share * 100).toFixed(2)}%) on payments that did not settle; ` +
        `${spend.settledItems} item(s) settled, ${spend.failedItems} failed, ${spend.reverted} reverted`,
    );
    const byKind = new Map<string, string[]>();
    for (const outcome of adversarial) {
      if (outcome.kind === "duplicate") continue;
      const list = byKind.get(outcome.kind) ?? [];
      list.push(outcome.success ? "success" : (outcome.reason ?? "?"));
      byKind.set(outcome.kind, list);
    }
    for (const [kind, answers] of byKind) {
      console.log(`      ${kind}: ${[...new Set(answers)].join(", ")}`);
    }

    // Every honest payment settled, and bought exactly one response.
    expect(honest).to.have.length(CLIENTS * REQUESTS_PER_CLIENT);
    for (const record of honest) {
      expect(record.nonce, "the payment the client sent").to.be.a("string");
    }
    expect(await settledOnChain(), "honest payments settled on chain").to.equal(honest.length);
    for (const record of honest) {
      expect(
        record.statuses.filter((status) => status === 200),
        `responses served for one payment (statuses ${record.statuses.join(", ")})`,
      ).to.have.length(1);
    }
    for (const payer of honestPayers) {
      expect(await usdcBalance(base.client, payer.address)).to.equal(0n);
    }
    expect(await usdcBalance(base.client, payTo)).to.equal(
      payeeBefore + BigInt(CLIENTS * REQUESTS_PER_CLIENT) * PRICE,
    );
    // Every refusal carried a reason code.
    for (const reason of refusedReasons) expect(reason).to.match(REASON_CODE);
    // No adversarial payment was answered settled, and none moved funds.
    expect(adversarial).to.have.length(CLIENTS);
    for (const outcome of adversarial.filter((o) => o.kind !== "duplicate")) {
      expect(outcome.success, `${outcome.kind} payment of client ${outcome.client}`).to.equal(
        false,
      );
      expect(outcome.reason).to.match(REASON_CODE);
    }
    for (const payer of [...wrongDomainPayers, ...codeGainingPayers]) {
      expect(await usdcBalance(base.client, payer.address)).to.equal(PRICE);
    }
    expect(share, "share of the relayer's gas spent on payments that did not settle").to.be.below(
      0.02,
    );
  });
});
