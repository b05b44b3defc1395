/**
 * Errors the bench and replay commands turn into a one-line message and exit status 2
 * (a bad flag, a chain that cannot be reached), as opposed to bugs, which keep their stack.
 */
export class BenchUsageError extends Error {
  override name = "BenchUsageError";
}

/** The chain given with --rpc (or the fork URL) could not be reached or is not usable. */
export class BenchChainError extends Error {
  override name = "BenchChainError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
