import type { SignedAuthorization } from "./types.js";
import type { X402ExactPayload } from "./x402Payload.js";

/**
 * Converts a signed authorization into the x402 `exact` EVM payload form (decimal strings),
 * the `payload` of a PaymentPayload. Routing terms are not part of the x402 form.
 *
 * @example
 * const payload = toX402Payload(signed);
 * // { signature: "0x…", authorization: { from, to, value: "10000", validAfter: "0", validBefore: "1767225900", nonce } }
 */
export function toX402Payload(authorization: SignedAuthorization): X402ExactPayload {
  return {
    signature: authorization.signature,
    authorization: {
      from: authorization.from,
      to: authorization.to,
      value: authorization.value.toString(),
      validAfter: authorization.validAfter.toString(),
      validBefore: authorization.validBefore.toString(),
      nonce: authorization.nonce,
    },
  };
}
