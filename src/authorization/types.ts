import type { Address, Hex } from "viem";

/**
 * The EIP-712 domain of an EIP-3009 token, e.g. USDC on Base:
 * `{ name: "USD Coin", version: "2", chainId: 8453, verifyingContract: USDC_ADDRESS }`.
 */
export type TokenDomain = {
  name: string;
  version: string;
  chainId: number;
  verifyingContract: Address;
};

/** The six fields every EIP-3009 authorization signs. Amounts and times are integers. */
export type AuthorizationFields = {
  /** The payer (authorizer). */
  from: Address;
  /** Direct: the payee. Routed: the SettlementRouter. */
  to: Address;
  /** Amount in the token's smallest unit. */
  value: bigint;
  /** Unix seconds; the token requires `validAfter < block.timestamp`. */
  validAfter: bigint;
  /** Unix seconds; the token requires `block.timestamp < validBefore`. */
  validBefore: bigint;
  /** 32-byte nonce, unique per payer. */
  nonce: Hex;
};

/**
 * A direct authorization: an EIP-3009 `TransferWithAuthorization` to the payee, exactly what an
 * unchanged x402 `exact` client signs.
 */
export type DirectAuthorization = AuthorizationFields & { kind: "direct" };

/**
 * A routed authorization: an EIP-3009 `ReceiveWithAuthorization` with `to` = the SettlementRouter
 * and `nonce = keccak256(abi.encode(payee, fee, feeRecipient, salt))`, so the payee, the fee and
 * the fee recipient are bound by the signature and only the router can execute it.
 */
export type RoutedAuthorization = AuthorizationFields & {
  kind: "routed";
  /** Receives `value - fee`. */
  payee: Address;
  /** Paid to `feeRecipient`, the address the relayer passes to `settle`. */
  fee: bigint;
  feeRecipient: Address;
  /** Random 32 bytes that make the nonce unique. */
  salt: Hex;
};

/** Either kind of authorization, unsigned. */
export type Authorization = DirectAuthorization | RoutedAuthorization;

/**
 * An authorization with its signature: 65 bytes `r ‖ s ‖ v` for an EOA (64-byte EIP-2098 compact
 * signatures are accepted too), or arbitrary bytes for an ERC-1271 contract wallet
 * (`contractSignature: true`, passed unchanged to the token's `bytes signature` overload).
 */
export type SignedAuthorization<authorization extends Authorization = Authorization> =
  authorization & {
    signature: Hex;
    /** The payer is a contract wallet; `signature` is checked by ERC-1271 on chain. */
    contractSignature?: boolean;
  };

/** The EIP-712 primary type a kind of authorization is signed as. */
export type AuthorizationPrimaryType =
  "TransferWithAuthorization" | "ReceiveWithAuthorization" | "CancelAuthorization";
