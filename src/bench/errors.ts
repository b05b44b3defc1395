import { BaseError } from "../errors/base.js";

/** An option of `runBenchmark` is missing, unknown or out of range. */
export class BenchmarkInputError extends BaseError {
  override name = "BenchmarkInputError";
  /** The option at fault, e.g. `batchSizes`. */
  readonly field: string;
  constructor(field: string, details: string) {
    super(`Invalid benchmark option "${field}".`, { details });
    this.field = field;
  }
}

/** A method needs an optional package that is not installed (the official x402 SDK). */
export class BenchmarkDependencyError extends BaseError {
  override name = "BenchmarkDependencyError";
  constructor(method: string, packages: readonly string[], cause: unknown) {
    super(
      `The benchmark method ${method} needs ${packages.join(" and ")}, which are not installed.`,
      {
        cause,
        metaMessages: [`Install them next to x402-clearing: npm install ${packages.join(" ")}`],
      },
    );
  }
}

/** The node cannot run a benchmark: too few unlocked accounts, no test actions, a missing contract. */
export class BenchmarkChainError extends BaseError {
  override name = "BenchmarkChainError";
}
