import { size, type Address, type Hex } from "viem";

import { InvalidAuthorizationInputError } from "./errors.js";
import { toAddress, toBytes, toBytes32, toUint256 } from "./normalize.js";
import type { DirectAuthorization, RoutedAuthorization, SignedAuthorization } from "./types.js";

export type FromX402PayloadParameters = {
  /**
   * The payer is a contract wallet (ERC-1271). Default: true exactly when the signature is
   * neither 65 nor 64 bytes long.
   */
  contractSignature?: boolean;
  /** The routing terms when the payload is a routed `ReceiveWithAuthorization` to the router. */
  routed?: { payee: Address; fee: bigint | string; feeRecipient: Address; salt: Hex };
};

export type FromX402PayloadReturnType =
  SignedAuthorization<DirectAuthorization> | SignedAuthorization<RoutedAuthorization>;

/**
 * Converts an x402 `exact` EVM payload (`{ signature, authorization: { from, to, value,
 * validAfter, validBefore, nonce } }`, decimal strings) into the toolkit's signed authorization.
 * Accepts the whole PaymentPayload (`{ x402Version, payload, … }`) too. Malformed input throws
 * {@link InvalidAuthorizationInputError} naming the field.
 *
 * @example
 * const signed = fromX402Payload(paymentPayload.payload);
 * const result = await verifyAuthorization({ domain, authorization: signed, expected: { payTo, value } });
 */
export function fromX402Payload(
  payload: unknown,
  parameters: FromX402PayloadParameters = {},
): FromX402PayloadReturnType {
  let inner = payload;
  if (isObject(inner) && isObject(inner.payload) && !("authorization" in inner)) {
    inner = inner.payload;
  }
  if (!isObject(inner)) {
    throw new InvalidAuthorizationInputError("payload", "expected an object");
  }
  const { authorization } = inner;
  if (!isObject(authorization)) {
    throw new InvalidAuthorizationInputError("authorization", "expected an object");
  }
  const signature = toBytes("signature", inner.signature);
  if (size(signature) === 0) {
    throw new InvalidAuthorizationInputError("signature", "empty signature");
  }
  const fields = {
    from: toAddress("authorization.from", authorization.from),
    to: toAddress("authorization.to", authorization.to),
    value: toUint256(
      "authorization.value",
      decimalOnly("authorization.value", authorization.value),
    ),
    validAfter: toUint256(
      "authorization.validAfter",
      decimalOnly("authorization.validAfter", authorization.validAfter),
    ),
    validBefore: toUint256(
      "authorization.validBefore",
      decimalOnly("authorization.validBefore", authorization.validBefore),
    ),
    nonce: toBytes32("authorization.nonce", authorization.nonce),
  };
  const contractSignature =
    parameters.contractSignature ?? (size(signature) !== 65 && size(signature) !== 64);
  const signed = { signature, ...(contractSignature ? { contractSignature: true } : {}) };
  if (!parameters.routed) return { kind: "direct", ...fields, ...signed };
  const { routed } = parameters;
  return {
    kind: "routed",
    ...fields,
    payee: toAddress("routed.payee", routed.payee),
    fee: toUint256("routed.fee", routed.fee),
    feeRecipient: toAddress("routed.feeRecipient", routed.feeRecipient),
    salt: toBytes32("routed.salt", routed.salt),
    ...signed,
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** x402 sends numbers as decimal strings; JSON numbers lose precision above 2^53. */
function decimalOnly(field: string, value: unknown): unknown {
  if (typeof value === "number" && !Number.isSafeInteger(value)) {
    throw new InvalidAuthorizationInputError(field, `unsafe JSON number ${value}; send a string`);
  }
  return value;
}
