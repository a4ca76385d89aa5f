/** Why a maintenance operation was refused; the API maps `kind` to a status code. */
export class MaintenanceError extends Error {
  override name = "MaintenanceError";
  readonly kind: "invalid" | "not_found" | "failed_precondition";
  constructor(kind: MaintenanceError["kind"], message: string) {
    super(message);
    this.kind = kind;
  }
}
