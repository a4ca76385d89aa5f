/** Where to go after signing in: only a path of this site, so `next` cannot send anyone elsewhere. */
export function safeNext(next: string | null): string {
  return next?.startsWith("/") && !next.startsWith("//") && !next.startsWith("/\\") ? next : "/";
}
