import { encodeFunctionData, type Address, type Hex } from "viem";

import { settlementRouterAbi } from "../abi/settlementRouter.js";
import { encodeItems, type SettlementItem } from "../batch/encodeItems.js";
import { encodePermit2Items } from "../permit2/router.js";
import { FacilitatorStoreError } from "./errors.js";
import { permit2ItemOf } from "./routedPermit2.js";
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

/**
 * The router call that settles a batch of stored payments: `settle(token, feeRecipient, items)`
 * of direct and routed items, or `settlePermit2(token, feeRecipient, items)` of `permit2` ones
 * (a batch holds one or the other).
 *
 * @example
 * const data = settlementCallOf(router, token, feeRecipient, payments);
 */
export function settlementCallOf(
  router: Address,
  token: Address,
  feeRecipient: Address,
  payments: readonly StoredPayment[],
): Hex {
  const permit2 = payments.filter((payment) => payment.kind === "permit2").length;
  if (permit2 > 0 && permit2 !== payments.length) {
    throw new FacilitatorStoreError("A batch mixes Permit2 and EIP-3009 payments.", {
      details: `${permit2} of ${payments.length}`,
    });
  }
  if (permit2 > 0) {
    return encodeFunctionData({
      abi: settlementRouterAbi,
      functionName: "settlePermit2",
      args: [
        token,
        feeRecipient,
        encodePermit2Items(payments.map((payment) => permit2ItemOf(payment, router))),
      ],
    });
  }
  return encodeFunctionData({
    abi: settlementRouterAbi,
    functionName: "settle",
    args: [token, feeRecipient, encodeItems(payments.map(settlementItemOf))],
  });
}
