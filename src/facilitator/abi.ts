/**
 * The EIP-3009 surface the facilitator calls and reads (balanceOf, name, version, authorizationState, the
 * `bytes signature` transferWithAuthorization, the AuthorizationUsed and Transfer events): Circle's
 * FiatTokenV2_2 ABI, generated into src/abi; the test token has the same functions and events.
 */
export { fiatTokenV2_2Abi as eip3009Abi } from "../abi/fiatTokenV2_2.js";

/** ERC-1271's signature check (contract wallets). */
export const erc1271Abi = [
  {
    type: "function",
    name: "isValidSignature",
    stateMutability: "view",
    inputs: [
      { name: "hash", type: "bytes32" },
      { name: "signature", type: "bytes" },
    ],
    outputs: [{ name: "", type: "bytes4" }],
  },
] as const;

/** ERC-1271's magic return value. */
export const ERC1271_MAGIC_VALUE = "0x1626ba7e";
