import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import { expect } from "chai";

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

describe("toolkit: built package", () => {
  let workdir: string;

  before(async () => {
    workdir = await mkdtemp(path.join(tmpdir(), "x402-clearing-pack-"));
  });

  after(async () => {
    if (workdir) await rm(workdir, { recursive: true, force: true });
  });

  it("npm run build emits dist/ and the packed package imports with plain node", async () => {
    await run("npm", ["run", "build"], { cwd: root, maxBuffer: 64 * 1024 * 1024 });
    expect(existsSync(path.join(root, "dist", "index.js"))).to.equal(true);
    expect(existsSync(path.join(root, "dist", "index.d.ts"))).to.equal(true);

    const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", workdir], {
      cwd: root,
      maxBuffer: 64 * 1024 * 1024,
    });
    const [packed] = JSON.parse(stdout) as [{ filename: string; files: { path: string }[] }];
    const files = packed.files.map((file) => file.path);
    expect(files).to.include("dist/index.js");
    expect(files).to.include("dist/index.d.ts");
    expect(files.filter((file) => !file.startsWith("dist/") && file !== "package.json")).to.satisfy(
      (rest: string[]) => rest.every((file) => /^(README|LICENSE)/i.test(file)),
    );

    // Install by hand: extract into node_modules/x402-clearing.
    const modules = path.join(workdir, "app", "node_modules");
    const target = path.join(modules, "x402-clearing");
    await mkdir(target, { recursive: true });
    await run("tar", [
      "-xzf",
      path.join(workdir, packed.filename),
      "-C",
      target,
      "--strip-components=1",
    ]);
    // The package's runtime dependencies (viem, zod, …), linked from this project's node_modules.
    const manifest = JSON.parse(await readFile(path.join(root, "package.json"), "utf8"));
    const dependencies = Object.keys(manifest.dependencies ?? {});
    expect(dependencies).to.include("viem");
    for (const name of dependencies) {
      await mkdir(path.dirname(path.join(modules, name)), { recursive: true }); // @scope/
      await symlink(path.join(root, "node_modules", name), path.join(modules, name), "dir");
    }
    const installed = new Set([...dependencies, "x402-clearing"].map((name) => name.split("/")[0]));
    expect(await readdir(modules)).to.have.members([...installed]);

    const script = `
      import * as toolkit from "x402-clearing";
      import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
      const payer = privateKeyToAccount(generatePrivateKey());
      const domain = toolkit.getTokenDomain();
      const authorization = toolkit.buildDirectAuthorization({
        from: payer.address, to: "0x000000000000000000000000000000000000dEaD", value: 1000n,
      });
      const signed = await toolkit.signAuthorization(payer, { domain, authorization });
      const ok = await toolkit.verifyAuthorization({ domain, authorization: signed });
      const bad = await toolkit.verifyAuthorization({ domain, authorization: { ...signed, value: 1n } });
      console.log(JSON.stringify({
        ok,
        bad: bad.reason,
        abi: toolkit.fiatTokenV2_2Abi.length > 0,
        exports: ["settleAuthorizations", "decodeRevertReason", "bootstrapBase", "BatchFacilitator"]
          .filter((name) => typeof toolkit[name] !== "function"),
      }));
    `;
    const result = await run(process.execPath, ["--input-type=module", "-e", script], {
      cwd: path.join(workdir, "app"),
    });
    const output = JSON.parse(result.stdout.trim());
    expect(output.ok.valid).to.equal(true);
    expect(output.bad).to.equal("invalid_exact_evm_signature");
    expect(output.abi).to.equal(true);
    expect(output.exports).to.deep.equal([]);
    // Importing the toolkit loads nothing experimental (node:sqlite stays behind the facilitator store).
    expect(result.stderr).to.equal("");
    // The facilitator's durable store comes from its own subpath.
    const store = await run(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `import { FacilitatorStore } from "x402-clearing/facilitator/store";
         console.log(typeof FacilitatorStore);`,
      ],
      { cwd: path.join(workdir, "app") },
    );
    expect(store.stdout.trim()).to.equal("function");
  });
});
