import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

import SettlementRouterModule from "./SettlementRouter.js";
import TestTokenModule from "./TestToken.js";

/**
 * Everything a local chain needs beside what `bootstrapBase` installs (USDC, Multicall3, CreateX):
 * the SettlementRouter and the EIP-3009 test token.
 *
 * @example
 * HARDHAT_IGNITION_CONFIRM_DEPLOYMENT=1 npx hardhat ignition deploy ignition/modules/LocalStack.ts --strategy create2 \
 *   --parameters ignition/parameters/local.json --network localhost
 */
export default buildModule("LocalStack", (m) => {
  const { router } = m.useModule(SettlementRouterModule);
  const { token } = m.useModule(TestTokenModule);
  return { router, token };
});
