/**
 * The paying clients' `fetch` in the facilitator benchmark: a WHATWG-shaped `fetch` over one
 * keep-alive undici connection pool per origin. The official `@x402/fetch` wrapper is handed this
 * instead of the global `fetch`, whose request, response and stream machinery costs about twice
 * the CPU of the HTTP exchange itself on a busy thread; the same for every row.
 */
import { Pool } from "undici";

/** A `fetch` for `wrapFetchWithPayment`, and a way to close its connections. */
export interface PooledFetch {
  fetch: (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
  close(): Promise<void>;
}

/** Statuses whose answers carry no body (a `Response` refuses one). */
const NULL_BODY = new Set([101, 204, 205, 304]);

/** A `fetch` over pools of at most `connections` connections per origin. */
export function createPooledFetch(connections = 128): PooledFetch {
  const pools = new Map<string, Pool>();
  const poolOf = (origin: string) => {
    let pool = pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, { connections, keepAliveTimeout: 60_000 });
      pools.set(origin, pool);
    }
    return pool;
  };
  return {
    async fetch(input, init) {
      const request =
        input instanceof Request && init === undefined ? input : new Request(input, init);
      const url = new URL(request.url);
      const headers: Record<string, string> = {};
      for (const [name, value] of request.headers) headers[name] = value;
      const body =
        request.method === "GET" || request.method === "HEAD"
          ? undefined
          : Buffer.from(await request.arrayBuffer());
      const answer = await poolOf(url.origin).request({
        path: `${url.pathname}${url.search}`,
        method: request.method as "GET",
        headers,
        body,
        signal: request.signal,
      });
      const bytes = await answer.body.arrayBuffer();
      const responseHeaders = new Headers();
      for (const [name, value] of Object.entries(answer.headers)) {
        if (value === undefined) continue;
        if (Array.isArray(value)) for (const item of value) responseHeaders.append(name, item);
        else responseHeaders.set(name, value);
      }
      const response = new Response(NULL_BODY.has(answer.statusCode) ? null : bytes, {
        status: answer.statusCode,
        headers: responseHeaders,
      });
      // `wrapFetchWithPayment` reads `response.url` (a constructed Response has none).
      Object.defineProperty(response, "url", { value: request.url });
      return response;
    },
    async close() {
      await Promise.all([...pools.values()].map((pool) => pool.close()));
      pools.clear();
    },
  };
}
