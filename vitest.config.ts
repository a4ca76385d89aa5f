import { defineConfig } from "vitest/config";

const sources = [
  "packages/*/src/**",
  "services/*/src/**",
  "simulator/src/**",
  "bench/src/**",
  "e2e/src/**",
  "load-tests/src/**",
  "web/src/**",
];

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: sources.map((s) => `${s}/*.test.ts`),
          exclude: ["**/*.int.test.ts", "**/node_modules/**"],
        },
      },
      {
        // The Helm chart and the images: helm lint/template, rendered-YAML checks, kubeconform,
        // hadolint (`npm run chart:test`). Skipped with a printed reason when helm is missing.
        test: {
          name: "deploy",
          include: ["charts/tests/*.test.ts", "docker/*.test.ts"],
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: "integration",
          include: sources.map((s) => `${s}/*.int.test.ts`),
          exclude: ["**/node_modules/**"],
          globalSetup: ["packages/testkit/src/global-setup.ts"],
          // Real servers on two cores: one file at a time keeps timings sane.
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
