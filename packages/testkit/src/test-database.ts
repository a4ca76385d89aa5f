import { randomBytes } from "node:crypto";
import pg from "pg";

/**
 * Creates a fresh, empty database on a test server and returns its URL, so
 * each test file works in isolation on the shared cluster.
 */
export async function createTestDatabase(serverUrl: string, prefix = "test"): Promise<string> {
  const name = `${prefix}_${randomBytes(6).toString("hex")}`;
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
