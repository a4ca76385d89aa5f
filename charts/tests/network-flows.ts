import type { Manifest } from "./chart-render.ts";

type Labels = Record<string, string>;
interface Peer {
  podSelector?: { matchLabels?: Labels };
  namespaceSelector?: unknown;
  ipBlock?: { cidr: string };
}
interface Rule {
  from?: Peer[];
  to?: Peer[];
  ports?: Array<{ port: number | string; protocol?: string }>;
}

/** One end of a connection: a pod of the release (its labels) or an address outside it. */
export type Endpoint = { pod: Labels } | { external: true };

/**
 * Whether the release's NetworkPolicies let `from` open a TCP connection to
 * `to` on `port`: the source's egress and the destination's ingress must both
 * allow it (a side no policy selects is not isolated). Pods are taken to be in
 * the release's namespace; peers with only an ipBlock or a namespaceSelector
 * match outside addresses.
 */
export function allowed(policies: Manifest[], from: Endpoint, to: Endpoint, port: number): boolean {
  return (
    sideAllows(policies, from, "Egress", (rule) => matches(rule.to, to) && portMatches(rule, port)) &&
    sideAllows(policies, to, "Ingress", (rule) => matches(rule.from, from) && portMatches(rule, port))
  );
}

function sideAllows(policies: Manifest[], end: Endpoint, type: "Ingress" | "Egress", ok: (r: Rule) => boolean) {
  if (!("pod" in end)) return true;
  const selecting = policies.filter(
    (p) => selects(p.spec.podSelector?.matchLabels, end.pod) && (p.spec.policyTypes as string[]).includes(type),
  );
  if (selecting.length === 0) return true;
  return selecting.some((p) => ((type === "Ingress" ? p.spec.ingress : p.spec.egress) ?? []).some(ok));
}

function matches(peers: Peer[] | undefined, end: Endpoint): boolean {
  if (!peers || peers.length === 0) return true;
  return peers.some((peer) => {
    if ("pod" in end) return peer.podSelector !== undefined && selects(peer.podSelector.matchLabels, end.pod);
    return peer.podSelector === undefined;
  });
}

function portMatches(rule: Rule, port: number): boolean {
  return !rule.ports || rule.ports.some((p) => Number(p.port) === port && (p.protocol ?? "TCP") === "TCP");
}

function selects(selector: Labels | undefined, labels: Labels): boolean {
  return Object.entries(selector ?? {}).every(([k, v]) => labels[k] === v);
}
