import {
  encodeAbiParameters,
  encodeFunctionData,
  decodeFunctionResult,
  getContractAddress,
  isAddressEqual,
  keccak256,
  type Address,
  type Hex,
  type LocalAccount,
  type PublicClient,
} from "viem";

import { CREATEX_ADDRESS } from "../chain/base.js";
import { SETTLEMENT_ROUTER_DEPLOYMENT } from "../deploy/router.js";
import { RouterDeploymentError } from "./errors.js";

const createXAbi = [
  {
    type: "function",
    name: "deployCreate2",
    stateMutability: "payable",
    inputs: [
      { name: "salt", type: "bytes32" },
      { name: "initCode", type: "bytes" },
    ],
    outputs: [{ name: "newContract", type: "address" }],
  },
] as const;

/**
 * The address CreateX's `deployCreate2(salt, initCode)` deploys to when called by `sender` on
 * `chainId`: CREATE2 from CreateX with the salt guarded the way CreateX guards it (sender-prefixed
 * salts bind the sender, a 0x01 flag byte binds the chain, other salts are hashed).
 *
 * @example
 * const router = createXCreate2Address({ salt, initCode: bytecode, sender, chainId: 8453 });
 */
export function createXCreate2Address(parameters: {
  salt: Hex;
  initCode: Hex;
  sender: Address;
  chainId: number;
}): Address {
  const { salt, initCode, sender, chainId } = parameters;
  const prefix = `0x${salt.slice(2, 42)}`.toLowerCase();
  const flag = salt.slice(42, 44);
  const bySender = prefix === sender.toLowerCase();
  const byZero = /^0x0{40}$/.test(prefix);
  let guarded: Hex;
  if (bySender && flag === "01") {
    guarded = keccak256(
      encodeAbiParameters(
        [{ type: "address" }, { type: "uint256" }, { type: "bytes32" }],
        [sender, BigInt(chainId), salt],
      ),
    );
  } else if (bySender && flag === "00") {
    guarded = keccak256(
      encodeAbiParameters([{ type: "address" }, { type: "bytes32" }], [sender, salt]),
    );
  } else if (bySender) {
    throw new RouterDeploymentError("CreateX rejects this salt.", {
      details: "a sender-prefixed salt needs flag byte 00 or 01",
    });
  } else if (byZero && flag === "01") {
    guarded = keccak256(
      encodeAbiParameters([{ type: "uint256" }, { type: "bytes32" }], [BigInt(chainId), salt]),
    );
  } else if (byZero && flag !== "00") {
    throw new RouterDeploymentError("CreateX rejects this salt.", {
      details: "a zero-prefixed salt needs flag byte 00 or 01",
    });
  } else {
    guarded = keccak256(encodeAbiParameters([{ type: "bytes32" }], [salt]));
  }
  return getContractAddress({
    opcode: "CREATE2",
    from: CREATEX_ADDRESS,
    salt: guarded,
    bytecodeHash: keccak256(initCode),
  });
}

/** Parameters of {@link ensureRouter}. */
export interface EnsureRouterParameters {
  /** The SettlementRouter's creation bytecode (it takes no constructor arguments). */
  bytecode: Hex;
  /** The CREATE2 salt Hardhat Ignition's `create2` strategy uses for the router. */
  salt: Hex;
}

/**
 * Finds the SettlementRouter at its CREATE2 address (CreateX `deployCreate2(salt, initCode)`, the
 * call Hardhat Ignition's `create2` strategy makes, so the address is the Ignition one) and
 * deploys it there from `account` when the chain has no code at that address. Without
 * `parameters` it deploys the router this package ships ({@link SETTLEMENT_ROUTER_DEPLOYMENT}),
 * which lands at `SETTLEMENT_ROUTER_ADDRESS` on every chain.
 *
 * @example
 * const { address, deployed } = await ensureRouter(client, privateKeyToAccount(key));
 */
export async function ensureRouter(
  client: PublicClient,
  account: LocalAccount,
  parameters: EnsureRouterParameters = SETTLEMENT_ROUTER_DEPLOYMENT,
): Promise<{ address: Address; deployed: boolean }> {
  const data = encodeFunctionData({
    abi: createXAbi,
    functionName: "deployCreate2",
    args: [parameters.salt, parameters.bytecode],
  });
  const creatorCode = await client.getCode({ address: CREATEX_ADDRESS });
  if (!creatorCode || creatorCode === "0x") {
    throw new RouterDeploymentError("CreateX is not deployed; run the chain bootstrap first.", {
      details: CREATEX_ADDRESS,
    });
  }
  const chainId = client.chain?.id ?? (await client.getChainId());
  const address = createXCreate2Address({
    salt: parameters.salt,
    initCode: parameters.bytecode,
    sender: account.address,
    chainId,
  });
  const code = await client.getCode({ address });
  if (code && code !== "0x") return { address, deployed: false };
  // Cross-check the computed address with CreateX itself before paying for the deployment.
  const simulated = await client.call({ account: account.address, to: CREATEX_ADDRESS, data });
  const predicted = decodeFunctionResult({
    abi: createXAbi,
    functionName: "deployCreate2",
    data: simulated.data ?? "0x",
  });
  if (!isAddressEqual(predicted, address)) {
    throw new RouterDeploymentError("CreateX would deploy the router elsewhere.", {
      details: `CreateX: ${predicted}, computed: ${address}`,
    });
  }
  const [gas, fees, nonce] = await Promise.all([
    client.estimateGas({ account: account.address, to: CREATEX_ADDRESS, data }),
    client.estimateFeesPerGas(),
    client.getTransactionCount({ address: account.address, blockTag: "pending" }),
  ]);
  const raw = await account.signTransaction({
    type: "eip1559",
    chainId,
    to: CREATEX_ADDRESS,
    data,
    gas: (gas * 12n) / 10n,
    nonce,
    maxFeePerGas: fees.maxFeePerGas,
    maxPriorityFeePerGas: fees.maxPriorityFeePerGas,
  });
  const hash = await client.sendRawTransaction({ serializedTransaction: raw });
  const receipt = await client.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success")
    throw new RouterDeploymentError("The router deployment reverted.", { details: hash });
  return { address, deployed: true };
}
