import { expect } from "chai";
import { createWalletClient, custom, type Hex } from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { base, baseSepolia } from "viem/chains";

import { buildDirectAuthorization } from "../../src/authorization/buildDirectAuthorization.js";
import {
  InvalidAuthorizationInputError,
  TokenDomainChainMismatchError,
} from "../../src/authorization/errors.js";
import { getTokenDomain } from "../../src/authorization/getTokenDomain.js";
import { signAuthorization } from "../../src/authorization/signAuthorization.js";
import { verifyAuthorization } from "../../src/authorization/verifyAuthorization.js";

/** A transport that must never be used: local accounts sign without a request. */
const noNode = custom({
  request: async ({ method }) => {
    throw new Error(`unexpected request ${method}`);
  },
});

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
}

describe("toolkit: the token domain's chain against the signer's", () => {
  const payer = privateKeyToAccount(generatePrivateKey());
  // Built when each test runs: its validity window starts from the wall clock, and mocha collects
  // this file long before a full run reaches it.
  const fresh = () =>
    buildDirectAuthorization({
      from: payer.address,
      to: "0x000000000000000000000000000000000000dEaD",
      value: 10_000n,
    });

  it("getTokenDomain defaults to Base mainnet USDC, and to Base Sepolia USDC for chain 84532", () => {
    expect(getTokenDomain()).to.deep.equal({
      name: "USD Coin",
      version: "2",
      chainId: 8453,
      verifyingContract: "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
    });
    expect(getTokenDomain({ chainId: 84532 })).to.deep.equal({
      name: "USDC",
      version: "2",
      chainId: 84532,
      verifyingContract: "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
    });
    // No USDC known on the chain: the token must be given, not borrowed from Base.
    const error = (() => {
      try {
        getTokenDomain({ chainId: 31337 });
      } catch (e) {
        return e;
      }
    })();
    expect(error).to.be.instanceOf(InvalidAuthorizationInputError);
    expect((error as InvalidAuthorizationInputError).field).to.equal("token");
  });

  it("refuses to sign the default (Base mainnet) domain with a Base Sepolia wallet", async () => {
    const authorization = fresh();
    const wallet = createWalletClient({ account: payer, chain: baseSepolia, transport: noNode });
    const error = await rejection(
      signAuthorization(wallet, { domain: getTokenDomain(), authorization }),
    );
    expect(error).to.be.instanceOf(TokenDomainChainMismatchError);
    const mismatch = error as TokenDomainChainMismatchError;
    expect(mismatch.domainChainId).to.equal(8453);
    expect(mismatch.signerChainId).to.equal(84532);
    expect(mismatch.reason).to.equal("invalid_exact_evm_network_mismatch");
    expect(mismatch.shortMessage).to.equal(
      "The token domain is for another chain than the signer's.",
    );

    // The wallet's own chain signs, and the signature verifies for that domain.
    const domain = getTokenDomain({ chainId: baseSepolia.id });
    const signed = await signAuthorization(wallet, { domain, authorization });
    expect(await verifyAuthorization({ domain, authorization: signed })).to.include({
      valid: true,
    });
  });

  it("checks a bare account against the chainId it is given, and signs when no chain is known", async () => {
    const authorization = fresh();
    const error = await rejection(
      signAuthorization(payer, { domain: getTokenDomain(), authorization, chainId: 84532 }),
    );
    expect(error).to.be.instanceOf(TokenDomainChainMismatchError);
    expect((error as TokenDomainChainMismatchError).signerChainId).to.equal(84532);

    const mainnet = createWalletClient({ account: payer, chain: base, transport: noNode });
    const chainless = createWalletClient({ account: payer, transport: noNode });
    const signatures: Hex[] = [];
    for (const signer of [payer, mainnet, chainless]) {
      const signed = await signAuthorization(signer, { domain: getTokenDomain(), authorization });
      signatures.push(signed.signature);
    }
    expect(new Set(signatures).size).to.equal(1);
  });
});
