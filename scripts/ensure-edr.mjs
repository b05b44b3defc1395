#!/usr/bin/env node
// Hardhat 3 runs on EDR, whose native binary ships as @nomicfoundation/edr-<platform>.
// npm on Node < 22 skips that optional package (its engines field asks for >= 22), so this
// script installs the exact version EDR expects when it is missing. It is idempotent.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
// EDR's `exports` hides its package.json from require.resolve, so read it by path.
const edrPkgPath = path.join(root, "node_modules", "@nomicfoundation", "edr", "package.json");
if (!existsSync(edrPkgPath)) process.exit(0); // Hardhat not installed (e.g. a production install).

const edrPkg = JSON.parse(readFileSync(edrPkgPath, "utf8"));
const { platform, arch } = process;
let libc = "";
if (platform === "linux") {
  const report = process.report?.getReport?.();
  libc = report?.header?.glibcVersionRuntime ? "-gnu" : "-musl";
}
const nativeName = `@nomicfoundation/edr-${platform}-${arch}${libc}`;
const version = edrPkg.optionalDependencies?.[nativeName] ?? edrPkg.version;
const nativeDir = path.join(root, "node_modules", nativeName);

function installedVersion() {
  const p = path.join(nativeDir, "package.json");
  if (!existsSync(p)) return undefined;
  return JSON.parse(readFileSync(p, "utf8")).version;
}

if (installedVersion() === version) process.exit(0);

console.log(`ensure-edr: installing ${nativeName}@${version} (skipped by npm on Node ${process.versions.node})`);
execFileSync(
  "npm",
  ["install", "--no-save", "--no-package-lock", "--ignore-scripts", "--engine-strict=false", "--force", `${nativeName}@${version}`],
  { cwd: root, stdio: "inherit" },
);
if (installedVersion() !== version) {
  console.error(`ensure-edr: ${nativeName}@${version} is still missing after install`);
  process.exit(1);
}
