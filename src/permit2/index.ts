export { InvalidPermit2InputError } from "./errors.js";
export { createPermit2Nonce, isPermit2NonceUsed, permit2NoncePosition } from "./nonces.js";
export { signPermitWitnessTransferFrom } from "./sign.js";
export {
  getPermit2Domain,
  getPermitWitnessTransferFromTypedData,
  hashPermit2Witness,
  hashPermitWitnessTransferFrom,
  permit2WitnessTypeString,
  type GetPermitWitnessTransferFromTypedDataParameters,
} from "./typedData.js";
export type {
  Permit2Domain,
  Permit2Witness,
  PermitWitnessTransferFrom,
  SignedPermitWitnessTransferFrom,
} from "./types.js";
export {
  verifyPermitWitnessTransferFrom,
  type VerifyPermitWitnessTransferFromParameters,
  type VerifyPermitWitnessTransferFromReturnType,
} from "./verify.js";
export {
  buildRouterPermit2Payment,
  checkRouterPermit2Payment,
  decodePermit2Items,
  encodePermit2Items,
  getPermit2ApprovalTypedData,
  getRouterPermit2TypedData,
  hashRouterPaymentWitness,
  PERMIT2_EOA_ITEM_SIZE,
  PERMIT2_GROUP_HEADER_SIZE,
  PERMIT2_ITEM_FIXED_SIZE,
  PERMIT2_ITEM_FLAGS,
  PERMIT2_ITEM_PERMIT_SIZE,
  PERMIT2_SHORT_NONCE_CUT,
  PERMIT2_SHORT_NONCE_EOA_ITEM_SIZE,
  ROUTER_PAYMENT_WITNESS_TYPE,
  ROUTER_PAYMENT_WITNESS_TYPE_STRING,
  routerPaymentWitness,
  signPermit2Approval,
  signRouterPermit2Payment,
  verifyRouterPermit2Signature,
  type BuildRouterPermit2PaymentParameters,
  type DecodedPermit2Item,
  type Permit2ApprovalPermit,
  type RouterPermit2Payment,
  type SignedRouterPermit2Payment,
} from "./router.js";
