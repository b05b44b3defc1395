import { network } from "hardhat";
import {
  type Address,
  type Hex,
  encodeAbiParameters,
  getContract,
  hexToBytes,
  keccak256,
  parseAbi,
  parseEventLogs,
  publicActions,
  toHex,
  walletActions,
} from "viem";
import { type PrivateKeyAccount, privateKeyToAccount } from "viem/accounts";

import SettlementRouterModule from "../../ignition/modules/SettlementRouter.js";
import { settlementRouterAbi } from "../../src/abi/settlementRouter.js";
import TestTokenModule from "../../ignition/modules/TestToken.js";
import { BASE_CHAIN_ID, USDC_ADDRESS } from "../../src/chain/base.js";
import { bootstrapBase, fundUsdc } from "../../src/chain/bootstrap.js";
import type { DirectItem, RoutedItem, SettlementItem } from "../../src/batch/encodeItems.js";
import { encodeItems } from "../../src/batch/encodeItems.js";
import { ItemStatus } from "../../src/errors/itemStatus.js";

/** `ISettlementRouter.ItemStatus`, by name: the toolkit's constant. */
export const Status = ItemStatus;

/** The EIP-3009 surface the tests use on both tokens. */
export const eip3009Abi = parseAbi([
  "function balanceOf(address) view returns (uint256)",
  "function authorizationState(address authorizer, bytes32 nonce) view returns (bool)",
  "function transfer(address to, uint256 value) returns (bool)",
  "function transferWithAuthorization(address from, address to, uint256 value, uint256 validAfter, uint256 validBefore, bytes32 nonce, uint8 v, bytes32 r, bytes32 s)",
  "function receiveWithAuthorization(address from, address to, uint256 value, uint256 validAfter, uint256 validBefore, bytes32 nonce, uint8 v, bytes32 r, bytes32 s)",
  "function cancelAuthorization(address authorizer, bytes32 nonce, uint8 v, bytes32 r, bytes32 s)",
  "function mint(address to, uint256 value)",
  "function blacklist(address account)",
  "function blacklister() view returns (address)",
]);

/** A validBefore far in the future with four non-zero bytes, like a real x402 deadline. */
export const VALID_BEFORE = 1_999_999_999n;
/** x402's typical $0.01 payment. */
export const VALUE = 10_000n;

export type TokenName = "FiatTokenV2_2" | "X402TestToken";

export interface TokenInfo {
  name: TokenName;
  address: Address;
  domain: { name: string; version: string; chainId: number; verifyingContract: Address };
}

/** A deterministic account per label (gas snapshots depend on the calldata bytes). */
export function account(label: string): PrivateKeyAccount {
  return privateKeyToAccount(keccak256(toHex(`x402-clearing:router-test:${label}`)));
}

/** A deterministic 32-byte value per label. */
export function bytes32(label: string): Hex {
  return keccak256(toHex(`x402-clearing:router-test:bytes32:${label}`));
}

/** The nonce a routed item signs (ISettlementRouter.routedNonce). */
export function routedNonce(payee: Address, fee: bigint, feeRecipient: Address, salt: Hex): Hex {
  return keccak256(
    encodeAbiParameters(
      [{ type: "address" }, { type: "uint256" }, { type: "address" }, { type: "bytes32" }],
      [payee, fee, feeRecipient, salt],
    ),
  );
}

const authorizationTypes = (
  primaryType: "TransferWithAuthorization" | "ReceiveWithAuthorization",
) =>
  ({
    [primaryType]: [
      { name: "from", type: "address" },
      { name: "to", type: "address" },
      { name: "value", type: "uint256" },
      { name: "validAfter", type: "uint256" },
      { name: "validBefore", type: "uint256" },
      { name: "nonce", type: "bytes32" },
    ],
  }) as const;

export interface SignParams {
  value?: bigint;
  validAfter?: bigint;
  validBefore?: bigint;
}

/** A direct item signed by `payer` (what an x402 `exact` client signs). */
export async function signDirect(
  token: TokenInfo,
  payer: PrivateKeyAccount,
  to: Address,
  nonce: Hex,
  params: SignParams = {},
): Promise<DirectItem> {
  const message = {
    from: payer.address,
    to,
    value: params.value ?? VALUE,
    validAfter: params.validAfter ?? 0n,
    validBefore: params.validBefore ?? VALID_BEFORE,
    nonce,
  };
  const signature = await payer.signTypedData({
    domain: token.domain,
    types: authorizationTypes("TransferWithAuthorization"),
    primaryType: "TransferWithAuthorization",
    message,
  });
  return { kind: "direct", ...message, signature };
}

/** A routed item signed by `payer`: ReceiveWithAuthorization to the router, nonce binding payee and fee. */
export async function signRouted(
  token: TokenInfo,
  router: Address,
  payer: PrivateKeyAccount,
  route: { payee: Address; fee: bigint; feeRecipient: Address; salt: Hex },
  params: SignParams = {},
): Promise<RoutedItem> {
  const message = {
    from: payer.address,
    to: router,
    value: params.value ?? VALUE,
    validAfter: params.validAfter ?? 0n,
    validBefore: params.validBefore ?? VALID_BEFORE,
    nonce: routedNonce(route.payee, route.fee, route.feeRecipient, route.salt),
  };
  const signature = await payer.signTypedData({
    domain: token.domain,
    types: authorizationTypes("ReceiveWithAuthorization"),
    primaryType: "ReceiveWithAuthorization",
    message,
  });
  return {
    kind: "routed",
    from: payer.address,
    payee: route.payee,
    fee: route.fee,
    salt: route.salt,
    value: message.value,
    validAfter: message.validAfter,
    validBefore: message.validBefore,
    signature,
  };
}

/** The address of an Ignition-deployed contract (typed without the generated artifact types). */
function addressOf(contract: unknown): Address {
  return (contract as { address: Address }).address;
}

/** A fresh simulated Base: USDC, Multicall3 and CreateX bootstrapped, router and test token deployed through Ignition. */
export async function deployStack() {
  const conn = await network.create();
  const testClient = await conn.viem.getTestClient();
  const client = testClient.extend(publicActions).extend(walletActions);
  await bootstrapBase(testClient);
  const [relayerWallet] = await conn.viem.getWalletClients();
  const relayer = relayerWallet.account.address;
  const deployed = await conn.ignition.deploy(SettlementRouterModule, { strategy: "create2" });
  const router = getContract({
    address: addressOf(deployed.router),
    abi: settlementRouterAbi,
    client: { public: client, wallet: relayerWallet },
  });
  const { token: deployedToken } = await conn.ignition.deploy(TestTokenModule, {
    strategy: "create2",
    parameters: { TestToken: { name: "x402 Test Dollar", symbol: "XTD", version: "1" } },
  });
  const testToken = { address: addressOf(deployedToken) };
  const tokens: Record<TokenName, TokenInfo> = {
    FiatTokenV2_2: {
      name: "FiatTokenV2_2",
      address: USDC_ADDRESS,
      domain: {
        name: "USD Coin",
        version: "2",
        chainId: BASE_CHAIN_ID,
        verifyingContract: USDC_ADDRESS,
      },
    },
    X402TestToken: {
      name: "X402TestToken",
      address: testToken.address,
      domain: {
        name: "x402 Test Dollar",
        version: "1",
        chainId: BASE_CHAIN_ID,
        verifyingContract: testToken.address,
      },
    },
  };

  /** Gives each address `amount` of `token`. */
  async function fund(token: TokenInfo, recipients: readonly Address[], amount: bigint) {
    if (token.name === "FiatTokenV2_2") {
      await fundUsdc(testClient, { recipients, amount });
      return;
    }
    const hashes: Hex[] = [];
    for (const to of recipients) {
      hashes.push(
        await relayerWallet.writeContract({
          address: token.address,
          abi: eip3009Abi,
          functionName: "mint",
          args: [to, amount],
        }),
      );
    }
    for (const hash of hashes) await client.waitForTransactionReceipt({ hash });
  }

  async function balanceOf(token: TokenInfo, owner: Address): Promise<bigint> {
    return client.readContract({
      address: token.address,
      abi: eip3009Abi,
      functionName: "balanceOf",
      args: [owner],
    });
  }

  async function authorizationState(token: TokenInfo, authorizer: Address, nonce: Hex) {
    return client.readContract({
      address: token.address,
      abi: eip3009Abi,
      functionName: "authorizationState",
      args: [authorizer, nonce],
    });
  }

  /**
   * Simulates `settle` (statuses from the return value), sends it, and decodes the per-item
   * events from the receipt.
   */
  async function settle(
    token: TokenInfo,
    feeRecipient: Address,
    itemsOrBytes: readonly SettlementItem[] | Hex,
    options: { gas?: bigint } = {},
  ) {
    const items = typeof itemsOrBytes === "string" ? itemsOrBytes : encodeItems(itemsOrBytes);
    const { result } = await router.simulate.settle([token.address, feeRecipient, items], {
      account: relayer,
      gas: options.gas,
    });
    const hash = await router.write.settle([token.address, feeRecipient, items], {
      account: relayer,
      gas: options.gas,
    });
    const receipt = await client.waitForTransactionReceipt({ hash });
    const logs = parseEventLogs({ abi: router.abi, logs: receipt.logs }).filter(
      (log) => log.address.toLowerCase() === router.address.toLowerCase(),
    );
    const batches = logs.filter((log) => log.eventName === "BatchSettled");
    if (batches.length !== 1) throw new Error(`expected one BatchSettled, got ${batches.length}`);
    const failures = logs
      .filter((log) => log.eventName === "PaymentFailed")
      .map((log) => ({
        index: Number(log.args.index),
        authorizer: log.args.authorizer,
        nonce: log.args.nonce,
        status: Number(log.args.status),
        reason: log.args.reason,
      }));
    const eventStatuses = [...hexToBytes(batches[0].args.results)];
    const statuses = [...Buffer.from(result.slice(2), "hex")];
    return {
      /** Statuses from the simulated return value. */
      statuses,
      /** Statuses from the receipt's BatchSettled event. */
      eventStatuses,
      /** The PaymentFailed events, in order. */
      failures,
      receipt,
      items,
      calldataBytes: (items.length - 2) / 2,
    };
  }

  return {
    conn,
    client,
    testClient,
    relayer,
    relayerWallet,
    router,
    tokens,
    fund,
    balanceOf,
    authorizationState,
    settle,
  };
}

export type Stack = Awaited<ReturnType<typeof deployStack>>;
