import { expect } from "chai";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

/**
 * Checks measured gas figures against a snapshot file, exactly and in both directions: every
 * measured scenario and field must equal its stored value, and every stored scenario and field
 * must have been measured. With `UPDATE_GAS_SNAPSHOTS=1` it writes `measured` instead, scenarios
 * and fields sorted, so the file holds exactly what was measured.
 *
 * @param file The snapshot file (JSON: scenario → field → number).
 * @param measured Scenario → field → measured value, from receipts.
 */
export function checkGasSnapshots(
  file: string,
  measured: Record<string, Record<string, number>>,
): void {
  const sorted = Object.fromEntries(
    Object.keys(measured)
      .sort()
      .map((scenario) => [
        scenario,
        Object.fromEntries(
          Object.keys(measured[scenario]!)
            .sort()
            .map((field) => [field, measured[scenario]![field]!]),
        ),
      ]),
  );
  if (process.env.UPDATE_GAS_SNAPSHOTS === "1") {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, `${JSON.stringify(sorted, null, 2)}\n`);
    return;
  }
  let stored: Record<string, Record<string, number>>;
  try {
    stored = JSON.parse(readFileSync(file, "utf8")) as Record<string, Record<string, number>>;
  } catch (error) {
    throw new Error(`no gas snapshots in ${file}: run with UPDATE_GAS_SNAPSHOTS=1`, {
      cause: error,
    });
  }
  expect(sorted, `gas snapshots in ${file} (UPDATE_GAS_SNAPSHOTS=1 to accept)`).to.deep.equal(
    stored,
  );
}
