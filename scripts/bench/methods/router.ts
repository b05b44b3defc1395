import type { Address } from "viem";

import type { BenchChain, NodeWallet } from "../chain.js";
import { deployArtifact } from "../tokens.js";
import type { MethodContext, MethodOutcome } from "./types.js";

export async function deployRouter(chain: BenchChain, wallet: NodeWallet): Promise<Address> {
  return deployArtifact(chain, wallet, "SettlementRouter", []);
}

export async function runRouterDirect(_ctx: MethodContext): Promise<MethodOutcome> {
  throw new Error("router-direct: not wired yet");
}

export async function runRouterRouted(_ctx: MethodContext): Promise<MethodOutcome> {
  throw new Error("router-routed: not wired yet");
}
