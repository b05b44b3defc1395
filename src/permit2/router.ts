import {
  encodePacked,
  getAddress,
  hexToBigInt,
  isAddress,
  parseSignature,
  size,
  type Address,
  type Hex,
  type LocalAccount,
} from "viem";

import { PERMIT2_ADDRESS } from "../chain/base.js";
import { InvalidPermit2InputError } from "./errors.js";
import { createPermit2Nonce } from "./nonces.js";
import { signPermitWitnessTransferFrom } from "./sign.js";
import {
  getPermitWitnessTransferFromTypedData,
  hashPermit2Witness,
  permit2WitnessTypeString,
} from "./typedData.js";
import type { Permit2Witness } from "./types.js";
import {
  verifyPermitWitnessTransferFrom,
  type VerifyPermitWitnessTransferFromReturnType,
} from "./verify.js";

/**
 * The witness a payer signs for a SettlementRouter Permit2 item: it binds the payee, the fee, the
 * fee recipient (the `settlePermit2` argument) and a not-before time. Its name sorts before
 * `TokenPermissions`, as Permit2's type string requires.
 */
export const ROUTER_PAYMENT_WITNESS_TYPE = {
  typeName: "RouterPayment",
  fields: [
    { name: "payee", type: "address" },
    { name: "fee", type: "uint256" },
    { name: "feeRecipient", type: "address" },
    { name: "validAfter", type: "uint256" },
  ],
} as const;

/** The `witnessTypeString` the router passes to Permit2 (its `PERMIT2_WITNESS_TYPE_STRING`). */
export const ROUTER_PAYMENT_WITNESS_TYPE_STRING = permit2WitnessTypeString(
  ROUTER_PAYMENT_WITNESS_TYPE,
);

/** A router Permit2 payment before signing: what the item carries and the payer signs. */
export type RouterPermit2Payment = {
  /** The payer, Permit2's `owner`. */
  owner: Address;
  token: Address;
  /** The SettlementRouter: Permit2's `spender`. */
  router: Address;
  payee: Address;
  /** All of it is pulled; `amount - fee` goes to the payee. Below 2^96 (the item's uint96). */
  amount: bigint;
  /** Out of `amount`, to `feeRecipient`. Below 2^96. */
  fee: bigint;
  feeRecipient: Address;
  /** Valid only when the block timestamp is strictly after it (unix seconds, below 2^40). */
  validAfter: bigint;
  /** Permit2's deadline (unix seconds), from `validAfter` to `validAfter + 2^32 - 1`. */
  deadline: bigint;
  /** Permit2's unordered nonce. */
  nonce: bigint;
};

/** An EIP-2612 permit approving Permit2 for `value`, riding with the payer's first payment. */
export type Permit2ApprovalPermit = {
  value: bigint;
  deadline: bigint;
  /** The owner's 65- or 64-byte signature of the token's `Permit`. */
  signature: Hex;
};

/** A signed router Permit2 payment, ready to pack into `settlePermit2` items. */
export type SignedRouterPermit2Payment = RouterPermit2Payment & {
  /** The owner's signature: 65 or 64 bytes (packed compact), or ERC-1271 bytes with `contractSignature`. */
  signature: Hex;
  /** Pack the signature length-prefixed and unchanged (an owner with code). Default false. */
  contractSignature?: boolean;
  /** The owner's EIP-2612 permit approving Permit2 (tokens with `permit`, e.g. USDC). */
  permit?: Permit2ApprovalPermit;
};

/**
 * The item layout's ranges: amounts and fees are uint96, validAfter uint40 (the year 36812), the
 * deadline a uint32 offset from validAfter (136 years).
 */
const UINT32_MAX = (1n << 32n) - 1n;
const UINT40_MAX = (1n << 40n) - 1n;
const UINT96_MAX = (1n << 96n) - 1n;
const UINT256_MAX = (1n << 256n) - 1n;
/**
 * The random bits of a router payment's default nonce: an owner needs about 2^64 payments for an
 * even chance of two sharing one (the later one would fail as already used), and the item
 * carries such a nonce in 16 bytes instead of 32 (no `FULL_NONCE` flag).
 */
const ROUTER_NONCE_BITS = 128;

function checkUint(field: string, value: bigint, max: bigint, range = "uint256"): void {
  if (typeof value !== "bigint" || value < 0n || value > max) {
    throw new InvalidPermit2InputError(
      field,
      `out of range: ${String(value)} (the router's Permit2 items take a ${range})`,
    );
  }
}

function checkAddress(field: string, value: string): Address {
  if (!isAddress(value, { strict: false })) {
    throw new InvalidPermit2InputError(field, `not an address: ${value}`);
  }
  return getAddress(value);
}

/** Checks a payment's fields against the item layout's ranges and normalizes its addresses. */
export function checkRouterPermit2Payment<T extends RouterPermit2Payment>(payment: T): T {
  checkUint("amount", payment.amount, UINT96_MAX, "uint96");
  checkUint("fee", payment.fee, UINT96_MAX, "uint96");
  if (payment.fee > payment.amount) {
    throw new InvalidPermit2InputError(
      "fee",
      `fee ${payment.fee} exceeds amount ${payment.amount}`,
    );
  }
  checkUint("validAfter", payment.validAfter, UINT40_MAX, "uint40");
  checkUint("deadline", payment.deadline, UINT256_MAX);
  // The item carries the deadline as a uint32 offset from validAfter (x402 windows are minutes).
  const window = payment.deadline - payment.validAfter;
  if (window < 0n || window > UINT32_MAX) {
    throw new InvalidPermit2InputError(
      "deadline",
      `deadline ${payment.deadline} must be from validAfter ${payment.validAfter} to validAfter + ${UINT32_MAX} (a uint32 offset)`,
    );
  }
  checkUint("nonce", payment.nonce, UINT256_MAX);
  return {
    ...payment,
    owner: checkAddress("owner", payment.owner),
    token: checkAddress("token", payment.token),
    router: checkAddress("router", payment.router),
    payee: checkAddress("payee", payment.payee),
    feeRecipient: checkAddress("feeRecipient", payment.feeRecipient),
  };
}

export type BuildRouterPermit2PaymentParameters = Omit<
  RouterPermit2Payment,
  "fee" | "validAfter" | "deadline" | "nonce"
> & {
  fee?: bigint;
  /** Default: now minus 10 minutes, as x402 clients do. */
  validAfter?: bigint;
  /** Default: now plus `maxTimeoutSeconds`. */
  deadline?: bigint;
  /** Default 300. */
  maxTimeoutSeconds?: number;
  /**
   * Default: a random 128-bit nonce (`createPermit2Nonce({ bits: 128 })`), packed in 16 bytes
   * (no `FULL_NONCE` flag): 256 calldata gas less per item; any 256-bit nonce is accepted too.
   */
  nonce?: bigint;
  /** Unix seconds; default: the system clock. */
  now?: number;
};

/**
 * A router Permit2 payment with the usual defaults (no fee, a 10-minute back-dated `validAfter`,
 * a deadline `maxTimeoutSeconds` ahead, a random 128-bit nonce), checked against the item layout.
 *
 * @example
 * const payment = buildRouterPermit2Payment({
 *   owner: payer.address, token, router, payee, amount: 10_000n, feeRecipient,
 * });
 */
export function buildRouterPermit2Payment(
  parameters: BuildRouterPermit2PaymentParameters,
): RouterPermit2Payment {
  const now = BigInt(parameters.now ?? Math.floor(Date.now() / 1000));
  return checkRouterPermit2Payment({
    owner: parameters.owner,
    token: parameters.token,
    router: parameters.router,
    payee: parameters.payee,
    amount: parameters.amount,
    fee: parameters.fee ?? 0n,
    feeRecipient: parameters.feeRecipient,
    validAfter: parameters.validAfter ?? (now > 600n ? now - 600n : 0n),
    deadline: parameters.deadline ?? now + BigInt(parameters.maxTimeoutSeconds ?? 300),
    nonce: parameters.nonce ?? createPermit2Nonce({ bits: ROUTER_NONCE_BITS }),
  });
}

/** The payment's `RouterPayment` witness. */
export function routerPaymentWitness(payment: RouterPermit2Payment): Permit2Witness {
  return {
    ...ROUTER_PAYMENT_WITNESS_TYPE,
    value: {
      payee: payment.payee,
      fee: payment.fee,
      feeRecipient: payment.feeRecipient,
      validAfter: payment.validAfter,
    },
  };
}

/** The witness hash the router passes to Permit2 for this payment. */
export function hashRouterPaymentWitness(payment: RouterPermit2Payment): Hex {
  return hashPermit2Witness(routerPaymentWitness(payment));
}

function permitOf(payment: RouterPermit2Payment) {
  return {
    token: payment.token,
    amount: payment.amount,
    nonce: payment.nonce,
    deadline: payment.deadline,
    spender: payment.router,
  };
}

/**
 * The EIP-712 typed data the payer signs for a router Permit2 payment.
 *
 * @example
 * const signature = await wallet.signTypedData(getRouterPermit2TypedData({ chainId, payment }));
 */
export function getRouterPermit2TypedData({
  chainId,
  payment,
  permit2 = PERMIT2_ADDRESS,
}: {
  chainId: number;
  payment: RouterPermit2Payment;
  permit2?: Address;
}) {
  return getPermitWitnessTransferFromTypedData({
    chainId,
    permit2,
    permit: permitOf(payment),
    witness: routerPaymentWitness(payment),
  });
}

/**
 * Signs a router Permit2 payment with the payer's local account.
 *
 * @example
 * const signed = await signRouterPermit2Payment(payer, { chainId: 8453, payment });
 */
export async function signRouterPermit2Payment(
  owner: LocalAccount,
  {
    chainId,
    payment,
    permit2 = PERMIT2_ADDRESS,
  }: { chainId: number; payment: RouterPermit2Payment; permit2?: Address },
): Promise<SignedRouterPermit2Payment> {
  const checked = checkRouterPermit2Payment(payment);
  if (getAddress(owner.address) !== checked.owner) {
    throw new InvalidPermit2InputError("owner", `the account ${owner.address} is not the owner`);
  }
  const signature = await signPermitWitnessTransferFrom(owner, {
    chainId,
    permit2,
    permit: permitOf(checked),
    witness: routerPaymentWitness(checked),
  });
  return { ...checked, signature };
}

/**
 * Checks a signed router Permit2 payment's EOA signature offline, as Permit2 will (spender the
 * router, the witness rebuilt from the payment): no RPC call.
 *
 * @example
 * const result = verifyRouterPermit2Signature({ chainId, payment: signed });
 * if (!result.valid) refuse(result.reason);
 */
export function verifyRouterPermit2Signature({
  chainId,
  payment,
  permit2 = PERMIT2_ADDRESS,
}: {
  chainId: number;
  payment: SignedRouterPermit2Payment;
  permit2?: Address;
}): VerifyPermitWitnessTransferFromReturnType {
  return verifyPermitWitnessTransferFrom({
    chainId,
    permit2,
    permit: permitOf(payment),
    witness: routerPaymentWitness(payment),
    owner: payment.owner,
    signature: payment.signature,
  });
}

/** The EIP-2612 `Permit` typed data approving Permit2, for the owner to sign. */
export function getPermit2ApprovalTypedData({
  token,
  owner,
  value,
  nonce,
  deadline,
  permit2 = PERMIT2_ADDRESS,
}: {
  /** The token's EIP-712 domain. */
  token: { name: string; version: string; chainId: number; verifyingContract: Address };
  owner: Address;
  value: bigint;
  /** The owner's EIP-2612 nonce (`nonces(owner)`). */
  nonce: bigint;
  deadline: bigint;
  permit2?: Address;
}) {
  return {
    domain: token,
    types: {
      Permit: [
        { name: "owner", type: "address" },
        { name: "spender", type: "address" },
        { name: "value", type: "uint256" },
        { name: "nonce", type: "uint256" },
        { name: "deadline", type: "uint256" },
      ],
    },
    primaryType: "Permit" as const,
    message: { owner, spender: permit2, value, nonce, deadline },
  };
}

/**
 * Signs the EIP-2612 permit approving Permit2 that rides with the payer's first router payment.
 *
 * @example
 * const permit = await signPermit2Approval(payer, { token: usdcDomain, nonce: 0n, value: maxUint256, deadline });
 * const item = { ...signed, permit };
 */
export async function signPermit2Approval(
  owner: LocalAccount,
  parameters: Omit<Parameters<typeof getPermit2ApprovalTypedData>[0], "owner">,
): Promise<Permit2ApprovalPermit> {
  if (!owner.signTypedData) {
    throw new InvalidPermit2InputError("owner", `a ${owner.type} account cannot sign typed data`);
  }
  const signature = await owner.signTypedData(
    getPermit2ApprovalTypedData({ ...parameters, owner: owner.address }) as never,
  );
  return { value: parameters.value, deadline: parameters.deadline, signature };
}

/**
 * Flag bits of a packed Permit2 item. `FULL_NONCE`: the nonce field is 32 bytes; without it, 16
 * (a nonce below 2^128, such as {@link buildRouterPermit2Payment}'s default, with a zero flags
 * byte in the common case). The encoder sets it only for nonces of 2^128 and above.
 */
export const PERMIT2_ITEM_FLAGS = {
  EIP2612_PERMIT: 1,
  CONTRACT_SIGNATURE: 2,
  FULL_NONCE: 4,
} as const;

function toCompact(field: string, signature: Hex): Hex {
  if (size(signature) === 64) return signature;
  if (size(signature) !== 65) {
    throw new InvalidPermit2InputError(
      field,
      `expected a 64- or 65-byte signature, got ${size(signature)}`,
    );
  }
  const { r, s, yParity } = parseSignature(signature);
  const vs = hexToBigInt(s) | (BigInt(yParity ?? 0) << 255n);
  return encodePacked(["bytes32", "uint256"], [r, vs]);
}

/** A group header's bytes (payee, uint24 size of its items) and an item's fixed part. */
export const PERMIT2_GROUP_HEADER_SIZE = 23;
export const PERMIT2_ITEM_FIXED_SIZE = 86;
/** An EOA item without a permit; a permit adds {@link PERMIT2_ITEM_PERMIT_SIZE}. */
export const PERMIT2_EOA_ITEM_SIZE = 150;
/**
 * An item's fixed part and EOA size above are for a `FULL_NONCE` item; one with a 16-byte nonce
 * is shorter by {@link PERMIT2_SHORT_NONCE_CUT}.
 */
export const PERMIT2_SHORT_NONCE_CUT = 16;
export const PERMIT2_SHORT_NONCE_EOA_ITEM_SIZE = PERMIT2_EOA_ITEM_SIZE - PERMIT2_SHORT_NONCE_CUT;
const UINT128_MAX = (1n << 128n) - 1n;
export const PERMIT2_ITEM_PERMIT_SIZE = 128;
const UINT24_MAX = 0xffffff;

function encodePermit2Item(raw: SignedRouterPermit2Payment, i: number): Hex {
  const p = checkRouterPermit2Payment(raw);
  const shortNonce = p.nonce <= UINT128_MAX;
  const flags =
    (p.permit ? PERMIT2_ITEM_FLAGS.EIP2612_PERMIT : 0) |
    (p.contractSignature ? PERMIT2_ITEM_FLAGS.CONTRACT_SIGNATURE : 0) |
    (shortNonce ? 0 : PERMIT2_ITEM_FLAGS.FULL_NONCE);
  const head = encodePacked(
    [
      "uint8",
      "address",
      "uint96",
      "uint96",
      "uint40",
      "uint32",
      shortNonce ? "uint128" : "uint256",
    ],
    [
      flags,
      p.owner,
      p.amount,
      p.fee,
      Number(p.validAfter),
      Number(p.deadline - p.validAfter),
      p.nonce,
    ],
  );
  let signature: Hex;
  if (p.contractSignature) {
    if (size(p.signature) > 0xffff) {
      throw new InvalidPermit2InputError(`items[${i}].signature`, "longer than 65,535 bytes");
    }
    signature = encodePacked(["uint16", "bytes"], [size(p.signature), p.signature]);
  } else {
    signature = toCompact(`items[${i}].signature`, p.signature);
  }
  let permit: Hex = "0x";
  if (p.permit) {
    checkUint(`items[${i}].permit.value`, p.permit.value, UINT256_MAX);
    checkUint(`items[${i}].permit.deadline`, p.permit.deadline, UINT256_MAX);
    permit = encodePacked(
      ["uint256", "uint256", "bytes"],
      [
        p.permit.value,
        p.permit.deadline,
        toCompact(`items[${i}].permit.signature`, p.permit.signature),
      ],
    );
  }
  return `${head}${signature.slice(2)}${permit.slice(2)}` as Hex;
}

/**
 * Packs signed payments into `settlePermit2`'s items (see ISettlementRouter, "Permit2 items"), in
 * their order: each run of consecutive payments with one payee becomes a group (a header with the
 * payee and the byte size of its items, then the items without the payee; a run too large for a
 * uint24 size is split), EOA signatures as 64-byte EIP-2098, contract signatures length-prefixed,
 * the EIP-2612 permit appended when present. Plan the batch first
 * (`planPermit2Batches`) to make each payee's payments adjacent: one group, one payout.
 *
 * @example
 * const items = encodePermit2Items(signedPayments);
 */
export function encodePermit2Items(payments: readonly SignedRouterPermit2Payment[]): Hex {
  const groups: { payee: Address; items: string[]; size: number }[] = [];
  payments.forEach((payment, i) => {
    const payee = checkAddress(`items[${i}].payee`, payment.payee);
    const item = encodePermit2Item(payment, i).slice(2);
    const last = groups.at(-1);
    if (last && last.payee === payee && last.size + item.length / 2 <= UINT24_MAX) {
      last.items.push(item);
      last.size += item.length / 2;
    } else groups.push({ payee, items: [item], size: item.length / 2 });
  });
  const parts = groups.map(
    (g) => `${encodePacked(["address", "uint24"], [g.payee, g.size]).slice(2)}${g.items.join("")}`,
  );
  return `0x${parts.join("")}`;
}

/** One item of a `settlePermit2` call's packed items, as {@link decodePermit2Items} reads it. */
export type DecodedPermit2Item = {
  flags: number;
  owner: Address;
  payee: Address;
  amount: bigint;
  fee: bigint;
  validAfter: bigint;
  deadline: bigint;
  nonce: bigint;
  /** The 64-byte compact signature, or the contract signature's bytes. */
  signature: Hex;
  /** The EIP-2612 permit's `value`, `deadline` and compact signature, when flag bit 0 is set. */
  permit?: Permit2ApprovalPermit;
};

/**
 * Reads `settlePermit2`'s packed items back (the inverse of {@link encodePermit2Items}), with the
 * router's bounds checks: throws {@link InvalidPermit2InputError} for a header or item that runs
 * past the end or past its group, an empty group, or unknown flags.
 *
 * @example
 * const items = decodePermit2Items(packed);
 */
export function decodePermit2Items(packed: Hex): DecodedPermit2Item[] {
  const bytes = (packed.length - 2) / 2;
  const read = (at: number, length: number): Hex =>
    `0x${packed.slice(2 + 2 * at, 2 + 2 * (at + length))}`;
  const malformed = (at: number, details: string) =>
    new InvalidPermit2InputError("items", `malformed at byte ${at}: ${details}`);
  const items: DecodedPermit2Item[] = [];
  let at = 0;
  while (at < bytes) {
    if (at + PERMIT2_GROUP_HEADER_SIZE > bytes) throw malformed(at, "a truncated group header");
    const payee = getAddress(read(at, 20));
    const end = at + PERMIT2_GROUP_HEADER_SIZE + Number(hexToBigInt(read(at + 20, 3)));
    if (end === at + PERMIT2_GROUP_HEADER_SIZE) throw malformed(at, "an empty group");
    if (end > bytes) throw malformed(at, "a group past the end");
    at += PERMIT2_GROUP_HEADER_SIZE;
    while (at < end) {
      const field = (offset: number, length: number) => hexToBigInt(read(at + offset, length));
      const flags = Number(field(0, 1));
      if (flags > 7) throw malformed(at, `unknown flags ${flags}`);
      const fixedSize =
        flags & PERMIT2_ITEM_FLAGS.FULL_NONCE
          ? PERMIT2_ITEM_FIXED_SIZE
          : PERMIT2_ITEM_FIXED_SIZE - PERMIT2_SHORT_NONCE_CUT;
      if (at + fixedSize > end) throw malformed(at, "a truncated item");
      const item: DecodedPermit2Item = {
        flags,
        owner: getAddress(read(at + 1, 20)),
        payee,
        amount: field(21, 12),
        fee: field(33, 12),
        validAfter: field(45, 5),
        deadline: field(45, 5) + field(50, 4),
        nonce: field(54, fixedSize - 54),
        signature: "0x",
      };
      const start = at;
      at += fixedSize;
      let signatureSize = 64;
      if (flags & PERMIT2_ITEM_FLAGS.CONTRACT_SIGNATURE) {
        if (at + 2 > end) throw malformed(start, "a truncated signature length");
        signatureSize = Number(hexToBigInt(read(at, 2)));
        at += 2;
      }
      if (at + signatureSize > end) throw malformed(start, "a truncated signature");
      item.signature = read(at, signatureSize);
      at += signatureSize;
      if (flags & PERMIT2_ITEM_FLAGS.EIP2612_PERMIT) {
        if (at + PERMIT2_ITEM_PERMIT_SIZE > end) throw malformed(start, "a truncated permit");
        item.permit = {
          value: hexToBigInt(read(at, 32)),
          deadline: hexToBigInt(read(at + 32, 32)),
          signature: read(at + 64, 64),
        };
        at += PERMIT2_ITEM_PERMIT_SIZE;
      }
      items.push(item);
    }
  }
  return items;
}
