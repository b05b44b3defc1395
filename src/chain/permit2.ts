import {
  concat,
  encodeAbiParameters,
  keccak256,
  numberToHex,
  slice,
  toHex,
  type Address,
  type Hex,
} from "viem";

import { PERMIT2_ADDRESS } from "./base.js";
import { PERMIT2_IMMUTABLE_OFFSETS, PERMIT2_RUNTIME_CODE } from "./permit2Deployment.js";

const EIP712_DOMAIN_TYPEHASH = keccak256(
  toHex("EIP712Domain(string name,uint256 chainId,address verifyingContract)"),
);
const PERMIT2_NAME_HASH = keccak256(toHex("Permit2"));

/**
 * Permit2's EIP-712 domain separator on a chain: what `DOMAIN_SEPARATOR()` returns at `address`
 * (default: the canonical {@link PERMIT2_ADDRESS}) when the chain id is `chainId`.
 *
 * @example
 * getPermit2DomainSeparator(8453); // Permit2's domain separator on Base
 */
export function getPermit2DomainSeparator(
  chainId: number,
  address: Address = PERMIT2_ADDRESS,
): Hex {
  return keccak256(
    encodeAbiParameters(
      [{ type: "bytes32" }, { type: "bytes32" }, { type: "uint256" }, { type: "address" }],
      [EIP712_DOMAIN_TYPEHASH, PERMIT2_NAME_HASH, BigInt(chainId), address],
    ),
  );
}

/**
 * The runtime code Permit2's constructor leaves at `address` on chain `chainId`: its immutables hold
 * that chain id and the domain separator of that address there, as a deployment at the canonical
 * address would have cached them.
 *
 * @example
 * await setCode(client, { address: PERMIT2_ADDRESS, bytecode: permit2RuntimeCode(8453) });
 */
export function permit2RuntimeCode(chainId: number, address: Address = PERMIT2_ADDRESS): Hex {
  let code: Hex = PERMIT2_RUNTIME_CODE;
  const put = (offsets: readonly number[], word: Hex) => {
    for (const offset of offsets) {
      code = concat([slice(code, 0, offset), word, slice(code, offset + 32)]);
    }
  };
  put(PERMIT2_IMMUTABLE_OFFSETS.cachedChainId, numberToHex(chainId, { size: 32 }));
  put(PERMIT2_IMMUTABLE_OFFSETS.cachedDomainSeparator, getPermit2DomainSeparator(chainId, address));
  return code;
}
