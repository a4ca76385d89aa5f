import { type Context, type Link, ROOT_CONTEXT, TraceFlags } from "@opentelemetry/api";
import { contextFromHeaders, spanContextOf } from "@vigil/telemetry";

/** Where a group's `process vigil.readings` span sits: its parent and its links. */
export interface GroupTrace {
  parent: Context;
  links: Link[];
}

/**
 * The parent is the first sampled batch, so that batch's trace runs from
 * the device to the COPY; the links reach every batch. A group of unsampled
 * batches follows their decision (parent: the first of them), so it is not
 * traced on its own with links to traces nobody recorded; only a group
 * without any trace context is left to the sampler as a root.
 */
export function groupTrace(headers: Array<Record<string, string> | undefined>): GroupTrace {
  const links: Link[] = [];
  let sampled: Context | undefined;
  let unsampled: Context | undefined;
  for (const h of headers) {
    const ctx = contextFromHeaders(h);
    const sc = spanContextOf(ctx);
    if (!sc) continue;
    links.push({ context: sc });
    if (sc.traceFlags & TraceFlags.SAMPLED) sampled ??= ctx;
    else unsampled ??= ctx;
  }
  return { parent: sampled ?? unsampled ?? ROOT_CONTEXT, links };
}
