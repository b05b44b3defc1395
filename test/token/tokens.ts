import { network } from "hardhat";
import {
  type Address,
  type Hex,
  encodeErrorResult,
  parseAbi,
  publicActions,
  walletActions,
  zeroAddress,
} from "viem";

import {
  BASE_CHAIN_ID,
  USDC_ADDRESS,
  USDC_EIP712_NAME,
  USDC_EIP712_VERSION,
} from "../../src/chain/base.js";
import { bootstrapBase, fundUsdc } from "../../src/chain/bootstrap.js";
import type { Eip3009Domain } from "./eip3009.js";

/** The test token's deployment in the token tests (version "1", unlike USDC's "2", on purpose). */
export const TEST_TOKEN_NAME = "X402 Test Token";
export const TEST_TOKEN_SYMBOL = "X402T";
export const TEST_TOKEN_VERSION = "1";

type Connection = Awaited<ReturnType<typeof network.create>>;
type WalletClient = Awaited<ReturnType<Connection["viem"]["getWalletClients"]>>[number];

/** One EIP-3009 token on a fresh simulated Base, ready for the behavioural suite. */
export interface Eip3009Env {
  conn: Connection;
  publicClient: Awaited<ReturnType<Connection["viem"]["getPublicClient"]>>;
  /** Submits authorizations (pays gas). */
  relayer: WalletClient;
  /** A payee that can send transactions (for receiveWithAuthorization). */
  payee: WalletClient;
  /** Someone else with gas. */
  stranger: WalletClient;
  token: Address;
  domain: Eip3009Domain;
  /** Gives each account `amount` tokens. */
  fund(accounts: readonly Address[], amount: bigint): Promise<void>;
}

/**
 * The exact revert data a token gives for each failure the behavioural suite provokes. Written out
 * from each token's source (OpenZeppelin's errors for the test token, Circle's revert strings for
 * FiatTokenV2_2), not from the toolkit's decoder.
 */
export interface ExpectedReverts {
  /** A well-formed signature that does not recover to the authorizer (or a wallet's refusal). */
  invalidSignature: Hex;
  nonceUsed(authorizer: Address, nonce: Hex): Hex;
  callerNotPayee(caller: Address, payee: Address): Hex;
  highS(s: Hex): Hex;
  /** `v` outside {27, 28}. */
  invalidV: Hex;
  /** A 64-byte signature from an account without code (bytes overload). */
  signatureLength64: Hex;
  insufficientBalance(from: Address, balance: bigint, needed: bigint): Hex;
  notYetValid(validAfter: bigint, timestamp: bigint): Hex;
  expired(validBefore: bigint, timestamp: bigint): Hex;
  zeroRecipient: Hex;
}

/** The errors of X402TestToken's failures, as declared by OpenZeppelin and the token. */
const testTokenErrors = parseAbi([
  "error ERC3009InvalidSignature()",
  "error ERC3009UsedAuthorization(address authorizer, bytes32 nonce)",
  "error ERC3009CallerNotPayee(address caller, address payee)",
  "error ERC3009AuthorizationNotYetValid(uint256 validAfter, uint256 timestamp)",
  "error ERC3009AuthorizationExpired(uint256 validBefore, uint256 timestamp)",
  "error ECDSAInvalidSignature()",
  "error ECDSAInvalidSignatureLength(uint256 length)",
  "error ECDSAInvalidSignatureS(bytes32 s)",
  "error ERC20InsufficientBalance(address sender, uint256 balance, uint256 needed)",
  "error ERC20InvalidReceiver(address receiver)",
]);

const testTokenReverts: ExpectedReverts = {
  invalidSignature: encodeErrorResult({
    abi: testTokenErrors,
    errorName: "ERC3009InvalidSignature",
  }),
  nonceUsed: (authorizer, nonce) =>
    encodeErrorResult({
      abi: testTokenErrors,
      errorName: "ERC3009UsedAuthorization",
      args: [authorizer, nonce],
    }),
  callerNotPayee: (caller, payee) =>
    encodeErrorResult({
      abi: testTokenErrors,
      errorName: "ERC3009CallerNotPayee",
      args: [caller, payee],
    }),
  highS: (s) =>
    encodeErrorResult({ abi: testTokenErrors, errorName: "ECDSAInvalidSignatureS", args: [s] }),
  invalidV: encodeErrorResult({ abi: testTokenErrors, errorName: "ECDSAInvalidSignature" }),
  signatureLength64: encodeErrorResult({
    abi: testTokenErrors,
    errorName: "ECDSAInvalidSignatureLength",
    args: [64n],
  }),
  insufficientBalance: (from, balance, needed) =>
    encodeErrorResult({
      abi: testTokenErrors,
      errorName: "ERC20InsufficientBalance",
      args: [from, balance, needed],
    }),
  notYetValid: (validAfter, timestamp) =>
    encodeErrorResult({
      abi: testTokenErrors,
      errorName: "ERC3009AuthorizationNotYetValid",
      args: [validAfter, timestamp],
    }),
  expired: (validBefore, timestamp) =>
    encodeErrorResult({
      abi: testTokenErrors,
      errorName: "ERC3009AuthorizationExpired",
      args: [validBefore, timestamp],
    }),
  zeroRecipient: encodeErrorResult({
    abi: testTokenErrors,
    errorName: "ERC20InvalidReceiver",
    args: [zeroAddress],
  }),
};

const errorString = parseAbi(["error Error(string message)"]);
/** `require(..., message)`'s revert data. */
const revertString = (message: string): Hex =>
  encodeErrorResult({ abi: errorString, errorName: "Error", args: [message] });

/**
 * FiatTokenV1's ERC-20 revert strings (solc 0.6.12) as the token returns them, measured: the last
 * byte of the string's zero padding is 0x41.
 */
const dirtyPadding = (data: Hex): Hex => `${data.slice(0, -2)}41` as Hex;

/** FiatTokenV2_2's revert strings (stablecoin-evm v2.2: FiatTokenV2, ECRecover, FiatTokenV1). */
const usdcReverts: ExpectedReverts = {
  invalidSignature: revertString("FiatTokenV2: invalid signature"),
  nonceUsed: () => revertString("FiatTokenV2: authorization is used or canceled"),
  callerNotPayee: () => revertString("FiatTokenV2: caller must be the payee"),
  highS: () => revertString("ECRecover: invalid signature 's' value"),
  invalidV: revertString("ECRecover: invalid signature 'v' value"),
  signatureLength64: revertString("ECRecover: invalid signature length"),
  insufficientBalance: () => dirtyPadding(revertString("ERC20: transfer amount exceeds balance")),
  notYetValid: () => revertString("FiatTokenV2: authorization is not yet valid"),
  expired: () => revertString("FiatTokenV2: authorization is expired"),
  zeroRecipient: dirtyPadding(revertString("ERC20: transfer to the zero address")),
};

/** A named way to bring one token up; `setup` runs once per connection, `loadFixture` reverts to it. */
export interface TokenSetup {
  label: string;
  /** The token's exact revert data per failure. */
  reverts: ExpectedReverts;
  connect(): Promise<{ conn: Connection; fixture: () => Promise<Eip3009Env> }>;
}

async function accounts(conn: Connection) {
  const [relayer, payee, stranger] = await conn.viem.getWalletClients();
  return { relayer: relayer!, payee: payee!, stranger: stranger! };
}

/** The project's X402TestToken, deployed with name "X402 Test Token", version "1". */
export const testTokenSetup: TokenSetup = {
  label: "X402TestToken",
  reverts: testTokenReverts,
  async connect() {
    const conn = await network.create();
    const fixture = async function deployX402TestToken(): Promise<Eip3009Env> {
      const publicClient = await conn.viem.getPublicClient();
      const { relayer, payee, stranger } = await accounts(conn);
      const token = await conn.viem.deployContract("X402TestToken", [
        TEST_TOKEN_NAME,
        TEST_TOKEN_SYMBOL,
        TEST_TOKEN_VERSION,
        relayer.account.address,
      ]);
      return {
        conn,
        publicClient,
        relayer,
        payee,
        stranger,
        token: token.address,
        domain: {
          name: TEST_TOKEN_NAME,
          version: TEST_TOKEN_VERSION,
          chainId: await publicClient.getChainId(),
          verifyingContract: token.address,
        },
        async fund(to, amount) {
          for (const account of to) {
            const hash = await token.write.mint([account, amount]);
            await publicClient.waitForTransactionReceipt({ hash });
          }
        },
      };
    };
    return { conn, fixture };
  },
};

/** Circle's FiatTokenV2_2 at Base's canonical USDC address, installed by `bootstrapBase`. */
export const usdcSetup: TokenSetup = {
  label: "FiatTokenV2_2",
  reverts: usdcReverts,
  async connect() {
    const conn = await network.create();
    const fixture = async function bootstrapUsdc(): Promise<Eip3009Env> {
      const publicClient = await conn.viem.getPublicClient();
      const { relayer, payee, stranger } = await accounts(conn);
      const client = (await conn.viem.getTestClient()).extend(publicActions).extend(walletActions);
      await bootstrapBase(client);
      return {
        conn,
        publicClient,
        relayer,
        payee,
        stranger,
        token: USDC_ADDRESS,
        domain: {
          name: USDC_EIP712_NAME,
          version: USDC_EIP712_VERSION,
          chainId: BASE_CHAIN_ID,
          verifyingContract: USDC_ADDRESS,
        },
        fund: (recipients, amount) => fundUsdc(client, { recipients, amount }),
      };
    };
    return { conn, fixture };
  },
};
