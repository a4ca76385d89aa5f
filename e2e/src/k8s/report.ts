import type { CaseResult } from "./cases.ts";

/** The JSON object test:k8s prints last. */
export interface Report {
  /** Every case lost nothing and stored nothing twice, and `helm test` passed before and after. */
  ok: boolean;
  cases: Record<string, CaseResult>;
  times: {
    /** From nothing (an empty cache: every package, binary and image built) to a release that passed `helm test`. */
    freshMachineToRunningReleaseS: number | null;
    /** When that was measured (this run, or an earlier cold run recorded in the cache). */
    freshMeasured: string | null;
    /** This run, from its start to a release that passed `helm test`. */
    thisRunToRunningReleaseS: number;
    /** `helm upgrade --wait` of the two upgrade cases. */
    upgradeS: Record<string, number>;
    installS: number;
    helmTestS: number;
    helmTestAfterCasesS: number;
    /** Removing the previous run's release and volumes. */
    cleanupS: number;
    /** Making the release's certificate and its Secret (scripts/k8s/tls.sh). */
    tlsSecretS: number;
    /** What the scripts reported, step by step (seconds). */
    steps: Record<string, number>;
    totalS: number;
  };
}

/** "name seconds" lines (scripts/k8s/lib.sh `timed`), summed per name. */
export function readTimings(text: string): Record<string, number> {
  const steps: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const m = /^(.+) (\d+)$/.exec(line.trim());
    if (m) steps[m[1]!] = (steps[m[1]!] ?? 0) + Number(m[2]);
  }
  return steps;
}

export interface RunFacts {
  results: Record<string, CaseResult>;
  steps: Record<string, number>;
  cleanupS: number;
  tlsSecretS: number;
  installS: number;
  helmTestS: number;
  helmTestAfterS: number;
  helmTestPassed: boolean;
  toRunningReleaseS: number;
  coldCache: boolean;
  fresh?: { seconds: number; at: string };
  totalS: number;
}

const round = (x: number) => Math.round(x * 10) / 10;

export function summarize(f: RunFacts): Report {
  const cases = Object.values(f.results);
  const upgradeS: Record<string, number> = {};
  for (const [name, r] of Object.entries(f.results)) {
    if (typeof r.upgradeS === "number") upgradeS[name] = round(r.upgradeS);
  }
  return {
    ok: f.helmTestPassed && cases.length > 0 && cases.every((r) => r.lost === 0 && r.duplicates === 0),
    cases: f.results,
    times: {
      freshMachineToRunningReleaseS: f.coldCache ? round(f.toRunningReleaseS) : f.fresh ? round(f.fresh.seconds) : null,
      freshMeasured: f.coldCache ? "this run" : (f.fresh?.at ?? null),
      thisRunToRunningReleaseS: round(f.toRunningReleaseS),
      upgradeS,
      installS: round(f.installS),
      helmTestS: round(f.helmTestS),
      helmTestAfterCasesS: round(f.helmTestAfterS),
      cleanupS: round(f.cleanupS),
      tlsSecretS: round(f.tlsSecretS),
      steps: f.steps,
      totalS: round(f.totalS),
    },
  };
}

/**
 * migrate.ts with one more migration in its static list: an import of
 * ./migrations/NAME.ts and an entry after the last one. Throws when the file
 * no longer has the shape this expects.
 */
export function addMigration(source: string, name: string, binding: string): string {
  const imports = [...source.matchAll(/^import \* as \w+ from "\.\/migrations\/[^"]+";$/gm)];
  const lastImport = imports.at(-1);
  const list = /const migrations: Record<string, Migration> = \{\n([\s\S]*?)\n\};/.exec(source);
  if (!lastImport || lastImport.index === undefined || !list) {
    throw new Error(
      'migrate.ts no longer has `import * as x from "./migrations/…"` lines and a `const migrations` list',
    );
  }
  const afterImport = lastImport.index + lastImport[0].length;
  const withImport = `${source.slice(0, afterImport)}\nimport * as ${binding} from "./migrations/${name}.ts";${source.slice(afterImport)}`;
  return withImport.replace(list[0], list[0].replace(/\n\};$/, `\n  "${name}": ${binding},\n};`));
}
