import {
  concatHex,
  decodeFunctionResult,
  encodeAbiParameters,
  encodeFunctionData,
  getAddress,
  hexToBigInt,
  size,
  sliceHex,
  type Address,
  type BlockTag,
  type Client,
  type Hex,
} from "viem";
import { call, readContract } from "viem/actions";

import { fiatTokenV2_2Abi } from "../abi/fiatTokenV2_2.js";
import { multicall3Abi } from "../abi/multicall3.js";
import { MULTICALL3_ADDRESS } from "../chain/base.js";
import { AuthorizationStateReadError } from "./AuthorizationStateReadError.js";

/**
 * Init code run by a deployless `eth_call` (no `to`): for each 32-byte word appended after these
 * 33 bytes (an address), store EXTCODESIZE(address) at the same memory offset, then return them.
 * Assembly:
 *   PUSH1 33 CODESIZE SUB DUP1 PUSH1 33 PUSH0 CODECOPY PUSH0        ; copy the words to memory 0
 *   loop: JUMPDEST DUP2 DUP2 LT ISZERO PUSH1 end JUMPI                ; while (i < len)
 *         DUP1 MLOAD EXTCODESIZE DUP2 MSTORE PUSH1 32 ADD PUSH1 loop JUMP ; mem[i] = codesize; i += 32
 *   end:  JUMPDEST POP PUSH0 RETURN                                   ; return mem[0 .. len]
 */
const CODE_SIZES_PROGRAM: Hex =
  "0x602138038060215f395f5b81811015601d5780513b8152602001600a565b505ff3";

export type AuthorizationStateQuery = { from: Address; nonce: Hex };

export type GetAuthorizationStatesParameters = {
  /** The EIP-3009 token. */
  token: Address;
  /** The (payer, nonce) pairs to check. */
  items: readonly AuthorizationStateQuery[];
  /** Default: Multicall3's canonical address. */
  multicallAddress?: Address;
  /** Read at this block (default: latest). */
  blockNumber?: bigint;
  blockTag?: BlockTag;
};

export type AuthorizationState = {
  from: Address;
  nonce: Hex;
  /** The payer's token balance. */
  balance: bigint;
  /** `authorizationState(from, nonce)`: the nonce was used or cancelled. */
  nonceUsed: boolean;
  /** The payer has code (a contract wallet, or an EIP-7702 delegated account). */
  payerHasCode: boolean;
};

export type GetAuthorizationStatesReturnType = AuthorizationState[];

/**
 * Reads, for many authorizations at once, the payer's balance, whether the nonce is already used
 * and whether the payer has code (ERC-1271 wallet). Balances and nonce states come from ONE
 * Multicall3 `aggregate3` call (each payer's balance read once); code sizes from ONE deployless
 * `eth_call` whose init code returns EXTCODESIZE of every distinct payer (Multicall3 has no code
 * getter, and a deployless call works on any node, unlike state overrides). Both requests are sent
 * together, so a batching HTTP transport turns them into a single round trip.
 *
 * @example
 * const states = await getAuthorizationStates(publicClient, {
 *   token: USDC_ADDRESS,
 *   items: signed.map(({ from, nonce }) => ({ from, nonce })),
 * });
 * const spendable = signed.filter((a, i) => !states[i].nonceUsed && states[i].balance >= a.value);
 */
export async function getAuthorizationStates(
  client: Client,
  parameters: GetAuthorizationStatesParameters,
): Promise<GetAuthorizationStatesReturnType> {
  const { items } = parameters;
  if (items.length === 0) return [];
  const token = getAddress(parameters.token);
  const block =
    parameters.blockNumber !== undefined
      ? { blockNumber: parameters.blockNumber }
      : { blockTag: parameters.blockTag ?? ("latest" as const) };

  const payers = [...new Set(items.map((item) => getAddress(item.from)))];
  const payerIndex = new Map(payers.map((payer, index) => [payer, index]));
  const calls = [
    ...payers.map((payer) => ({
      target: token,
      allowFailure: true,
      callData: encodeFunctionData({
        abi: fiatTokenV2_2Abi,
        functionName: "balanceOf",
        args: [payer],
      }),
    })),
    ...items.map((item) => ({
      target: token,
      allowFailure: true,
      callData: encodeFunctionData({
        abi: fiatTokenV2_2Abi,
        functionName: "authorizationState",
        args: [getAddress(item.from), item.nonce],
      }),
    })),
  ];

  const [results, codeSizes] = await Promise.all([
    readContract(client, {
      address: parameters.multicallAddress ?? MULTICALL3_ADDRESS,
      abi: multicall3Abi,
      functionName: "aggregate3",
      args: [calls],
      ...block,
    }),
    readCodeSizes(client, payers, block),
  ]);

  const returnData = (index: number, what: string): Hex => {
    const result = results[index];
    if (!result || !result.success || size(result.returnData) === 0) {
      throw new AuthorizationStateReadError(token, what);
    }
    return result.returnData;
  };

  return items.map((item, index) => {
    const from = getAddress(item.from);
    const payer = payerIndex.get(from)!;
    return {
      from,
      nonce: item.nonce,
      balance: decodeFunctionResult({
        abi: fiatTokenV2_2Abi,
        functionName: "balanceOf",
        data: returnData(payer, `balanceOf(${from})`),
      }),
      nonceUsed: decodeFunctionResult({
        abi: fiatTokenV2_2Abi,
        functionName: "authorizationState",
        data: returnData(payers.length + index, `authorizationState(${from}, ${item.nonce})`),
      }),
      payerHasCode: codeSizes[payer]! > 0n,
    };
  });
}

/**
 * Addresses per deployless call: the program returns one 32-byte word per address as "runtime
 * code", which EIP-170 caps at 24,576 bytes (768 words).
 */
const CODE_SIZES_PER_CALL = 700;

async function readCodeSizes(
  client: Client,
  addresses: readonly Address[],
  block: { blockNumber: bigint } | { blockTag: BlockTag },
): Promise<bigint[]> {
  if (addresses.length > CODE_SIZES_PER_CALL) {
    const chunks: Promise<bigint[]>[] = [];
    for (let start = 0; start < addresses.length; start += CODE_SIZES_PER_CALL) {
      chunks.push(
        readCodeSizes(client, addresses.slice(start, start + CODE_SIZES_PER_CALL), block),
      );
    }
    return (await Promise.all(chunks)).flat();
  }
  const words = encodeAbiParameters(
    addresses.map(() => ({ type: "address" })),
    addresses,
  );
  const { data } = await call(client, { data: concatHex([CODE_SIZES_PROGRAM, words]), ...block });
  if (!data || size(data) !== addresses.length * 32) {
    throw new AuthorizationStateReadError(undefined, "code sizes (deployless eth_call)");
  }
  return addresses.map((_, index) => hexToBigInt(sliceHex(data, index * 32, index * 32 + 32)));
}
