import {
  type Account,
  type Address,
  type Chain,
  type Client,
  type Hash,
  type Transport,
  maxUint256,
  parseAbi,
} from "viem";
import { readContract, waitForTransactionReceipt, writeContract } from "viem/actions";

import { PERMIT2_ADDRESS } from "../chain/base.js";
import { BaseError } from "../errors/base.js";

/**
 * `allowance` and an `approve` without a declared return value: USDT's `approve` returns nothing,
 * and a write never decodes one, so the same ABI serves every ERC-20.
 */
const approveAbi = parseAbi([
  "function allowance(address owner, address spender) view returns (uint256)",
  "function approve(address spender, uint256 amount)",
]);

/** The payer's approval of Permit2 was sent but reverted. */
export class Permit2ApprovalError extends BaseError {
  override name = "Permit2ApprovalError";
  readonly hash: Hash;

  constructor(hash: Hash, step: "reset" | "approve") {
    super(
      step === "reset"
        ? "Resetting the token's allowance for Permit2 to zero reverted."
        : "Approving Permit2 on the token reverted.",
      { details: `transaction ${hash}` },
    );
    this.hash = hash;
  }
}

/**
 * What `owner` has allowed Permit2 to pull of `token` (the token's `allowance(owner, Permit2)`).
 *
 * @example
 * const allowance = await permit2Allowance(client, { token: usdt, owner: payer });
 */
export async function permit2Allowance(
  client: Client,
  {
    token,
    owner,
    permit2 = PERMIT2_ADDRESS,
  }: { token: Address; owner: Address; permit2?: Address },
): Promise<bigint> {
  return readContract(client, {
    address: token,
    abi: approveAbi,
    functionName: "allowance",
    args: [owner, permit2],
  });
}

/**
 * Whether `owner` must approve Permit2 before Permit2 can pull `amount` of `token`: its allowance
 * for Permit2 is below `amount` (default: any amount at all, i.e. the allowance is zero).
 *
 * @example
 * if (await needsPermit2Approval(client, { token: usdt, owner: payer, amount: 5_000_000n }))
 *   await approvePermit2(payerWallet, { token: usdt });
 */
export async function needsPermit2Approval(
  client: Client,
  parameters: { token: Address; owner: Address; amount?: bigint; permit2?: Address },
): Promise<boolean> {
  const allowance = await permit2Allowance(client, parameters);
  return allowance < (parameters.amount ?? 1n);
}

export type ApprovePermit2Parameters = {
  token: Address;
  /** Default: `type(uint256).max`, never spent down by USDT or USDC. */
  amount?: bigint;
  permit2?: Address;
};

export type ApprovePermit2ReturnType = {
  /** The transactions sent, in order: none when the allowance already equals `amount`, two when
   * a non-zero allowance had to be reset to zero first. */
  hashes: Hash[];
  allowance: bigint;
};

/**
 * The payer's one-time approval of Permit2 for a token without EIP-2612 (USDT): one on-chain
 * `approve(Permit2, amount)` from the payer's own account, which pays its gas. USDT reverts an
 * `approve` from one non-zero allowance to another, so a non-zero allowance that differs from
 * `amount` is first reset to zero (a second transaction). Waits for each receipt.
 *
 * @example
 * const { hashes } = await approvePermit2(payerWallet, { token: usdt });
 */
export async function approvePermit2(
  wallet: Client<Transport, Chain | undefined, Account>,
  { token, amount = maxUint256, permit2 = PERMIT2_ADDRESS }: ApprovePermit2Parameters,
): Promise<ApprovePermit2ReturnType> {
  const owner = wallet.account.address;
  const current = await permit2Allowance(wallet, { token, owner, permit2 });
  const hashes: Hash[] = [];
  if (current === amount) return { hashes, allowance: current };
  const approve = async (value: bigint, step: "reset" | "approve") => {
    const hash = await writeContract(wallet, {
      account: wallet.account,
      chain: wallet.chain,
      address: token,
      abi: approveAbi,
      functionName: "approve",
      args: [permit2, value],
    });
    hashes.push(hash);
    const receipt = await waitForTransactionReceipt(wallet, { hash });
    if (receipt.status !== "success") throw new Permit2ApprovalError(hash, step);
  };
  if (current !== 0n && amount !== 0n) await approve(0n, "reset");
  await approve(amount, "approve");
  return { hashes, allowance: amount };
}
