import {
  hashStruct,
  hashTypedData,
  type Address,
  type Hex,
  type TypedDataDomain,
  type TypedDataParameter,
} from "viem";

import { PERMIT2_ADDRESS } from "../chain/base.js";
import { InvalidPermit2InputError } from "./errors.js";
import type { Permit2Domain, Permit2Witness, PermitWitnessTransferFrom } from "./types.js";

const TOKEN_PERMISSIONS = [
  { name: "token", type: "address" },
  { name: "amount", type: "uint256" },
] as const;

/** Permit2's EIP-712 domain on `chainId` (at the canonical address unless `permit2` is given). */
export function getPermit2Domain(
  chainId: number,
  permit2: Address = PERMIT2_ADDRESS,
): Permit2Domain {
  return { name: "Permit2", chainId, verifyingContract: permit2 };
}

function encodeFields(fields: readonly TypedDataParameter[]): string {
  return fields.map((field) => `${field.type} ${field.name}`).join(",");
}

function checkWitnessType(witness: Pick<Permit2Witness, "typeName" | "fields">): void {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(witness.typeName)) {
    throw new InvalidPermit2InputError(
      "witness.typeName",
      `not an EIP-712 type name: ${witness.typeName}`,
    );
  }
  if (["TokenPermissions", "PermitWitnessTransferFrom"].includes(witness.typeName)) {
    throw new InvalidPermit2InputError("witness.typeName", `${witness.typeName} is Permit2's own`);
  }
  for (const field of witness.fields) {
    if (
      !/^[A-Za-z_][A-Za-z0-9_]*$/.test(field.name) ||
      !/^[a-z][a-z0-9]*(\[\d*\])?$/.test(field.type)
    ) {
      throw new InvalidPermit2InputError(
        "witness.fields",
        `field ${field.name} ${field.type}: only atomic types are supported`,
      );
    }
  }
}

/**
 * The `witnessTypeString` a spender passes to `permitWitnessTransferFrom` for this witness type:
 * Permit2 prefixes it with `PermitWitnessTransferFrom(TokenPermissions permitted,address spender,
 * uint256 nonce,uint256 deadline,` to get the full EIP-712 type, so the witness's definition and
 * `TokenPermissions` follow in name order.
 *
 * @example
 * permit2WitnessTypeString({ typeName: "Payment", fields: [{ name: "payee", type: "address" }] });
 * // "Payment witness)Payment(address payee)TokenPermissions(address token,uint256 amount)"
 * permit2WitnessTypeString({ typeName: "Witness", fields: [{ name: "to", type: "address" }] });
 * // "Witness witness)TokenPermissions(address token,uint256 amount)Witness(address to)"
 */
export function permit2WitnessTypeString(
  witness: Pick<Permit2Witness, "typeName" | "fields">,
): string {
  checkWitnessType(witness);
  // EIP-712 lists the referenced struct types after the primary one, sorted by name.
  const definitions = [
    `${witness.typeName}(${encodeFields(witness.fields)})`,
    `TokenPermissions(${encodeFields(TOKEN_PERMISSIONS)})`,
  ].sort();
  return `${witness.typeName} witness)${definitions.join("")}`;
}

export type GetPermitWitnessTransferFromTypedDataParameters = {
  chainId: number;
  /** Default: the canonical Permit2 address. */
  permit2?: Address;
  permit: PermitWitnessTransferFrom;
  witness: Permit2Witness;
};

/**
 * The EIP-712 typed data of a `PermitWitnessTransferFrom`, ready for any signer library.
 *
 * @example
 * const typedData = getPermitWitnessTransferFromTypedData({ chainId: 8453, permit, witness });
 * const signature = await payer.signTypedData(typedData);
 */
export function getPermitWitnessTransferFromTypedData({
  chainId,
  permit2 = PERMIT2_ADDRESS,
  permit,
  witness,
}: GetPermitWitnessTransferFromTypedDataParameters) {
  checkWitnessType(witness);
  const max = (1n << 256n) - 1n;
  for (const field of ["amount", "nonce", "deadline"] as const) {
    const value = permit[field];
    if (typeof value !== "bigint" || value < 0n || value > max) {
      throw new InvalidPermit2InputError(field, `must be a uint256, got ${String(value)}`);
    }
  }
  return {
    domain: getPermit2Domain(chainId, permit2) as TypedDataDomain,
    types: {
      PermitWitnessTransferFrom: [
        { name: "permitted", type: "TokenPermissions" },
        { name: "spender", type: "address" },
        { name: "nonce", type: "uint256" },
        { name: "deadline", type: "uint256" },
        { name: "witness", type: witness.typeName },
      ],
      TokenPermissions: TOKEN_PERMISSIONS,
      [witness.typeName]: witness.fields,
    } as Record<string, readonly TypedDataParameter[]>,
    primaryType: "PermitWitnessTransferFrom" as const,
    message: {
      permitted: { token: permit.token, amount: permit.amount },
      spender: permit.spender,
      nonce: permit.nonce,
      deadline: permit.deadline,
      witness: witness.value,
    },
  };
}

/** The digest Permit2 checks the owner's signature against. */
export function hashPermitWitnessTransferFrom(
  parameters: GetPermitWitnessTransferFromTypedDataParameters,
): Hex {
  return hashTypedData(getPermitWitnessTransferFromTypedData(parameters) as never);
}

/**
 * The witness's EIP-712 struct hash: the `witness` argument of `permitWitnessTransferFrom`.
 *
 * @example
 * const witnessHash = hashPermit2Witness(witness);
 */
export function hashPermit2Witness(witness: Permit2Witness): Hex {
  checkWitnessType(witness);
  return hashStruct({
    data: witness.value,
    primaryType: witness.typeName,
    types: { [witness.typeName]: witness.fields } as Record<string, readonly TypedDataParameter[]>,
  });
}
