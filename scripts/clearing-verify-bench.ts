/**
 * Microseconds per offline voucher verification (EIP-712 digest and signer recovery), p50 over
 * many distinct vouchers, for the native libsecp256k1 backend and the JS fallback, beside viem's
 * own `recoverTypedDataAddress` for reference. Usage: npx tsx scripts/clearing-verify-bench.ts [count]
 */
import { measureVoucherVerification } from "../src/clearing/measureVoucherVerification.js";

const count = Number(process.argv[2] ?? 2_000);
const result = await measureVoucherVerification({ count, includeViem: true });
console.log(JSON.stringify(result, null, 2));
