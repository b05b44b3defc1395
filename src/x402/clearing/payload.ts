import { type Address, type Hex, isAddress, isHex, size } from "viem";

import type {
  SignedDepositAuthorization,
  SignedPermit2Deposit,
  SignedVoucher,
} from "../../clearing/types.js";
import { InvalidClearingPayloadError } from "./errors.js";
import { checksumAddress } from "../../crypto/checksumAddress.js";

/** The scheme's name in requirements, payloads and the facilitator's `/supported` kinds. */
export const CLEARING_SCHEME = "clearing";

const UINT128_LIMIT = 1n << 128n;
const UINT256_LIMIT = 1n << 256n;
const UINT48_LIMIT = 1n << 48n;

/** A voucher on the wire: amounts as decimal strings. */
export type ClearingVoucherJson = {
  payer: Address;
  payee: Address;
  token: Address;
  operator: Address;
  cumulativeValue: string;
  cumulativeFee: string;
  signature: Hex;
};

/** A deposit on the wire: EIP-3009 `ReceiveWithAuthorization` to the ClearingHouse. */
export type ClearingDepositJson = {
  authorization: {
    from: Address;
    to: Address;
    value: string;
    validAfter: string;
    validBefore: string;
    nonce: Hex;
  };
  voucherSigner: Address;
  salt: Hex;
  signature: Hex;
};

/**
 * A deposit on the wire through Permit2 (tokens without EIP-3009): `PermitWitnessTransferFrom`
 * with the ClearingHouse as spender and the `ClearingDeposit(operator, voucherSigner)` witness.
 */
export type ClearingPermit2DepositJson = {
  permit2Authorization: {
    from: Address;
    permitted: { token: Address; amount: string };
    spender: Address;
    nonce: string;
    deadline: string;
    witness: { operator: Address; voucherSigner: Address };
  };
  signature: Hex;
};

/** `paymentPayload.payload` of a `clearing` payment (docs/SCHEMES.md). */
export type ClearingPayloadJson = {
  voucher: ClearingVoucherJson;
  deposit?: ClearingDepositJson | ClearingPermit2DepositJson;
};

/** `extra.pair` on the wire: the pair's state as the operator knows it. */
export type ClearingPairJson = {
  payer: Address;
  payee?: Address;
  token?: Address;
  charged: string;
  cumulativeValue: string;
  cumulativeFee: string;
  voucher: ClearingVoucherJson | null;
};

/**
 * A decoded `clearing` payload: the voucher, and the deposit riding with it (first payment,
 * top-up): an EIP-3009 authorization (`kind: "deposit"`) or a Permit2 one (`kind: "permit2-deposit"`).
 */
export type ClearingPayload = {
  voucher: SignedVoucher;
  deposit?: SignedDepositAuthorization | SignedPermit2Deposit;
};

/** A decoded `extra.pair`. Nothing in it is trusted but `voucher`'s signature, once checked. */
export type ClearingPairState = {
  payer: Address;
  payee?: Address;
  token?: Address;
  /** What the operator has accepted from the pair so far. */
  charged: bigint;
  cumulativeValue: bigint;
  cumulativeFee: bigint;
  /** The highest voucher the payer signed for the pair, or null. */
  voucher: SignedVoucher | null;
};

/**
 * The wire form of a `clearing` payload: checksummed addresses, decimal strings.
 *
 * @example
 * const payload = encodeClearingPayload({ voucher: signedVoucher });
 */
export function encodeClearingPayload({ voucher, deposit }: ClearingPayload): ClearingPayloadJson {
  const out: ClearingPayloadJson = { voucher: encodeVoucher(voucher) };
  if (deposit?.kind === "permit2-deposit") {
    out.deposit = {
      permit2Authorization: {
        from: checksumAddress(deposit.payer),
        permitted: { token: checksumAddress(deposit.token), amount: deposit.amount.toString() },
        spender: checksumAddress(deposit.clearingHouse),
        nonce: deposit.nonce.toString(),
        deadline: deposit.deadline.toString(),
        witness: {
          operator: checksumAddress(deposit.operator),
          voucherSigner: checksumAddress(deposit.voucherSigner),
        },
      },
      signature: deposit.signature,
    };
  } else if (deposit) {
    out.deposit = {
      authorization: {
        from: checksumAddress(deposit.from),
        to: checksumAddress(deposit.to),
        value: deposit.value.toString(),
        validAfter: deposit.validAfter.toString(),
        validBefore: deposit.validBefore.toString(),
        nonce: deposit.nonce,
      },
      voucherSigner: checksumAddress(deposit.voucherSigner),
      salt: deposit.salt,
      signature: deposit.signature,
    };
  }
  return out;
}

/**
 * Decodes and checks the shape of a `clearing` payload from the wire: every field present and of
 * its type, no unknown field, amounts in range. Throws {@link InvalidClearingPayloadError} naming
 * the first bad field. Signatures, nonces and terms are not checked here.
 *
 * @example
 * const { voucher, deposit } = decodeClearingPayload(paymentPayload.payload);
 */
export function decodeClearingPayload(raw: unknown): ClearingPayload {
  const object = record("payload", raw, ["voucher", "deposit"], ["voucher"]);
  const voucher = decodeVoucher("voucher", object.voucher);
  if (object.deposit === undefined) return { voucher };
  const isPermit2 =
    typeof object.deposit === "object" &&
    object.deposit !== null &&
    "permit2Authorization" in object.deposit;
  if (isPermit2) return { voucher, deposit: decodePermit2Deposit(object.deposit) };
  const deposit = record(
    "deposit",
    object.deposit,
    ["authorization", "voucherSigner", "salt", "signature"],
    ["authorization", "voucherSigner", "salt", "signature"],
  );
  const fields = ["from", "to", "value", "validAfter", "validBefore", "nonce"];
  const authorization = record("deposit.authorization", deposit.authorization, fields, fields);
  return {
    voucher,
    deposit: {
      kind: "deposit",
      from: address("deposit.authorization.from", authorization.from),
      to: address("deposit.authorization.to", authorization.to),
      value: amount("deposit.authorization.value", authorization.value, UINT256_LIMIT),
      validAfter: amount(
        "deposit.authorization.validAfter",
        authorization.validAfter,
        UINT256_LIMIT,
      ),
      validBefore: amount(
        "deposit.authorization.validBefore",
        authorization.validBefore,
        UINT256_LIMIT,
      ),
      nonce: bytes32("deposit.authorization.nonce", authorization.nonce),
      operator: voucher.operator,
      voucherSigner: address("deposit.voucherSigner", deposit.voucherSigner),
      salt: bytes32("deposit.salt", deposit.salt),
      signature: signature("deposit.signature", deposit.signature),
    },
  };
}

function decodePermit2Deposit(raw: unknown): SignedPermit2Deposit {
  const deposit = record(
    "deposit",
    raw,
    ["permit2Authorization", "signature"],
    ["permit2Authorization", "signature"],
  );
  const at = "deposit.permit2Authorization";
  const fields = ["from", "permitted", "spender", "nonce", "deadline", "witness"];
  const permit = record(at, deposit.permit2Authorization, fields, fields);
  const permitted = record(
    `${at}.permitted`,
    permit.permitted,
    ["token", "amount"],
    ["token", "amount"],
  );
  const witnessFields = ["operator", "voucherSigner"];
  const witness = record(`${at}.witness`, permit.witness, witnessFields, witnessFields);
  return {
    kind: "permit2-deposit",
    payer: address(`${at}.from`, permit.from),
    clearingHouse: address(`${at}.spender`, permit.spender),
    token: address(`${at}.permitted.token`, permitted.token),
    operator: address(`${at}.witness.operator`, witness.operator),
    voucherSigner: address(`${at}.witness.voucherSigner`, witness.voucherSigner),
    amount: amount(`${at}.permitted.amount`, permitted.amount, UINT128_LIMIT),
    nonce: amount(`${at}.nonce`, permit.nonce, UINT256_LIMIT),
    deadline: amount(`${at}.deadline`, permit.deadline, UINT48_LIMIT),
    signature: signature("deposit.signature", deposit.signature),
  };
}

/** The wire form of a pair's state (`extra.pair`). */
export function encodePairState(pair: ClearingPairState): ClearingPairJson {
  return {
    payer: checksumAddress(pair.payer),
    ...(pair.payee ? { payee: checksumAddress(pair.payee) } : {}),
    ...(pair.token ? { token: checksumAddress(pair.token) } : {}),
    charged: pair.charged.toString(),
    cumulativeValue: pair.cumulativeValue.toString(),
    cumulativeFee: pair.cumulativeFee.toString(),
    voucher: pair.voucher ? encodeVoucher(pair.voucher) : null,
  };
}

/**
 * Decodes `extra.pair`; throws {@link InvalidClearingPayloadError} when it is malformed. `payee`
 * and `token`, when the facilitator adds them, are decoded too.
 */
export function decodePairState(raw: unknown): ClearingPairState {
  const keys = ["payer", "charged", "cumulativeValue", "cumulativeFee", "voucher"];
  const object = record("pair", raw, [...keys, "payee", "token"], keys);
  return {
    payer: address("pair.payer", object.payer),
    ...(object.payee === undefined ? {} : { payee: address("pair.payee", object.payee) }),
    ...(object.token === undefined ? {} : { token: address("pair.token", object.token) }),
    charged: amount("pair.charged", object.charged, UINT256_LIMIT),
    cumulativeValue: amount("pair.cumulativeValue", object.cumulativeValue, UINT128_LIMIT),
    cumulativeFee: amount("pair.cumulativeFee", object.cumulativeFee, UINT128_LIMIT),
    voucher: object.voucher === null ? null : decodeVoucher("pair.voucher", object.voucher),
  };
}

function encodeVoucher(voucher: SignedVoucher): ClearingVoucherJson {
  return {
    payer: checksumAddress(voucher.payer),
    payee: checksumAddress(voucher.payee),
    token: checksumAddress(voucher.token),
    operator: checksumAddress(voucher.operator),
    cumulativeValue: voucher.cumulativeValue.toString(),
    cumulativeFee: voucher.cumulativeFee.toString(),
    signature: voucher.signature,
  };
}

function decodeVoucher(field: string, raw: unknown): SignedVoucher {
  const keys = [
    "payer",
    "payee",
    "token",
    "operator",
    "cumulativeValue",
    "cumulativeFee",
    "signature",
  ];
  const object = record(field, raw, keys, keys);
  return {
    payer: address(`${field}.payer`, object.payer),
    payee: address(`${field}.payee`, object.payee),
    token: address(`${field}.token`, object.token),
    operator: address(`${field}.operator`, object.operator),
    cumulativeValue: amount(`${field}.cumulativeValue`, object.cumulativeValue, UINT128_LIMIT),
    cumulativeFee: amount(`${field}.cumulativeFee`, object.cumulativeFee, UINT128_LIMIT),
    signature: signature(`${field}.signature`, object.signature),
  };
}

function record(
  field: string,
  raw: unknown,
  allowed: readonly string[],
  required: readonly string[],
): Record<string, unknown> {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new InvalidClearingPayloadError(field, "expected an object");
  }
  const object = raw as Record<string, unknown>;
  for (const key of Object.keys(object)) {
    if (!allowed.includes(key)) {
      throw new InvalidClearingPayloadError(`${field}.${key}`, "unknown field");
    }
  }
  for (const key of required) {
    if (object[key] === undefined) {
      throw new InvalidClearingPayloadError(`${field}.${key}`, "missing");
    }
  }
  return object;
}

function address(field: string, raw: unknown): Address {
  if (typeof raw !== "string" || !isAddress(raw, { strict: false })) {
    throw new InvalidClearingPayloadError(field, "expected a 20-byte hex address");
  }
  return checksumAddress(raw);
}

function amount(field: string, raw: unknown, limit: bigint): bigint {
  if (typeof raw !== "string" || !/^(0|[1-9][0-9]{0,77})$/.test(raw)) {
    throw new InvalidClearingPayloadError(field, "expected a decimal string of base units");
  }
  const value = BigInt(raw);
  if (value >= limit) throw new InvalidClearingPayloadError(field, "out of range");
  return value;
}

function bytes32(field: string, raw: unknown): Hex {
  if (typeof raw !== "string" || !isHex(raw, { strict: true }) || size(raw as Hex) !== 32) {
    throw new InvalidClearingPayloadError(field, "expected 32 bytes of hex");
  }
  return raw.toLowerCase() as Hex;
}

function signature(field: string, raw: unknown): Hex {
  if (typeof raw !== "string" || !isHex(raw, { strict: true }) || raw.length % 2 !== 0) {
    throw new InvalidClearingPayloadError(field, "expected hex bytes");
  }
  const length = (raw.length - 2) / 2;
  if (length !== 64 && length !== 65) {
    throw new InvalidClearingPayloadError(field, `expected 64 or 65 bytes, got ${length}`);
  }
  return raw.toLowerCase() as Hex;
}
