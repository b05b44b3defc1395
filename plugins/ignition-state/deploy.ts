import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";

import type { TaskOverrideActionFunction } from "hardhat/types/tasks";

/** Which node instance each deployment id's state was recorded on (Hardhat nodes only). */
const INSTANCES_FILE = "x402-ignition-node-instances.json";

async function readInstances(file: string): Promise<Record<string, string>> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as Record<string, string>;
  } catch {
    return {};
  }
}

const deploy: TaskOverrideActionFunction = async (args, hre, runSuper) => {
  const connection = await hre.network.create();
  try {
    // The in-process network keeps no state on disk unless asked to.
    if (connection.networkConfig.type === "edr-simulated") return await runSuper(args);
    const chainId = Number(await connection.provider.request({ method: "eth_chainId" }));
    const given = typeof args.deploymentId === "string" && args.deploymentId !== "";
    const deploymentId = given
      ? (args.deploymentId as string)
      : `${connection.networkName}-${chainId}`;

    let instanceId: string | undefined;
    try {
      const metadata = (await connection.provider.request({ method: "hardhat_metadata" })) as {
        instanceId?: string;
      };
      instanceId = metadata.instanceId;
    } catch {
      // Not a Hardhat node (a real chain): its state is kept as it is.
    }
    if (instanceId !== undefined) {
      const file = path.join(hre.config.paths.cache, INSTANCES_FILE);
      const instances = await readInstances(file);
      if (instances[deploymentId] !== instanceId) {
        const stale = path.join(hre.config.paths.ignition, "deployments", deploymentId);
        await rm(stale, { recursive: true, force: true });
        instances[deploymentId] = instanceId;
        await mkdir(path.dirname(file), { recursive: true });
        await writeFile(file, JSON.stringify(instances, null, 2) + "\n");
      }
    }
    return await runSuper({ ...args, deploymentId });
  } finally {
    await connection.close();
  }
};

export default deploy;
