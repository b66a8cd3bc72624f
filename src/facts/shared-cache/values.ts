// Small shape checks for values read back from the shared cache: plain JSON, every object
// closed (an unknown key fails), every string and list bounded.
export type Check = (value: unknown) => boolean;

const DIGEST = /^sha256:[0-9a-f]{64}$|^sha512:[0-9a-f]{128}$/;
export const isDigest = (v: unknown): v is string => typeof v === 'string' && DIGEST.test(v);

export const str =
  (max: number): Check =>
  (v) =>
    typeof v === 'string' && v.length <= max;
export const int =
  (min: number, max: number): Check =>
  (v) =>
    Number.isSafeInteger(v) && (v as number) >= min && (v as number) <= max;
export const bool: Check = (v) => typeof v === 'boolean';
export const oneOf =
  (...values: string[]): Check =>
  (v) =>
    typeof v === 'string' && values.includes(v);

const OPTIONAL = Symbol('optional');
type Optional = Check & { [OPTIONAL]: true };
export const optional = (check: Check): Check => Object.assign((v: unknown) => v === undefined || check(v), { [OPTIONAL]: true as const });
const isOptional = (check: Check): check is Optional => OPTIONAL in check;

export const arrayOf =
  (item: Check, max: number): Check =>
  (v) =>
    Array.isArray(v) && v.length <= max && v.every(item);

/** A plain object with exactly these keys (optional ones may be absent), each of its check. */
export const isRecord =
  (fields: Record<string, Check>): Check =>
  (v) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
    const o = v as Record<string, unknown>;
    for (const key of Object.keys(o)) if (!Object.hasOwn(fields, key)) return false;
    for (const [key, check] of Object.entries(fields)) {
      if (!Object.hasOwn(o, key)) {
        if (!isOptional(check)) return false;
        continue;
      }
      if (!check(o[key])) return false;
    }
    return true;
  };
