import type { Address, Hex } from "viem";

/**
 * The `payload` of an x402 `exact` EVM PaymentPayload (v1 and v2): the authorization's numbers
 * are decimal strings, the nonce a 0x bytes32.
 */
export type X402ExactPayload = {
  signature: Hex;
  authorization: {
    from: Address;
    to: Address;
    value: string;
    validAfter: string;
    validBefore: string;
    nonce: Hex;
  };
};
