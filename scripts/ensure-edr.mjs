#!/usr/bin/env node
// Hardhat 3 runs on EDR, whose native binary ships as @nomicfoundation/edr-<platform>.
// npm on Node < 22 skips that optional package (its engines field asks for >= 22), so this
// script installs the exact version EDR expects when it is missing. It is idempotent.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
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

console.log(
  `ensure-edr: installing ${nativeName}@${version} (npm leaves it out when it runs on Node < 22)`,
);
// `npm pack` fetches the tarball from the registry without reconciling (and pruning) the tree.
const tmp = mkdtempSync(path.join(os.tmpdir(), "ensure-edr-"));
try {
  const out = execFileSync(
    "npm",
    ["pack", "--silent", "--pack-destination", tmp, `${nativeName}@${version}`],
    {
      cwd: root,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const tarball = path.join(tmp, out.trim().split("\n").pop());
  rmSync(nativeDir, { recursive: true, force: true });
  mkdirSync(nativeDir, { recursive: true });
  execFileSync("tar", ["-xzf", tarball, "-C", nativeDir, "--strip-components=1"], {
    stdio: "inherit",
  });
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
if (installedVersion() !== version) {
  console.error(`ensure-edr: ${nativeName}@${version} is still missing after install`);
  process.exit(1);
}
