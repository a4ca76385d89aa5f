export {
  type ExternalIdentity,
  type IdentitySignIn,
  signInWithIdentity,
  usernameFromHint,
} from "./identities.ts";
export { ARGON2_PARAMS, hashPassword, verifyPassword } from "./password.ts";
export {
  type IssuedRefreshToken,
  issueRefreshToken,
  type RefreshOutcome,
  revokeRefreshToken,
  rotateRefreshToken,
} from "./refresh-tokens.ts";
export { isRole, ROLES, type Role, SCOPES, type Scope, scopesFor } from "./roles.ts";
export {
  bumpTokenVersion,
  currentTokenVersion,
  TokenVersionCache,
  type TokenVersionCacheOptions,
} from "./token-versions.ts";
export { UserError } from "./user-errors.ts";
export {
  type ChangeActor,
  changePassword,
  deleteUser,
  disableUser,
  enableUser,
  type ListUsersOptions,
  listUsers,
  resetPassword,
  setUserRole,
  type TokenChange,
  type UserRecord,
  WRONG_CURRENT_PASSWORD,
} from "./user-lifecycle.ts";
export {
  checkCredentials,
  checkSignIn,
  createUser,
  findUser,
  hasAdmin,
  MAX_PASSWORD_LENGTH,
  MIN_PASSWORD_LENGTH,
  normalizeUsername,
  type SignInCheck,
  USERNAME_PATTERN,
  type User,
} from "./user-store.ts";
