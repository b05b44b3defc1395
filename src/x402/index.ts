/**
 * x402-clearing/x402: this project's x402 v2 schemes as plug-ins for the official `@x402/core`
 * client and resource server (an optional peer dependency). Wire formats: docs/SCHEMES.md.
 *
 * @example
 * import { ClearingClientScheme, ClearingServerScheme, RoutedClientScheme } from "x402-clearing/x402";
 * client.register("eip155:8453", new ClearingClientScheme({ signer: payerKey }));
 * server.register("eip155:8453", new ClearingServerScheme({ facilitatorUrl }));
 */
export {
  ClearingClientScheme,
  type ClearingClientSchemeOptions,
  type ClearingDepositPolicy,
  type ClearingTrustPolicy,
} from "./clearing/ClearingClientScheme.js";
export {
  ClearingServerScheme,
  type ClearingPaymentFlow,
  type ClearingServerSchemeOptions,
} from "./clearing/ClearingServerScheme.js";
export {
  ClearingClientError,
  type ClearingClientErrorReason,
  ClearingServerError,
  InvalidClearingPayloadError,
  VoucherStoreError,
} from "./clearing/errors.js";
export {
  CLEARING_SCHEME,
  type ClearingDepositJson,
  type ClearingPairJson,
  type ClearingPairState,
  type ClearingPayload,
  type ClearingPayloadJson,
  type ClearingVoucherJson,
  decodeClearingPayload,
  decodePairState,
  encodeClearingPayload,
  encodePairState,
} from "./clearing/payload.js";
export {
  CLEARING_NETWORKS,
  type ClearingTerms,
  parseClearingRequirements,
} from "./clearing/requirements.js";
export {
  type ClearingSignerInput,
  createVoucherSigner,
  type VoucherSigner,
  type VoucherSigningPath,
} from "./clearing/voucherSigner.js";
export {
  type ClearingAccountRecord,
  type ClearingPairRecord,
  FileVoucherStore,
  MemoryVoucherStore,
  type VoucherStore,
} from "./clearing/voucherStore.js";

export {
  RoutedClientScheme,
  RoutedServerScheme,
  RoutedRequirementsError,
  RoutedServerSchemeError,
  ROUTED_NETWORKS,
  routedDefaultAsset,
} from "./routed/index.js";
export type {
  Eip2612GasSponsoringInfo,
  RoutedClientReadContract,
  RoutedClientSchemeOptions,
  RoutedClientSigner,
  RoutedPermit2ApprovalOptions,
  RoutedDefaultAsset,
  RoutedPayload,
  RoutedPermit2Payload,
} from "./routed/index.js";
