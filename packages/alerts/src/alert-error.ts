/** Why an alerting operation was refused; the API maps `kind` to a status code. */
export class AlertError extends Error {
  override name = "AlertError";
  readonly kind: "invalid" | "not_found" | "exists" | "failed_precondition";
  constructor(kind: AlertError["kind"], message: string) {
    super(message);
    this.kind = kind;
  }
}
