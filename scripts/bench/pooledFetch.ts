/**
 * The paying clients' `fetch` in the facilitator benchmark: a WHATWG-shaped `fetch` over one
 * keep-alive undici connection pool per origin. The official `@x402/fetch` wrapper is handed this
 * instead of the global `fetch`, whose request, response and stream machinery costs about twice
 * the CPU of the HTTP exchange itself on a busy thread; the same for every row. It answers with
 * a minimal `Response` over the body already read (no stream).
 */
import { Pool } from "undici";

/** A `fetch` for `wrapFetchWithPayment`, and a way to close its connections. */
export interface PooledFetch {
  fetch: (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
  close(): Promise<void>;
}

/** The lower-cased answer headers, read as `Headers.get` and `Headers.has` read them. */
class AnswerHeaders {
  readonly #values: Record<string, string>;

  constructor(raw: Record<string, string | string[] | undefined>) {
    const values: Record<string, string> = {};
    for (const [name, value] of Object.entries(raw)) {
      if (value !== undefined)
        values[name.toLowerCase()] = Array.isArray(value) ? value.join(", ") : value;
    }
    this.#values = values;
  }

  get(name: string): string | null {
    return this.#values[name.toLowerCase()] ?? null;
  }

  has(name: string): boolean {
    return name.toLowerCase() in this.#values;
  }
}

/**
 * What a `Response` is read for here (`status`, `ok`, `url`, `headers.get`/`has`, `text`, `json`,
 * `arrayBuffer`), over the body already read: no stream is built for a body that is already in
 * memory.
 */
class PooledResponse {
  readonly ok: boolean;

  constructor(
    readonly status: number,
    readonly headers: AnswerHeaders,
    readonly url: string,
    private readonly bytes: Uint8Array,
  ) {
    this.ok = status >= 200 && status < 300;
  }

  async text(): Promise<string> {
    return Buffer.from(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength).toString(
      "utf8",
    );
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    return this.bytes.slice().buffer;
  }
}

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
      const bytes = new Uint8Array(await answer.body.arrayBuffer());
      // The official wrapper and the bench read no more of a Response than PooledResponse has.
      return new PooledResponse(
        answer.statusCode,
        new AnswerHeaders(answer.headers),
        request.url,
        bytes,
      ) as unknown as Response;
    },
    async close() {
      await Promise.all([...pools.values()].map((pool) => pool.close()));
      pools.clear();
    },
  };
}
