import type pg from "pg";

/**
 * Runs `fn` in a transaction on one client of a pg pool: COMMIT when it
 * resolves, ROLLBACK when it throws. A client whose ROLLBACK fails too is
 * broken (its connection is gone) and is destroyed, not returned to the pool.
 */
export async function inPgTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query("BEGIN");
    const result = await fn(client);
    await client.query("COMMIT");
    return result;
  } catch (err) {
    await client.query("ROLLBACK").catch((rollbackErr: Error) => {
      broken = rollbackErr;
    });
    throw err;
  } finally {
    client.release(broken);
  }
}
