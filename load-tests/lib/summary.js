// handleSummary for every script: the whole k6 summary as JSON in SUMMARY_DIR (default
// load-tests/results, relative to where k6 runs), and a short report on stdout.
import { envString } from "./env.js";
import { SCENARIO } from "./scenarios.js";

export function summaryHandler(script) {
  return (data) => {
    const dir = envString("SUMMARY_DIR", "load-tests/results");
    const file = envString("SUMMARY_FILE", `${dir}/${script}-${SCENARIO}.json`);
    return { [file]: JSON.stringify(data, null, 2), stdout: report(script, data, file) };
  };
}

const shown = [
  "ingest_acks",
  "ingest_readings_acked",
  "ingest_ack_latency",
  "ingest_welcome_latency",
  "ingest_rejects_unexpected",
  "ingest_rejects_expected",
  "ingest_throttles",
  "ingest_stream_errors",
  "ingest_unacked_at_session_end",
  "http_reqs",
  "http_req_failed",
  "checks",
];

function value(metric) {
  const v = metric.values;
  switch (metric.type) {
    case "trend":
      return `p50=${fmt(v.med)} p95=${fmt(v["p(95)"])} p99=${fmt(v["p(99)"])} max=${fmt(v.max)}`;
    case "rate":
      return `${(v.rate * 100).toFixed(2)}% (${v.passes} of ${v.passes + v.fails})`;
    case "counter":
      return `${v.count} (${v.rate.toFixed(1)}/s)`;
    default:
      return JSON.stringify(v);
  }
}

function fmt(ms) {
  return ms === undefined ? "-" : ms < 1000 ? `${ms.toFixed(1)}ms` : `${(ms / 1000).toFixed(2)}s`;
}

function report(script, data, file) {
  const lines = [`\n${script} (${SCENARIO}), ${(data.state.testRunDurationMs / 1000).toFixed(1)} s`];
  const names = Object.keys(data.metrics).sort();
  for (const name of names) {
    const m = data.metrics[name];
    const tagged = name.includes("{");
    if (!shown.includes(name) && !(tagged && name.startsWith("http_req_duration"))) continue;
    lines.push(`  ${name.padEnd(44)} ${value(m)}`);
  }
  let failed = 0;
  lines.push("thresholds:");
  for (const name of names) {
    for (const [expr, t] of Object.entries(data.metrics[name].thresholds ?? {})) {
      if (!t.ok) failed++;
      lines.push(`  ${t.ok ? "ok  " : "FAIL"} ${name} ${expr}`);
    }
  }
  lines.push(failed === 0 ? "all thresholds passed" : `${failed} threshold(s) FAILED`);
  lines.push(`summary: ${file}\n`);
  return lines.join("\n");
}
