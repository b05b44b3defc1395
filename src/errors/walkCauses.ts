/**
 * The first error in `error`'s `cause` chain (itself included) for which `predicate` holds, or undefined.
 * Stops on cycles.
 *
 * @example
 * const raw = walkCauses(error, (e) => e instanceof RawContractError);
 */
export function walkCauses(error: unknown, predicate: (error: unknown) => boolean): unknown {
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (current !== undefined && current !== null && !seen.has(current)) {
    if (predicate(current)) return current;
    seen.add(current);
    current = typeof current === "object" ? (current as { cause?: unknown }).cause : undefined;
  }
  return undefined;
}
