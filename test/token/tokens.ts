import { network } from "hardhat";
import { type Address, publicActions, walletActions } from "viem";

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

/** A named way to bring one token up; `setup` runs once per connection, `loadFixture` reverts to it. */
export interface TokenSetup {
  label: string;
  connect(): Promise<{ conn: Connection; fixture: () => Promise<Eip3009Env> }>;
}

async function accounts(conn: Connection) {
  const [relayer, payee, stranger] = await conn.viem.getWalletClients();
  return { relayer: relayer!, payee: payee!, stranger: stranger! };
}

/** The project's X402TestToken, deployed with name "X402 Test Token", version "1". */
export const testTokenSetup: TokenSetup = {
  label: "X402TestToken",
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
