import { isErc6492Signature, parseErc6492Signature, type Address, type Hex } from "viem";

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
