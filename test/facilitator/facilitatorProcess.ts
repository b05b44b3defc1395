import { spawn, type ChildProcess } from "node:child_process";

import { freePort } from "../helpers/chainProcess.js";
import { projectRoot, RELAYER_KEY, type LocalBase } from "./harness.js";

/** mulberry32: a small seeded PRNG, so a schedule can be run again from its seed. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A `npm run facilitator` child process. */
export interface FacilitatorChild {
  process: ChildProcess;
  url: string;
  output: () => string;
}

/**
 * `npm run facilitator` as a child process on a free port (the relayer's key, the local node, the
 * router), with `env` added; resolved once it logs that it listens.
 */
export async function spawnFacilitator(
  base: LocalBase,
  dbPath: string,
  env: Record<string, string> = {},
): Promise<FacilitatorChild> {
  const port = await freePort();
  const child = spawn(process.execPath, ["--import", "tsx", "scripts/facilitator.ts"], {
    cwd: projectRoot,
    env: {
      ...process.env,
      PORT: String(port),
      EVM_PRIVATE_KEY: RELAYER_KEY,
      EVM_NETWORK: "base",
      EVM_RPC_URL: base.rpcUrl,
      ROUTER_ADDRESS: base.router,
      FACILITATOR_DB: dbPath,
      MAX_WAIT_MS: "150",
      POLLING_INTERVAL_MS: "100",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`facilitator did not start:\n${output}`)),
      60_000,
    );
    const check = () => {
      if (output.includes("Facilitator listening")) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on("data", check);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`facilitator exited (${code ?? signal}) before listening:\n${output}`));
    });
  });
  child.removeAllListeners("exit");
  return { process: child, url: `http://127.0.0.1:${port}`, output: () => output };
}

/** SIGKILL, and wait for the exit. */
export async function kill9(child: FacilitatorChild): Promise<void> {
  if (child.process.exitCode !== null || child.process.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.process.once("exit", () => resolve()));
  child.process.kill("SIGKILL");
  await exited;
}
