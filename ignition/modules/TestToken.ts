import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

/**
 * The EIP-3009 test token (`X402TestToken`: OpenZeppelin ERC20 + ERC3009 + permit, with USDC's
 * `bytes signature` overloads). `admin` (default: the deploying account) holds the admin and minter
 * roles. The EIP-712 name and version are parameters, so one deployment can mimic a USDC domain.
 *
 * @example
 * npx hardhat ignition deploy ignition/modules/TestToken.ts --parameters ignition/parameters/local.json
 */
export default buildModule("TestToken", (m) => {
  const name = m.getParameter("name", "x402 Test Dollar");
  const symbol = m.getParameter("symbol", "XTD");
  const version = m.getParameter("version", "1");
  const admin = m.getParameter("admin", m.getAccount(0));
  const token = m.contract("X402TestToken", [name, symbol, version, admin]);
  return { token };
});
