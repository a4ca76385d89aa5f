/**
 * `bench:abuse`'s /healthz prober, in a worker thread of its own: the main
 * thread builds and sends the attacks (50 MB bodies, 4 MiB batches), and a
 * prober on that thread's event loop would time its own stalls as the
 * services'. Probes every URL every 100 ms; "reset" starts a phase, "read"
 * answers with the slowest probe and the failed probes per URL since then.
 */
import { parentPort, workerData } from "node:worker_threads";

const targets = workerData as Array<{ name: string; url: string }>;
let slowest = new Map<string, number>();
let failures = new Map<string, number>();
let probing = true;

parentPort!.on("message", (message: "reset" | "read" | "stop") => {
  if (message === "reset") {
    slowest = new Map();
    failures = new Map();
  } else if (message === "read") {
    parentPort!.postMessage(
      Object.fromEntries(
        targets.map((t) => [
          t.name,
          { max_ms: Math.round(slowest.get(t.name) ?? 0), failed: failures.get(t.name) ?? 0 },
        ]),
      ),
    );
  } else {
    probing = false;
    parentPort!.close();
  }
});

for (const target of targets) {
  void (async () => {
    while (probing) {
      const started = performance.now();
      const ok = await fetch(target.url, { signal: AbortSignal.timeout(30_000) })
        .then(async (r) => {
          await r.arrayBuffer();
          return r.ok;
        })
        .catch(() => false);
      const ms = performance.now() - started;
      slowest.set(target.name, Math.max(slowest.get(target.name) ?? 0, ms));
      if (!ok) failures.set(target.name, (failures.get(target.name) ?? 0) + 1);
      await new Promise((r) => setTimeout(r, Math.max(0, 100 - ms)));
    }
  })();
}
