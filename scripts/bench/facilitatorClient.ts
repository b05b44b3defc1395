/**
 * The resource server's client of its facilitator in the benchmark: the official
 * `HTTPFacilitatorClient` (its `/supported` discovery unchanged) with `/verify` and `/settle` sent
 * over a keep-alive undici connection pool instead of the global `fetch`, whose WHATWG
 * request, response and stream objects cost more than the call itself on a busy thread.
 */
import { HTTPFacilitatorClient } from "@x402/core/server";
import {
  SettleError,
  VerifyError,
  type PaymentPayload,
  type PaymentRequirements,
  type SettleResponse,
  type VerifyResponse,
} from "@x402/core/types";
import { Pool } from "undici";

/** Longest a `/verify` or `/settle` call may take, as the SDK's client defaults to. */
const CALL_TIMEOUT_MS = 30_000;

export class PooledFacilitatorClient extends HTTPFacilitatorClient {
  private readonly pool: Pool;

  constructor(url: string, connections = 128) {
    super({ url });
    this.pool = new Pool(url, { connections, keepAliveTimeout: 30_000 });
  }

  override verify(
    paymentPayload: PaymentPayload,
    paymentRequirements: PaymentRequirements,
  ): Promise<VerifyResponse> {
    return this.call("/verify", paymentPayload, paymentRequirements) as Promise<VerifyResponse>;
  }

  override settle(
    paymentPayload: PaymentPayload,
    paymentRequirements: PaymentRequirements,
  ): Promise<SettleResponse> {
    return this.call("/settle", paymentPayload, paymentRequirements) as Promise<SettleResponse>;
  }

  /** Closes the pool's connections. */
  close(): Promise<void> {
    return this.pool.close();
  }

  private async call(
    path: "/verify" | "/settle",
    paymentPayload: PaymentPayload,
    paymentRequirements: PaymentRequirements,
  ): Promise<VerifyResponse | SettleResponse> {
    const { statusCode, body } = await this.pool.request({
      path,
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        x402Version: paymentPayload.x402Version,
        paymentPayload,
        paymentRequirements,
      }),
      headersTimeout: CALL_TIMEOUT_MS,
      bodyTimeout: CALL_TIMEOUT_MS,
    });
    const text = await body.text();
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      throw new Error(`Facilitator ${path.slice(1)} failed (${statusCode}): ${text.slice(0, 200)}`);
    }
    if (statusCode >= 200 && statusCode < 300) return data as VerifyResponse | SettleResponse;
    // A refusal with its body, as the SDK's client raises it.
    if (path === "/verify" && typeof data === "object" && data !== null && "isValid" in data)
      throw new VerifyError(statusCode, data as VerifyResponse);
    if (path === "/settle" && typeof data === "object" && data !== null && "success" in data)
      throw new SettleError(statusCode, data as SettleResponse);
    throw new Error(`Facilitator ${path.slice(1)} failed (${statusCode}): ${text.slice(0, 200)}`);
  }
}
