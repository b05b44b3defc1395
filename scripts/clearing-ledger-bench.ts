/**
 * Microseconds per `OperatorLedger.accept` (signature check, digest, every ledger rule and the
 * memory store's append, no RPC), p50 and p90 over distinct vouchers, for accepted vouchers and for
 * rejected ones (a signer the account did not name), in one run.
 *
 *   npx tsx scripts/clearing-ledger-bench.ts [count]
 */
import { type Address, keccak256, toHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";

import { USDC_ADDRESS } from "../src/chain/base.js";
import { computeVoucherFee } from "../src/clearing/computeVoucherFee.js";
import { getClearingHouseDomain } from "../src/clearing/getClearingHouseDomain.js";
import { createMemoryLedgerStore } from "../src/clearing/ledgerStore.js";
import { OperatorLedger } from "../src/clearing/OperatorLedger.js";
import { signVoucher } from "../src/clearing/signVoucher.js";

const count = Number(process.argv[2] ?? 2_000);
const clearingHouse: Address = "0x00000000000000000000000000000000c1ea2000";
const operator: Address = "0x0000000000000000000000000000000000000a11";
const domain = getClearingHouseDomain({ chainId: 8453, clearingHouse });
const fee = { basisPoints: 100 };
const key = (label: string) => privateKeyToAccount(keccak256(toHex(`ledger-bench:${label}`)));
const payers = Array.from({ length: 20 }, (_, i) => key(`payer-${i}`));
const sessions = payers.map((_, i) => key(`session-${i}`));
const stranger = key("stranger");
const price = 10_000n;

const ledger = new OperatorLedger({
  clearingHouse,
  chainId: 8453,
  operator,
  tokens: [USDC_ADDRESS],
  fee,
  store: createMemoryLedgerStore(),
});
payers.forEach((payer, i) =>
  ledger.setAccount({
    payer: payer.address,
    token: USDC_ADDRESS,
    balance: 10n ** 15n,
    voucherSigner: sessions[i]!.address,
    withdrawalDelay: 3_600,
    withdrawalAmount: 0n,
    withdrawalReadyAt: 0,
  }),
);

async function sign(i: number, signer = sessions[i % payers.length]!) {
  const round = BigInt(Math.floor(i / payers.length) + 1);
  const value = price * round;
  return signVoucher(signer, {
    domain,
    voucher: {
      payer: payers[i % payers.length]!.address,
      payee: `0x${"be".repeat(19)}01`,
      token: USDC_ADDRESS,
      operator,
      cumulativeValue: value,
      cumulativeFee: computeVoucherFee(fee, value),
    },
  });
}

const good = await Promise.all(Array.from({ length: count }, (_, i) => sign(i)));
const bad = await Promise.all(Array.from({ length: count }, (_, i) => sign(i, stranger)));

async function measure(label: string, vouchers: typeof good, expected: boolean) {
  const micros: number[] = [];
  for (const voucher of vouchers) {
    const start = process.hrtime.bigint();
    const result = await ledger.accept({ voucher, price });
    micros.push(Number(process.hrtime.bigint() - start) / 1_000);
    if (result.accepted !== expected)
      throw new Error(`${label}: unexpected ${JSON.stringify(result)}`);
  }
  micros.sort((a, b) => a - b);
  const at = (q: number) => micros[Math.min(micros.length - 1, Math.floor(q * micros.length))]!;
  console.log(
    `${label.padEnd(40)} p50 ${at(0.5).toFixed(1).padStart(8)} µs   p90 ${at(0.9).toFixed(1).padStart(8)} µs`,
  );
}

// Warm up on rejections (they change no state), then measure.
await measure("warm-up (rejected)", bad, false);
await measure("OperatorLedger.accept, accepted", good, true);
await measure("OperatorLedger.accept, signer_not_authorized", bad, false);
console.log(`${count} vouchers over ${payers.length} accounts`);
