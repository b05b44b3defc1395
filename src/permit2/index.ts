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
