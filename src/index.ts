/**
 * x402-clearing: the public entry of the settlement toolkit (plain viem, no Hardhat at run time).
 * Modules import each other by path; only this file re-exports.
 */

// Typed ABI bindings (generated from the build artifacts by scripts/gen-abi.ts).
export { fiatTokenProxyAbi } from "./abi/fiatTokenProxy.js";
export { fiatTokenV2_2Abi } from "./abi/fiatTokenV2_2.js";
export { iEIP3009TokenAbi } from "./abi/iEIP3009Token.js";
export { iERC3009SignatureAbi } from "./abi/iERC3009Signature.js";
export { iX402TestTokenAbi } from "./abi/iX402TestToken.js";
export { multicall3Abi } from "./abi/multicall3.js";
export { x402TestTokenAbi } from "./abi/x402TestToken.js";

// Base constants and the local Base bootstrap.
export {
  BASE_CHAIN_ID,
  BASE_NETWORK_V1,
  BASE_NETWORK_V2,
  BASE_SEPOLIA_CHAIN_ID,
  CREATEX_ADDRESS,
  MULTICALL3_ADDRESS,
  TRANSACTION_GAS_CAP,
  USDC_ADDRESS,
  USDC_DECIMALS,
  USDC_EIP712_NAME,
  USDC_EIP712_VERSION,
} from "./chain/base.js";
export {
  FUNDING_MINTER,
  LOCAL_USDC_ROLES,
  bootstrapBase,
  fundUsdc,
  type BootstrapBaseReturnType,
  type BootstrapClient,
  type FundUsdcParameters,
} from "./chain/bootstrap.js";

// Authorizations: EIP-3009 typed data, building, signing, offline verification, chain state.
export { AuthorizationStateReadError } from "./authorization/AuthorizationStateReadError.js";
export {
  buildDirectAuthorization,
  type BuildDirectAuthorizationParameters,
  type BuildDirectAuthorizationReturnType,
} from "./authorization/buildDirectAuthorization.js";
export {
  buildRoutedAuthorization,
  type BuildRoutedAuthorizationParameters,
  type BuildRoutedAuthorizationReturnType,
} from "./authorization/buildRoutedAuthorization.js";
export {
  computeRoutedNonce,
  type ComputeRoutedNonceParameters,
} from "./authorization/computeRoutedNonce.js";
export { createNonce } from "./authorization/createNonce.js";
export {
  cancelAuthorizationTypes,
  receiveWithAuthorizationTypes,
  transferWithAuthorizationTypes,
} from "./authorization/eip712Types.js";
export { InvalidAuthorizationInputError } from "./authorization/errors.js";
export {
  fromX402Payload,
  type FromX402PayloadParameters,
  type FromX402PayloadReturnType,
} from "./authorization/fromX402Payload.js";
export {
  getAuthorizationStates,
  type AuthorizationState,
  type AuthorizationStateQuery,
  type GetAuthorizationStatesParameters,
  type GetAuthorizationStatesReturnType,
} from "./authorization/getAuthorizationStates.js";
export {
  getAuthorizationTypedData,
  type GetAuthorizationTypedDataParameters,
  type GetAuthorizationTypedDataReturnType,
} from "./authorization/getAuthorizationTypedData.js";
export {
  getTokenDomain,
  type GetTokenDomainParameters,
  type GetTokenDomainReturnType,
} from "./authorization/getTokenDomain.js";
export {
  hashAuthorization,
  type HashAuthorizationParameters,
} from "./authorization/hashAuthorization.js";
export {
  readTokenDomain,
  type ReadTokenDomainParameters,
  type ReadTokenDomainReturnType,
} from "./authorization/readTokenDomain.js";
export {
  authorizationInvalidReasons,
  type AuthorizationInvalidReason,
} from "./authorization/reasons.js";
export {
  signAuthorization,
  type AuthorizationSigner,
  type SignAuthorizationParameters,
  type SignAuthorizationReturnType,
} from "./authorization/signAuthorization.js";
export { toX402Payload } from "./authorization/toX402Payload.js";
export type {
  Authorization,
  AuthorizationFields,
  AuthorizationPrimaryType,
  DirectAuthorization,
  RoutedAuthorization,
  SignedAuthorization,
  TokenDomain,
} from "./authorization/types.js";
export {
  verifyAuthorization,
  type VerifyAuthorizationParameters,
  type VerifyAuthorizationReturnType,
} from "./authorization/verifyAuthorization.js";
export type { X402ExactPayload } from "./authorization/x402Payload.js";
