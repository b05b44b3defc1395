import type { SettlementItem } from "../batch/encodeItems.js";
import type { StoredPayment } from "./store.js";

/**
 * The SettlementRouter item a stored payment is settled as: a direct item
 * (`transferWithAuthorization` to its payee) for `exact`, a routed one (`receiveWithAuthorization`
 * to the router, the payee, fee and salt its nonce commits to) for `routed`.
 *
 * @example
 * const items = payments.map(settlementItemOf);
 */
export function settlementItemOf(payment: StoredPayment): SettlementItem {
  const common = {
    from: payment.payer,
    value: payment.value,
    validAfter: payment.validAfter,
    validBefore: payment.validBefore,
    signature: payment.signature,
    contractSignature: payment.contractSignature,
  };
  if (payment.kind === "routed") {
    return {
      kind: "routed",
      ...common,
      payee: payment.payee,
      fee: payment.fee,
      salt: payment.salt!,
    };
  }
  return { kind: "direct", ...common, to: payment.payee, nonce: payment.nonce };
}
