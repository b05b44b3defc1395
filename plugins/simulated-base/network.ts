import type { NetworkHooks } from "hardhat/types/hooks";
import { createTestClient, custom } from "viem";
import { getCode } from "viem/actions";

import { CREATEX_ADDRESS } from "../../src/chain/base.js";
import { installCreateX } from "../../src/chain/bootstrap.js";

export default async (): Promise<Partial<NetworkHooks>> => ({
  async newConnection(context, next) {
    const connection = await next(context);
    if (connection.networkConfig.type !== "edr-simulated") return connection;
    const client = createTestClient({ mode: "hardhat", transport: custom(connection.provider) });
    const code = await getCode(client, { address: CREATEX_ADDRESS });
    if (code === undefined || code === "0x") await installCreateX(client);
    return connection;
  },
});
