/**
 * Microseconds per offline voucher verification (EIP-712 digest included), as the operator's
 * ledger runs it: the toolkit's `verifyVoucher` (libsecp256k1) against viem's pure-JS
 * `recoverTypedDataAddress`, in one run, on the same signed vouchers.
 *
 *   npx tsx scripts/clearing/verifyBench.ts [count]
 */
import { recoverTypedDataAddress } from "viem";
import { privateKeyToAccount } from "viem/accounts";

import { getClearingHouseDomain } from "../../src/clearing/getClearingHouseDomain.js";
import { getDomainSeparator } from "../../src/clearing/getDomainSeparator.js";
import { getVoucherTypedData } from "../../src/clearing/getVoucherTypedData.js";
import { signVoucher } from "../../src/clearing/signVoucher.js";
import { verifyVoucher } from "../../src/clearing/verifyVoucher.js";
import { USDC_ADDRESS } from "../../src/chain/base.js";

const count = Number(process.argv[2] ?? 2_000);
const domain = getClearingHouseDomain({
  chainId: 8453,
  clearingHouse: "0x00000000000000000000000000000000c1ea2000",
});
const domainSeparator = getDomainSeparator(domain);
const payer = privateKeyToAccount(`0x${"11".repeat(32)}`);
const operator = "0x0000000000000000000000000000000000000a11";

const signed = await Promise.all(
  Array.from({ length: count }, (_, i) =>
    signVoucher(payer, {
      domain,
      voucher: {
        payer: payer.address,
        payee: `0x${(i + 1).toString(16).padStart(40, "0")}`,
        token: USDC_ADDRESS,
        operator,
        cumulativeValue: BigInt(10_000 * (i + 1)),
        cumulativeFee: BigInt(100 * (i + 1)),
      },
    }),
  ),
);

function percentile(sorted: number[], p: number) {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

async function measure(label: string, check: (i: number) => Promise<boolean> | boolean) {
  const micros: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = process.hrtime.bigint();
    const ok = await check(i);
    micros.push(Number(process.hrtime.bigint() - start) / 1_000);
    if (!ok) throw new Error(`${label}: voucher ${i} did not verify`);
  }
  micros.sort((a, b) => a - b);
  const p50 = percentile(micros, 0.5);
  console.log(
    `${label.padEnd(34)} p50 ${p50.toFixed(1).padStart(8)} µs   p90 ${percentile(micros, 0.9).toFixed(1).padStart(8)} µs`,
  );
  return p50;
}

const native = await measure("verifyVoucher (libsecp256k1)", (i) => {
  const { signature, ...voucher } = signed[i]!;
  return verifyVoucher({ domainSeparator, voucher, signature }).valid;
});
const viemJs = await measure("viem recoverTypedDataAddress", async (i) => {
  const { signature, ...voucher } = signed[i]!;
  const recovered = await recoverTypedDataAddress({
    ...getVoucherTypedData({ domain, voucher }),
    signature,
  });
  return recovered === payer.address;
});
console.log(`${count} vouchers; viem / native p50 ratio: ${(viemJs / native).toFixed(1)}x`);
