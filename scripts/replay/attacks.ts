/**
 * Every way this project knows to move a payer's money twice, late, early, elsewhere or on the
 * wrong chain or token, each run against one (token, router method) scenario. Each attack counts
 * its attempts and how many of them moved funds (or used the authorization) when they must not
 * have. Valid payments used as material are settled honestly afterwards where possible, which
 * proves the attempts were refused for the reason under test and not for an unrelated one.
 */
import { type Hex, concat, size, slice } from "viem";

import { encodeItems } from "../../src/batch/encodeItems.js";
import {
  receiveWithAuthorizationTypes,
  transferWithAuthorizationTypes,
} from "../../src/authorization/eip712Types.js";
import {
  type AttackOutcome,
  type ReplayMethod,
  type ReplayScenario,
  SECP256K1_N,
  Tally,
} from "./scenario.js";

export interface Attack {
  name: string;
  /** What the attack tries. */
  description: string;
  /** The router methods it applies to. */
  methods: readonly ReplayMethod[];
  run(s: ReplayScenario): Promise<AttackOutcome>;
}

const BOTH: readonly ReplayMethod[] = ["router-direct", "router-routed"];
const ROUTED: readonly ReplayMethod[] = ["router-routed"];

export const ATTACKS: readonly Attack[] = [
  {
    name: "replay-same-batch",
    description: "the same authorization twice in one settle call",
    methods: BOTH,
    async run(s) {
      const t = new Tally();
      const p = await s.sign();
      await t.add(s.attempt(p, () => s.settle([s.item(p), s.item(p)]), p.value));
      if (!(await s.isUsed(p))) throw new Error(`${s.label}: the first copy did not settle`);
      return t;
    },
  },
  {
    name: "replay-later-batch",
    description: "an authorization settled earlier, submitted again in a later settle call",
    methods: BOTH,
    async run(s) {
      const t = new Tally();
      const p = await s.sign();
      await s.settleHonestly(p);
      await t.add(s.attempt(p, () => s.settle([s.item(p)])));
      return t;
    },
  },
  {
    name: "replay-on-token-after-router",
    description: "an authorization settled by the router, then called on the token directly",
    methods: BOTH,
    async run(s) {
      const t = new Tally();
      const p = await s.sign();
      await s.settleHonestly(p);
      const fn = s.routed ? "receiveWithAuthorization" : "transferWithAuthorization";
      await t.add(s.attempt(p, () => s.tokenCall(fn, s.authorizationArgs(p))));
      await t.add(s.attempt(p, () => s.tokenCall(fn, s.authorizationArgs(p, p.signature))));
      return t;
    },
  },
  {
    name: "replay-second-router",
    description: "the same authorization through a second SettlementRouter instance",
    methods: BOTH,
    async run(s) {
      const t = new Tally();
      const second = { router: s.routers[1] };
      if (s.routed) {
        // Signed for the first router: the second must refuse it before and after it settles.
        const fresh = await s.sign();
        await t.add(s.attempt(fresh, () => s.settle([s.item(fresh)], second)));
        await s.settleHonestly(fresh);
      }
      const p = await s.sign();
      await s.settleHonestly(p);
      await t.add(s.attempt(p, () => s.settle([s.item(p)], second)));
      return t;
    },
  },
  {
    name: "cancelled-then-submitted",
    description: "the payer cancels the nonce (cancelAuthorization), then the payment is submitted",
    methods: BOTH,
    async run(s) {
      const t = new Tally();
      const p = await s.sign();
      await s.cancel(p);
      await t.add(s.attempt(p, () => s.settle([s.item(p)]), 0n));
      if (!s.routed)
        await t.add(
          s.attempt(p, () => s.tokenCall("transferWithAuthorization", s.authorizationArgs(p))),
        );
      return t;
    },
  },
  {
    name: "expired-valid-before-now",
    description: "validBefore equal to the block's timestamp (the bound is strict)",
    methods: BOTH,
    async run(s) {
      const t = new Tally();
      const at = (await s.now()) + 30n;
      const p = await s.sign({ validBefore: at });
      await t.add(
        s.attempt(p, async () => {
          await s.chain.client.setNextBlockTimestamp({ timestamp: at });
          await s.settle([s.item(p)]);
        }),
      );
      return t;
    },
  },
  {
    name: "expired-valid-before-past",
    description: "validBefore an hour in the past",
    methods: BOTH,
    async run(s) {
      const t = new Tally();
      const p = await s.sign({ validBefore: (await s.now()) - 3600n });
      await t.add(s.attempt(p, () => s.settle([s.item(p)])));
      return t;
    },
  },
  {
    name: "not-yet-valid",
    description: "validAfter equal to the block's timestamp (strict bound), and an hour ahead",
    methods: BOTH,
    async run(s) {
      const t = new Tally();
      const at = (await s.now()) + 30n;
      const boundary = await s.sign({ validAfter: at, validBefore: at + 3600n });
      await t.add(
        s.attempt(boundary, async () => {
          await s.chain.client.setNextBlockTimestamp({ timestamp: at });
          await s.settle([s.item(boundary)]);
        }),
      );
      const future = await s.sign({ validAfter: at + 3600n, validBefore: at + 7200n });
      await t.add(s.attempt(future, () => s.settle([s.item(future)])));
      return t;
    },
  },
  {
    name: "wrong-chain-84532",
    description: "signed for chain 84532 (Base Sepolia), submitted on this chain",
    methods: BOTH,
    async run(s) {
      const t = new Tally();
      const p = await s.sign({ domain: { chainId: 84532 } });
      await t.add(s.attempt(p, () => s.settle([s.item(p)])));
      return t;
    },
  },
  {
    name: "wrong-token-address",
    description: "signed for another token's address (and for its whole domain), submitted here",
    methods: BOTH,
    async run(s) {
      const t = new Tally();
      const other = s.otherToken;
      const addressOnly = await s.sign({ domain: { verifyingContract: other.address } });
      await t.add(s.attempt(addressOnly, () => s.settle([s.item(addressOnly)])));
      const wholeDomain = await s.sign({
        domain: { ...other.domain, verifyingContract: other.address },
      });
      await t.add(s.attempt(wholeDomain, () => s.settle([s.item(wholeDomain)])));
      return t;
    },
  },
  {
    name: "high-s-malleated",
    description:
      "the high-s twin (r, n - s, flipped v) of a valid signature, before and after the original settles",
    methods: BOTH,
    async run(s) {
      const t = new Tally();
      const p = await s.sign();
      const twin = s.malleate(p.signature);
      // The packed 64-byte form has no room for a high s: send its raw bytes r ‖ (n - s).
      const honest = encodeItems([s.item(p)]);
      const rawHighS = concat([slice(honest, 0, size(honest) - 64), slice(twin, 0, 64)]);
      const tries = async () => {
        await t.add(
          s.attempt(p, () => s.settle([s.item(p, { signature: twin, contractSignature: true })])),
        );
        await t.add(s.attempt(p, () => s.settle(rawHighS)));
        if (!s.routed)
          await t.add(
            s.attempt(p, () =>
              s.tokenCall("transferWithAuthorization", [
                ...s.authorizationArgs(p).slice(0, 6),
                ...s.vrs(twin),
              ]),
            ),
          );
      };
      if (BigInt(slice(twin, 32, 64)) <= SECP256K1_N / 2n)
        throw new Error(`${s.label}: malleation did not produce a high s`);
      await tries();
      await s.settleHonestly(p);
      await tries();
      return t;
    },
  },
  {
    name: "signature-64-and-65-byte-forms",
    description:
      "one signature settled in its 64-byte (EIP-2098) form, then replayed in its 65-byte form, and the reverse",
    methods: BOTH,
    async run(s) {
      const t = new Tally();
      const compact = (sig: Hex) => s.compact(sig);
      const p = await s.sign();
      await s.settleHonestly(p); // the router's packed items carry the 64-byte form
      await t.add(
        s.attempt(p, () =>
          s.settle([s.item(p, { signature: p.signature, contractSignature: true })]),
        ),
      );
      await t.add(
        s.attempt(p, () =>
          s.settle([s.item(p, { signature: compact(p.signature), contractSignature: true })]),
        ),
      );
      if (!s.routed) {
        await t.add(
          s.attempt(p, () =>
            s.tokenCall("transferWithAuthorization", s.authorizationArgs(p, p.signature)),
          ),
        );
        await t.add(
          s.attempt(p, () =>
            s.tokenCall("transferWithAuthorization", s.authorizationArgs(p, compact(p.signature))),
          ),
        );
      }
      // The reverse: the 65-byte form settles first, the 64-byte form follows.
      const q = await s.sign();
      const before = await s.balanceOf(q.from);
      if (s.routed)
        await s.settle([s.item(q, { signature: q.signature, contractSignature: true })]);
      else
        await s.tokenCall(
          "transferWithAuthorization",
          s.authorizationArgs(q, q.signature),
          s.relayer,
        );
      if (before - (await s.balanceOf(q.from)) !== q.value)
        throw new Error(`${s.label}: the 65-byte form of a valid signature did not settle`);
      await t.add(s.attempt(q, () => s.settle([s.item(q)])));
      return t;
    },
  },
  {
    name: "receive-transfer-swap",
    description:
      "a ReceiveWithAuthorization signature used as TransferWithAuthorization, and the reverse",
    methods: BOTH,
    async run(s) {
      const t = new Tally();
      if (s.routed) {
        // The payer signed Receive (to = router): try it as a Transfer to the router.
        const p = await s.sign();
        await t.add(
          s.attempt(p, () => s.tokenCall("transferWithAuthorization", s.authorizationArgs(p))),
        );
        const asDirect = { kind: "direct", to: p.to, nonce: p.nonce } as const;
        await t.add(s.attempt(p, () => s.settle([{ ...s.item(p), ...asDirect } as never])));
        await s.settleHonestly(p);
        // And back: a Transfer signature over the routed nonce, submitted as a routed item.
        const q = await s.sign();
        const transferSig = await q.payer.signTypedData({
          domain: s.domain(),
          types: transferWithAuthorizationTypes,
          primaryType: "TransferWithAuthorization",
          message: {
            from: q.from,
            to: q.to,
            value: q.value,
            validAfter: q.validAfter,
            validBefore: q.validBefore,
            nonce: q.nonce,
          },
        });
        await t.add(s.attempt(q, () => s.settle([s.item(q, { signature: transferSig })])));
        await s.settleHonestly(q);
      } else {
        // The payer signed Transfer to a payee who tries it as Receive (the payee is the caller).
        const thief = s.attacker.account.address;
        const p = await s.sign({ payee: thief });
        await t.add(
          s.attempt(p, () => s.tokenCall("receiveWithAuthorization", s.authorizationArgs(p))),
        );
        await t.add(
          s.attempt(p, () =>
            s.settle([
              {
                kind: "routed",
                from: p.from,
                payee: thief,
                fee: 0n,
                salt: p.nonce,
                value: p.value,
                validAfter: p.validAfter,
                validBefore: p.validBefore,
                signature: p.signature,
              },
            ]),
          ),
        );
        await s.settleHonestly(p);
        // And back: a Receive signature (to = the thief) submitted as a direct item.
        const q = await s.sign({ payee: thief });
        const receiveSig = await q.payer.signTypedData({
          domain: s.domain(),
          types: receiveWithAuthorizationTypes,
          primaryType: "ReceiveWithAuthorization",
          message: {
            from: q.from,
            to: q.to,
            value: q.value,
            validAfter: q.validAfter,
            validBefore: q.validBefore,
            nonce: q.nonce,
          },
        });
        await t.add(s.attempt(q, () => s.settle([s.item(q, { signature: receiveSig })])));
        await s.settleHonestly(q);
      }
      return t;
    },
  },
  {
    name: "routed-payee-swapped",
    description: "a routed item with another payee than the one its nonce commits to",
    methods: ROUTED,
    async run(s) {
      const t = new Tally();
      const p = await s.sign();
      await t.add(s.attempt(p, () => s.settle([s.item(p, { payee: s.attacker.account.address })])));
      await s.settleHonestly(p);
      return t;
    },
  },
  {
    name: "routed-fee-swapped",
    description: "a routed item with a larger (the whole value) and a smaller fee than signed",
    methods: ROUTED,
    async run(s) {
      const t = new Tally();
      const p = await s.sign();
      await t.add(s.attempt(p, () => s.settle([s.item(p, { fee: p.value })])));
      await t.add(s.attempt(p, () => s.settle([s.item(p, { fee: 0n })])));
      await s.settleHonestly(p);
      return t;
    },
  },
  {
    name: "routed-fee-recipient-swapped",
    description: "a routed item settled with another feeRecipient than its nonce commits to",
    methods: ROUTED,
    async run(s) {
      const t = new Tally();
      const p = await s.sign();
      await t.add(
        s.attempt(p, () => s.settle([s.item(p)], { feeRecipient: s.attacker.account.address })),
      );
      await s.settleHonestly(p);
      return t;
    },
  },
  {
    name: "routed-item-direct-on-token",
    description: "a third party calls receiveWithAuthorization on the token with a routed item",
    methods: ROUTED,
    async run(s) {
      const t = new Tally();
      const p = await s.sign();
      await t.add(
        s.attempt(p, () => s.tokenCall("receiveWithAuthorization", s.authorizationArgs(p))),
      );
      await t.add(
        s.attempt(p, () =>
          s.tokenCall("receiveWithAuthorization", s.authorizationArgs(p, p.signature)),
        ),
      );
      await s.settleHonestly(p);
      return t;
    },
  },
  {
    name: "drained-payer",
    description: "the payer moves its funds away (leaving one unit short) before settlement",
    methods: BOTH,
    async run(s) {
      const t = new Tally();
      const payer = s.freshPayer();
      const p = await s.sign({ payer });
      const balance = await s.balanceOf(payer.address);
      const drainAmount = balance - p.value + 1n;
      const drain = await s.sign({ payer, value: drainAmount, payee: s.feeRecipient });
      if (drain.kind === "routed") await s.settle([s.item(drain)]);
      else await s.tokenCall("transferWithAuthorization", s.authorizationArgs(drain), s.relayer);
      if ((await s.balanceOf(payer.address)) !== p.value - 1n)
        throw new Error(`${s.label}: draining the payer did not work`);
      await t.add(s.attempt(p, () => s.settle([s.item(p)])));
      return t;
    },
  },
  {
    name: "same-nonce-twice-in-batch",
    description: "two different authorizations of one payer with the same nonce in one settle call",
    methods: BOTH,
    async run(s) {
      const t = new Tally();
      const payer = s.freshPayer();
      const first = await s.sign({ payer });
      const second = s.routed
        ? await s.sign({ payer, value: first.value * 2n, ...saltOf(first) })
        : await s.sign({ payer, nonce: first.nonce, payee: s.attacker.account.address });
      if (second.nonce !== first.nonce) throw new Error(`${s.label}: nonces differ`);
      await t.add(s.attempt(first, () => s.settle([s.item(first), s.item(second)]), first.value));
      if (!(await s.isUsed(first))) throw new Error(`${s.label}: the first payment did not settle`);
      return t;
    },
  },
];

/** A routed payment's salt, to sign another one with the same nonce. */
function saltOf(p: { kind: string } & Record<string, unknown>): { salt?: Hex } {
  return p.kind === "routed" ? { salt: p.salt as Hex } : {};
}
