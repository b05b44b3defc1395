/**
 * Errors the bench and replay commands turn into a one-line message and exit status 2
 * (a bad flag, a chain that cannot be reached), as opposed to bugs, which keep their stack.
 */
import { BaseError } from "../../src/errors/base.js";

/** A flag is unknown or its value is out of range. */
export class BenchUsageError extends BaseError {
  override name = "BenchUsageError";
}

/** The chain given with --rpc (or the fork URL) could not be reached or is not usable. */
export class BenchChainError extends BaseError {
  override name = "BenchChainError";
}
