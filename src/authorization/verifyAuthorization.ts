import {
  isAddressEqual,
  parseCompactSignature,
  parseSignature,
  recoverTypedDataAddress,
  size,
  type Address,
  type Hex,
  type Signature,
} from "viem";

import { computeRoutedNonce } from "./computeRoutedNonce.js";
import { getAuthorizationTypedData } from "./getAuthorizationTypedData.js";
import { toUnixSeconds } from "./normalize.js";
import type { AuthorizationInvalidReason } from "./reasons.js";
import type { SignedAuthorization, TokenDomain } from "./types.js";

/** Half the secp256k1 group order: EIP-2 / USDC reject signatures with a larger `s`. */
const SECP256K1_HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;
const UINT48_MAX = 2n ** 48n - 1n;
const UINT128_MAX = 2n ** 128n - 1n;

export type VerifyAuthorizationParameters = {
  /** The token's EIP-712 domain the payer signed against. */
  domain: TokenDomain;
  authorization: SignedAuthorization;
  /** The clock to check the time window against (Date or unix seconds). Default: the wall clock. */
  now?: Date | number | bigint;
  /**
   * `validBefore` must be at least `now + validBeforeMarginSeconds`, so the payment can still land
   * on chain. Default 6 (the x402 facilitator's margin).
   */
  validBeforeMarginSeconds?: number;
  /** What the verifier expects; each given field is checked. */
  expected?: {
    /** The chain the verifier settles on (domain.chainId must match). */
    chainId?: number;
    /** The token the verifier settles (domain.verifyingContract must match). */
    token?: Address;
    /** Direct: the payee (x402 `payTo`). Routed: checked against `payee`. */
    payTo?: Address;
    /** Exact amount (x402 `amount`); for routed items the total including the fee. */
    value?: bigint;
    /** Routed: the SettlementRouter (the authorization's `to`). */
    router?: Address;
    /** Routed: the fee recipient the relayer will pass to `settle`. */
    feeRecipient?: Address;
  };
};

export type VerifyAuthorizationReturnType =
  | { valid: true; payer: Address }
  | { valid: false; reason: AuthorizationInvalidReason; payer: Address; message: string };

/**
 * Verifies an authorization offline, in the x402 facilitator's order: domain, signature
 * (ECDSA recovery equals `from`, low `s` only), recipient, time window
 * (`validAfter <= now`, `validBefore >= now + margin`), value; for routed items the nonce must be
 * the commitment to `(payee, fee, feeRecipient, salt)` and `fee <= value`; and every field must fit
 * the router's packed layout (uint128 value and fee, uint48 times). Contract-wallet signatures
 * (`contractSignature`) cannot be checked offline and are reported as such.
 * Nothing is read from the chain: balance and nonce state come from {@link getAuthorizationStates}.
 *
 * @example
 * const result = await verifyAuthorization({
 *   domain: getTokenDomain(),
 *   authorization: signed,
 *   expected: { payTo: merchant, value: 10_000n, chainId: 8453 },
 * });
 * if (!result.valid) console.log(result.reason); // e.g. "invalid_exact_evm_signature"
 */
export async function verifyAuthorization(
  parameters: VerifyAuthorizationParameters,
): Promise<VerifyAuthorizationReturnType> {
  const { domain, authorization, expected = {} } = parameters;
  const payer = authorization.from;
  const invalid = (reason: AuthorizationInvalidReason, message: string) =>
    ({ valid: false, reason, payer, message }) as const;

  if (expected.chainId !== undefined && domain.chainId !== expected.chainId) {
    return invalid(
      "invalid_exact_evm_network_mismatch",
      `signed for chain ${domain.chainId}, expected ${expected.chainId}`,
    );
  }
  if (expected.token !== undefined && !isAddressEqual(domain.verifyingContract, expected.token)) {
    return invalid(
      "invalid_exact_evm_asset_mismatch",
      `signed for token ${domain.verifyingContract}, expected ${expected.token}`,
    );
  }

  if (authorization.kind === "routed") {
    const commitment = computeRoutedNonce(authorization);
    if (commitment.toLowerCase() !== authorization.nonce.toLowerCase()) {
      return invalid(
        "invalid_routed_nonce_commitment",
        "nonce is not keccak256(abi.encode(payee, fee, feeRecipient, salt))",
      );
    }
  }

  if (authorization.contractSignature) {
    return invalid(
      "invalid_exact_evm_signature",
      "a contract-wallet (ERC-1271) signature cannot be verified offline",
    );
  }
  const signature = parseEcdsaSignature(authorization.signature);
  if (!signature) {
    return invalid(
      "invalid_exact_evm_failed_to_parse_signature",
      "expected a 65-byte (r, s, v) or 64-byte EIP-2098 signature",
    );
  }
  if (BigInt(signature.s) > SECP256K1_HALF_N) {
    return invalid("invalid_exact_evm_signature", "high-s signature (malleable form) is rejected");
  }
  let signer: Address;
  try {
    const typedData = getAuthorizationTypedData({ domain, authorization });
    signer =
      typedData.primaryType === "TransferWithAuthorization"
        ? await recoverTypedDataAddress({ ...typedData, signature })
        : await recoverTypedDataAddress({ ...typedData, signature });
  } catch (error) {
    return invalid(
      "invalid_exact_evm_signature",
      `signature recovery failed: ${(error as Error).message.split("\n")[0]}`,
    );
  }
  if (!isAddressEqual(signer, authorization.from)) {
    return invalid(
      "invalid_exact_evm_signature",
      `signed by ${signer}, not by the authorization's from ${authorization.from}`,
    );
  }

  if (authorization.kind === "routed") {
    if (expected.router !== undefined && !isAddressEqual(authorization.to, expected.router)) {
      return invalid(
        "invalid_exact_evm_recipient_mismatch",
        `authorization is to ${authorization.to}, expected the router ${expected.router}`,
      );
    }
    if (expected.payTo !== undefined && !isAddressEqual(authorization.payee, expected.payTo)) {
      return invalid(
        "invalid_exact_evm_recipient_mismatch",
        `routed payee is ${authorization.payee}, expected ${expected.payTo}`,
      );
    }
    if (
      expected.feeRecipient !== undefined &&
      !isAddressEqual(authorization.feeRecipient, expected.feeRecipient)
    ) {
      return invalid(
        "invalid_routed_fee_recipient_mismatch",
        `fee recipient is ${authorization.feeRecipient}, expected ${expected.feeRecipient}`,
      );
    }
  } else if (expected.payTo !== undefined && !isAddressEqual(authorization.to, expected.payTo)) {
    return invalid(
      "invalid_exact_evm_recipient_mismatch",
      `authorization is to ${authorization.to}, expected ${expected.payTo}`,
    );
  }

  const now = toUnixSeconds(parameters.now);
  const margin = BigInt(parameters.validBeforeMarginSeconds ?? 6);
  if (authorization.validBefore < now + margin) {
    return invalid(
      "invalid_exact_evm_payload_authorization_valid_before",
      `validBefore ${authorization.validBefore} is earlier than now ${now} + ${margin} s`,
    );
  }
  if (authorization.validAfter > now) {
    return invalid(
      "invalid_exact_evm_payload_authorization_valid_after",
      `validAfter ${authorization.validAfter} is later than now ${now}`,
    );
  }

  if (expected.value !== undefined && authorization.value !== expected.value) {
    return invalid(
      "invalid_exact_evm_payload_authorization_value_mismatch",
      `value ${authorization.value}, expected ${expected.value}`,
    );
  }
  if (authorization.kind === "routed" && authorization.fee > authorization.value) {
    return invalid(
      "invalid_routed_fee_exceeds_value",
      `fee ${authorization.fee} exceeds value ${authorization.value}`,
    );
  }
  if (
    authorization.value > UINT128_MAX ||
    (authorization.kind === "routed" && authorization.fee > UINT128_MAX) ||
    authorization.validAfter > UINT48_MAX ||
    authorization.validBefore > UINT48_MAX
  ) {
    return invalid(
      "unsettleable_field_out_of_range",
      "value/fee must fit 128 bits and validAfter/validBefore 48 bits for the SettlementRouter",
    );
  }
  return { valid: true, payer };
}

function parseEcdsaSignature(signature: Hex): Signature | undefined {
  try {
    // parseSignature accepts v in {0, 1, 27, 28} and throws on anything else.
    if (size(signature) === 65) return parseSignature(signature);
    if (size(signature) === 64) {
      const compact = parseCompactSignature(signature);
      const s = BigInt(compact.yParityAndS) & ((1n << 255n) - 1n);
      const yParity = Number(BigInt(compact.yParityAndS) >> 255n);
      return { r: compact.r, s: `0x${s.toString(16).padStart(64, "0")}`, yParity };
    }
  } catch {
    return undefined;
  }
  return undefined;
}
