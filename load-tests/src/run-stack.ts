/**
 * `npm run load:stack`: the same private stack as load:smoke (TLS unless
 * `--transport plaintext`), left running for k6 runs by hand. Prints the settings k6 needs as `-e` flags, and
 * stops everything on Ctrl-C.
 */
import { ensureTools, scriptArgs } from "@vigil/testkit";
import { startLocalStack } from "./local-stack.ts";

const USAGE = `usage: npm run load:stack -- [--devices 200] [--transport tls|plaintext]
  The load:smoke stack left running for k6 runs by hand: prints the -e flags k6 needs; Ctrl-C stops it.
  --devices N         devices provisioned for k6's ingest.js (default 200)
  --transport MODE    tls (default) or plaintext
`;
const { values, fail, positiveInt } = scriptArgs("load:stack", USAGE, {
  devices: { type: "string", default: "200" },
  transport: { type: "string", default: "tls" },
});
const devices = positiveInt(values.devices, "--devices");
if (values.transport !== "tls" && values.transport !== "plaintext") fail("--transport must be tls or plaintext");
// The stack's servers, and k6 for the command line printed below, as `npm test` installs them.
ensureTools(["postgresql", "nats-server", "k6"]);
const stack = await startLocalStack({
  devices,
  tls: values.transport === "tls",
  log: (l) => process.stderr.write(`load:stack: ${l}\n`),
});
const flags = [
  `-e RECEIVER_ADDR=${stack.receiverAddr}`,
  ...(stack.caFile ? [`-e RECEIVER_CA_FILE=${stack.caFile}`] : []),
  `-e QUERY_URL=${stack.queryUrl}`,
  `-e ADMIN_USERNAME=${stack.adminUsername}`,
  `-e ADMIN_PASSWORD=${stack.adminPassword}`,
  `-e DEVICES_FILE=${stack.devicesFile}`,
  `-e QUERY_DEVICE_CODE=${stack.devices[0]!.code}`,
  `-e QUERY_DEVICE_COUNT=${devices}`,
].join(" ");
process.stdout.write(
  `stack ready: ${devices} devices ${stack.devices[0]!.code}-1..${devices}; PostgreSQL ${stack.databaseUrl}\n` +
    `  ${stack.caFile ? `SSL_CERT_FILE=${stack.caFile} ` : ""}.tools/bin/k6 run ${flags} -e SCENARIO=steady load-tests/mixed.js\n` +
    "Ctrl-C stops it.\n",
);
const stop = () => {
  void stack.stop().then(() => process.exit(0));
};
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
