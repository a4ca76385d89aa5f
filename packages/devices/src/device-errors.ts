/** Why a device operation was refused; the API maps `kind` to a status code. */
export class DeviceError extends Error {
  override name = "DeviceError";
  readonly kind: "invalid" | "exists" | "not_found" | "failed_precondition";
  constructor(kind: DeviceError["kind"], message: string) {
    super(message);
    this.kind = kind;
  }
}
