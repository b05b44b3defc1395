import { expect } from "chai";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  type Abi,
  type AbiParameter,
  encodeFunctionData,
  keccak256,
  size,
  toEventSelector,
  toFunctionSelector,
  toHex,
} from "viem";

import { fiatTokenV2_2Abi } from "../../src/abi/fiatTokenV2_2.js";
import { permit2Abi } from "../../src/abi/permit2.js";
import { settlementRouterAbi } from "../../src/abi/settlementRouter.js";
import { ROUTER_PAYMENT_WITNESS_TYPE_STRING } from "../../src/permit2/router.js";

const ROUTER_SOURCE = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "../../contracts/router/SettlementRouter.sol",
);

/** Every `constant NAME = 0x…;` literal in the source, by name. */
function hexLiterals(source: string): Map<string, string> {
  const literals = new Map<string, string>();
  const pattern = /constant\s+(_[A-Z0-9_]+)\s*=\s*(0x[0-9a-fA-F]+)\s*;/g;
  for (const [, name, value] of source.matchAll(pattern)) literals.set(name!, value!.toLowerCase());
  return literals;
}

function signature(name: string, inputs: readonly AbiParameter[]): string {
  return `${name}(${inputs.map((input) => input.type).join(",")})`;
}

/** The 4-byte selector of the ABI entry `name` of `type` whose input types are `types`. */
function selector(abi: Abi, type: "function" | "error", name: string, types?: string[]): string {
  const entries = abi.filter(
    (item) =>
      item.type === type &&
      item.name === name &&
      (types === undefined || item.inputs.map((input) => input.type).join(",") === types.join(",")),
  );
  expect(entries, `one ${type} ${name}(${types?.join(",") ?? "…"}) in the ABI`).to.have.length(1);
  const entry = entries[0] as { name: string; inputs: readonly AbiParameter[] };
  return keccak256(toHex(signature(entry.name, entry.inputs))).slice(0, 10);
}

/**
 * The size of the Permit2 call the hot loop writes: the single `permitWitnessTransferFrom`, ABI
 * encoded with the router's witness type string and a 64-byte compact signature.
 */
function permit2CallSize(): number {
  const zero = `0x${"00".repeat(20)}` as const;
  return size(
    encodeFunctionData({
      abi: permit2Abi,
      functionName: "permitWitnessTransferFrom",
      args: [
        { permitted: { token: zero, amount: 0n }, nonce: 0n, deadline: 0n },
        { to: zero, requestedAmount: 0n },
        zero,
        `0x${"00".repeat(32)}`,
        ROUTER_PAYMENT_WITNESS_TYPE_STRING,
        `0x${"00".repeat(64)}`,
      ],
    }),
  );
}

const wordCeil = (n: number) => Math.ceil(n / 32) * 32;

const AUTHORIZATION = ["address", "address", "uint256", "uint256", "uint256", "bytes32"];
const VRS = [...AUTHORIZATION, "uint8", "bytes32", "bytes32"];
const BYTES = [...AUTHORIZATION, "bytes"];

/**
 * The router's assembly uses selectors and topics as literals; each must equal what the ABIs of
 * USDC (FiatTokenV2_2) and of the router itself say, or the router would call the wrong function
 * or emit an event nobody decodes.
 */
describe("SettlementRouter: selector and topic literals", function () {
  const literals = hexLiterals(readFileSync(ROUTER_SOURCE, "utf8"));
  const router = settlementRouterAbi as Abi;
  const usdc = fiatTokenV2_2Abi as Abi;

  const expected: Record<string, () => string> = {
    _TRANSFER_WITH_AUTHORIZATION_VRS: () =>
      selector(usdc, "function", "transferWithAuthorization", VRS),
    _TRANSFER_WITH_AUTHORIZATION_BYTES: () =>
      selector(usdc, "function", "transferWithAuthorization", BYTES),
    _RECEIVE_WITH_AUTHORIZATION_VRS: () =>
      selector(usdc, "function", "receiveWithAuthorization", VRS),
    _RECEIVE_WITH_AUTHORIZATION_BYTES: () =>
      selector(usdc, "function", "receiveWithAuthorization", BYTES),
    _AUTHORIZATION_STATE: () => selector(usdc, "function", "authorizationState"),
    _TRANSFER: () => selector(usdc, "function", "transfer"),
    // Permit2's single (not batch) permitWitnessTransferFrom: one SignatureTransferDetails.
    _PERMIT_WITNESS_TRANSFER_FROM: () => {
      const fn = permit2Abi.find(
        (item) =>
          item.type === "function" &&
          item.name === "permitWitnessTransferFrom" &&
          item.inputs[1]?.type === "tuple",
      );
      expect(fn, "the single permitWitnessTransferFrom in Permit2's ABI").to.not.equal(undefined);
      return toFunctionSelector(fn as Parameters<typeof toFunctionSelector>[0]);
    },
    _SETTLE_ROUTED_GROUP: () => selector(router, "function", "settleRoutedGroup"),
    _MALFORMED_ITEMS_ERROR: () => selector(router, "error", "SettlementRouterMalformedItems"),
    _INSUFFICIENT_GAS_ERROR: () => selector(router, "error", "SettlementRouterInsufficientGas"),
    // Not in any ABI (the router's private marker): the hash its comment names.
    _GROUP_UNDONE: () => keccak256(toHex("SettlementRouterGroupUndone()")).slice(0, 10),
    // Not a selector: where settleRoutedGroup's raw items start (its selector and four words).
    _GROUP_ITEMS_OFFSET: () => toHex(4 + 4 * 32),
    // Not selectors: the hot loop's fixed memory. Its Permit2 call data starts at Solidity's first
    // free memory address (the loop checks the free memory pointer is there) and is exactly the
    // ABI encoding of the call; the `RouterPayment` witness preimage (type hash and four fields)
    // follows at the next word; the free memory pointer is moved past both.
    _P2_CALL: () => toHex(0x80),
    _P2_CALL_SIZE: () => toHex(permit2CallSize()),
    _P2_WITNESS: () => toHex(wordCeil(0x80 + permit2CallSize())),
    _P2_MEMORY_END: () => toHex(wordCeil(0x80 + permit2CallSize()) + 5 * 32),
    _PAYMENT_FAILED_EVENT: () => {
      const event = router.find((item) => item.type === "event" && item.name === "PaymentFailed");
      expect(event, "PaymentFailed in the ABI").to.not.equal(undefined);
      return toEventSelector(event as Parameters<typeof toEventSelector>[0]);
    },
  };

  it("every hex literal in the source is one this test checks", () => {
    expect([...literals.keys()].sort()).to.deep.equal(Object.keys(expected).sort());
  });

  for (const [name, expectedValue] of Object.entries(expected)) {
    it(`${name} equals the ABI's`, () => {
      expect(literals.get(name), name).to.equal(expectedValue());
    });
  }
});
