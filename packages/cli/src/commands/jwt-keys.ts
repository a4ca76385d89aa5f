import { generateKeyPairSync } from "node:crypto";
import { Command } from "@commander-js/extra-typings";
import type { Cli } from "../cli.ts";
import { keyValue } from "../flags.ts";
import { ensureSecret, inCluster } from "../kubernetes-secret.ts";

/** A new Ed25519 private key, PEM PKCS#8: what AUTH_JWT_KEYS holds (one or more, the first signs). */
function newSigningKey(): string {
  return generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }).toString();
}

/** `vigil jwt-keys …`: the keys the query service signs access tokens with (AUTH_JWT_KEYS). */
export function jwtKeysCommand(cli: Cli) {
  const keys = new Command("jwt-keys").description("the keys that sign access tokens (AUTH_JWT_KEYS)");

  keys
    .command("generate")
    .description(
      "print a new Ed25519 signing key (PEM PKCS#8, as `openssl genpkey -algorithm ed25519` writes): " +
        "for AUTH_JWT_KEYS, or to rotate keys (docs/deploy.md)",
    )
    .action(() => {
      cli.io.stdout.write(newSigningKey());
    });

  keys
    .command("ensure-secret")
    .summary("in a pod: create the Secret with a new key unless it exists (the chart's hook)")
    .description(
      "in a Kubernetes pod, with its ServiceAccount: create the Secret holding a new signing key unless a " +
        "Secret of that name exists, which is never changed. The Helm chart runs this once per install and " +
        "upgrade in a hook Job, so the key is made once and `helm template` renders the same manifests every time.",
    )
    .requiredOption("--secret <name>", "the Secret")
    .option("--key <key>", "the key in the Secret's data", "AUTH_JWT_KEYS")
    .option("--label <key=value>", "a label of a created Secret (repeatable)", keyValue)
    .action(async (o) => {
      const cluster = await inCluster(cli.io.env);
      const outcome = await ensureSecret(cluster, {
        name: o.secret,
        data: { [o.key]: newSigningKey() },
        labels: o.label,
      });
      cli.output.object({ secret: o.secret, namespace: cluster.namespace, outcome });
    });

  return keys;
}
