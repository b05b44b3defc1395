export { RoutedClientScheme } from "./RoutedClientScheme.js";
export type {
  Eip2612GasSponsoringInfo,
  RoutedClientReadContract,
  RoutedClientSchemeOptions,
  RoutedPermit2ApprovalOptions,
  RoutedClientSigner,
  RoutedPayload,
  RoutedPermit2Payload,
} from "./RoutedClientScheme.js";
export { RoutedServerScheme } from "./RoutedServerScheme.js";
export { RoutedRequirementsError, RoutedServerSchemeError } from "./errors.js";
export { ROUTED_NETWORKS, routedDefaultAsset } from "./networks.js";
export type { RoutedDefaultAsset } from "./networks.js";
