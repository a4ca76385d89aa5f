/** Why a fleet operation was refused; the API maps `kind` to a status code. */
export class FleetError extends Error {
  override name = "FleetError";
  readonly kind: "invalid" | "exists" | "not_found";
  constructor(kind: FleetError["kind"], message: string) {
    super(message);
    this.kind = kind;
  }
}
