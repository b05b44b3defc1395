import { parseAbi, type Address, type Client, type Hex } from "viem";
import { readContract } from "viem/actions";

/** OP-stack GasPriceOracle predeploy (Base, OP Mainnet...). */
export const GAS_PRICE_ORACLE_ADDRESS: Address = "0x420000000000000000000000000000000000000F";

const gasPriceOracleAbi = parseAbi([
  "function getL1GasUsed(bytes _data) view returns (uint256)",
  "function getL1Fee(bytes _data) view returns (uint256)",
  "function getL1FeeUpperBound(uint256 _unsignedTxSize) view returns (uint256)",
]);

export type GetL1DataEstimateParameters = {
  /** The unsigned serialized transaction (e.g. viem `serializeTransaction` without signature). */
  serializedTransaction: Hex;
  gasPriceOracle?: Address;
};

export type GetL1DataEstimateReturnType = {
  /** GasPriceOracle `getL1GasUsed`: 16 gas per estimated compressed byte (Fjord FastLZ model). */
  l1GasUsed: bigint;
  /** The estimated compressed size in bytes, `l1GasUsed / 16`: what Base posts to L1. */
  l1Bytes: bigint;
  /** GasPriceOracle `getL1Fee` at the current L1 prices, in wei. */
  l1Fee: bigint;
  /** GasPriceOracle `getL1FeeUpperBound(size)`, in wei. */
  l1FeeUpperBound: bigint;
};

/**
 * Asks the OP-stack GasPriceOracle what a transaction costs in L1 data: the Fjord FastLZ size
 * estimate (`getL1GasUsed`, 16 gas per byte; the oracle adds 68 bytes for the missing signature),
 * the fee, and the fee upper bound. Use it to compare calldata layouts before sending; for mined
 * transactions {@link getReceiptL1Data} reads the same numbers from the receipt.
 *
 * @example
 * const unsigned = serializeTransaction({ chainId: 8453, type: "eip1559", to: router, data, gas, nonce,
 *   maxFeePerGas, maxPriorityFeePerGas });
 * const { l1Bytes } = await getL1DataEstimate(publicClient, { serializedTransaction: unsigned });
 */
export async function getL1DataEstimate(
  client: Client,
  parameters: GetL1DataEstimateParameters,
): Promise<GetL1DataEstimateReturnType> {
  const address = parameters.gasPriceOracle ?? GAS_PRICE_ORACLE_ADDRESS;
  const data = parameters.serializedTransaction;
  const unsignedSize = BigInt((data.length - 2) / 2);
  const [l1GasUsed, l1Fee, l1FeeUpperBound] = await Promise.all([
    readContract(client, {
      address,
      abi: gasPriceOracleAbi,
      functionName: "getL1GasUsed",
      args: [data],
    }),
    readContract(client, {
      address,
      abi: gasPriceOracleAbi,
      functionName: "getL1Fee",
      args: [data],
    }),
    readContract(client, {
      address,
      abi: gasPriceOracleAbi,
      functionName: "getL1FeeUpperBound",
      args: [unsignedSize],
    }),
  ]);
  return { l1GasUsed, l1Bytes: l1GasUsed / 16n, l1Fee, l1FeeUpperBound };
}
