import {
  concat,
  decodeFunctionResult,
  encodeFunctionData,
  erc20Abi,
  getAddress,
  hashStruct,
  isAddressEqual,
  keccak256,
  parseAbi,
  type Address,
  type Client,
  type Hex,
} from "viem";
import { readContract } from "viem/actions";

import { multicall3Abi } from "../abi/multicall3.js";
import { MULTICALL3_ADDRESS, PERMIT2_ADDRESS } from "../chain/base.js";
import { recoverDigestSigner } from "../crypto/recoverDigestSigner.js";
import { getPermit2ApprovalTypedData } from "./router.js";

/**
 * x402's extension key for an EIP-2612 permit approving Permit2 that rides with a Permit2 payment
 * (`paymentPayload.extensions.eip2612GasSponsoring.info`, as `@x402/evm` names it).
 */
export const EIP2612_GAS_SPONSORING_KEY = "eip2612GasSponsoring";

/** The EIP-2612 functions a token with `permit` exposes (USDC's FiatTokenV2_2 among them). */
export const eip2612Abi = parseAbi([
  "function DOMAIN_SEPARATOR() view returns (bytes32)",
  "function nonces(address owner) view returns (uint256)",
  "function permit(address owner, address spender, uint256 value, uint256 deadline, uint8 v, bytes32 r, bytes32 s)",
]);

/** An EIP-2612 permit approving Permit2, as its owner signed it (the token's current nonce). */
export type Permit2Approval = {
  owner: Address;
  value: bigint;
  /** The owner's EIP-2612 nonce the permit was signed with (`nonces(owner)` at signing). */
  nonce: bigint;
  deadline: bigint;
  /** 65 bytes (`v` 27/28 or 0/1) or 64 bytes EIP-2098. */
  signature: Hex;
};

export type VerifyPermit2ApprovalReturnType =
  | { valid: true }
  | { valid: false; reason: "malformed_signature" | "high_s" | "unrecoverable" | "wrong_signer" };

/**
 * Checks an EIP-2612 permit approving Permit2 offline against the token's `DOMAIN_SEPARATOR()`
 * (read once per token), as the token's `permit` will: the `Permit(owner, spender = Permit2,
 * value, nonce, deadline)` digest recovered to the owner, `s` in the lower half (tokens built on
 * OpenZeppelin's or Circle's ECRecover refuse the upper). Reading the domain separator instead of
 * trusting a name and version makes the check exact for any EIP-2612 token.
 *
 * @example
 * const result = verifyPermit2Approval({ domainSeparator, approval });
 * if (!result.valid) refuse(result.reason);
 */
export function verifyPermit2Approval({
  domainSeparator,
  approval,
  permit2 = PERMIT2_ADDRESS,
}: {
  domainSeparator: Hex;
  approval: Permit2Approval;
  permit2?: Address;
}): VerifyPermit2ApprovalReturnType {
  const typed = getPermit2ApprovalTypedData({
    token: { name: "", version: "", chainId: 0, verifyingContract: permit2 },
    owner: approval.owner,
    value: approval.value,
    nonce: approval.nonce,
    deadline: approval.deadline,
    permit2,
  });
  const digest = keccak256(
    concat([
      "0x1901",
      domainSeparator,
      hashStruct({ data: typed.message, primaryType: typed.primaryType, types: typed.types }),
    ]),
  );
  const recovered = recoverDigestSigner(digest, approval.signature, { allowHighS: false });
  if (!recovered.ok) return { valid: false, reason: recovered.reason };
  if (!isAddressEqual(recovered.signer, approval.owner)) {
    return { valid: false, reason: "wrong_signer" };
  }
  return { valid: true };
}

/** What {@link readPermit2ApprovalStates} found on the token: undefined where a read failed. */
export type Permit2ApprovalStates = {
  /** The token's `DOMAIN_SEPARATOR()`: undefined for a token without EIP-2612. */
  domainSeparator: Hex | undefined;
  /** Per owner: `nonces(owner)` and `allowance(owner, Permit2)`. */
  owners: { nonce: bigint | undefined; allowance: bigint | undefined }[];
};

/**
 * Reads, in ONE Multicall3 call, what deciding EIP-2612 permits of Permit2 takes: the token's
 * domain separator, and per owner its EIP-2612 nonce and its allowance to Permit2. A permit signed
 * with a nonce below the current one is used (or replaced); above it, not yet valid.
 *
 * @example
 * const { domainSeparator, owners } = await readPermit2ApprovalStates(client, { token, owners: [payer] });
 */
export async function readPermit2ApprovalStates(
  client: Client,
  {
    token,
    owners,
    permit2 = PERMIT2_ADDRESS,
    multicallAddress = MULTICALL3_ADDRESS,
  }: {
    token: Address;
    owners: readonly Address[];
    permit2?: Address;
    multicallAddress?: Address;
  },
): Promise<Permit2ApprovalStates> {
  const target = getAddress(token);
  const calls = [
    {
      target,
      allowFailure: true,
      callData: encodeFunctionData({ abi: eip2612Abi, functionName: "DOMAIN_SEPARATOR" }),
    },
    ...owners.flatMap((owner) => [
      {
        target,
        allowFailure: true,
        callData: encodeFunctionData({ abi: eip2612Abi, functionName: "nonces", args: [owner] }),
      },
      {
        target,
        allowFailure: true,
        callData: encodeFunctionData({
          abi: erc20Abi,
          functionName: "allowance",
          args: [owner, permit2],
        }),
      },
    ]),
  ];
  const answers = await readContract(client, {
    address: multicallAddress,
    abi: multicall3Abi,
    functionName: "aggregate3",
    args: [calls],
  });
  const word = (i: number): Hex | undefined => {
    const answer = answers[i];
    return answer?.success && answer.returnData.length === 66 ? answer.returnData : undefined;
  };
  const uint = (i: number): bigint | undefined => {
    const data = word(i);
    return data === undefined
      ? undefined
      : decodeFunctionResult({ abi: erc20Abi, functionName: "balanceOf", data });
  };
  return {
    domainSeparator: word(0),
    owners: owners.map((_, i) => ({ nonce: uint(1 + 2 * i), allowance: uint(2 + 2 * i) })),
  };
}
