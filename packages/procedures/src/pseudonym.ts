/**
 * Surgeons and patients are stored as pseudonymous identifiers only. The
 * mapping to people lives in the hospital's own systems; Vigil refuses
 * anything that looks like a direct identifier instead.
 *
 * Accepted forms:
 * - a UUID, such as "3f2b8c1e-9d4a-4f6b-8e2d-7a1c5b9e0f43";
 * - 16 to 64 hex digits with at least one letter (a keyed hash, such as
 *   HMAC-SHA-256 of a record number);
 * - a coded identifier: 1 to 8 capital letters, '-', then 3 to 32 capital
 *   letters and digits with at least one digit, such as "SURG-0042" or
 *   "PT-7F3A9C21".
 *
 * That refuses names ("Jane Doe", "jdoe"), e-mail addresses, phone
 * numbers, dates of birth and plain record or national numbers (all digits)
 * by shape. It cannot prove that an identifier is pseudonymous: "PT-SMITH1"
 * passes. docs/security.md says what the hospital remains responsible for.
 */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HEX = /^(?=.*[a-f])[0-9a-f]{16,64}$/i;
const CODED = /^[A-Z]{1,8}-(?=[A-Z0-9]*[0-9])[A-Z0-9]{3,32}$/;

/** Why a value is not a pseudonymous identifier, or undefined when it is one. */
export function pseudonymProblem(value: string): string | undefined {
  if (value === "") return "is required";
  if (value.length > 64) return "must be at most 64 characters";
  if (UUID.test(value) || HEX.test(value) || CODED.test(value)) return undefined;
  return (
    "must be a pseudonymous identifier (a UUID, 16 to 64 hex digits, or a code such as SURG-0042), " +
    "never a name, e-mail address, phone number, date or record number"
  );
}
