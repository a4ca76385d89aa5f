import type { Device } from "@vigil/proto";

/** Online, offline or disabled, as text and colour (never colour alone). */
export function DeviceState({ device }: { device: Device }) {
  if (device.disableTime) return <span className="badge badge-disabled">Disabled</span>;
  return device.online ? (
    <span className="badge badge-online">Online</span>
  ) : (
    <span className="badge badge-offline">Offline</span>
  );
}

export function deviceName(d: { code: string; number: number }): string {
  return `${d.code}-${d.number}`;
}
