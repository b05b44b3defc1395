/**
 * One line saying what went wrong in `error`, for per-item failures (which carry it beside the error
 * object): for a viem error the node's own words (viem keeps them as `details`, e.g. "Sender doesn't
 * have enough funds to send tx..."), else `shortMessage` with the details, else the message's first line.
 *
 * @example
 * shortMessageOf(error); // "Sender doesn't have enough funds to send tx. The max upfront cost is: ..."
 */
export function shortMessageOf(error: unknown): string {
  if (typeof error !== "object" || error === null) return String(error);
  const { shortMessage, details, message, version } = error as Record<string, unknown>;
  const text = (value: unknown): value is string => typeof value === "string" && value !== "";
  if (text(version) && version.startsWith("viem@") && text(details)) return details;
  if (text(shortMessage)) return text(details) ? `${shortMessage} (${details})` : shortMessage;
  if (text(message)) return message.split("\n")[0]!;
  return String(error);
}
