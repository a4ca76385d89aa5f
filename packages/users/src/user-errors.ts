/** Why a user operation was refused; the API maps `kind` to a status code. */
export class UserError extends Error {
  override name = "UserError";
  readonly kind: "invalid" | "exists" | "not_found" | "unauthenticated" | "failed_precondition";
  constructor(kind: UserError["kind"], message: string) {
    super(message);
    this.kind = kind;
  }
}
