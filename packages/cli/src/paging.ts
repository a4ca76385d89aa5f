/** Most items one List call asks for; the servers cap a page at the same size. */
const MAX_PAGE = 1000;

/** Pages through a list until `limit` items or its end. */
export async function collectPages<T>(
  limit: number,
  page: (pageSize: number, pageToken: string) => Promise<[T[], string]>,
): Promise<T[]> {
  const out: T[] = [];
  let pageToken = "";
  do {
    const [items, next] = await page(Math.min(MAX_PAGE, limit - out.length), pageToken);
    out.push(...items);
    pageToken = next;
  } while (pageToken && out.length < limit);
  return out.slice(0, limit);
}
