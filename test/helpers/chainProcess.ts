import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

/** A free TCP port on the loopback interface. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(),
      );
    });
  });
}

/** A `npm run chain` node running as a child process. */
export interface ChainProcess {
  url: string;
  port: number;
  /** Everything the process printed so far. */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts `npm run chain` (scripts/chain.ts) on a free port and resolves once it printed that it is ready,
 * i.e. after USDC, Multicall3 and CreateX are installed and the default accounts are funded. `env` is
 * added to this process's environment (e.g. `{ BASE_RPC_URL }` to serve a fork).
 */
export async function startChain(
  options: {
    port?: number;
    args?: string[];
    timeoutMs?: number;
    env?: Record<string, string>;
  } = {},
) {
  const port = options.port ?? (await freePort());
  const child: ChildProcess = spawn(
    process.execPath,
    ["--import", "tsx", "scripts/chain.ts", "--port", String(port), ...(options.args ?? [])],
    {
      cwd: projectRoot,
      stdio: ["ignore", "pipe", "pipe"],
      detached: false,
      env: { ...process.env, ...options.env },
    },
  );
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const timeoutMs = options.timeoutMs ?? 120_000;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`chain not ready after ${timeoutMs} ms:\n${output}`)),
      timeoutMs,
    );
    const onData = () => {
      if (output.includes("Simulated Base ready at")) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`chain exited with ${code} before it was ready:\n${output}`));
    });
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  };
  const chain: ChainProcess = { url: `http://127.0.0.1:${port}`, port, output: () => output, stop };
  return chain;
}
