/** Why a procedure operation was refused; the API maps `kind` to a status code. */
export class ProcedureError extends Error {
  override name = "ProcedureError";
  readonly kind: "invalid" | "not_found" | "failed_precondition" | "exists";
  constructor(kind: ProcedureError["kind"], message: string) {
    super(message);
    this.kind = kind;
  }
}
