import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

import { BaseError } from "../../src/errors/base.js";

/** Scenario name → field (`gasUsed`, `gasPerPayment`, …) → value. */
export type GasSnapshots = Record<string, Record<string, number>>;

/** The measured gas differs from the stored snapshots: lists every difference. */
export class GasSnapshotMismatchError extends BaseError {
  override name = "GasSnapshotMismatchError";
  readonly differences: readonly string[];

  constructor(file: string, differences: readonly string[]) {
    super(`Gas snapshots differ from ${path.basename(file)}.`, {
      details: `${differences.length} difference(s)`,
      metaMessages: [
        ...differences,
        "Run with UPDATE_GAS_SNAPSHOTS=1 to accept the measured values on purpose.",
      ],
    });
    this.differences = differences;
  }
}

/** Every difference between `stored` and `measured`, both ways: missing, orphan, changed. */
export function diffGasSnapshots(stored: GasSnapshots, measured: GasSnapshots): string[] {
  const differences: string[] = [];
  for (const name of Object.keys(measured).sort()) {
    const want = stored[name];
    if (want === undefined) {
      differences.push(`${name}: measured but has no snapshot`);
      continue;
    }
    const got = measured[name]!;
    const fields = [...new Set([...Object.keys(want), ...Object.keys(got)])].sort();
    for (const field of fields) {
      if (!(field in got)) differences.push(`${name}.${field}: in the snapshot but not measured`);
      else if (!(field in want))
        differences.push(`${name}.${field}: measured but not in the snapshot`);
      else if (got[field] !== want[field]) {
        const delta = got[field]! - want[field]!;
        differences.push(
          `${name}.${field}: measured ${got[field]}, snapshot ${want[field]} (${delta > 0 ? "+" : ""}${delta})`,
        );
      }
    }
  }
  for (const name of Object.keys(stored).sort()) {
    if (!(name in measured)) differences.push(`${name}: orphan snapshot, not measured by this run`);
  }
  return differences;
}

/** `snapshots` with its scenarios and their fields in name order. */
function sorted(snapshots: GasSnapshots): GasSnapshots {
  return Object.fromEntries(
    Object.keys(snapshots)
      .sort()
      .map((name) => [
        name,
        Object.fromEntries(
          Object.keys(snapshots[name]!)
            .sort()
            .map((field) => [field, snapshots[name]![field]!]),
        ),
      ]),
  );
}

/**
 * Checks `measured` against the snapshot file exactly and both ways: a scenario or field that is
 * missing on either side, or any value that differs by as little as one, throws a
 * {@link GasSnapshotMismatchError} listing every difference. With `UPDATE_GAS_SNAPSHOTS=1` (or
 * `update: true`) it writes the file instead: exactly the measured entries, sorted, nothing else.
 *
 * @example
 * checkGasSnapshots("gas-snapshots/router.json", { "settle-direct-1": { gasUsed: 93_546 } });
 */
export function checkGasSnapshots(
  file: string,
  measured: GasSnapshots,
  options: { update?: boolean } = {},
): void {
  const update = options.update ?? process.env.UPDATE_GAS_SNAPSHOTS === "1";
  if (update) {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, `${JSON.stringify(sorted(measured), null, 2)}\n`);
    return;
  }
  const stored: GasSnapshots = existsSync(file)
    ? (JSON.parse(readFileSync(file, "utf8")) as GasSnapshots)
    : {};
  const differences = diffGasSnapshots(stored, measured);
  if (differences.length > 0) throw new GasSnapshotMismatchError(file, differences);
}
