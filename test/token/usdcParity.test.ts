import { expect } from "chai";
import { network } from "hardhat";
import {
  type Abi,
  type AbiEvent,
  type AbiFunction,
  getAddress,
  hashDomain,
  keccak256,
  publicActions,
  toEventSelector,
  toFunctionSelector,
  toHex,
  walletActions,
} from "viem";

import { fiatTokenV2_2Abi } from "../../src/abi/fiatTokenV2_2.js";
import { iEIP3009TokenAbi } from "../../src/abi/iEIP3009Token.js";
import { x402TestTokenAbi } from "../../src/abi/x402TestToken.js";
import { USDC_ADDRESS } from "../../src/chain/base.js";
import { bootstrapBase } from "../../src/chain/bootstrap.js";
import { TEST_TOKEN_NAME, TEST_TOKEN_SYMBOL, TEST_TOKEN_VERSION } from "./tokens.js";

/** The EIP-3009 (and EIP-2612) surface x402 settlement relies on. */
const SHARED_FUNCTIONS = [
  "transferWithAuthorization",
  "receiveWithAuthorization",
  "cancelAuthorization",
  "authorizationState",
  "permit",
  "nonces",
  "DOMAIN_SEPARATOR",
  "balanceOf",
  "decimals",
];
const SHARED_EVENTS = ["AuthorizationUsed", "AuthorizationCanceled", "Transfer", "Approval"];

function functionSelectors(abi: Abi, names: readonly string[]): string[] {
  return abi
    .filter((item): item is AbiFunction => item.type === "function" && names.includes(item.name))
    .map((item) => `${item.name} ${toFunctionSelector(item)}`)
    .sort();
}

function eventSelectors(abi: Abi, names: readonly string[]): string[] {
  return abi
    .filter((item): item is AbiEvent => item.type === "event" && names.includes(item.name))
    .map((item) => `${item.name} ${toEventSelector(item)} ${item.inputs.map((i) => i.indexed)}`)
    .sort();
}

describe("X402TestToken matches USDC (FiatTokenV2_2) where x402 settlement looks", function () {
  it("has FiatTokenV2_2's EIP-3009 function selectors, both overloads of each", function () {
    const usdc = functionSelectors(fiatTokenV2_2Abi, SHARED_FUNCTIONS);
    // FiatTokenV2_2 also has permit(..., bytes signature); the test token only the (v, r, s) permit.
    const usdcWithoutBytesPermit = usdc.filter(
      (s) => s !== `permit ${toFunctionSelector("permit(address,address,uint256,uint256,bytes)")}`,
    );
    expect(functionSelectors(x402TestTokenAbi, SHARED_FUNCTIONS)).to.deep.equal(
      usdcWithoutBytesPermit,
    );
    expect(usdc.filter((s) => s.startsWith("transferWithAuthorization"))).to.have.length(2);
    expect(usdc.filter((s) => s.startsWith("receiveWithAuthorization"))).to.have.length(2);
    expect(usdc.filter((s) => s.startsWith("cancelAuthorization"))).to.have.length(2);
  });

  it("emits FiatTokenV2_2's events (same topics, same indexed fields)", function () {
    expect(eventSelectors(x402TestTokenAbi, SHARED_EVENTS)).to.deep.equal(
      eventSelectors(fiatTokenV2_2Abi, SHARED_EVENTS),
    );
  });

  it("IEIP3009Token declares only functions FiatTokenV2_2 has", function () {
    const usdc = new Set(
      fiatTokenV2_2Abi.filter((i) => i.type === "function").map((i) => toFunctionSelector(i)),
    );
    const declared = iEIP3009TokenAbi.filter((i) => i.type === "function");
    expect(declared).to.have.length(7);
    for (const item of declared)
      expect(usdc.has(toFunctionSelector(item)), item.name).to.equal(true);
  });

  it("uses FiatTokenV2_2's EIP-3009 type hashes and the standard EIP-712 domain separator", async function () {
    const conn = await network.create();
    const publicClient = await conn.viem.getPublicClient();
    const [admin] = await conn.viem.getWalletClients();
    const client = (await conn.viem.getTestClient()).extend(publicActions).extend(walletActions);
    await bootstrapBase(client);
    const harness = await conn.viem.deployContract("X402TestTokenHarness", [
      TEST_TOKEN_NAME,
      TEST_TOKEN_SYMBOL,
      TEST_TOKEN_VERSION,
      admin!.account.address,
    ]);
    const usdc = (
      functionName:
        | "TRANSFER_WITH_AUTHORIZATION_TYPEHASH"
        | "RECEIVE_WITH_AUTHORIZATION_TYPEHASH"
        | "CANCEL_AUTHORIZATION_TYPEHASH"
        | "DOMAIN_SEPARATOR",
    ) => publicClient.readContract({ address: USDC_ADDRESS, abi: fiatTokenV2_2Abi, functionName });

    const transfer = await harness.read.TRANSFER_WITH_AUTHORIZATION_TYPEHASH_();
    const receive = await harness.read.RECEIVE_WITH_AUTHORIZATION_TYPEHASH_();
    const cancel = await harness.read.CANCEL_AUTHORIZATION_TYPEHASH_();
    expect(transfer).to.equal(await usdc("TRANSFER_WITH_AUTHORIZATION_TYPEHASH"));
    expect(receive).to.equal(await usdc("RECEIVE_WITH_AUTHORIZATION_TYPEHASH"));
    expect(cancel).to.equal(await usdc("CANCEL_AUTHORIZATION_TYPEHASH"));
    expect(transfer).to.equal(
      keccak256(
        toHex(
          "TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)",
        ),
      ),
    );

    const chainId = await publicClient.getChainId();
    expect(await harness.read.DOMAIN_SEPARATOR()).to.equal(
      hashDomain({
        domain: {
          name: TEST_TOKEN_NAME,
          version: TEST_TOKEN_VERSION,
          chainId: BigInt(chainId),
          verifyingContract: harness.address,
        },
        types: {
          EIP712Domain: [
            { name: "name", type: "string" },
            { name: "version", type: "string" },
            { name: "chainId", type: "uint256" },
            { name: "verifyingContract", type: "address" },
          ],
        },
      }),
    );
    const [, name, version, domainChainId, verifyingContract] = await publicClient.readContract({
      address: harness.address,
      abi: x402TestTokenAbi,
      functionName: "eip712Domain",
    });
    expect([name, version, domainChainId, verifyingContract]).to.deep.equal([
      TEST_TOKEN_NAME,
      TEST_TOKEN_VERSION,
      BigInt(chainId),
      getAddress(harness.address),
    ]);
    expect(await usdc("DOMAIN_SEPARATOR")).to.equal(
      hashDomain({
        domain: {
          name: "USD Coin",
          version: "2",
          chainId: BigInt(chainId),
          verifyingContract: USDC_ADDRESS,
        },
        types: {
          EIP712Domain: [
            { name: "name", type: "string" },
            { name: "version", type: "string" },
            { name: "chainId", type: "uint256" },
            { name: "verifyingContract", type: "address" },
          ],
        },
      }),
    );
    expect(await harness.read.decimals()).to.equal(6);
  });
});
