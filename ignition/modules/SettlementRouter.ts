import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

/**
 * The SettlementRouter: permissionless, no constructor arguments, no admin. Deploy it with the
 * `create2` strategy (CreateX at its canonical address, with the package's SETTLEMENT_ROUTER_SALT from
 * src/deploy/salt.ts, which hardhat.config.ts passes as `ignition.strategyConfig.create2.salt`) and it
 * lands at SETTLEMENT_ROUTER_ADDRESS on every chain, where `ensureRouter` finds or deploys it too.
 *
 * @example
 * HARDHAT_IGNITION_CONFIRM_DEPLOYMENT=1 npx hardhat ignition deploy ignition/modules/SettlementRouter.ts  *   --strategy create2 --network localhost
 */
export default buildModule("SettlementRouter", (m) => {
  const router = m.contract("SettlementRouter");
  return { router };
});
