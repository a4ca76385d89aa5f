import type { Device } from "@vigil/proto";

/** Whether a device matches the search box: every word must appear in its name, kind, model, site or labels. */
export function matchesSearch(device: Device, search: string): boolean {
  const words = search.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return true;
  const haystack = [
    `${device.code}-${device.number}`,
    device.kind,
    device.model,
    device.site,
    ...Object.entries(device.labels).map(([k, v]) => `${k}=${v}`),
  ]
    .join(" ")
    .toLowerCase();
  return words.every((w) => haystack.includes(w));
}
