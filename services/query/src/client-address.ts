import type http from "node:http";
import type http2 from "node:http2";
import net from "node:net";
import { peerAddress } from "./http-server.ts";

/** True for an address of a proxy whose X-Forwarded-For is believed. */
export type ProxyMatcher = (address: string) => boolean;

/**
 * A matcher for QUERY_TRUSTED_PROXIES: addresses and CIDR blocks, IPv4 or
 * IPv6 (`10.0.0.0/8`, `fd00::/8`, `192.0.2.7`). Throws on anything else.
 */
export function proxyMatcher(entries: readonly string[]): ProxyMatcher {
  const list = new net.BlockList();
  for (const entry of entries) {
    const [address = "", bits, extra] = entry.split("/");
    const type = net.isIP(address);
    const prefix = bits === undefined ? (type === 6 ? 128 : 32) : Number(bits);
    if (
      type === 0 ||
      extra !== undefined ||
      !Number.isInteger(prefix) ||
      prefix < 0 ||
      prefix > (type === 6 ? 128 : 32)
    ) {
      throw new Error(`not an IP address or CIDR block: ${JSON.stringify(entry)}`);
    }
    list.addSubnet(address, prefix, type === 6 ? "ipv6" : "ipv4");
  }
  if (entries.length === 0) return () => false;
  return (address) => {
    const plain = unmapped(address);
    const type = net.isIP(plain);
    return type !== 0 && list.check(plain, type === 6 ? "ipv6" : "ipv4");
  };
}

/**
 * The address of the client behind a request: the connection's peer, or,
 * when that peer is a trusted proxy, the nearest address in X-Forwarded-For
 * that is not itself a trusted proxy. Entries further left were written by
 * the client and are never believed, so a client cannot pick its address.
 */
export function clientAddress(req: http.IncomingMessage | http2.Http2ServerRequest, trusted: ProxyMatcher): string {
  const peer = unmapped(peerAddress(req));
  if (!trusted(peer)) return peer;
  const header = req.headers["x-forwarded-for"];
  const hops = (Array.isArray(header) ? header.join(",") : (header ?? "")).split(",");
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = unmapped(hops[i]!.trim());
    if (net.isIP(hop) === 0) return peer; // garbage in the chain: believe nothing past it
    if (!trusted(hop)) return hop;
  }
  return peer;
}

/** `::ffff:192.0.2.1` (IPv4 on a dual-stack socket) as `192.0.2.1`. */
function unmapped(address: string): string {
  return address.startsWith("::ffff:") && net.isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}
