import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { createConnectQueryKey, useMutation, useQuery, useTransport } from "@connectrpc/connect-query";
import { useQueryClient } from "@tanstack/react-query";
import { DeviceService } from "@vigil/proto";
import { useId, useState } from "react";
import { errorMessage } from "../../api/transport.ts";
import { QueryState } from "../../ui/query-state.tsx";
import { ScrollRegion } from "../../ui/scroll-region.tsx";
import { formatDateTime, ms } from "../../ui/time.ts";
import type { DeviceRef } from "./use-device-readings.ts";

const GRACE_CHOICES = [
  { label: "Now (old keys stop at once)", ms: 0 },
  { label: "1 hour", ms: 3_600_000 },
  { label: "24 hours", ms: 86_400_000 },
  { label: "7 days", ms: 7 * 86_400_000 },
];

/** The device's API keys (prefixes only), with rotate and revoke, for admins. */
export function DeviceKeys({ device }: { device: DeviceRef }) {
  const id = useId();
  const transport = useTransport();
  const queryClient = useQueryClient();
  const q = useQuery(DeviceService.method.getDevice, device);
  const [grace, setGrace] = useState(86_400_000);
  const [newKey, setNewKey] = useState<string>();
  const [confirming, setConfirming] = useState<string>();
  const [message, setMessage] = useState<string>();
  const refresh = () =>
    queryClient.invalidateQueries({
      queryKey: createConnectQueryKey({ schema: DeviceService, transport, cardinality: undefined }),
    });
  const rotate = useMutation(DeviceService.method.rotateDeviceKey, {
    onSuccess: (res) => {
      setNewKey(res.apiKey);
      setMessage(undefined);
      void refresh();
    },
  });
  const revoke = useMutation(DeviceService.method.revokeDeviceKey, {
    onSuccess: (_, req) => {
      setConfirming(undefined);
      setMessage(`Key ${req.prefix} revoked: streams using it are closed.`);
      void refresh();
    },
  });
  const keys = q.data?.device?.keys ?? [];
  const now = Date.now();
  return (
    <section aria-labelledby={`${id}-heading`}>
      <h2 id={`${id}-heading`}>API keys</h2>
      <QueryState isPending={q.isPending} error={q.error}>
        <ScrollRegion label="API keys">
          <table>
            <caption className="visually-hidden">The device's API keys, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Key</th>
                <th scope="col">Created</th>
                <th scope="col">State</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {keys.map((k) => {
                const revoked = ms(k.revokeTime);
                const expires = ms(k.expireTime);
                const state = revoked
                  ? `Revoked ${formatDateTime(revoked)}`
                  : expires !== undefined && expires <= now
                    ? `Expired ${formatDateTime(expires)}`
                    : expires !== undefined
                      ? `Works until ${formatDateTime(expires)}`
                      : "Current";
                const active = !revoked && (expires === undefined || expires > now);
                return (
                  <tr key={k.prefix}>
                    <th scope="row">
                      <code>{k.prefix}</code>
                    </th>
                    <td>{formatDateTime(ms(k.createTime))}</td>
                    <td>{state}</td>
                    <td>
                      {active &&
                        (confirming === k.prefix ? (
                          <span className="confirm">
                            <button
                              type="button"
                              className="danger"
                              disabled={revoke.isPending}
                              onClick={() => revoke.mutate({ ...device, prefix: k.prefix })}
                            >
                              Confirm: revoke {k.prefix}
                            </button>
                            <button type="button" onClick={() => setConfirming(undefined)}>
                              Cancel
                            </button>
                          </span>
                        ) : (
                          <button type="button" onClick={() => setConfirming(k.prefix)}>
                            Revoke<span className="visually-hidden"> key {k.prefix}</span>
                          </button>
                        ))}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </ScrollRegion>
      </QueryState>
      <form
        className="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          rotate.mutate({ ...device, gracePeriod: durationFromMs(grace) });
        }}
      >
        <div className="field">
          <label htmlFor={`${id}-grace`}>Current keys keep working for</label>
          <select id={`${id}-grace`} value={grace} onChange={(e) => setGrace(Number(e.target.value))}>
            {GRACE_CHOICES.map((g) => (
              <option key={g.ms} value={g.ms}>
                {g.label}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" disabled={rotate.isPending}>
          Issue a new key
        </button>
      </form>
      {newKey && (
        <div className="notice" role="status">
          <p>The new key, shown this once: give it to the device now. Vigil keeps only its prefix.</p>
          <p>
            <code className="secret">{newKey}</code>{" "}
            <button type="button" onClick={() => void navigator.clipboard?.writeText(newKey)}>
              Copy
            </button>{" "}
            <button type="button" onClick={() => setNewKey(undefined)}>
              Done
            </button>
          </p>
        </div>
      )}
      {message && (
        <p className="notice" role="status">
          {message}
        </p>
      )}
      {(rotate.error || revoke.error) && (
        <p className="error" role="alert">
          {errorMessage(rotate.error ?? revoke.error)}
        </p>
      )}
    </section>
  );
}
