import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

/**
 * The SettlementRouter: permissionless, no constructor arguments, no admin. Deploy it with the
 * `create2` strategy (CreateX at its canonical address, salt `ignition.strategyConfig.create2.salt`
 * in hardhat.config.ts) and it lands at the same address on every chain.
 *
 * @example
 * npx hardhat ignition deploy ignition/modules/SettlementRouter.ts --strategy create2 --network localhost
 */
export default buildModule("SettlementRouter", (m) => {
  const router = m.contract("SettlementRouter");
  return { router };
});
