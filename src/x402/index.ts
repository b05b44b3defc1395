export {
  RoutedClientScheme,
  RoutedServerScheme,
  RoutedRequirementsError,
  RoutedServerSchemeError,
  ROUTED_NETWORKS,
  routedDefaultAsset,
} from "./routed/index.js";
export type {
  RoutedClientSchemeOptions,
  RoutedClientSigner,
  RoutedDefaultAsset,
  RoutedPayload,
  RoutedPermit2Payload,
} from "./routed/index.js";
