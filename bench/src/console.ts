/**
 * `npm run bench:console [-- --runs 5 --frames-s 10]`: the console in Debian's
 * Chromium against the quick start (embedded TimescaleDB, in-process bus,
 * five simulated monitors), started here on free ports:
 *
 * - first chart: time from navigating to a device page until its first
 *   chart is drawn with readings (the console's `vigil:first-chart`
 *   performance mark), with a cold HTTP cache and with the files cached;
 *   target < 1.5 s.
 * - frame time: the intervals between animation frames while a device page
 *   shows 20 sensors streaming at 10 Hz each; target p95 < 20 ms. Baseline in
 *   the same run: the same browser on a console page without charts.
 *
 * Prints every run, then one JSON line. Needs only `npm ci`: it installs
 * Chromium (scripts/ensure-chromium.sh) and builds the console when missing.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startDeviceFeed } from "@vigil/e2e";
import { createQuickstartApp, loadQuickstartConfig } from "@vigil/quickstart";
import { createLogger } from "@vigil/runtime";
import { scriptArgs } from "@vigil/testkit";
import { type Browser, chromium, type Page } from "playwright-core";

const USAGE = `usage: npm run bench:console -- [--runs 5] [--frames-s 10]
  The console in Chromium against the quick start: time to the first chart (target < 1.5 s) and frame
  times while a device page streams 20 sensors at 10 Hz (target p95 < 20 ms).
  --runs N        page loads measured (default 5)
  --frames-s N    seconds of frame times measured (default 10)
`;
const { values: args, positiveInt } = scriptArgs("bench:console", USAGE, {
  runs: { type: "string", default: "5" },
  "frames-s": { type: "string", default: "10" },
});
const RUNS = positiveInt(args.runs, "--runs");
const FRAME_SECONDS = positiveInt(args["frames-s"], "--frames-s");
const root = new URL("../..", import.meta.url).pathname;
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
/** In the page (the bench's own TypeScript has no DOM library). */
declare const requestAnimationFrame: (callback: (time: number) => void) => number;
type Timing = { name: string; responseEnd: number };

const SENSORS = Array.from({ length: 20 }, (_, i) => `joint${Math.floor(i / 4) + 1}.sensor_${i % 4}`);

function must(result: ReturnType<typeof spawnSync>, what: string): string {
  if (result.status !== 0) throw new Error(`${what} failed (exit ${result.status})`);
  return String(result.stdout ?? "").trim();
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const round = (x: number) => Math.round(x * 10) / 10;

const executablePath = must(
  spawnSync(join(root, "scripts/ensure-chromium.sh"), { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }),
  "installing Chromium",
);
must(
  spawnSync(process.execPath, [join(root, "web/scripts/build-if-stale.ts")], {
    stdio: ["ignore", "inherit", "inherit"],
  }),
  "building the console",
);

const state = mkdtempSync(join(tmpdir(), "vigil-bench-console-"));
const quickstart = createQuickstartApp(
  loadQuickstartConfig({
    DATABASE_URL: "embedded:memory",
    QUICKSTART_STATE_DIR: state,
    ARCHIVE_URL: `file:${join(state, "archive")}`,
    LOG_LEVEL: "error",
  }),
  {
    logger: createLogger({ name: "bench-console", level: "error" }),
    env: {
      QUERY_PORT: "0",
      QUERY_HOST: "127.0.0.1",
      RECEIVER_PORT: "0",
      RECEIVER_HOST: "127.0.0.1",
      LOG_LEVEL: "error",
    },
    print: () => {},
  },
);
await quickstart.start();
const base = `http://127.0.0.1:${quickstart.query!.port}`;
const password = readFileSync(join(state, "admin-password"), "utf8").trim();

async function api<T>(method: string, body: unknown, token?: string): Promise<T> {
  const res = await fetch(`${base}/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

const { tokens } = await api<{ tokens: { accessToken: string } }>("vigil.auth.v1.AuthService/Login", {
  username: "admin",
  password,
});
const { apiKey } = await api<{ apiKey: string }>(
  "vigil.devices.v1.DeviceService/CreateDevice",
  { code: "BENCH", number: 1, kind: "surgical_robot" },
  tokens.accessToken,
);
const feed = await startDeviceFeed({
  port: quickstart.receiver!.port,
  apiKey,
  sensors: SENSORS,
  hz: 10,
  intervalMs: 100,
});

let browser: Browser | undefined;
try {
  browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
  const signedIn = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await signedIn.newPage();
  await page.goto(`${base}/sign-in`);
  await page.getByLabel("Username").fill("admin");
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("button", { name: "Sign out" }).waitFor();
  // The monitors have been streaming for a while by now (a few hundred readings per chart).
  await page.waitForTimeout(5_000);
  const storageState = await signedIn.storageState();

  const firstChart = async (p: Page, path: string): Promise<number> => {
    await p.goto(`${base}${path}`);
    const handle = await p.waitForFunction(
      () => performance.getEntriesByName("vigil:first-chart")[0]?.startTime,
      undefined,
      { timeout: 30_000 },
    );
    return Number(await handle.jsonValue());
  };

  const cold: number[] = [];
  const warm: number[] = [];
  for (let run = 1; run <= RUNS; run++) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, storageState });
    const p = await context.newPage();
    const c = await firstChart(p, `/devices/DEMO/${((run - 1) % 5) + 1}`);
    const steps = await p.evaluate(() => {
      const at = (match: (name: string) => boolean) =>
        Math.round(
          (performance.getEntriesByType("resource") as unknown as Timing[]).find((e) => match(e.name))?.responseEnd ??
            -1,
        );
      const nav = performance.getEntriesByType("navigation" as never)[0] as unknown as Timing;
      return {
        html: Math.round(nav.responseEnd),
        scripts: at((n) => /\/assets\/index-.*\.js$/.test(n)),
        deviceChunk: at((n) => /device-page-.*\.js$/.test(n)),
        firstReadings: at((n) => n.endsWith("/ListReadings")),
      };
    });
    const w = await firstChart(p, `/devices/DEMO/${(run % 5) + 1}`);
    cold.push(c);
    warm.push(w);
    console.log(
      `first chart, run ${run}: cold cache ${round(c)} ms (html ${steps.html}, main script ${steps.scripts}, ` +
        `device chunk ${steps.deviceChunk}, first readings ${steps.firstReadings} ms), files cached ${round(w)} ms`,
    );
    await context.close();
  }

  /** Intervals between animation frames over FRAME_SECONDS on a page. */
  const frames = async (path: string, ready: (p: Page) => Promise<void>) => {
    const context = await browser!.newContext({ viewport: { width: 1280, height: 900 }, storageState });
    const p = await context.newPage();
    await p.goto(`${base}${path}`);
    await ready(p);
    await p.waitForTimeout(3_000);
    const deltas = await p.evaluate(
      (seconds) =>
        new Promise<number[]>((resolve) => {
          const out: number[] = [];
          let last = performance.now();
          const end = last + seconds * 1000;
          const tick = (t: number) => {
            out.push(t - last);
            last = t;
            if (t < end) requestAnimationFrame(tick);
            else resolve(out);
          };
          requestAnimationFrame(tick);
        }),
      FRAME_SECONDS,
    );
    await context.close();
    const sorted = deltas.slice(1).sort((a, b) => a - b);
    return {
      frames: sorted.length,
      p50: round(percentile(sorted, 50)),
      p95: round(percentile(sorted, 95)),
      p99: round(percentile(sorted, 99)),
      max: round(sorted.at(-1) ?? Number.NaN),
    };
  };

  const runsFrames: Array<{
    baseline: Awaited<ReturnType<typeof frames>>;
    charts: Awaited<ReturnType<typeof frames>>;
  }> = [];
  for (let run = 1; run <= RUNS; run++) {
    const baseline = await frames("/no-charts-here", async (p) => {
      await p.getByText("There is no page at this address.").waitFor();
    });
    const charts = await frames("/devices/BENCH/1", async (p) => {
      await p
        .locator("figure.chart-card")
        .nth(SENSORS.length - 1)
        .waitFor();
    });
    runsFrames.push({ baseline, charts });
    console.log(
      `frames, run ${run}: 20 sensors at 10 Hz p50 ${charts.p50} p95 ${charts.p95} p99 ${charts.p99} max ${charts.max} ms ` +
        `(${charts.frames} frames); no charts p95 ${baseline.p95} ms; ratio ${round(charts.p95 / baseline.p95)}`,
    );
  }

  const median = (xs: number[]) =>
    percentile(
      [...xs].sort((a, b) => a - b),
      50,
    );
  console.log(
    JSON.stringify({
      first_chart_ms: { cold: cold.map(round), cached: warm.map(round), cold_median: round(median(cold)) },
      first_chart_target_ms: 1500,
      frame_ms_p95: runsFrames.map((r) => r.charts.p95),
      frame_ms_p95_no_charts: runsFrames.map((r) => r.baseline.p95),
      frame_ms_p95_ratio: runsFrames.map((r) => round(r.charts.p95 / r.baseline.p95)),
      frame_target_ms: 20,
      batches_sent: feed.sent,
    }),
  );
} finally {
  await browser?.close();
  await feed.stop();
  await quickstart.stop();
  rmSync(state, { recursive: true, force: true });
}
