import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type PostgresServer, startPostgres } from "@vigil/testkit";
import { createCertificateAuthority, issueServerCertificate } from "@vigil/tls";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrateToLatest } from "./migrate.ts";
import { openDatabase } from "./open-database.ts";

/**
 * PostgreSQL over TLS as the services reach it: everything is in
 * DATABASE_URL (`sslmode=verify-full&sslrootcert=<CA file>`), against a
 * private server that accepts TCP clients only over TLS.
 */
describe("PostgreSQL with sslmode=verify-full", () => {
  const dir = mkdtempSync(join(tmpdir(), "vigil-pg-tls-"));
  let server: PostgresServer;
  let caFile: string;
  let otherCaFile: string;
  const url = (query: string, host = "localhost") => `postgres://vigil@${host}:${server.port}/postgres?${query}`;

  beforeAll(async () => {
    const ca = await createCertificateAuthority({ name: "database CA" });
    const other = await createCertificateAuthority({ name: "someone else" });
    const cert = await issueServerCertificate(["localhost"], { ca });
    caFile = join(dir, "ca.pem");
    otherCaFile = join(dir, "other.pem");
    writeFileSync(caFile, ca.cert);
    writeFileSync(otherCaFile, other.cert);
    server = await startPostgres({ fast: true, tls: { cert: cert.cert, key: cert.key } });
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Opens, asks the server whether this session is encrypted, closes. */
  async function session(databaseUrl: string) {
    const database = await openDatabase(databaseUrl, { applicationName: "tls-test", maxConnections: 1 });
    try {
      const { rows } = await sql<{ ssl: boolean; version: string }>`
        SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()`.execute(database.db);
      return rows[0];
    } finally {
      await database.close();
    }
  }

  it("connects encrypted, verifying the server's certificate and name against the CA file", async () => {
    expect(await session(url(`sslmode=verify-full&sslrootcert=${caFile}`))).toEqual({ ssl: true, version: "TLSv1.3" });
    // The migrations (roles, grants, the audit chain) run the same way.
    const database = await openDatabase(url(`sslmode=verify-full&sslrootcert=${caFile}`));
    try {
      await expect(migrateToLatest(database.db)).resolves.toMatchObject({
        applied: expect.arrayContaining(["0015-trust"]),
      });
    } finally {
      await database.close();
    }
  });

  it("refuses a server its CA did not sign, a name the certificate does not carry, and plaintext", async () => {
    await expect(session(url(`sslmode=verify-full&sslrootcert=${otherCaFile}`))).rejects.toThrow(
      /self.signed|unable to verify|unable to get/i,
    );
    // verify-full checks the host name: the certificate names localhost, not 127.0.0.1.
    await expect(session(url(`sslmode=verify-full&sslrootcert=${caFile}`, "127.0.0.1"))).rejects.toThrow(
      /IP: 127\.0\.0\.1 is not in the cert's list|does not match/i,
    );
    await expect(session(url("sslmode=disable"))).rejects.toThrow(/no pg_hba.conf entry|no encryption/i);
  });
});
