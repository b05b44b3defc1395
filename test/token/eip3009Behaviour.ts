import { expect } from "chai";
import {
  type Address,
  type Hex,
  type LocalAccount,
  getAddress,
  parseEventLogs,
  toHex,
  zeroAddress,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { Wallet } from "ethers";

import {
  type Authorization,
  type SplitSignature,
  eip3009Abi,
  expectRevertData,
  highS,
  join,
  eip3009Types,
  signAuthorization,
  signCancel,
  split,
} from "./eip3009.js";
import type { Eip3009Env, TokenSetup } from "./tokens.js";

/** Gas for every write: explicit, so no estimation runs at another timestamp than the mined block's. */
const GAS = 1_000_000n;
const FUNDS = 1_000_000n; // 1.00 token (6 decimals)
const VALUE = 250_000n;

let nonceCounter = 0;
/** A fresh, distinct nonce per call. */
function freshNonce(): Hex {
  nonceCounter += 1;
  return toHex(BigInt(Date.now()) * 1_000_000n + BigInt(nonceCounter), { size: 32 });
}

/**
 * The EIP-3009 behaviour x402 settlement relies on, run against one token. Every expected failure is
 * asserted as the token's exact revert data (`setup.reverts`: its error selector and arguments, or its
 * revert string), and leaves balances and the nonce as they were.
 */
export function describeEip3009Behaviour(setup: TokenSetup): void {
  const reverts = setup.reverts;
  describe(`EIP-3009 behaviour: ${setup.label}`, function () {
    let fixture: () => Promise<Eip3009Env>;
    let load: () => Promise<Eip3009Env>;

    before(async function () {
      const connected = await setup.connect();
      fixture = connected.fixture;
      load = () => connected.conn.networkHelpers.loadFixture(fixture);
    });

    /** A funded payer (a key with no gas) and a default authorization to the payee. */
    async function funded(env: Eip3009Env, overrides: Partial<Authorization> = {}) {
      const payer = privateKeyToAccount(generatePrivateKey());
      await env.fund([payer.address], FUNDS);
      const now = BigInt(await env.conn.networkHelpers.time.latest());
      const authorization: Authorization = {
        from: payer.address,
        to: env.payee.account.address,
        value: VALUE,
        validAfter: 0n,
        validBefore: now + 3_600n,
        nonce: freshNonce(),
        ...overrides,
      };
      return { payer, authorization, now };
    }

    function args(a: Authorization) {
      return [a.from, a.to, a.value, a.validAfter, a.validBefore, a.nonce] as const;
    }

    /** transferWithAuthorization through the (v, r, s) or the bytes overload, sent by `sender`. */
    async function transfer(
      env: Eip3009Env,
      a: Authorization,
      sig: SplitSignature,
      overload: "vrs" | "bytes",
      sender = env.relayer,
    ) {
      const hash = await sender.writeContract({
        address: env.token,
        abi: eip3009Abi,
        functionName: "transferWithAuthorization",
        args: overload === "vrs" ? [...args(a), sig.v, sig.r, sig.s] : [...args(a), sig.bytes],
        gas: GAS,
      });
      return env.publicClient.waitForTransactionReceipt({ hash });
    }

    async function receive(
      env: Eip3009Env,
      a: Authorization,
      sig: SplitSignature,
      overload: "vrs" | "bytes",
      sender = env.payee,
    ) {
      const hash = await sender.writeContract({
        address: env.token,
        abi: eip3009Abi,
        functionName: "receiveWithAuthorization",
        args: overload === "vrs" ? [...args(a), sig.v, sig.r, sig.s] : [...args(a), sig.bytes],
        gas: GAS,
      });
      return env.publicClient.waitForTransactionReceipt({ hash });
    }

    async function cancel(
      env: Eip3009Env,
      authorizer: Address,
      nonce: Hex,
      sig: SplitSignature,
      overload: "vrs" | "bytes",
    ) {
      const hash = await env.relayer.writeContract({
        address: env.token,
        abi: eip3009Abi,
        functionName: "cancelAuthorization",
        args:
          overload === "vrs"
            ? [authorizer, nonce, sig.v, sig.r, sig.s]
            : [authorizer, nonce, sig.bytes],
        gas: GAS,
      });
      return env.publicClient.waitForTransactionReceipt({ hash });
    }

    const read = {
      balance: (env: Eip3009Env, account: Address) =>
        env.publicClient.readContract({
          address: env.token,
          abi: eip3009Abi,
          functionName: "balanceOf",
          args: [account],
        }),
      used: (env: Eip3009Env, authorizer: Address, nonce: Hex) =>
        env.publicClient.readContract({
          address: env.token,
          abi: eip3009Abi,
          functionName: "authorizationState",
          args: [authorizer, nonce],
        }),
    };

    /** Expects `action` to revert with exactly `data` and to leave the nonce unused and the balances as they were. */
    async function expectRejected(
      env: Eip3009Env,
      a: Authorization,
      action: () => Promise<unknown>,
      data: Hex,
    ) {
      const before = [await read.balance(env, a.from), await read.balance(env, a.to)];
      await expectRevertData(action(), data);
      expect(await read.used(env, a.from, a.nonce)).to.equal(false);
      expect([await read.balance(env, a.from), await read.balance(env, a.to)]).to.deep.equal(
        before,
      );
    }

    for (const overload of ["vrs", "bytes"] as const) {
      describe(`${overload === "vrs" ? "(v, r, s)" : "bytes signature"} overloads`, function () {
        it("transferWithAuthorization moves the value, uses the nonce, emits AuthorizationUsed then Transfer", async function () {
          const env = await load();
          const { payer, authorization: a } = await funded(env);
          const sig = await signAuthorization(payer, env.domain, a);
          const receipt = await transfer(env, a, sig, overload);

          expect(receipt.status).to.equal("success");
          expect(await read.balance(env, payer.address)).to.equal(FUNDS - VALUE);
          expect(await read.balance(env, a.to)).to.equal(VALUE);
          expect(await read.used(env, payer.address, a.nonce)).to.equal(true);
          const events = parseEventLogs({ abi: eip3009Abi, logs: receipt.logs });
          expect(events.map((e) => e.eventName)).to.deep.equal(["AuthorizationUsed", "Transfer"]);
          expect(events[0]!.args).to.deep.equal({ authorizer: payer.address, nonce: a.nonce });
          expect(events[1]!.args).to.deep.equal({
            from: payer.address,
            to: getAddress(a.to),
            value: VALUE,
          });
          expect(events.every((e) => getAddress(e.address) === getAddress(env.token))).to.equal(
            true,
          );
        });

        it("receiveWithAuthorization called by the payee debits the payer, uses the nonce, and only once", async function () {
          const env = await load();
          const { payer, authorization: a } = await funded(env);
          const sig = await signAuthorization(payer, env.domain, a, "ReceiveWithAuthorization");
          expect(await read.used(env, payer.address, a.nonce)).to.equal(false);
          const receipt = await receive(env, a, sig, overload);
          expect(receipt.status).to.equal("success");
          expect(await read.balance(env, payer.address)).to.equal(FUNDS - VALUE);
          expect(await read.balance(env, a.to)).to.equal(VALUE);
          expect(await read.used(env, payer.address, a.nonce)).to.equal(true);
          const events = parseEventLogs({ abi: eip3009Abi, logs: receipt.logs });
          expect(events.map((e) => [e.eventName, e.args])).to.deep.equal([
            ["AuthorizationUsed", { authorizer: payer.address, nonce: a.nonce }],
            ["Transfer", { from: payer.address, to: getAddress(a.to), value: VALUE }],
          ]);
          // The authorization cannot be received twice.
          await expectRevertData(
            receive(env, a, sig, overload),
            reverts.nonceUsed(payer.address, a.nonce),
          );
        });

        it("receiveWithAuthorization called by someone other than the payee: the token's caller-not-payee error", async function () {
          const env = await load();
          const { payer, authorization: a } = await funded(env);
          const sig = await signAuthorization(payer, env.domain, a, "ReceiveWithAuthorization");
          await expectRejected(
            env,
            a,
            () => receive(env, a, sig, overload, env.stranger),
            reverts.callerNotPayee(env.stranger.account.address, a.to),
          );
        });

        it("a receive signature does not authorize a transfer (and vice versa)", async function () {
          const env = await load();
          const { payer, authorization: a } = await funded(env);
          const receiveSig = await signAuthorization(
            payer,
            env.domain,
            a,
            "ReceiveWithAuthorization",
          );
          await expectRejected(
            env,
            a,
            () => transfer(env, a, receiveSig, overload),
            reverts.invalidSignature,
          );
          const transferSig = await signAuthorization(payer, env.domain, a);
          await expectRejected(
            env,
            a,
            () => receive(env, a, transferSig, overload),
            reverts.invalidSignature,
          );
        });

        it("reusing a nonce: the token's used-authorization error (transfer, receive and cancel share it)", async function () {
          const env = await load();
          const { payer, authorization: a } = await funded(env);
          await transfer(env, a, await signAuthorization(payer, env.domain, a), overload);
          const balance = await read.balance(env, payer.address);
          const used = reverts.nonceUsed(payer.address, a.nonce);

          await expectRevertData(
            transfer(env, a, await signAuthorization(payer, env.domain, a), overload),
            used,
          );
          const asReceive = await signAuthorization(
            payer,
            env.domain,
            a,
            "ReceiveWithAuthorization",
          );
          await expectRevertData(receive(env, a, asReceive, overload), used);
          const cancelSig = await signCancel(payer, env.domain, payer.address, a.nonce);
          await expectRevertData(cancel(env, payer.address, a.nonce, cancelSig, overload), used);
          expect(await read.balance(env, payer.address)).to.equal(balance);
        });

        it("cancelAuthorization emits AuthorizationCanceled; the nonce can no longer be used", async function () {
          const env = await load();
          const { payer, authorization: a } = await funded(env);
          const cancelSig = await signCancel(payer, env.domain, payer.address, a.nonce);
          const receipt = await cancel(env, payer.address, a.nonce, cancelSig, overload);
          const events = parseEventLogs({ abi: eip3009Abi, logs: receipt.logs });
          expect(events.map((e) => [e.eventName, e.args])).to.deep.equal([
            ["AuthorizationCanceled", { authorizer: payer.address, nonce: a.nonce }],
          ]);
          expect(await read.used(env, payer.address, a.nonce)).to.equal(true);
          await expectRevertData(
            transfer(env, a, await signAuthorization(payer, env.domain, a), overload),
            reverts.nonceUsed(payer.address, a.nonce),
          );
          expect(await read.balance(env, payer.address)).to.equal(FUNDS);
        });

        it("a cancellation signed by someone else: the token's invalid-signature error", async function () {
          const env = await load();
          const { payer, authorization: a } = await funded(env);
          const intruder = privateKeyToAccount(generatePrivateKey());
          const sig = await signCancel(intruder, env.domain, payer.address, a.nonce);
          await expectRevertData(
            cancel(env, payer.address, a.nonce, sig, overload),
            reverts.invalidSignature,
          );
          expect(await read.used(env, payer.address, a.nonce)).to.equal(false);
        });

        it("wrong signer: the token's invalid-signature error", async function () {
          const env = await load();
          const { authorization: a } = await funded(env);
          const intruder = privateKeyToAccount(generatePrivateKey());
          const sig = await signAuthorization(intruder, env.domain, a);
          await expectRejected(
            env,
            a,
            () => transfer(env, a, sig, overload),
            reverts.invalidSignature,
          );
        });

        it("a signature for another chain id: the token's invalid-signature error", async function () {
          const env = await load();
          const { payer, authorization: a } = await funded(env);
          const sig = await signAuthorization(payer, { ...env.domain, chainId: 84532 }, a);
          await expectRejected(
            env,
            a,
            () => transfer(env, a, sig, overload),
            reverts.invalidSignature,
          );
        });

        it("a signature for another token address: the token's invalid-signature error", async function () {
          const env = await load();
          const { payer, authorization: a } = await funded(env);
          const elsewhere = privateKeyToAccount(generatePrivateKey()).address;
          const sig = await signAuthorization(
            payer,
            { ...env.domain, verifyingContract: elsewhere },
            a,
          );
          await expectRejected(
            env,
            a,
            () => transfer(env, a, sig, overload),
            reverts.invalidSignature,
          );
        });

        it("a field changed after signing (value): the token's invalid-signature error", async function () {
          const env = await load();
          const { payer, authorization: a } = await funded(env);
          const sig = await signAuthorization(payer, env.domain, a);
          const raised = { ...a, value: a.value + 1n };
          await expectRejected(
            env,
            raised,
            () => transfer(env, raised, sig, overload),
            reverts.invalidSignature,
          );
        });

        it("the high-s twin of a valid signature: the token's high-s error", async function () {
          const env = await load();
          const { payer, authorization: a } = await funded(env);
          const sig = await signAuthorization(payer, env.domain, a);
          await expectRejected(
            env,
            a,
            () => transfer(env, a, highS(sig), overload),
            reverts.highS(highS(sig).s),
          );
          // The low-s original still works afterwards: the rejection consumed nothing.
          expect((await transfer(env, a, sig, overload)).status).to.equal("success");
        });

        it("v outside {27, 28}: the token's invalid-v error", async function () {
          const env = await load();
          const { payer, authorization: a } = await funded(env);
          const sig = await signAuthorization(payer, env.domain, a);
          await expectRejected(
            env,
            a,
            () => transfer(env, a, join(sig.v + 2, sig.r, sig.s), overload),
            reverts.invalidV,
          );
        });

        it("insufficient balance: the token's balance error", async function () {
          const env = await load();
          const { payer, authorization: a } = await funded(env, { value: FUNDS + 1n });
          const sig = await signAuthorization(payer, env.domain, a);
          await expectRejected(
            env,
            a,
            () => transfer(env, a, sig, overload),
            reverts.insufficientBalance(payer.address, FUNDS, FUNDS + 1n),
          );
        });
      });
    }

    describe("time bounds are strict: validAfter < block.timestamp < validBefore", function () {
      type Case = {
        label: string;
        at: (a: Authorization) => bigint;
        revert?: (a: Authorization, timestamp: bigint) => Hex;
      };
      const notYetValid = (a: Authorization, t: bigint) => reverts.notYetValid(a.validAfter, t);
      const expired = (a: Authorization, t: bigint) => reverts.expired(a.validBefore, t);
      const cases: Case[] = [
        {
          label: "one second before validAfter",
          at: (a) => a.validAfter - 1n,
          revert: notYetValid,
        },
        { label: "at validAfter", at: (a) => a.validAfter, revert: notYetValid },
        { label: "one second after validAfter", at: (a) => a.validAfter + 1n },
        { label: "one second before validBefore", at: (a) => a.validBefore - 1n },
        { label: "at validBefore", at: (a) => a.validBefore, revert: expired },
        { label: "one second after validBefore", at: (a) => a.validBefore + 1n, revert: expired },
      ];
      for (const { label, at, revert } of cases) {
        it(`${label}: ${revert ? "rejected" : "accepted"}`, async function () {
          const env = await load();
          const { payer, authorization, now } = await funded(env);
          const a = { ...authorization, validAfter: now + 100n, validBefore: now + 200n };
          const sig = await signAuthorization(payer, env.domain, a);
          await env.conn.networkHelpers.time.setNextBlockTimestamp(at(a));
          if (revert === undefined) {
            const receipt = await transfer(env, a, sig, "vrs");
            expect(receipt.status).to.equal("success");
            const block = await env.publicClient.getBlock({ blockNumber: receipt.blockNumber });
            expect(block.timestamp).to.equal(at(a));
            expect(await read.balance(env, a.to)).to.equal(VALUE);
          } else {
            await expectRejected(env, a, () => transfer(env, a, sig, "vrs"), revert(a, at(a)));
            const block = await env.publicClient.getBlock();
            expect(block.timestamp).to.equal(at(a));
          }
        });
      }
    });

    describe("an ERC-1271 contract wallet as the authorizer (bytes overloads)", function () {
      async function wallet(env: Eip3009Env, owner: LocalAccount) {
        const mock = await env.conn.viem.deployContract("ERC1271WalletMock", [owner.address]);
        await env.fund([mock.address], FUNDS);
        return mock;
      }

      it("transfers, receives and cancels with the owner's signature", async function () {
        const env = await load();
        const owner = privateKeyToAccount(generatePrivateKey());
        const mock = await wallet(env, owner);
        const now = BigInt(await env.conn.networkHelpers.time.latest());
        const base = {
          from: mock.address,
          to: env.payee.account.address,
          value: VALUE,
          validAfter: 0n,
          validBefore: now + 3_600n,
        };

        const t = { ...base, nonce: freshNonce() };
        await transfer(env, t, await signAuthorization(owner, env.domain, t), "bytes");
        const r = { ...base, nonce: freshNonce() };
        await receive(
          env,
          r,
          await signAuthorization(owner, env.domain, r, "ReceiveWithAuthorization"),
          "bytes",
        );
        expect(await read.balance(env, mock.address)).to.equal(FUNDS - 2n * VALUE);
        expect(await read.balance(env, env.payee.account.address)).to.equal(2n * VALUE);

        const c = freshNonce();
        await cancel(
          env,
          mock.address,
          c,
          await signCancel(owner, env.domain, mock.address, c),
          "bytes",
        );
        expect(await read.used(env, mock.address, c)).to.equal(true);
      });

      it("rejects a signature by someone other than the owner: the token's invalid-signature error", async function () {
        const env = await load();
        const owner = privateKeyToAccount(generatePrivateKey());
        const mock = await wallet(env, owner);
        const { authorization } = await funded(env);
        const a = { ...authorization, from: mock.address };
        const intruder = privateKeyToAccount(generatePrivateKey());
        const sig = await signAuthorization(intruder, env.domain, a);
        await expectRejected(
          env,
          a,
          () => transfer(env, a, sig, "bytes"),
          reverts.invalidSignature,
        );
      });

      it("rejects the owner's signature once the wallet stops accepting: the token's invalid-signature error", async function () {
        const env = await load();
        const owner = privateKeyToAccount(generatePrivateKey());
        const mock = await wallet(env, owner);
        const { authorization } = await funded(env);
        const a = { ...authorization, from: mock.address };
        const sig = await signAuthorization(owner, env.domain, a);
        // The owner key holds no gas: impersonate it to flip the switch.
        await env.conn.networkHelpers.impersonateAccount(owner.address);
        await env.conn.networkHelpers.setBalance(owner.address, 10n ** 18n);
        const hash = await mock.write.setAccepting([false], { account: owner.address });
        await env.publicClient.waitForTransactionReceipt({ hash });
        await expectRejected(
          env,
          a,
          () => transfer(env, a, sig, "bytes"),
          reverts.invalidSignature,
        );
      });
    });

    it("accepts a signature made with a second library (ethers), byte-identical to viem's", async function () {
      const env = await load();
      const key = generatePrivateKey();
      const payer = privateKeyToAccount(key);
      await env.fund([payer.address], FUNDS);
      const now = BigInt(await env.conn.networkHelpers.time.latest());
      const a: Authorization = {
        from: payer.address,
        to: env.payee.account.address,
        value: VALUE,
        validAfter: 0n,
        validBefore: now + 3_600n,
        nonce: freshNonce(),
      };
      const ethersSignature = (await new Wallet(key).signTypedData(
        env.domain,
        { TransferWithAuthorization: [...eip3009Types.TransferWithAuthorization] },
        a,
      )) as Hex;
      const viemSignature = await signAuthorization(payer, env.domain, a);
      expect(ethersSignature).to.equal(viemSignature.bytes);
      const receipt = await transfer(env, a, split(ethersSignature), "bytes");
      expect(receipt.status).to.equal("success");
      expect(await read.balance(env, a.to)).to.equal(VALUE);
    });

    it("a malformed bytes signature (64 bytes) from an EOA: the token's signature-length error", async function () {
      const env = await load();
      const { payer, authorization: a } = await funded(env);
      const sig = await signAuthorization(payer, env.domain, a);
      const short = { ...sig, bytes: sig.bytes.slice(0, 2 + 128) as Hex };
      await expectRejected(
        env,
        a,
        () => transfer(env, a, short, "bytes"),
        reverts.signatureLength64,
      );
    });

    it("a transfer to the zero address: the token's invalid-receiver error", async function () {
      const env = await load();
      const { payer, authorization } = await funded(env);
      const a = { ...authorization, to: zeroAddress };
      const sig = await signAuthorization(payer, env.domain, a);
      await expectRevertData(transfer(env, a, sig, "vrs"), reverts.zeroRecipient);
      expect(await read.used(env, payer.address, a.nonce)).to.equal(false);
    });
  });
}
