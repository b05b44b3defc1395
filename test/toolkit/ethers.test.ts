import { expect } from "chai";
import { HDNodeWallet, JsonRpcProvider, Wallet, hexlify, randomBytes } from "ethers";
import type { Address, Hex } from "viem";

import { transferWithAuthorizationTypes } from "../../src/authorization/eip712Types.js";
import { type DirectItem, encodeItems } from "../../src/batch/encodeItems.js";
import { fundUsdc } from "../../src/chain/bootstrap.js";
import {
  BASE_CHAIN_ID,
  USDC_ADDRESS,
  USDC_EIP712_NAME,
  USDC_EIP712_VERSION,
} from "../../src/chain/base.js";
import { ItemStatus } from "../../src/errors/itemStatus.js";
import { IEIP3009Token__factory, SettlementRouter__factory } from "../../src/ethers/index.js";
import { startSettlementChain } from "./fixture.js";

const MNEMONIC = "test test test test test test test test test test test junk";

describe("toolkit: ethers v6 TypeChain bindings (x402-clearing/ethers)", () => {
  let env: Awaited<ReturnType<typeof startSettlementChain>>;

  before(async () => {
    env = await startSettlementChain();
  });
  after(async () => {
    await env?.stop();
  });

  it("an ethers script deploys the router, settles a batch through it and reads the outcome", async () => {
    const provider = new JsonRpcProvider(env.chain.url, undefined, { cacheTimeout: -1 });
    const relayer = HDNodeWallet.fromPhrase(MNEMONIC, undefined, "m/44'/60'/0'/0/0").connect(
      provider,
    );
    const router = await new SettlementRouter__factory(relayer).deploy();
    await router.waitForDeployment();
    const routerAddress = (await router.getAddress()) as Address;

    const payers = Array.from({ length: 5 }, () => Wallet.createRandom());
    await fundUsdc(env.testClient, {
      recipients: payers.map((payer) => payer.address as Address),
      amount: 10_000n,
    });
    const payee: Address = "0x000000000000000000000000000000000000bEEF";
    const now = BigInt((await provider.getBlock("latest"))!.timestamp);
    const domain = {
      name: USDC_EIP712_NAME,
      version: USDC_EIP712_VERSION,
      chainId: BASE_CHAIN_ID,
      verifyingContract: USDC_ADDRESS,
    };
    const types = {
      TransferWithAuthorization: [...transferWithAuthorizationTypes.TransferWithAuthorization],
    };
    const items: DirectItem[] = [];
    for (const [i, payer] of payers.entries()) {
      const message = {
        from: payer.address as Address,
        to: payee,
        value: 1_000n + BigInt(i),
        validAfter: 0n,
        validBefore: now + 600n,
        nonce: hexlify(randomBytes(32)) as Hex,
      };
      const signature = (await payer.signTypedData(domain, types, message)) as Hex;
      items.push({ kind: "direct", ...message, signature });
    }
    // One payment signed for another payee: the router must fail it alone.
    items[4] = { ...items[4]!, to: "0x000000000000000000000000000000000000dEaD" };

    const packed = encodeItems(items);
    const predicted = await router.settle.staticCall(USDC_ADDRESS, relayer.address, packed);
    const receipt = await (await router.settle(USDC_ADDRESS, relayer.address, packed)).wait();
    expect(receipt?.status).to.equal(1);
    const settled = receipt!.logs
      .map((log) => router.interface.parseLog(log))
      .find((event) => event?.name === "BatchSettled");
    expect(settled?.args.results).to.equal(predicted);
    const statuses = Array.from(Buffer.from((predicted as string).slice(2), "hex"));
    expect(statuses.slice(0, 4)).to.deep.equal([0, 0, 0, 0].map(() => ItemStatus.Settled));
    expect(statuses[4]).to.not.equal(ItemStatus.Settled);

    const usdc = IEIP3009Token__factory.connect(USDC_ADDRESS, provider);
    for (const [i, item] of items.entries())
      expect(await usdc.authorizationState(item.from, item.nonce), `item ${i}`).to.equal(i < 4);
    expect(await env.balanceOf(payee)).to.equal(1_000n + 1_001n + 1_002n + 1_003n);
    expect(routerAddress).to.not.equal(env.router);
    provider.destroy();
  });
});
