import { type Address, keccak256, recoverTypedDataAddress, toHex } from "viem";
import { privateKeyToAccount } from "viem/accounts";

import { getClearingHouseDomain } from "./getClearingHouseDomain.js";
import { getVoucherDomainSeparator } from "./getVoucherDigest.js";
import { getVoucherTypedData } from "./getVoucherTypedData.js";
import { type RecoveryBackend, getRecoveryBackend } from "./recoverDigestSigner.js";
import { recoverVoucherSigner } from "./recoverVoucherSigner.js";
import { signVoucher } from "./signVoucher.js";
import type { SignedVoucher } from "./types.js";

export type MeasureVoucherVerificationParameters = {
  /** Distinct signed vouchers to verify per backend. Default 2,000. */
  count?: number;
  /** Also time viem's `recoverTypedDataAddress` (async, pure JS) on the same vouchers. */
  includeViem?: boolean;
};

export type VerificationTiming = { p50: number; p90: number; mean: number };

export type MeasureVoucherVerificationReturnType = {
  count: number;
  /** The backend the ledger uses in this process. */
  defaultBackend: RecoveryBackend;
  /** Microseconds per voucher, digest included, per backend (`native` absent when it does not load). */
  micros: Partial<Record<RecoveryBackend | "viem", VerificationTiming>>;
};

/**
 * Measures offline voucher verification (EIP-712 digest from a precomputed domain separator plus
 * ECDSA recovery, as the operator ledger runs it) in microseconds per voucher over `count`
 * distinct vouchers signed by distinct keys; each backend first warms up on the same set. The
 * `verifyMicrosP50` of the clearing benchmark is `micros[defaultBackend].p50`.
 *
 * @example
 * const { defaultBackend, micros } = await measureVoucherVerification({ count: 1_000 });
 * console.log(micros[defaultBackend]!.p50);
 */
export async function measureVoucherVerification(
  parameters: MeasureVoucherVerificationParameters = {},
): Promise<MeasureVoucherVerificationReturnType> {
  const count = parameters.count ?? 2_000;
  const domain = getClearingHouseDomain({
    chainId: 8453,
    clearingHouse: "0x000000000000000000000000000000000000c1ea",
  });
  const domainSeparator = getVoucherDomainSeparator(domain);
  const vouchers: SignedVoucher[] = [];
  const signers: Address[] = [];
  for (let i = 0; i < count; i++) {
    const signer = privateKeyToAccount(keccak256(toHex(`x402-clearing:verify-bench:${i}`)));
    signers.push(signer.address);
    vouchers.push(
      await signVoucher(signer, {
        domain,
        voucher: {
          payer: signer.address,
          payee: "0x00000000000000000000000000000000000a11ce",
          token: "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
          operator: "0x000000000000000000000000000000000000b0b0",
          cumulativeValue: 10_000n * BigInt(i + 1),
          cumulativeFee: 100n * BigInt(i + 1),
        },
      }),
    );
  }

  const micros: MeasureVoucherVerificationReturnType["micros"] = {};
  const backends: RecoveryBackend[] = getRecoveryBackend() === "native" ? ["native", "js"] : ["js"];
  for (const backend of backends) {
    const run = () =>
      vouchers.map((voucher, i) => {
        const start = process.hrtime.bigint();
        const { signer } = recoverVoucherSigner({ domainSeparator, voucher, backend });
        const elapsed = process.hrtime.bigint() - start;
        if (signer !== signers[i]!.toLowerCase())
          throw new Error(`voucher ${i} recovered ${signer}`);
        return Number(elapsed) / 1_000;
      });
    run();
    micros[backend] = summarize(run());
  }
  if (parameters.includeViem) {
    const run = async () => {
      const out: number[] = [];
      for (const voucher of vouchers) {
        const start = process.hrtime.bigint();
        await recoverTypedDataAddress({
          ...getVoucherTypedData({ domain, voucher }),
          signature: voucher.signature,
        });
        out.push(Number(process.hrtime.bigint() - start) / 1_000);
      }
      return out;
    };
    await run();
    micros.viem = summarize(await run());
  }
  return { count, defaultBackend: getRecoveryBackend(), micros };
}

function summarize(samples: number[]): VerificationTiming {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
  return { p50: round(at(0.5)), p90: round(at(0.9)), mean: round(mean) };
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}
