import {
  type Account,
  type Address,
  type Chain,
  type Hex,
  type TestClient,
  type Client,
  type Transport,
  getAddress,
  keccak256,
  parseTransaction,
  parseEther,
  slice,
  toHex,
} from "viem";
import {
  call as ethCall,
  getChainId,
  getCode,
  getStorageAt,
  impersonateAccount,
  readContract,
  sendTransaction,
  setBalance,
  setCode,
  setStorageAt,
  stopImpersonatingAccount,
  waitForTransactionReceipt,
  writeContract,
} from "viem/actions";

import { linkBytecode, readMulticall3Bytecode, readStablecoinArtifact } from "./artifacts.js";
import {
  CREATEX_ADDRESS,
  MULTICALL3_ADDRESS,
  PERMIT2_ADDRESS,
  USDC_ADDRESS,
  USDC_DECIMALS,
  USDC_EIP712_NAME,
} from "./base.js";
import { CREATEX_PRESIGNED_TRANSACTION } from "./createXDeployment.js";
import { permit2RuntimeCode } from "./permit2.js";
import { fiatTokenV2_2Abi } from "../abi/fiatTokenV2_2.js";

/**
 * A viem test client on a Hardhat (EDR) or Anvil node: the bootstrap needs `hardhat_setCode`,
 * `hardhat_setStorageAt`, `hardhat_setBalance` and account impersonation, and reads through `eth_*`.
 * Hardhat's `conn.viem.getTestClient()` and `createTestClient({ mode: "hardhat", transport: http(url) })` both fit.
 */
export type BootstrapClient = Client<Transport, Chain | undefined, Account | undefined> & {
  mode: "hardhat" | "anvil" | "ganache";
};

/** The same client as viem's test actions type it (they accept the Hardhat and Anvil modes). */
type NodeClient = TestClient<
  "hardhat" | "anvil",
  Transport,
  Chain | undefined,
  Account | undefined
>;

/** Where each piece of the local Base stands after {@link bootstrapBase}. */
export interface BootstrapBaseReturnType {
  /** True when USDC was already there (a fork of Base, or a chain bootstrapped before) and was kept. */
  forked: boolean;
  usdc: Address;
  multicall3: Address;
  createX: Address;
  /** Uniswap's Permit2, with the domain separator its canonical address has on this chain. */
  permit2: Address;
  /** What this call installed (false: code was already present and left untouched). */
  installed: { usdc: boolean; multicall3: boolean; createX: boolean; permit2: boolean };
  /** USDC's master minter, as read from the token. */
  masterMinter: Address;
}

/** A fixed, key-less address for a local role, derived from its name. */
function roleAddress(role: string): Address {
  return getAddress(slice(keccak256(toHex(`x402-clearing:${role}`)), 12));
}

/** The accounts that hold USDC's roles on a locally installed USDC (impersonated; no keys exist). */
export const LOCAL_USDC_ROLES = {
  deployer: roleAddress("usdc:deployer"),
  owner: roleAddress("usdc:owner"),
  masterMinter: roleAddress("usdc:masterMinter"),
  pauser: roleAddress("usdc:pauser"),
  blacklister: roleAddress("usdc:blacklister"),
} as const;

/** The minter that {@link fundUsdc} configures through the master minter. */
export const FUNDING_MINTER: Address = roleAddress("usdc:fundingMinter");

/** Storage slots of Circle's AdminUpgradeabilityProxy (ZeppelinOS layout). */
const PROXY_IMPLEMENTATION_SLOT =
  "0x7050c9e0f4ca769c69bd3a8ef740bc37934f8e2c036e5a723fd8ee048ed3f8c3";
const PROXY_ADMIN_SLOT = "0x10d6a54a4754c8869d6886b5f5d7fbfa5b4522237ea5c60d11bc4e7a1ff9390b";

/** The account that signed CreateX's pre-signed deployment transaction. */
const CREATEX_PRESIGNED_DEPLOYER: Address = "0xeD456e05CaAb11d66C4c797dD6c1D6f9A7F352b5";

const GAS_FUNDS = parseEther("10");

async function hasCode(client: NodeClient, address: Address): Promise<boolean> {
  const code = await getCode(client, { address });
  return code !== undefined && code !== "0x";
}

async function deployFrom(client: NodeClient, from: Address, data: Hex): Promise<Address> {
  const hash = await sendTransaction(client, { account: from, chain: null, data });
  const receipt = await waitForTransactionReceipt(client, { hash });
  if (receipt.status !== "success" || !receipt.contractAddress) {
    throw new Error(`bootstrap: deployment from ${from} failed (tx ${hash})`);
  }
  return receipt.contractAddress;
}

async function call(
  client: NodeClient,
  from: Address,
  functionName: string,
  args: readonly unknown[],
): Promise<void> {
  const hash = await writeContract(client, {
    account: from,
    chain: null,
    address: USDC_ADDRESS,
    abi: fiatTokenV2_2Abi,
    functionName: functionName as "mint",
    args: args as [Address, bigint],
  });
  const receipt = await waitForTransactionReceipt(client, { hash });
  if (receipt.status !== "success")
    throw new Error(`bootstrap: USDC.${functionName} reverted (tx ${hash})`);
}

async function withImpersonation<T>(
  client: NodeClient,
  accounts: Address[],
  run: () => Promise<T>,
): Promise<T> {
  for (const address of accounts) {
    await setBalance(client, { address, value: GAS_FUNDS });
    await impersonateAccount(client, { address });
  }
  try {
    return await run();
  } finally {
    for (const address of accounts) await stopImpersonatingAccount(client, { address });
  }
}

/** Circle's FiatTokenV2_2 behind FiatTokenProxy at the canonical address, initialised like Base mainnet USDC. */
async function installUsdc(client: NodeClient): Promise<void> {
  const roles = LOCAL_USDC_ROLES;
  await withImpersonation(client, [roles.deployer, roles.owner], async () => {
    const signatureChecker = readStablecoinArtifact(
      "contracts/util/SignatureChecker.sol",
      "SignatureChecker",
    );
    const fiatToken = readStablecoinArtifact("contracts/v2/FiatTokenV2_2.sol", "FiatTokenV2_2");
    const proxy = readStablecoinArtifact("contracts/v1/FiatTokenProxy.sol", "FiatTokenProxy");

    const checker = await deployFrom(client, roles.deployer, signatureChecker.bytecode);
    const implementation = await deployFrom(
      client,
      roles.deployer,
      linkBytecode(fiatToken, { SignatureChecker: checker }),
    );
    // Deploy a proxy normally, then move its code and its two storage slots to the canonical address.
    const constructorArg = implementation.slice(2).toLowerCase().padStart(64, "0");
    const scratchProxy = await deployFrom(
      client,
      roles.deployer,
      `${proxy.bytecode}${constructorArg}`,
    );
    const runtime = await getCode(client, { address: scratchProxy });
    if (!runtime) throw new Error("bootstrap: FiatTokenProxy has no code after deployment");
    await setCode(client, { address: USDC_ADDRESS, bytecode: runtime });
    for (const slot of [PROXY_IMPLEMENTATION_SLOT, PROXY_ADMIN_SLOT] as const) {
      const value = await getStorageAt(client, { address: scratchProxy, slot });
      await setStorageAt(client, { address: USDC_ADDRESS, index: slot, value: value ?? "0x" });
    }

    // The proxy admin cannot reach the implementation; initialisation runs as the owner.
    await call(client, roles.owner, "initialize", [
      USDC_EIP712_NAME,
      "USDC",
      "USD",
      USDC_DECIMALS,
      roles.masterMinter,
      roles.pauser,
      roles.blacklister,
      roles.owner,
    ]);
    await call(client, roles.owner, "initializeV2", [USDC_EIP712_NAME]);
    await call(client, roles.owner, "initializeV2_1", [roles.owner]);
    await call(client, roles.owner, "initializeV2_2", [[], "USDC"]);
  });
}

async function installMulticall3(client: NodeClient): Promise<void> {
  const deployer = LOCAL_USDC_ROLES.deployer;
  await withImpersonation(client, [deployer], async () => {
    const scratch = await deployFrom(client, deployer, readMulticall3Bytecode());
    const runtime = await getCode(client, { address: scratch });
    if (!runtime) throw new Error("bootstrap: Multicall3 has no code after deployment");
    await setCode(client, { address: MULTICALL3_ADDRESS, bytecode: runtime });
  });
}

/**
 * CreateX at its canonical address, with the runtime code its own pre-signed deployment would leave there: the
 * init code of that transaction is run in an `eth_call` from the pre-signed deployer at nonce 0 (so the created
 * address, which CreateX keeps as an immutable, is the canonical one), and the result is set as code. No block is
 * mined and no account's nonce moves.
 *
 * @example
 * await installCreateX(createTestClient({ mode: "hardhat", transport: custom(provider) }));
 */
export async function installCreateX(anyClient: BootstrapClient): Promise<void> {
  const client = anyClient as NodeClient;
  const deployment = parseTransaction(CREATEX_PRESIGNED_TRANSACTION);
  if (!deployment.data)
    throw new Error("bootstrap: CreateX's pre-signed transaction carries no init code");
  const { data: runtime } = await ethCall(client, {
    account: CREATEX_PRESIGNED_DEPLOYER,
    data: deployment.data,
    // The created address (an immutable of CreateX) follows from the deployer's nonce, which must be 0.
    stateOverride: [{ address: CREATEX_PRESIGNED_DEPLOYER, nonce: 0 }],
  });
  if (!runtime || runtime === "0x")
    throw new Error("bootstrap: CreateX's init code returned no runtime code");
  await setCode(client, { address: CREATEX_ADDRESS, bytecode: runtime });
}

/**
 * Makes a local chain look like Base where x402 settlement is concerned: Circle's FiatTokenV2_2 behind its proxy at
 * the canonical USDC address (domain "USD Coin", version "2"), Multicall3, CreateX and Uniswap's Permit2 at their
 * canonical addresses.
 * Code already present (a fork of Base, or a chain bootstrapped before) is kept as it is.
 *
 * @example
 * const client = createTestClient({ mode: "hardhat", transport: http("http://127.0.0.1:8545") })
 *   .extend(publicActions)
 *   .extend(walletActions);
 * const { usdc, forked } = await bootstrapBase(client);
 * await fundUsdc(client, { recipients: [payer], amount: 1_000_000n });
 */
export async function bootstrapBase(anyClient: BootstrapClient): Promise<BootstrapBaseReturnType> {
  const client = anyClient as NodeClient;
  const installed = { usdc: false, multicall3: false, createX: false, permit2: false };
  if (!(await hasCode(client, USDC_ADDRESS))) {
    await installUsdc(client);
    installed.usdc = true;
  }
  if (!(await hasCode(client, MULTICALL3_ADDRESS))) {
    await installMulticall3(client);
    installed.multicall3 = true;
  }
  if (!(await hasCode(client, CREATEX_ADDRESS))) {
    await installCreateX(client);
    installed.createX = true;
  }
  if (!(await hasCode(client, PERMIT2_ADDRESS))) {
    await setCode(client, {
      address: PERMIT2_ADDRESS,
      bytecode: permit2RuntimeCode(await getChainId(client)),
    });
    installed.permit2 = true;
  }
  const masterMinter = await readContract(client, {
    address: USDC_ADDRESS,
    abi: fiatTokenV2_2Abi,
    functionName: "masterMinter",
  });
  return {
    forked: !installed.usdc,
    usdc: USDC_ADDRESS,
    multicall3: MULTICALL3_ADDRESS,
    createX: CREATEX_ADDRESS,
    permit2: PERMIT2_ADDRESS,
    installed,
    masterMinter,
  };
}

/** Parameters of {@link fundUsdc}. */
export interface FundUsdcParameters {
  /** Who receives USDC. */
  recipients: readonly Address[];
  /** Amount per recipient, in USDC base units (6 decimals). */
  amount: bigint;
}

/**
 * Mints USDC to each recipient the way it works on real Base: USDC's master minter (impersonated) allows a
 * funding minter, which mints. Works the same on the local install and on a fork.
 *
 * @example
 * await fundUsdc(client, { recipients: payers, amount: 1_000n * 10n ** 6n });
 */
export async function fundUsdc(
  anyClient: BootstrapClient,
  { recipients, amount }: FundUsdcParameters,
): Promise<void> {
  if (recipients.length === 0 || amount === 0n) return;
  const client = anyClient as NodeClient;
  const masterMinter = await readContract(client, {
    address: USDC_ADDRESS,
    abi: fiatTokenV2_2Abi,
    functionName: "masterMinter",
  });
  const total = amount * BigInt(recipients.length);
  await withImpersonation(client, [masterMinter], () =>
    call(client, masterMinter, "configureMinter", [FUNDING_MINTER, total]),
  );
  await withImpersonation(client, [FUNDING_MINTER], async () => {
    const hashes: Hex[] = [];
    for (const to of recipients) {
      hashes.push(
        await writeContract(client, {
          account: FUNDING_MINTER,
          chain: null,
          address: USDC_ADDRESS,
          abi: fiatTokenV2_2Abi,
          functionName: "mint",
          args: [to, amount],
          gas: 200_000n,
        }),
      );
    }
    for (const hash of hashes) {
      const receipt = await waitForTransactionReceipt(client, { hash });
      if (receipt.status !== "success") throw new Error(`fundUsdc: mint reverted (tx ${hash})`);
    }
  });
}
