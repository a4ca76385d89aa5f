/**
 * A minimal browser for sign-in flows over HTTP: a cookie jar (by name and
 * path, one host, as a browser keeps cookies for 127.0.0.1 whatever the
 * port), manual redirects, and submitting a page's form. Enough to drive an
 * OpenID Connect provider's login and consent pages without Chromium.
 */
export class TestBrowser {
  private readonly jar = new Map<string, { name: string; value: string; path: string }>();

  /** One request; redirects are not followed. */
  async request(url: string, init: { method?: string; body?: URLSearchParams } = {}): Promise<Response> {
    const target = new URL(url);
    const cookie = [...this.jar.values()]
      .filter((c) => target.pathname.startsWith(c.path))
      .map((c) => `${c.name}=${c.value}`)
      .join("; ");
    const res = await fetch(target, {
      method: init.method ?? "GET",
      redirect: "manual",
      headers: {
        ...(cookie ? { cookie } : {}),
        ...(init.body ? { "content-type": "application/x-www-form-urlencoded" } : {}),
      },
      ...(init.body ? { body: init.body.toString() } : {}),
    });
    for (const header of res.headers.getSetCookie()) this.store(header);
    return res;
  }

  /** The value of a cookie this browser holds, by name. */
  cookie(name: string): string | undefined {
    for (const c of this.jar.values()) if (c.name === name) return c.value;
    return undefined;
  }

  /**
   * Starts at `url`, follows redirects and submits each page's form (with
   * `fields` filled in over its hidden inputs), until a redirect points at a
   * URL `stopAt` accepts; returns that URL without requesting it.
   */
  async browse(url: string, fields: Record<string, string>, stopAt: (url: URL) => boolean): Promise<URL> {
    let next = new URL(url);
    let body: URLSearchParams | undefined;
    for (let step = 0; step < 20; step++) {
      const res = await this.request(next.href, body ? { method: "POST", body } : {});
      body = undefined;
      const location = res.headers.get("location");
      if (res.status >= 300 && res.status < 400 && location) {
        await res.body?.cancel();
        next = new URL(location, next);
        if (stopAt(next)) return next;
        continue;
      }
      const html = await res.text();
      const form = /<form[^>]*action="([^"]+)"[^>]*method="post"[^>]*>([\s\S]*?)<\/form>/i.exec(html);
      if (!form) throw new Error(`no redirect and no form at ${next.href}: ${res.status} ${html.slice(0, 300)}`);
      body = new URLSearchParams();
      for (const input of form[2]!.matchAll(/<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)) {
        body.set(input[1]!, input[2]!);
      }
      for (const [name, value] of Object.entries(fields)) body.set(name, value);
      next = new URL(form[1]!.replace(/&amp;/g, "&"), next);
    }
    throw new Error(`no stop after 20 steps (last ${next.href})`);
  }

  private store(header: string): void {
    const [pair = "", ...attributes] = header.split(";");
    const at = pair.indexOf("=");
    const name = pair.slice(0, at).trim();
    const value = pair.slice(at + 1).trim();
    let path = "/";
    let expired = false;
    for (const attribute of attributes) {
      const [key = "", val = ""] = attribute.split("=").map((s) => s.trim());
      if (key.toLowerCase() === "path") path = val;
      if (key.toLowerCase() === "max-age" && Number(val) <= 0) expired = true;
      if (key.toLowerCase() === "expires" && Date.parse(val) <= Date.now()) expired = true;
    }
    const key = `${name}|${path}`;
    if (expired) this.jar.delete(key);
    else this.jar.set(key, { name, value, path });
  }
}
