import { TRANSACTION_GAS_CAP } from "../chain/base.js";

/**
 * Gas a `SettlementRouter.settle` transaction uses, as a linear model the batch planner sums:
 *
 *   base + Σ perItem[kind] + distinct direct payees × perDirectPayee
 *        + (any routed item ? routedFixed : 0) + routed groups × perRoutedGroup
 *
 * in receipt gas (21k intrinsic and calldata included). Payee terms assume the payee's (and the
 * fee recipient's) balance starts at zero, the costly case. Measured on the simulated Base with the
 * SettlementRouter of commit f6a6a51 against batches of 100 and 200 distinct funded payers paying 1
 * or 20 payees, rounded up about 1%; a failing item costs less than a settled one.
 * Contract-wallet items add `perContractSignature` plus 16 gas per signature byte (wallet-dependent).
 * `settleAuthorizations` does not rely on the model alone: a batch the router says does not fit is
 * cut where it ran short.
 */
export type SettleGasProfile = {
  /** Fixed cost of one settle transaction. */
  base: bigint;
  /** Marginal cost of one item. */
  perItem: { direct: bigint; routed: bigint };
  /** First credit to each distinct payee of direct items. */
  perDirectPayee: bigint;
  /** Once per transaction with routed items: the fee payout. */
  routedFixed: bigint;
  /** Netted payout of one group of consecutive routed items with the same payee. */
  perRoutedGroup: bigint;
  /** Extra for an ERC-1271 signature check (an estimate). */
  perContractSignature: bigint;
};

/** Circle's FiatTokenV2_2 (USDC on Base). */
export const FIAT_TOKEN_V2_2_GAS_PROFILE: SettleGasProfile = {
  base: 40_400n,
  perItem: { direct: 47_400n, routed: 47_800n },
  perDirectPayee: 22_200n,
  routedFixed: 30_800n,
  perRoutedGroup: 30_300n,
  perContractSignature: 40_000n,
};

/** The project's OpenZeppelin-based EIP-3009 test token (X402TestToken). */
export const X402_TEST_TOKEN_GAS_PROFILE: SettleGasProfile = {
  base: 29_300n,
  perItem: { direct: 40_200n, routed: 40_700n },
  perDirectPayee: 22_200n,
  routedFixed: 26_300n,
  perRoutedGroup: 28_200n,
  perContractSignature: 40_000n,
};

/** `SettlementRouter.ITEM_GAS_LIMIT`: the most gas the router gives one item's token call. */
export const ROUTER_ITEM_GAS_LIMIT = 200_000n;
/** The router's `_AUTH_STATE_GAS`: the `authorizationState` read after a failed token call. */
export const ROUTER_AUTH_STATE_GAS = 30_000n;
/**
 * The router's own work for a failing item besides its two calls, rounded up: the loop, the
 * capped (256-byte) revert data copy, the `PaymentFailed` event with that data, memory, and the
 * item's 165 calldata bytes.
 */
export const ROUTER_ITEM_OVERHEAD_GAS = 15_000n;

/**
 * The router's own work for one routed group besides its payout call, rounded up: the self-call,
 * the copy of the items into its call data, its memory and the statuses it returns.
 */
export const ROUTER_GROUP_OVERHEAD_GAS = 20_000n;
/**
 * Gas allowed for the one fee payout of a call with routed items. The router forwards all gas
 * left to it and reverts the whole call when it fails, so no payment can fail for want of it;
 * this covers an allow-listed token's `transfer` to a fresh recipient (USDC: about 30k).
 */
export const ROUTER_FEE_PAYOUT_GAS = 100_000n;

/** What the gas bound needs to know about an item. */
export type GasBoundItem = {
  /** Default direct. Consecutive routed items with one payee are one group (one payout). */
  kind?: "direct" | "routed";
  /** Routed items: the payee (groups are runs of equal payees). */
  payee?: `0x${string}`;
  /** The item goes through the token's `bytes signature` overload (ERC-1271). */
  contractSignature?: boolean;
  /** The signature as packed (its bytes count as calldata for contract signatures). */
  signature: `0x${string}`;
};

/**
 * A gas limit no `settle` call of `items` (direct and routed items) can exceed, whatever the
 * payers do (and the token, but for the one fee payout of routed items: see
 * {@link ROUTER_FEE_PAYOUT_GAS}): per item the router's whole allowance (ITEM_GAS_LIMIT for the
 * token call, which also bounds an ERC-1271 wallet or an EIP-7702 delegate, the
 * authorization-state read and the failure report), plus the profile's base and the slack the
 * router's 63/64 checks leave; per routed group its payout's allowance, the self-call's overhead
 * and the 1/64 the self-call keeps back. With it, an item that burns its allowance fails alone and
 * never makes the router run short for the items after it. Only gas used is paid, so the bound costs nothing when the items behave.
 *
 * @example
 * const gas = settleGasBound({ items }); // 1 EOA item: 291,750
 */
export function settleGasBound(parameters: {
  items: readonly GasBoundItem[];
  profile?: SettleGasProfile;
}): bigint {
  const profile = parameters.profile ?? FIAT_TOKEN_V2_2_GAS_PROFILE;
  let gas = profile.base + (ROUTER_ITEM_GAS_LIMIT / 63n + 1n) * 2n;
  let group = 0n;
  let groupPayee: string | undefined;
  // A routed group runs in a self-call, which gets at most 63/64 of the gas left: what it needs
  // (its items and its payout) is covered with 1/63 on top.
  const closeGroup = () => {
    if (groupPayee === undefined) return;
    const inner = group + ROUTER_ITEM_GAS_LIMIT + ROUTER_GROUP_OVERHEAD_GAS;
    gas += inner + inner / 63n + 1n;
    group = 0n;
    groupPayee = undefined;
  };
  let routed = false;
  for (const item of parameters.items) {
    let itemGas = ROUTER_ITEM_GAS_LIMIT + ROUTER_AUTH_STATE_GAS + ROUTER_ITEM_OVERHEAD_GAS;
    // A contract signature's bytes are calldata, copied into the token call's memory.
    if (item.contractSignature) itemGas += 24n * BigInt((item.signature.length - 2) / 2);
    if (item.kind === "routed") {
      routed = true;
      const payee = (item.payee ?? "").toLowerCase();
      if (groupPayee !== payee) closeGroup();
      groupPayee = payee;
      group += itemGas;
    } else {
      closeGroup();
      gas += itemGas;
    }
  }
  closeGroup();
  if (routed) gas += ROUTER_FEE_PAYOUT_GAS;
  return gas;
}

/**
 * The most EOA items whose {@link settleGasBound} fits under `cap` (Base's 2^24 transaction cap by
 * default): the largest batch the facilitator sends.
 *
 * @example
 * maxItemsUnderGasBound(); // 68
 */
export function maxItemsUnderGasBound(
  cap: bigint = TRANSACTION_GAS_CAP,
  profile: SettleGasProfile = FIAT_TOKEN_V2_2_GAS_PROFILE,
): number {
  const fixed = settleGasBound({ items: [], profile });
  const perItem = ROUTER_ITEM_GAS_LIMIT + ROUTER_AUTH_STATE_GAS + ROUTER_ITEM_OVERHEAD_GAS;
  return cap > fixed ? Number((cap - fixed) / perItem) : 0;
}
