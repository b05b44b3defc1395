import { overrideTask } from "hardhat/config";
import type { HardhatPlugin } from "hardhat/types/plugins";

/**
 * Keeps Hardhat Ignition's deployment state from crossing chains that share a chain id (the in-process
 * simulated Base, every `npm run chain` node and real Base are all chain 8453): `ignition deploy` without
 * `--deployment-id` records its state under `<network>-<chainId>` (e.g. `localhost-8453`, `base-8453`)
 * instead of Ignition's `chain-<chainId>`, and on a Hardhat node (one that answers `hardhat_metadata`, such
 * as `npm run chain`) the state is bound to that node instance: a record left by an earlier node is
 * dropped before deploying, as Ignition itself does for chain 31337.
 */
const ignitionStatePlugin: HardhatPlugin = {
  id: "x402-clearing:ignition-state",
  dependencies: () => [import("@nomicfoundation/hardhat-ignition")],
  tasks: [
    overrideTask(["ignition", "deploy"])
      .setAction(() => import("./deploy.js"))
      .build(),
  ],
};

export default ignitionStatePlugin;
