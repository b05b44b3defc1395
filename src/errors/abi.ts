import { parseAbi } from "viem";

/**
 * The custom errors the decoder knows, by the contracts that raise them. Selectors are what matter:
 * `decodeErrorResult` matches revert data to these fragments by selector, then names the error.
 */
export const revertErrorsAbi = parseAbi([
  // OpenZeppelin draft ERC3009 (the test token inherits it)
  "error ERC3009InvalidSignature()",
  "error ERC3009UsedAuthorization(address authorizer, bytes32 nonce)",
  "error ERC3009InvalidAuthorizationTime(uint256 validAfter, uint256 validBefore)",
  // The project's IEIP3009Token
  "error ERC3009AuthorizationNotYetValid(uint256 validAfter, uint256 timestamp)",
  "error ERC3009AuthorizationExpired(uint256 validBefore, uint256 timestamp)",
  "error ERC3009CallerNotPayee(address caller, address payee)",
  // OpenZeppelin ECDSA
  "error ECDSAInvalidSignature()",
  "error ECDSAInvalidSignatureLength(uint256 length)",
  "error ECDSAInvalidSignatureS(bytes32 s)",
  // OpenZeppelin ERC20 (IERC20Errors)
  "error ERC20InsufficientBalance(address sender, uint256 balance, uint256 needed)",
  "error ERC20InvalidReceiver(address receiver)",
  // OpenZeppelin Pausable
  "error EnforcedPause()",
  // SettlementRouter
  "error SettlementRouterMalformedItems(uint256 offset)",
]);
