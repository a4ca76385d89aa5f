import { randomBytes } from "node:crypto";
import { Command } from "@commander-js/extra-typings";
import type { Cli } from "../cli.ts";
import { keyValue } from "../flags.ts";
import { ensureSecret, inCluster } from "../kubernetes-secret.ts";

/**
 * `vigil nats …`: the NATS side of least privilege (docs/security.md). The
 * components' users and their subject permissions are defined once in
 * @vigil/bus (permissions.ts); these commands set up what only the admin
 * user may (streams, the writers' consumer), print the authorization block
 * for an external NATS, and make the bundled NATS's passwords.
 */
export function natsCommand(cli: Cli) {
  const nats = new Command("nats").description(
    "NATS users and streams: set up the streams as the admin user, print the users' permissions",
  );

  nats
    .command("setup")
    .description(
      "create or update the readings' stream (VIGIL_READINGS), the writers' durable consumer and the alerters' feed " +
        "(VIGIL_ALERTING) with the settings in NATS_STREAM_*, NATS_CONSUMER, NATS_ACK_WAIT_MS, NATS_MAX_ACK_PENDING " +
        "and ALERTER_PARTITIONS / ALERTER_FEED_*, connecting to NATS_URL as NATS_USER (the admin user; password in " +
        "NATS_PASSWORD_FILE) with NATS_TLS_*. The components' own users may not: run this before they start " +
        "(the chart's NATS setup Job does) and after changing those settings.",
    )
    .option("--no-feed", "leave the alerters' feed alone (no alerters)")
    .action(async (o) => {
      const { natsSetupOptions, setupJetStream } = await import("@vigil/bus");
      const done = await setupJetStream(natsSetupOptions(cli.io.env, o.feed));
      cli.output.object(done);
    });

  nats
    .command("config")
    .description(
      "print nats-server's `authorization` block with Vigil's users and their subject permissions, for an external " +
        "NATS (docs/deploy.md); each password is read from an environment variable of the server " +
        "(VIGIL_RECEIVER_PASSWORD, …)",
    )
    .option("--consumer <name>", "the writers' durable consumer (NATS_CONSUMER)", "vigil-writer")
    .action(async (o) => {
      const bus = await import("@vigil/bus");
      const passwords = Object.fromEntries(
        bus.NATS_COMPONENTS.map((c) => [c, { env: `VIGIL_${c.toUpperCase()}_PASSWORD` }]),
      );
      cli.io.stdout.write(`${bus.natsAuthorizationConfig(o.consumer, passwords)}\n`);
    });

  nats
    .command("ensure-secrets")
    .summary("in a pod: create each NATS user's Secret with a new password unless it exists (the chart's hook)")
    .description(
      "in a Kubernetes pod, with its ServiceAccount: for each of Vigil's NATS users (receiver, writer, query, " +
        "alerter, admin) create Secret <prefix>-<component> holding `user` and a new random `password`, unless " +
        "it exists (an existing one is never changed). The chart runs this in a hook Job for its bundled NATS.",
    )
    .requiredOption("--prefix <name>", "Secret names are <prefix>-<component>")
    .option("--label <key=value>", "a label of a created Secret (repeatable)", keyValue)
    .action(async (o) => {
      const { NATS_COMPONENTS, natsUser } = await import("@vigil/bus");
      const cluster = await inCluster(cli.io.env);
      const outcome: Record<string, string> = {};
      for (const component of NATS_COMPONENTS) {
        const name = `${o.prefix}-${component}`;
        // Letters first: nats-server reads a password from an environment variable as a
        // configuration value, and one made of digits alone would become a number.
        const password = `p${randomBytes(24).toString("base64url")}`;
        outcome[name] = await ensureSecret(cluster, {
          name,
          data: { user: natsUser(component), password },
          labels: o.label,
        });
      }
      cli.output.object({ namespace: cluster.namespace, ...outcome });
    });

  return nats;
}
