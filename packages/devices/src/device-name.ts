/** Device codes are 1 to 16 capital letters, such as "OR" or "ICU". */
export const DEVICE_CODE_PATTERN = /^[A-Z]{1,16}$/;
export const MAX_DEVICE_NUMBER = 2_147_483_647;

/** Why a code and number cannot name a device, or undefined when they can. */
export function deviceNameProblem(code: string, number: number): string | undefined {
  if (!DEVICE_CODE_PATTERN.test(code)) return "device code must be 1 to 16 capital letters (A-Z)";
  if (!Number.isInteger(number) || number < 1 || number > MAX_DEVICE_NUMBER) {
    return `device number must be an integer from 1 to ${MAX_DEVICE_NUMBER}`;
  }
  return undefined;
}

/** "OR-7": how logs and messages name a device. */
export function deviceLabel(device: { code: string; number: number }): string {
  return `${device.code}-${device.number}`;
}
