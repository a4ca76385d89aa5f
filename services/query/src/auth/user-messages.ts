import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Role, type User as UserMessage } from "@vigil/proto";
import type { User, UserRecord, Role as UserRole } from "@vigil/users";
import { InvalidArgumentError } from "../errors.ts";

const ROLE_VALUES: Record<UserRole, Role> = {
  admin: Role.ADMIN,
  user: Role.USER,
  clinician: Role.CLINICIAN,
  technician: Role.TECHNICIAN,
};

/** The API's Role for a stored role. */
export function roleMessage(role: UserRole): Role {
  return ROLE_VALUES[role];
}

/** The stored role a request names; `field` names it in the error. Unspecified is refused. */
export function roleFromMessage(value: Role, field: string): UserRole {
  const role = (Object.keys(ROLE_VALUES) as UserRole[]).find((r) => ROLE_VALUES[r] === value);
  if (!role)
    throw new InvalidArgumentError(field, "must be one of ROLE_USER, ROLE_ADMIN, ROLE_CLINICIAN, ROLE_TECHNICIAN");
  return role;
}

/** A user as the API shows it; disable_time only for a disabled one. */
export function userMessage(user: User | UserRecord): UserMessage {
  const disabledAt = "disabledAt" in user ? user.disabledAt : null;
  return {
    $typeName: "vigil.auth.v1.User",
    username: user.username,
    role: ROLE_VALUES[user.role],
    createTime: timestampFromMs(user.createdAt.getTime()),
    disableTime: disabledAt ? timestampFromMs(disabledAt.getTime()) : undefined,
  };
}
