/** The FiatTokenV2_2 functions the local bootstrap calls: initialisers and minting. */
export const fiatTokenBootstrapAbi = [
  {
    type: "function",
    name: "initialize",
    stateMutability: "nonpayable",
    inputs: [
      { name: "tokenName", type: "string" },
      { name: "tokenSymbol", type: "string" },
      { name: "tokenCurrency", type: "string" },
      { name: "tokenDecimals", type: "uint8" },
      { name: "newMasterMinter", type: "address" },
      { name: "newPauser", type: "address" },
      { name: "newBlacklister", type: "address" },
      { name: "newOwner", type: "address" },
    ],
    outputs: [],
  },
  {
    type: "function",
    name: "initializeV2",
    stateMutability: "nonpayable",
    inputs: [{ name: "newName", type: "string" }],
    outputs: [],
  },
  {
    type: "function",
    name: "initializeV2_1",
    stateMutability: "nonpayable",
    inputs: [{ name: "lostAndFound", type: "address" }],
    outputs: [],
  },
  {
    type: "function",
    name: "initializeV2_2",
    stateMutability: "nonpayable",
    inputs: [
      { name: "accountsToBlacklist", type: "address[]" },
      { name: "newSymbol", type: "string" },
    ],
    outputs: [],
  },
  {
    type: "function",
    name: "masterMinter",
    stateMutability: "view",
    inputs: [],
    outputs: [{ name: "", type: "address" }],
  },
  {
    type: "function",
    name: "configureMinter",
    stateMutability: "nonpayable",
    inputs: [
      { name: "minter", type: "address" },
      { name: "minterAllowedAmount", type: "uint256" },
    ],
    outputs: [{ name: "", type: "bool" }],
  },
  {
    type: "function",
    name: "mint",
    stateMutability: "nonpayable",
    inputs: [
      { name: "_to", type: "address" },
      { name: "_amount", type: "uint256" },
    ],
    outputs: [{ name: "", type: "bool" }],
  },
] as const;
