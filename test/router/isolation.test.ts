import { expect } from "chai";
import {
  type Hex,
  concatHex,
  encodeFunctionData,
  hashTypedData,
  numberToHex,
  parseSignature,
} from "viem";

import { encodeItems } from "../../src/batch/encodeItems.js";
import { LOCAL_USDC_ROLES } from "../../src/chain/bootstrap.js";
import {
  type Stack,
  Status,
  account,
  bytes32,
  deployStack,
  eip3009Abi,
  signDirect,
  signRouted,
} from "./fixtures.js";

describe("SettlementRouter: isolation and failure reporting", () => {
  let stack: Stack;
  let n = 0;
  const fresh = (label: string) => account(`iso-${label}-${n++}`);

  before(async () => {
    stack = await deployStack();
  });

  for (const tokenName of ["FiatTokenV2_2", "X402TestToken"] as const) {
    describe(tokenName, () => {
      const token = () => stack.tokens[tokenName];

      it("a front-run item fails with AuthorizationUsed, the others settle, the payee is paid once", async () => {
        const payee = fresh("payee").address;
        const payers = [fresh("p"), fresh("p"), fresh("p")];
        await stack.fund(
          token(),
          payers.map((p) => p.address),
          100_000n,
        );
        const items = await Promise.all(
          payers.map((p, i) => signDirect(token(), p, payee, bytes32(`fr-${n}-${i}`))),
        );
        const { r, s, v } = parseSignature(items[1].signature);
        await stack.relayerWallet.writeContract({
          address: token().address,
          abi: eip3009Abi,
          functionName: "transferWithAuthorization",
          args: [
            items[1].from,
            payee,
            items[1].value,
            0n,
            items[1].validBefore,
            items[1].nonce,
            Number(v),
            r,
            s,
          ],
        });
        const { statuses, eventStatuses, failures } = await stack.settle(
          token(),
          stack.relayer,
          items,
        );
        expect(statuses).to.deep.equal([0, Status.AuthorizationUsed, 0]);
        expect(eventStatuses).to.deep.equal(statuses);
        expect(failures.map((f) => [f.index, f.authorizer, f.nonce])).to.deep.equal([
          [1, items[1].from, items[1].nonce],
        ]);
        expect(failures[0].reason).to.not.equal("0x");
        expect(await stack.balanceOf(token(), payee)).to.equal(3n * 10_000n);
      });

      it("the same authorization twice in one batch settles once", async () => {
        const payee = fresh("payee").address;
        const payer = fresh("p");
        await stack.fund(token(), [payer.address], 100_000n);
        const item = await signDirect(token(), payer, payee, bytes32(`dup-${n}`));
        const { statuses } = await stack.settle(token(), stack.relayer, [item, item]);
        expect(statuses).to.deep.equal([0, Status.AuthorizationUsed]);
        expect(await stack.balanceOf(token(), payee)).to.equal(10_000n);
      });

      it("substituted payee, fee or fee recipient on a routed item fails and moves nothing", async () => {
        const payee = fresh("payee").address;
        const feeRecipient = fresh("fee").address;
        const payer = fresh("p");
        await stack.fund(token(), [payer.address], 100_000n);
        const signed = await signRouted(token(), stack.router.address, payer, {
          payee,
          fee: 100n,
          feeRecipient,
          salt: bytes32(`sub-${n}`),
        });
        const thief = fresh("thief").address;
        const a = await stack.settle(token(), feeRecipient, [{ ...signed, payee: thief }]);
        const b = await stack.settle(token(), feeRecipient, [{ ...signed, fee: 5_000n }]);
        const c = await stack.settle(token(), thief, [signed]);
        for (const { statuses } of [a, b, c])
          expect(statuses).to.deep.equal([Status.TokenReverted]);
        expect(await stack.balanceOf(token(), payer.address)).to.equal(100_000n);
        expect(await stack.balanceOf(token(), thief)).to.equal(0n);
        expect(await stack.balanceOf(token(), stack.router.address)).to.equal(0n);
        // The genuine item still settles afterwards.
        const ok = await stack.settle(token(), feeRecipient, [signed]);
        expect(ok.statuses).to.deep.equal([0]);
        expect(await stack.balanceOf(token(), payee)).to.equal(9_900n);
        expect(await stack.balanceOf(token(), feeRecipient)).to.equal(100n);
      });

      it("a routed authorization cannot be submitted directly on the token by a third party", async () => {
        const payee = fresh("payee").address;
        const payer = fresh("p");
        await stack.fund(token(), [payer.address], 100_000n);
        const salt = bytes32(`third-${n}`);
        const signed = await signRouted(token(), stack.router.address, payer, {
          payee,
          fee: 0n,
          feeRecipient: stack.relayer,
          salt,
        });
        const { r, s, v } = parseSignature(signed.signature);
        const nonce = await stack.router.read.routedNonce([payee, 0n, stack.relayer, salt]);
        let reverted = false;
        try {
          await stack.client.simulateContract({
            account: stack.relayer,
            address: token().address,
            abi: eip3009Abi,
            functionName: "receiveWithAuthorization",
            args: [
              payer.address,
              stack.router.address,
              signed.value,
              0n,
              signed.validBefore,
              nonce,
              Number(v),
              r,
              s,
            ],
          });
        } catch {
          reverted = true;
        }
        expect(reverted).to.equal(true);
      });

      it("settles ERC-1271 wallet payments (contract signatures), direct and routed", async () => {
        const owner = fresh("owner");
        const wallet = await stack.conn.viem.deployContract("ERC1271WalletMock", [owner.address]);
        await stack.fund(token(), [wallet.address], 100_000n);
        const payee = fresh("payee").address;
        const domain = token().domain;
        const types = (primaryType: "TransferWithAuthorization" | "ReceiveWithAuthorization") => ({
          [primaryType]: [
            { name: "from", type: "address" },
            { name: "to", type: "address" },
            { name: "value", type: "uint256" },
            { name: "validAfter", type: "uint256" },
            { name: "validBefore", type: "uint256" },
            { name: "nonce", type: "bytes32" },
          ],
        });
        const base = {
          from: wallet.address,
          value: 10_000n,
          validAfter: 0n,
          validBefore: 1_999_999_999n,
        };
        const nonce = bytes32(`wallet-direct-${n}`);
        const direct = {
          kind: "direct" as const,
          ...base,
          to: payee,
          nonce,
          contractSignature: true,
          signature: await owner.sign({
            hash: hashTypedData({
              domain,
              types: types("TransferWithAuthorization"),
              primaryType: "TransferWithAuthorization",
              message: { ...base, to: payee, nonce },
            }),
          }),
        };
        const salt = bytes32(`wallet-routed-${n}`);
        const routedNonce = await stack.router.read.routedNonce([payee, 100n, stack.relayer, salt]);
        const routed = {
          kind: "routed" as const,
          ...base,
          payee,
          fee: 100n,
          salt,
          contractSignature: true,
          signature: await owner.sign({
            hash: hashTypedData({
              domain,
              types: types("ReceiveWithAuthorization"),
              primaryType: "ReceiveWithAuthorization",
              message: { ...base, to: stack.router.address, nonce: routedNonce },
            }),
          }),
        };
        // Routed groups around the contract-signature items: the group self-calls' copy of the
        // items must survive the contract-signature calls in between.
        const payers = [fresh("p"), fresh("p")];
        await stack.fund(
          token(),
          payers.map((p) => p.address),
          100_000n,
        );
        const other = fresh("payee").address;
        const around = await Promise.all(
          payers.map((p, i) =>
            signRouted(token(), stack.router.address, p, {
              payee: other,
              fee: 0n,
              feeRecipient: stack.relayer,
              salt: bytes32(`wallet-around-${n}-${i}`),
            }),
          ),
        );
        const { statuses } = await stack.settle(token(), stack.relayer, [
          around[0]!,
          direct,
          routed,
          around[1]!,
        ]);
        expect(statuses).to.deep.equal([0, 0, 0, 0]);
        expect(await stack.balanceOf(token(), payee)).to.equal(10_000n + 9_900n);
        expect(await stack.balanceOf(token(), other)).to.equal(20_000n);
        expect(await stack.balanceOf(token(), wallet.address)).to.equal(80_000n);
      });

      it("mixes direct and routed items; an empty batch returns no results", async () => {
        const payee = fresh("payee").address;
        const other = fresh("payee").address;
        const payers = [fresh("p"), fresh("p"), fresh("p"), fresh("p")];
        await stack.fund(
          token(),
          payers.map((p) => p.address),
          100_000n,
        );
        const route = (p: (typeof payers)[number], to: Hex, i: number) =>
          signRouted(token(), stack.router.address, p, {
            payee: to,
            fee: 10n,
            feeRecipient: stack.relayer,
            salt: bytes32(`mix-${n}-${i}`),
          });
        const items = [
          await route(payers[0], payee, 0),
          await signDirect(token(), payers[1], other, bytes32(`mix-d-${n}`)),
          await route(payers[2], payee, 2),
          await route(payers[3], other, 3),
        ];
        const { statuses } = await stack.settle(token(), stack.relayer, items);
        expect(statuses).to.deep.equal([0, 0, 0, 0]);
        expect(await stack.balanceOf(token(), payee)).to.equal(2n * 9_990n);
        expect(await stack.balanceOf(token(), other)).to.equal(10_000n + 9_990n);
        expect(await stack.balanceOf(token(), stack.router.address)).to.equal(0n);
        const empty = await stack.settle(token(), stack.relayer, "0x");
        expect(empty.statuses).to.deep.equal([]);
      });
    });
  }

  it("malformed items revert the whole call with SettlementRouterMalformedItems(offset)", async () => {
    const token = stack.tokens.FiatTokenV2_2;
    const payer = fresh("p");
    const item = await signDirect(token, payer, fresh("payee").address, bytes32("malformed"));
    const good = encodeItems([item]);
    const cases: [Hex, bigint][] = [
      [good.slice(0, -2) as Hex, 0n], // truncated
      [concatHex([good, good.slice(0, 100) as Hex]), 165n], // truncated second item
      [concatHex(["0x04", good.slice(4) as Hex]), 0n], // unknown flag bit
      [concatHex([good, "0x02", good.slice(4, 4 + 200) as Hex, "0xffff"]), 165n], // length past end
    ];
    for (const [items, offset] of cases) {
      let error: unknown;
      try {
        await stack.router.simulate.settle([token.address, stack.relayer, items], {
          account: stack.relayer,
        });
      } catch (e) {
        error = e;
      }
      const text = String((error as { message?: string })?.message);
      expect(text).to.contain("SettlementRouterMalformedItems");
      expect(text).to.contain(`(${offset})`);
    }
  });

  it("a blacklisted payee's routed group is undone: PayoutFailed, nonces unused, funds unmoved", async () => {
    const token = stack.tokens.FiatTokenV2_2;
    const bad = fresh("blacklisted").address;
    const good = fresh("payee").address;
    const payers = [fresh("p"), fresh("p"), fresh("p")];
    await stack.fund(
      token,
      payers.map((p) => p.address),
      100_000n,
    );
    const route = (p: (typeof payers)[number], payee: Hex, i: number) =>
      signRouted(token, stack.router.address, p, {
        payee,
        fee: 10n,
        feeRecipient: stack.relayer,
        salt: bytes32(`bl-${n}-${i}`),
      });
    const items = [
      await route(payers[0], bad, 0),
      await route(payers[1], bad, 1),
      await route(payers[2], good, 2),
    ];
    await stack.testClient.impersonateAccount({ address: LOCAL_USDC_ROLES.blacklister });
    await stack.testClient.setBalance({ address: LOCAL_USDC_ROLES.blacklister, value: 10n ** 18n });
    await stack.client.waitForTransactionReceipt({
      hash: await stack.client.sendTransaction({
        account: LOCAL_USDC_ROLES.blacklister,
        chain: null,
        to: token.address,
        data: encodeFunctionData({ abi: eip3009Abi, functionName: "blacklist", args: [bad] }),
      }),
    });
    const { statuses, failures } = await stack.settle(token, stack.relayer, items);
    expect(statuses).to.deep.equal([Status.PayoutFailed, Status.PayoutFailed, 0]);
    expect(failures.map((f) => [f.index, f.status])).to.deep.equal([
      [0, Status.PayoutFailed],
      [1, Status.PayoutFailed],
    ]);
    for (const p of payers.slice(0, 2))
      expect(await stack.balanceOf(token, p.address)).to.equal(100_000n);
    expect(await stack.balanceOf(token, good)).to.equal(9_990n);
    expect(await stack.balanceOf(token, stack.router.address)).to.equal(0n);
    const nonce0 = await stack.router.read.routedNonce([bad, 10n, stack.relayer, items[0].salt]);
    expect(await stack.authorizationState(token, payers[0].address, nonce0)).to.equal(false);
  });

  for (const tokenName of ["FiatTokenV2_2", "X402TestToken"] as const) {
    it(`${tokenName}: a wallet that burns gas or returns a megabyte costs one item's gas limit, not the batch`, async () => {
      const token = stack.tokens[tokenName];
      const payee = fresh("payee").address;
      const payers = [fresh("p"), fresh("p")];
      await stack.fund(
        token,
        payers.map((p) => p.address),
        100_000n,
      );
      for (const burn of [true, false]) {
        const wallet = await stack.conn.viem.deployContract("HostileERC1271Wallet", [burn]);
        await stack.fund(token, [wallet.address], 100_000n);
        const hostile = {
          kind: "direct" as const,
          from: wallet.address,
          to: payee,
          value: 10_000n,
          validAfter: 0n,
          validBefore: 1_999_999_999n,
          nonce: bytes32(`hostile-${tokenName}-${burn}`),
          signature: numberToHex(1n, { size: 65 }),
          contractSignature: true,
        };
        const items = [
          await signDirect(token, payers[0], payee, bytes32(`h0-${tokenName}-${burn}`)),
          hostile,
          await signDirect(token, payers[1], payee, bytes32(`h1-${tokenName}-${burn}`)),
        ];
        const { statuses, receipt } = await stack.settle(token, stack.relayer, items);
        expect(statuses).to.deep.equal([0, Status.TokenReverted, 0]);
        const limit = await stack.router.read.ITEM_GAS_LIMIT();
        expect(receipt.gasUsed < limit + 250_000n).to.equal(true);
      }
    });
  }
});
