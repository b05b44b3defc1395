import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

import type { BatchFacilitator } from "./facilitator.js";
import { reasons } from "./reasons.js";

/** Options of {@link createFacilitatorServer}. */
export interface FacilitatorServerOptions {
  /** Largest accepted request body in bytes (default 64 KiB); larger bodies get 413. */
  maxBodyBytes?: number;
}

class BodyTooLargeError extends Error {}

function readBody(request: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(request.headers["content-length"] ?? 0);
    if (declared > limit) {
      reject(new BodyTooLargeError());
      return;
    }
    const chunks: Buffer[] = [];
    let received = 0;
    request.on("data", (chunk: Buffer) => {
      received += chunk.length;
      if (received > limit) {
        reject(new BodyTooLargeError());
        request.removeAllListeners("data");
        request.resume();
        return;
      }
      chunks.push(chunk);
    });
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    request.on("error", reject);
  });
}

function send(response: ServerResponse, status: number, body: unknown): void {
  if (response.headersSent || response.destroyed) return;
  const text = JSON.stringify(body);
  response.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
  });
  response.end(text);
}

/**
 * The facilitator's HTTP face (node:http, no framework): `POST /verify`, `POST /settle`,
 * `GET /supported`, `GET /health`. Bodies are limited in size and must be JSON; anything that is
 * not a payment request is answered 400 with a reason, never a 5xx.
 *
 * @example
 * const server = createFacilitatorServer(facilitator);
 * server.listen(4020, () => console.log("Facilitator listening on port 4020"));
 */
export function createFacilitatorServer(
  facilitator: BatchFacilitator,
  options: FacilitatorServerOptions = {},
): Server {
  const limit = options.maxBodyBytes ?? 64 * 1024;
  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const path = (request.url ?? "/").split("?")[0];
    const method = request.method ?? "GET";
    if (path === "/supported" || path === "/health") {
      if (method !== "GET" && method !== "HEAD") {
        send(response, 405, { error: "method_not_allowed" });
        return;
      }
      send(response, 200, path === "/supported" ? facilitator.supported() : facilitator.health());
      return;
    }
    if (path !== "/verify" && path !== "/settle") {
      send(response, 404, { error: "not_found" });
      return;
    }
    const isVerify = path === "/verify";
    const reject = (status: number, reason: string, message: string) =>
      send(
        response,
        status,
        isVerify
          ? { isValid: false, invalidReason: reason, invalidMessage: message }
          : {
              success: false,
              errorReason: reason,
              errorMessage: message,
              transaction: "",
              network: "",
            },
      );
    if (method !== "POST") {
      reject(405, reasons.invalidPayload, `${path} takes POST`);
      return;
    }
    let text: string;
    try {
      text = await readBody(request, limit);
    } catch (error) {
      if (error instanceof BodyTooLargeError) {
        reject(413, reasons.invalidPayload, `body larger than ${limit} bytes`);
        response.once("finish", () => request.destroy());
      } else reject(400, reasons.invalidPayload, "could not read the body");
      return;
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      reject(400, reasons.invalidPayload, "body is not JSON");
      return;
    }
    const answer = isVerify ? await facilitator.verify(body) : await facilitator.settle(body);
    send(response, answer.status, answer.body);
  };
  return createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      const message = error instanceof Error ? error.message.split("\n")[0] : String(error);
      send(response, 500, { error: reasons.unexpectedSettleError, message: message.slice(0, 200) });
    });
  });
}
