import { expect } from "chai";
import { network } from "hardhat";
import {
  type Address,
  encodeFunctionData,
  getAddress,
  hashDomain,
  parseAbi,
  parseSignature,
  toHex,
} from "viem";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";

import {
  BASE_CHAIN_ID,
  CREATEX_ADDRESS,
  MULTICALL3_ADDRESS,
  PERMIT2_ADDRESS,
  USDC_ADDRESS,
} from "../../src/chain/base.js";
import { CREATEX_PRESIGNED_TRANSACTION } from "../../src/chain/createXDeployment.js";
import { permit2RuntimeCode } from "../../src/chain/permit2.js";
import { permit2Abi } from "../../src/abi/permit2.js";
import {
  FUNDING_MINTER,
  LOCAL_USDC_ROLES,
  bootstrapBase,
  fundUsdc,
  installCreateX,
} from "../../src/chain/bootstrap.js";

const usdcAbi = parseAbi([
  "function DOMAIN_SEPARATOR() view returns (bytes32)",
  "function name() view returns (string)",
  "function symbol() view returns (string)",
  "function currency() view returns (string)",
  "function decimals() view returns (uint8)",
  "function version() view returns (string)",
  "function balanceOf(address) view returns (uint256)",
  "function masterMinter() view returns (address)",
  "function updateMasterMinter(address)",
  "function minterAllowance(address) view returns (uint256)",
  "function authorizationState(address, bytes32) view returns (bool)",
  "function transferWithAuthorization(address from, address to, uint256 value, uint256 validAfter, uint256 validBefore, bytes32 nonce, uint8 v, bytes32 r, bytes32 s)",
  "event MinterConfigured(address indexed minter, uint256 minterAllowedAmount)",
  "event Mint(address indexed minter, address indexed to, uint256 amount)",
]);

const multicall3Abi = parseAbi([
  "struct Call3 { address target; bool allowFailure; bytes callData; }",
  "struct Result { bool success; bytes returnData; }",
  "function aggregate3(Call3[] calls) payable returns (Result[] returnData)",
]);

async function freshBase() {
  const conn = await network.create();
  const client = await conn.viem.getTestClient();
  const publicClient = await conn.viem.getPublicClient();
  const [relayer] = await conn.viem.getWalletClients();
  return { conn, client, publicClient, relayer };
}

describe("local Base bootstrap", () => {
  it("installs USDC at the canonical address with Base mainnet's EIP-712 domain and metadata", async () => {
    const { client, publicClient } = await freshBase();
    const result = await bootstrapBase(client);
    expect(result.forked).to.equal(false);
    // CreateX is a predeploy of every simulated Base connection (plugins/simulated-base), as on real Base.
    expect(result.installed).to.deep.equal({
      usdc: true,
      multicall3: true,
      createX: false,
      permit2: true,
    });
    expect(await publicClient.getChainId()).to.equal(BASE_CHAIN_ID);

    const read = <
      F extends "name" | "symbol" | "currency" | "decimals" | "version" | "DOMAIN_SEPARATOR",
    >(
      functionName: F,
    ) => publicClient.readContract({ address: USDC_ADDRESS, abi: usdcAbi, functionName });
    expect(await read("name")).to.equal("USD Coin");
    expect(await read("symbol")).to.equal("USDC");
    expect(await read("currency")).to.equal("USD");
    expect(await read("decimals")).to.equal(6);
    expect(await read("version")).to.equal("2");
    const expected = hashDomain({
      domain: { name: "USD Coin", version: "2", chainId: 8453n, verifyingContract: USDC_ADDRESS },
      types: {
        EIP712Domain: [
          { name: "name", type: "string" },
          { name: "version", type: "string" },
          { name: "chainId", type: "uint256" },
          { name: "verifyingContract", type: "address" },
        ],
      },
    });
    expect(await read("DOMAIN_SEPARATOR")).to.equal(expected);
  });

  it("installs Permit2 at its canonical address with the domain separator that address has on Base", async () => {
    const { client, publicClient } = await freshBase();
    await bootstrapBase(client);
    const onBase = hashDomain({
      domain: { name: "Permit2", chainId: 8453n, verifyingContract: PERMIT2_ADDRESS },
      types: {
        EIP712Domain: [
          { name: "name", type: "string" },
          { name: "chainId", type: "uint256" },
          { name: "verifyingContract", type: "address" },
        ],
      },
    });
    const separator = await publicClient.readContract({
      address: PERMIT2_ADDRESS,
      abi: permit2Abi,
      functionName: "DOMAIN_SEPARATOR",
    });
    expect(separator).to.equal(onBase);
    // Served from the cached immutable (as at the real deployment), not recomputed: a call costs the same as there.
    expect(permit2RuntimeCode(8453)).to.include(onBase.slice(2));
    expect(await publicClient.getCode({ address: PERMIT2_ADDRESS })).to.equal(
      permit2RuntimeCode(8453),
    );
    // Nothing is owed to Permit2 until someone approves it.
    expect(
      await publicClient.readContract({
        address: PERMIT2_ADDRESS,
        abi: permit2Abi,
        functionName: "nonceBitmap",
        args: [PERMIT2_ADDRESS, 0n],
      }),
    ).to.equal(0n);
  });

  it("settles a TransferWithAuthorization signed with viem at the canonical USDC", async () => {
    const { client, publicClient, relayer } = await freshBase();
    await bootstrapBase(client);
    const payer = privateKeyToAccount(generatePrivateKey());
    const payee = getAddress(toHex(0xbeefn, { size: 20 }));
    await fundUsdc(client, { recipients: [payer.address], amount: 5_000_000n });

    const block = await publicClient.getBlock();
    const message = {
      from: payer.address,
      to: payee,
      value: 1_250_000n,
      validAfter: 0n,
      validBefore: block.timestamp + 600n,
      nonce: toHex(crypto.getRandomValues(new Uint8Array(32))),
    };
    const signature = await payer.signTypedData({
      domain: { name: "USD Coin", version: "2", chainId: 8453, verifyingContract: USDC_ADDRESS },
      types: {
        TransferWithAuthorization: [
          { name: "from", type: "address" },
          { name: "to", type: "address" },
          { name: "value", type: "uint256" },
          { name: "validAfter", type: "uint256" },
          { name: "validBefore", type: "uint256" },
          { name: "nonce", type: "bytes32" },
        ],
      },
      primaryType: "TransferWithAuthorization",
      message,
    });
    const { v, r, s } = parseSignature(signature);
    const hash = await relayer.writeContract({
      address: USDC_ADDRESS,
      abi: usdcAbi,
      functionName: "transferWithAuthorization",
      args: [
        message.from,
        message.to,
        message.value,
        message.validAfter,
        message.validBefore,
        message.nonce,
        Number(v),
        r,
        s,
      ],
    });
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    expect(receipt.status).to.equal("success");
    const balance = (who: Address) =>
      publicClient.readContract({
        address: USDC_ADDRESS,
        abi: usdcAbi,
        functionName: "balanceOf",
        args: [who],
      });
    expect(await balance(payee)).to.equal(1_250_000n);
    expect(await balance(payer.address)).to.equal(3_750_000n);
    expect(
      await publicClient.readContract({
        address: USDC_ADDRESS,
        abi: usdcAbi,
        functionName: "authorizationState",
        args: [payer.address, message.nonce],
      }),
    ).to.equal(true);
  });

  it("answers aggregate3 at the canonical Multicall3 address and has CreateX at its own", async () => {
    const { client, publicClient } = await freshBase();
    await bootstrapBase(client);
    const probe = getAddress(toHex(0x1234n, { size: 20 }));
    const { result } = await publicClient.simulateContract({
      address: MULTICALL3_ADDRESS,
      abi: multicall3Abi,
      functionName: "aggregate3",
      args: [
        [
          {
            target: USDC_ADDRESS,
            allowFailure: false,
            callData: encodeFunctionData({ abi: usdcAbi, functionName: "name" }),
          },
          {
            target: USDC_ADDRESS,
            allowFailure: true,
            callData: encodeFunctionData({
              abi: usdcAbi,
              functionName: "balanceOf",
              args: [probe],
            }),
          },
          { target: USDC_ADDRESS, allowFailure: true, callData: "0xdeadbeef" },
        ],
      ],
    });
    expect(result).to.have.length(3);
    expect(result[0].success).to.equal(true);
    expect(result[1].success).to.equal(true);
    expect(BigInt(result[1].returnData)).to.equal(0n);
    expect(result[2].success).to.equal(false);
    const createX = await publicClient.getCode({ address: CREATEX_ADDRESS });
    expect(createX && createX.length).to.be.greaterThan(1000);
  });

  it("on a fork keeps the code already deployed and funds through USDC's master minter", async () => {
    const { client, publicClient, relayer } = await freshBase();
    await bootstrapBase(client);
    // Fake a fork of Base: USDC already there, with a contract (not one of our local roles) as master minter, as on
    // Base mainnet where the master minter is a MasterMinter contract. The Multicall3 account stands in for it.
    const forkMasterMinter = MULTICALL3_ADDRESS;
    await client.impersonateAccount({ address: LOCAL_USDC_ROLES.owner });
    await relayer.writeContract({
      account: LOCAL_USDC_ROLES.owner,
      address: USDC_ADDRESS,
      abi: usdcAbi,
      functionName: "updateMasterMinter",
      args: [forkMasterMinter],
    });
    await client.stopImpersonatingAccount({ address: LOCAL_USDC_ROLES.owner });
    const codeBefore = await publicClient.getCode({ address: USDC_ADDRESS });
    const multicallCodeBefore = await publicClient.getCode({ address: MULTICALL3_ADDRESS });

    const result = await bootstrapBase(client);
    expect(result.forked).to.equal(true);
    expect(result.installed).to.deep.equal({
      usdc: false,
      multicall3: false,
      createX: false,
      permit2: false,
    });
    expect(result.masterMinter).to.equal(forkMasterMinter);
    expect(await publicClient.getCode({ address: USDC_ADDRESS })).to.equal(codeBefore);
    expect(await publicClient.getCode({ address: MULTICALL3_ADDRESS })).to.equal(
      multicallCodeBefore,
    );

    const payers = [1n, 2n, 3n].map((n) => getAddress(toHex(0xfa000n + n, { size: 20 })));
    const fromBlock = await publicClient.getBlockNumber();
    await fundUsdc(client, { recipients: payers, amount: 7_000_000n });
    for (const payer of payers) {
      expect(
        await publicClient.readContract({
          address: USDC_ADDRESS,
          abi: usdcAbi,
          functionName: "balanceOf",
          args: [payer],
        }),
      ).to.equal(7_000_000n);
    }
    const configured = await publicClient.getContractEvents({
      address: USDC_ADDRESS,
      abi: usdcAbi,
      eventName: "MinterConfigured",
      fromBlock,
    });
    expect(configured).to.have.length(1);
    expect(configured[0].args.minter).to.equal(FUNDING_MINTER);
    const configureTx = await publicClient.getTransaction({ hash: configured[0].transactionHash });
    expect(getAddress(configureTx.from)).to.equal(forkMasterMinter);
    const mints = await publicClient.getContractEvents({
      address: USDC_ADDRESS,
      abi: usdcAbi,
      eventName: "Mint",
      fromBlock,
    });
    expect(mints.map((m) => m.args.minter)).to.deep.equal([
      FUNDING_MINTER,
      FUNDING_MINTER,
      FUNDING_MINTER,
    ]);
    expect(mints.map((m) => m.args.to)).to.deep.equal(payers);
  });

  it("installs CreateX with exactly the code its pre-signed deployment leaves, without mining a block", async () => {
    const installedBy = await freshBase();
    const installed = await installedBy.publicClient.getCode({ address: CREATEX_ADDRESS });
    expect(await installedBy.publicClient.getBlockNumber()).to.equal(0n);
    // On another fresh chain, remove it and deploy it the canonical way: the pre-signed transaction.
    const { client, publicClient } = await freshBase();
    await client.setCode({ address: CREATEX_ADDRESS, bytecode: "0x" });
    await client.setBalance({
      address: "0xeD456e05CaAb11d66C4c797dD6c1D6f9A7F352b5",
      value: 10n ** 18n,
    });
    const hash = await publicClient.sendRawTransaction({
      serializedTransaction: CREATEX_PRESIGNED_TRANSACTION,
    });
    expect((await publicClient.waitForTransactionReceipt({ hash })).status).to.equal("success");
    expect(await publicClient.getCode({ address: CREATEX_ADDRESS })).to.equal(installed);
    // installCreateX itself restores the same code where it is missing.
    const third = await freshBase();
    await third.client.setCode({ address: CREATEX_ADDRESS, bytecode: "0x" });
    await installCreateX(third.client);
    expect(await third.publicClient.getCode({ address: CREATEX_ADDRESS })).to.equal(installed);
  });
});
