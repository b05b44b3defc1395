import {
  hashTypedData,
  isErc6492Signature,
  parseErc6492Signature,
  recoverAddress,
  type Address,
  type Hex,
} from "viem";

import type { ExactAuthorization } from "./schemas.js";

/** EIP-712 types of EIP-3009 `TransferWithAuthorization`, what x402 `exact` clients sign. */
export const transferWithAuthorizationTypes = {
  TransferWithAuthorization: [
    { name: "from", type: "address" },
    { name: "to", type: "address" },
    { name: "value", type: "uint256" },
    { name: "validAfter", type: "uint256" },
    { name: "validBefore", type: "uint256" },
    { name: "nonce", type: "bytes32" },
  ],
} as const;

/** secp256k1 group order / 2: signatures with a larger `s` are malleable and tokens reject them. */
const HALF_CURVE_ORDER = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;

/**
 * The EIP-712 digest of a `TransferWithAuthorization` under a token's domain.
 *
 * @example
 * const digest = transferAuthorizationDigest(
 *   { name: "USD Coin", version: "2", chainId: 8453, verifyingContract: USDC_ADDRESS },
 *   authorization,
 * );
 */
export function transferAuthorizationDigest(
  domain: { name: string; version: string; chainId: number; verifyingContract: Address },
  authorization: ExactAuthorization,
): Hex {
  return hashTypedData({
    domain,
    types: transferWithAuthorizationTypes,
    primaryType: "TransferWithAuthorization",
    message: authorization,
  });
}

/** How a signature is to be checked, from its shape and whether the signer has code. */
export interface SignatureClassification {
  /** ERC-6492-wrapped for a wallet that has no code yet (needs a factory deployment). */
  counterfactual: boolean;
  /** The signature the token sees: the ERC-6492 inner signature when wrapped. */
  innerSignature: Hex;
  /** ERC-6492 factory, when wrapped. */
  factory?: Address;
}

/**
 * Unwraps an ERC-6492 signature and says whether it is counterfactual (the signer has no code).
 *
 * @example
 * const { counterfactual, innerSignature } = classifySignature(signature, payerCode !== "0x");
 */
export function classifySignature(signature: Hex, signerHasCode: boolean): SignatureClassification {
  if (!isErc6492Signature(signature)) return { counterfactual: false, innerSignature: signature };
  try {
    const parsed = parseErc6492Signature(signature);
    const hasFactory =
      parsed.address !== undefined &&
      parsed.data !== undefined &&
      !/^0x0{40}$/.test(parsed.address);
    return {
      counterfactual: hasFactory && !signerHasCode,
      innerSignature: parsed.signature,
      factory: hasFactory ? parsed.address : undefined,
    };
  } catch {
    return { counterfactual: !signerHasCode, innerSignature: signature };
  }
}

/**
 * Whether a 65-byte ECDSA signature over `digest` was made by `signer`, rejecting high-s
 * (malleable) signatures exactly like FiatTokenV2_2 and OpenZeppelin's ECDSA do.
 *
 * @example
 * if (!(await isValidEcdsaSignature(digest, signature, authorization.from))) reject();
 */
export async function isValidEcdsaSignature(
  digest: Hex,
  signature: Hex,
  signer: Address,
): Promise<boolean> {
  if (!/^0x[0-9a-fA-F]{130}$/.test(signature)) return false;
  const s = BigInt(`0x${signature.slice(66, 130)}`);
  const v = Number.parseInt(signature.slice(130, 132), 16);
  if (s > HALF_CURVE_ORDER || ![0, 1, 27, 28].includes(v)) return false;
  try {
    const recovered = await recoverAddress({ hash: digest, signature });
    return recovered.toLowerCase() === signer.toLowerCase();
  } catch {
    return false;
  }
}
