import { type Hex, isHex } from "viem";

import { walkCauses } from "./walkCauses.js";

/**
 * The revert data carried by an error: walks the `cause` chain of a viem error (or any error) and
 * returns the first non-empty revert data found in `raw` (viem's `ContractFunctionRevertedError`),
 * `data` (viem's `RawContractError`, JSON-RPC errors) or `data.data` (nested node errors). Returns "0x"
 * when the chain only holds empty revert data, undefined when it holds none.
 *
 * @example
 * try {
 *   await client.writeContract(request);
 * } catch (error) {
 *   const data = findRevertData(error); // "0x08c379a0..." or undefined
 * }
 */
export function findRevertData(error: unknown): Hex | undefined {
  let empty = false;
  const found = walkCauses(error, (node) => {
    for (const candidate of candidates(node)) {
      if (candidate === "0x") empty = true;
      else return true;
    }
    return false;
  });
  if (found !== undefined) return candidates(found).find((c) => c !== "0x");
  return empty ? "0x" : undefined;
}

/** Hex strings in the places errors keep revert data. */
function candidates(node: unknown): Hex[] {
  if (typeof node !== "object" || node === null) return [];
  const { raw, data } = node as { raw?: unknown; data?: unknown };
  const nested =
    typeof data === "object" && data !== null ? (data as { data?: unknown }).data : undefined;
  return [raw, data, nested].filter((v): v is Hex => typeof v === "string" && isHex(v));
}
