import { walkCauses } from "./walkCauses.js";

/** Options every toolkit error accepts. */
export interface BaseErrorParameters {
  /** What went wrong underneath: a viem error, a node error, another toolkit error. */
  cause?: unknown;
  /** One more line of specifics (values, addresses) shown after the short message. */
  details?: string;
  /** Extra lines for a human reader (hints, context), shown after the details. */
  metaMessages?: readonly string[];
}

/**
 * The root of the toolkit's errors. `shortMessage` is one stable sentence, `details` the specifics,
 * `cause` the underlying error; `message` joins them for logs. Subclasses set `name`, so callers tell
 * errors apart with `instanceof` or `error.name`, never by parsing messages.
 *
 * @example
 * class BatchTooLargeError extends BaseError {
 *   override name = "BatchTooLargeError";
 *   constructor(size: number, max: number) {
 *     super("The batch does not fit in one transaction.", { details: `size ${size}, max ${max}` });
 *   }
 * }
 */
export class BaseError extends Error {
  override name = "BaseError";
  /** One stable sentence, without the details. */
  readonly shortMessage: string;
  /** Specifics: values, addresses, the underlying error's own short message. */
  readonly details: string | undefined;
  readonly metaMessages: readonly string[];
  override readonly cause: unknown;

  constructor(shortMessage: string, parameters: BaseErrorParameters = {}) {
    const details = parameters.details ?? causeDetails(parameters.cause);
    const metaMessages = parameters.metaMessages ?? [];
    const lines = [shortMessage];
    if (metaMessages.length > 0) lines.push("", ...metaMessages);
    if (details !== undefined) lines.push("", `Details: ${details}`);
    super(lines.join("\n"), parameters.cause === undefined ? {} : { cause: parameters.cause });
    this.shortMessage = shortMessage;
    this.details = details;
    this.metaMessages = metaMessages;
    this.cause = parameters.cause;
  }

  /**
   * The first error in the `cause` chain (this one included) for which `predicate` holds.
   *
   * @example
   * const revert = error.walk((e) => e instanceof ContractRevertError);
   */
  walk(predicate: (error: unknown) => boolean): unknown {
    return walkCauses(this, predicate);
  }
}

function causeDetails(cause: unknown): string | undefined {
  if (cause === undefined || cause === null) return undefined;
  if (typeof cause === "object") {
    const { shortMessage, details, message } = cause as Record<string, unknown>;
    if (typeof details === "string" && details.length > 0) return details;
    if (typeof shortMessage === "string") return shortMessage;
    if (typeof message === "string") return message;
  }
  return String(cause);
}
