import { type Hex, type Log, hexToBytes, parseEventLogs } from "viem";

import { clearingHouseAbi } from "../abi/clearingHouse.js";
import { BaseError } from "../errors/base.js";

/** `IClearingHouse.ClearStatus`, by name. */
export const CLEAR_STATUS = [
  "cleared",
  "unknown_operator",
  "cumulative_decreased",
  "already_cleared",
  "insufficient_balance",
  "invalid_signature",
  "payout_failed",
] as const;

export type ClearStatusName = (typeof CLEAR_STATUS)[number];

export type ClearResult =
  | { index: number; status: "success" }
  | { index: number; status: "failure"; reason: Exclude<ClearStatusName, "cleared"> };

/** A receipt holds no (or several) VouchersCleared events of the ClearingHouse, or an unknown status. */
export class ClearResultsDecodeError extends BaseError {
  override name = "ClearResultsDecodeError";
}

export type DecodeClearResultsParameters = {
  /** The ClearingHouse's address: only its events count. */
  clearingHouse: Hex;
  /** The `clear` transaction's receipt logs. */
  logs: readonly Log[];
};

/**
 * The per-voucher results of a `clear` transaction, from its receipt's one `VouchersCleared`
 * event: `{ status: "success" }` or `{ status: "failure", reason }` per voucher, in item order.
 *
 * @example
 * const receipt = await client.waitForTransactionReceipt({ hash });
 * const results = decodeClearResults({ clearingHouse, logs: receipt.logs });
 */
export function decodeClearResults({
  clearingHouse,
  logs,
}: DecodeClearResultsParameters): ClearResult[] {
  const events = parseEventLogs({
    abi: clearingHouseAbi,
    eventName: "VouchersCleared",
    logs: logs as Log[],
  }).filter((log) => log.address.toLowerCase() === clearingHouse.toLowerCase());
  if (events.length !== 1) {
    throw new ClearResultsDecodeError("The receipt does not hold exactly one VouchersCleared.", {
      details: `${events.length} VouchersCleared events from ${clearingHouse}`,
    });
  }
  return [...hexToBytes(events[0]!.args.results)].map((byte, index) => {
    const name = CLEAR_STATUS[byte];
    if (name === undefined) {
      throw new ClearResultsDecodeError("Unknown clear status.", {
        details: `status ${byte} at index ${index}`,
      });
    }
    return name === "cleared"
      ? { index, status: "success" as const }
      : { index, status: "failure" as const, reason: name };
  });
}
