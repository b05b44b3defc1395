import type { HardhatPlugin } from "hardhat/types/plugins";

/**
 * Gives every in-process simulated Base what real Base has from the start and Hardhat Ignition's create2
 * strategy needs: CreateX at its canonical address (Ignition installs it by itself only on chain 31337).
 * USDC and Multicall3 stay with `bootstrapBase`, which tests and scripts call explicitly.
 */
const simulatedBasePlugin: HardhatPlugin = {
  id: "x402-clearing:simulated-base",
  hookHandlers: {
    network: () => import("./network.js"),
  },
};

export default simulatedBasePlugin;
