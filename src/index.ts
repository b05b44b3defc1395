/**
 * x402-clearing: the public entry of the settlement toolkit (plain viem, no Hardhat at run time).
 * Modules import each other by path; only this file re-exports.
 */

// Typed ABI bindings (generated from the build artifacts by scripts/gen-abi.ts).
export { clearingHouseAbi } from "./abi/clearingHouse.js";
export { fiatTokenProxyAbi } from "./abi/fiatTokenProxy.js";
export { iClearingHouseAbi } from "./abi/iClearingHouse.js";
export { fiatTokenV2_2Abi } from "./abi/fiatTokenV2_2.js";
export { iSettlementRouterAbi } from "./abi/iSettlementRouter.js";
export { settlementRouterAbi } from "./abi/settlementRouter.js";
export { iEIP3009TokenAbi } from "./abi/iEIP3009Token.js";
export { iERC3009SignatureAbi } from "./abi/iERC3009Signature.js";
export { iX402TestTokenAbi } from "./abi/iX402TestToken.js";
export { multicall3Abi } from "./abi/multicall3.js";
export { permit2Abi } from "./abi/permit2.js";
export { x402TestTokenAbi } from "./abi/x402TestToken.js";

// Base constants and the local Base bootstrap.
export {
  BASE_CHAIN_ID,
  BASE_HARDFORK_HISTORY,
  BASE_NETWORK_V1,
  BASE_NETWORK_V2,
  BASE_SEPOLIA_CHAIN_ID,
  CREATEX_ADDRESS,
  MULTICALL3_ADDRESS,
  PERMIT2_ADDRESS,
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
export { getPermit2DomainSeparator, permit2RuntimeCode } from "./chain/permit2.js";

// The SettlementRouter deployment this package ships (deployed by `ensureRouter`).
export { SETTLEMENT_ROUTER_DEPLOYMENT } from "./deploy/router.js";
export { SETTLEMENT_ROUTER_SALT } from "./deploy/salt.js";
export {
  SETTLEMENT_ROUTER_ADDRESS,
  SETTLEMENT_ROUTER_BYTECODE,
} from "./deploy/settlementRouter.js";

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
export {
  InvalidAuthorizationInputError,
  TokenDomainChainMismatchError,
} from "./authorization/errors.js";
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

// Batches: planning, packed encoding, simulation, submission, receipts, L1 data.
export { decodeItems, MalformedItemsError } from "./batch/decodeItems.js";
export {
  decodeSettleReceipt,
  type DecodeSettleReceiptParameters,
  type SettlementResult,
} from "./batch/decodeSettleReceipt.js";
export {
  dropFailures,
  type DropFailuresParameters,
  type DropFailuresReturnType,
} from "./batch/dropFailures.js";
export {
  DIRECT_ITEM_SIZE,
  encodeItems,
  InvalidSettlementItemError,
  ITEM_FLAGS,
  MAX_CONTRACT_SIGNATURE_SIZE,
  ROUTED_ITEM_SIZE,
  type DirectItem,
  type RoutedItem,
  type SettlementItem,
  type SettlementItemBase,
} from "./batch/encodeItems.js";
export {
  BatchGasExceedsCapError,
  InvalidBatchInputError,
  RouterNotDeployedError,
  SettleReceiptMismatchError,
  SettlementNodeError,
  SettleTimeoutError,
  SettleTransactionRevertedError,
} from "./batch/errors.js";
export type { SettlementFailureReason } from "./batch/failureReason.js";
export {
  estimateGasProfile,
  type EstimateGasProfileParameters,
} from "./batch/estimateGasProfile.js";
export {
  FIAT_TOKEN_V2_2_GAS_PROFILE,
  X402_TEST_TOKEN_GAS_PROFILE,
  type SettleGasProfile,
} from "./batch/gasProfiles.js";
export {
  GAS_PRICE_ORACLE_ADDRESS,
  getL1DataEstimate,
  type GetL1DataEstimateParameters,
  type GetL1DataEstimateReturnType,
} from "./batch/getL1DataEstimate.js";
export { getReceiptL1Data, type GetReceiptL1DataReturnType } from "./batch/getReceiptL1Data.js";
export {
  planBatches,
  type PlanBatchesParameters,
  type PlanBatchesReturnType,
  type PlannedBatch,
} from "./batch/planBatches.js";
export {
  settleAuthorizations,
  type AuthorizationSettlement,
  type SettleAuthorizationsClients,
  type SettleAuthorizationsParameters,
  type SettleAuthorizationsReturnType,
  type SettlementProgress,
  type SettlementStage,
  type SettlementTransaction,
} from "./batch/settleAuthorizations.js";
export {
  simulateBatch,
  type PredictedOutcome,
  type SimulateBatchParameters,
  type SimulateBatchReturnType,
} from "./batch/simulateBatch.js";
export {
  submitBatch,
  type SubmitBatchParameters,
  type SubmitBatchReturnType,
  type SubmitClient,
} from "./batch/submitBatch.js";
export {
  decodePermit2SettleReceipt,
  planPermit2Batches,
  submitPermit2Batch,
  verifyRouterPermit2Payments,
  type Permit2SettlementResult,
  type RouterPermit2Verdict,
  type SubmitPermit2BatchParameters,
} from "./batch/permit2Items.js";

// Benchmarks: the settlement methods side by side on any Hardhat or Anvil node (npm run bench's engine).
export { deployBenchRouter } from "./bench/contracts.js";
export {
  BenchmarkChainError,
  BenchmarkDependencyError,
  BenchmarkInputError,
} from "./bench/errors.js";
export { BENCHMARK_METHODS, type BenchmarkMethodName } from "./bench/methods/index.js";
export type {
  BenchmarkMethod,
  BenchmarkMethodContext,
  MethodOutcome as BenchmarkMethodOutcome,
} from "./bench/methods/types.js";
export {
  createBenchNode,
  type BenchmarkClient,
  type BenchNode,
  type BenchNodeClient,
  type NodeWallet as BenchNodeWallet,
} from "./bench/node.js";
export {
  BENCHMARK_PAYMENT_AMOUNT,
  DEFAULT_BENCHMARK_METHODS,
  runBenchmark,
  type BenchmarkProgress,
  type RunBenchmarkOptions,
} from "./bench/runBenchmark.js";
export {
  benchmarkChainSchema,
  benchmarkResultSchema,
  benchmarkRunSchema,
  type BenchmarkChainInfo,
  type BenchmarkResult,
  type BenchmarkRun,
} from "./bench/schema.js";
export { BENCHMARK_TOKENS, type BenchmarkTokenName, type BenchToken } from "./bench/tokens.js";

// Clearing: vouchers, deposits into the ClearingHouse, offline verification, packing, results.
export {
  buildDepositAuthorization,
  type BuildDepositAuthorizationParameters,
  type BuildDepositAuthorizationReturnType,
} from "./clearing/buildDepositAuthorization.js";
export {
  computeDepositNonce,
  type ComputeDepositNonceParameters,
} from "./clearing/computeDepositNonce.js";
export {
  CLEAR_STATUS,
  ClearResultsDecodeError,
  decodeClearResults,
  type ClearResult,
  type ClearStatusName,
  type DecodeClearResultsParameters,
} from "./clearing/decodeClearResults.js";
export {
  CLEARING_HOUSE_DOMAIN_NAME,
  CLEARING_HOUSE_DOMAIN_VERSION,
  releaseTypes,
  voucherTypes,
} from "./clearing/eip712Types.js";
export { DEPOSIT_ITEM_SIZE, encodeDeposits } from "./clearing/encodeDeposits.js";
export {
  MAX_VOUCHER_CONTRACT_SIGNATURE_SIZE,
  VOUCHER_CONTRACT_SIGNATURE,
  VOUCHER_EOA_SIZE,
  encodeVouchers,
  type EncodeVouchersParameters,
} from "./clearing/encodeVouchers.js";
export { InvalidClearingInputError } from "./clearing/errors.js";
export {
  getClearingHouseDomain,
  type GetClearingHouseDomainParameters,
} from "./clearing/getClearingHouseDomain.js";
export { getDomainSeparator } from "./clearing/getDomainSeparator.js";
export {
  getReleaseTypedData,
  type GetReleaseTypedDataParameters,
  type GetReleaseTypedDataReturnType,
} from "./clearing/getReleaseTypedData.js";
export {
  getVoucherTypedData,
  type GetVoucherTypedDataParameters,
  type GetVoucherTypedDataReturnType,
} from "./clearing/getVoucherTypedData.js";
export { hashVoucher, type HashVoucherParameters } from "./clearing/hashVoucher.js";
export {
  signDepositAuthorization,
  type SignDepositAuthorizationParameters,
  type SignDepositAuthorizationReturnType,
} from "./clearing/signDepositAuthorization.js";
export {
  signRelease,
  type SignReleaseParameters,
  type SignReleaseReturnType,
} from "./clearing/signRelease.js";
export {
  signVoucher,
  type SignVoucherParameters,
  type SignVoucherReturnType,
} from "./clearing/signVoucher.js";
export type {
  ClearingHouseDomain,
  DepositAuthorization,
  Permit2Deposit,
  Release,
  SignedDepositAuthorization,
  SignedPermit2Deposit,
  SignedVoucher,
  Voucher,
} from "./clearing/types.js";
export {
  buildPermit2Deposit,
  type BuildPermit2DepositParameters,
} from "./clearing/buildPermit2Deposit.js";
export {
  encodePermit2Deposits,
  PERMIT2_DEPOSIT_ITEM_SIZE,
} from "./clearing/encodePermit2Deposits.js";
export {
  getPermit2DepositTypedData,
  permit2DepositParameters,
  type GetPermit2DepositTypedDataParameters,
} from "./clearing/getPermit2DepositTypedData.js";
export {
  CLEARING_DEPOSIT_WITNESS_TYPE,
  permit2DepositWitness,
} from "./clearing/permit2DepositWitness.js";
export {
  signPermit2Deposit,
  type SignPermit2DepositParameters,
} from "./clearing/signPermit2Deposit.js";
export { verifyPermit2Deposit } from "./clearing/verifyPermit2Deposit.js";
export {
  verifyVoucher,
  type VerifyVoucherParameters,
  type VerifyVoucherReturnType,
} from "./clearing/verifyVoucher.js";

// Permit2: witness transfers for any ERC-20 (typed data, signing, offline verification, nonces).
export * from "./permit2/index.js";
export {
  approvePermit2,
  needsPermit2Approval,
  permit2Allowance,
  Permit2ApprovalError,
  type ApprovePermit2Parameters,
  type ApprovePermit2ReturnType,
} from "./permit2/approve.js";
export {
  EIP2612_GAS_SPONSORING_KEY,
  eip2612Abi,
  readPermit2ApprovalStates,
  verifyPermit2Approval,
  type Permit2Approval,
  type Permit2ApprovalStates,
  type VerifyPermit2ApprovalReturnType,
} from "./permit2/approval.js";
export {
  recoverDigestSigner,
  type RecoverDigestSignerOptions,
  type RecoverDigestSignerReturnType,
} from "./crypto/recoverDigestSigner.js";

// Errors and the shared reason vocabulary.
export { BaseError, type BaseErrorParameters } from "./errors/base.js";
export { ContractRevertError } from "./errors/contractRevert.js";
export {
  decodeRevertReason,
  type DecodeRevertReasonOptions,
  type DecodeRevertReasonReturnType,
} from "./errors/decodeRevertReason.js";
export { findRevertData } from "./errors/findRevertData.js";
export { shortMessageOf } from "./errors/shortMessageOf.js";
export {
  failedItemReason,
  failedItemStatus,
  type FailedItemStatus,
  ITEM_STATUS_REASONS,
  ItemStatus,
  itemStatusReason,
  UnknownItemStatusError,
} from "./errors/itemStatus.js";
export {
  isRevertReason,
  REVERT_REASON_DESCRIPTIONS,
  REVERT_REASONS,
  X402_V1_REASONS,
  type RevertReason,
} from "./errors/reasons.js";
export { walkCauses } from "./errors/walkCauses.js";

// The batching x402 facilitator. `FacilitatorStore` is exported as a type only: its module loads
// `node:sqlite`, which the toolkit entry does not pull in on import. The HTTP server (Fastify) and
// its Prometheus metrics come from their own subpaths, `x402-clearing/facilitator/server` and
// `x402-clearing/facilitator/prometheus`, so the toolkit entry loads no HTTP framework.
export { createFacilitatorClient } from "./facilitator/createFacilitatorClient.js";
export {
  FacilitatorConfigurationError,
  FacilitatorStoreError,
  RouterDeploymentError,
} from "./facilitator/errors.js";
export {
  createXCreate2Address,
  ensureRouter,
  type EnsureRouterParameters,
} from "./facilitator/ensureRouter.js";
export {
  BatchFacilitator,
  type BatchFacilitatorOptions,
  type FacilitatorAnswer,
  type FacilitatorCheckpoint,
} from "./facilitator/facilitator.js";
export { resolveX402Network, type X402Network } from "./facilitator/networks.js";
export {
  reasonForVersion,
  reasons as facilitatorReasons,
  type Reason as FacilitatorReason,
} from "./facilitator/reasons.js";
export {
  type SettleResponse,
  type SupportedKind,
  type SupportedResponse,
} from "./facilitator/responses.js";
export {
  exactEvmPayloadSchema,
  parsePaymentRequest,
  paymentRequirementsV1Schema,
  paymentRequirementsV2Schema,
  routedPayloadSchema,
  type PaymentRequest,
} from "./facilitator/schemas.js";
export type {
  FacilitatorStore,
  PaymentOutcome,
  PaymentStatus,
  StoredBatch,
  StoredPayment,
} from "./facilitator/store.js";
export { verifyPayment, type RoutedTerms, type VerifyResponse } from "./facilitator/verify.js";

// The facilitator's `clearing` scheme. `ClearingStore` (node:sqlite) comes from its own subpath,
// `x402-clearing/facilitator/clearing/store`; here it is a type only.
export {
  ClearingFacilitator,
  type ClearingFacilitatorOptions,
  type ClearingPairState,
  type ClearingSender,
  type ClearingSettleResponse,
  type ClearingSupportedKind,
  type ClearingVerifyResponse,
} from "./facilitator/clearing/facilitator.js";
export {
  checkDepositOffline,
  checkDepositOnChain,
  decodeDepositResults,
  DEPOSIT_STATUS_REASONS,
  DepositBatcher,
  type DepositBatcherOptions,
  type DepositCheckReason,
  type DepositSender,
} from "./facilitator/clearing/deposits.js";
export {
  CLEARING_SCHEME,
  clearingPayloadSchema,
  isClearingBody,
  parseClearingRequest,
  type ClearingRequest,
  type ParseClearingRequestResult,
} from "./facilitator/clearing/payload.js";
export {
  ClearingScheduler,
  type ClearingSchedulerOptions,
  type ClearRun,
} from "./facilitator/clearing/scheduler.js";
export type {
  ClearingStore,
  ClearingStoreOptions,
  DepositState,
  StoredDeposit,
} from "./facilitator/clearing/store.js";

// Clearing: offline voucher verification and the operator ledger.
export {
  FIAT_TOKEN_V2_2_CLEAR_GAS_PROFILE,
  X402_TEST_TOKEN_CLEAR_GAS_PROFILE,
  type ClearGasProfile,
} from "./clearing/clearGasProfiles.js";
export {
  clearPending,
  type ClearPendingParameters,
  type ClearPendingReturnType,
} from "./clearing/clearPending.js";
export { computeVoucherFee, type FeeTerms } from "./clearing/computeVoucherFee.js";
export {
  ClearFailedError,
  InvalidLedgerInputError,
  LedgerStoreError,
} from "./clearing/ledgerErrors.js";
export { LEDGER_REJECT_REASONS, type LedgerRejectReason } from "./clearing/ledgerRejectReasons.js";
export {
  createMemoryLedgerStore,
  type AcceptedVoucherRecord,
  type LedgerStore,
} from "./clearing/ledgerStore.js";
export {
  OperatorLedger,
  type AcceptVoucherParameters,
  type AcceptVoucherReturnType,
  type LedgerAccount,
  type LedgerPair,
  type OperatorLedgerParameters,
  type WithdrawalDeadline,
} from "./clearing/OperatorLedger.js";
export {
  planClears,
  type ClearCandidate,
  type PlanClearsParameters,
  type PlannedClear,
} from "./clearing/planClears.js";
export {
  submitClear,
  type SubmitClearParameters,
  type SubmitClearReturnType,
} from "./clearing/submitClear.js";
export {
  verifyContractVoucher,
  type VerifyContractVoucherParameters,
} from "./clearing/verifyContractVoucher.js";
export { watchLedger, type WatchLedgerParameters } from "./clearing/watchLedger.js";
