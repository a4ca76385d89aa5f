/**
 * A web client's view of the query service: Connect-JSON (POST with a JSON
 * body) over keep-alive HTTP/1.1, as `fetch` in a browser sends it.
 */
export class ConnectJsonClient {
  readonly baseUrl: string;
  private token = "";

  constructor(baseUrl: string) {
    this.baseUrl = baseUrl;
  }

  async login(username: string, password: string): Promise<void> {
    this.token = "";
    const { body } = await this.call<{ tokens: { accessToken: string } }>("vigil.auth.v1.AuthService/Login", {
      username,
      password,
    });
    this.token = body.tokens.accessToken;
  }

  /** One call; `ms` is the time from sending the request to having parsed the answer. */
  async call<T>(path: string, request: unknown): Promise<{ ms: number; body: T }> {
    const started = performance.now();
    const res = await fetch(`${this.baseUrl}/${path}`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "connect-protocol-version": "1",
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
      },
      body: JSON.stringify(request),
    });
    const text = await res.text();
    const ms = performance.now() - started;
    if (!res.ok) throw new Error(`${path} answered ${res.status}: ${text.slice(0, 500)}`);
    return { ms, body: JSON.parse(text) as T };
  }
}

/** Nearest-rank percentile of unsorted samples. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
