import { parser } from "@prometheus-io/lezer-promql";

/** PromQL syntax errors in an expression (Prometheus's own grammar), Grafana's variables filled in. */
export function syntaxErrors(expr: string): string[] {
  const filled = expr.replaceAll("$__rate_interval", "5m").replaceAll("$namespace", "ns").replaceAll("$release", "r");
  const errors: string[] = [];
  parser.parse(filled).iterate({
    enter(node) {
      if (node.type.isError) errors.push(`at ${node.from}: ${filled.slice(Math.max(0, node.from - 20), node.to + 20)}`);
    },
  });
  return errors;
}
