import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

/**
 * The ClearingHouse: permissionless, no constructor arguments, no admin. Deploy it with the
 * `create2` strategy (CreateX at its canonical address, salt `ignition.strategyConfig.create2.salt`
 * in hardhat.config.ts) and it lands at the same address on every chain; its EIP-712 domain
 * differs per chain only by the chain id.
 *
 * @example
 * npx hardhat ignition deploy ignition/modules/ClearingHouse.ts --strategy create2 --network localhost
 */
export default buildModule("ClearingHouse", (m) => {
  const clearingHouse = m.contract("ClearingHouse");
  return { clearingHouse };
});
