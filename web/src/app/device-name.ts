/** "DEMO-1", "demo 1" or "DEMO1" → { code: "DEMO", number: 1 }; undefined for anything else. */
export function parseDeviceName(text: string): { code: string; number: number } | undefined {
  const m = /^\s*([A-Za-z]{1,16})[-\s]?(\d{1,9})\s*$/.exec(text);
  if (!m) return undefined;
  const number = Number(m[2]);
  return number > 0 ? { code: m[1]!.toUpperCase(), number } : undefined;
}
