// Request validation in the style AWS answers it ("1 validation error detected: Value null at
// 'repositoryName' failed to satisfy constraint: Member must not be null"), so a client that
// sends a malformed request fails here as it would against AWS.
import { ApiError } from './wire.ts';

export type ErrorFactory = (message: string) => ApiError;

export const validationError =
  (extra: Record<string, unknown> = {}): ErrorFactory =>
  (message) =>
    new ApiError(400, 'ValidationException', message, { fields: extra });

export class Reader {
  private readonly input: Record<string, unknown>;
  private readonly fail: ErrorFactory;
  private readonly prefix: string;
  constructor(input: Record<string, unknown>, fail: ErrorFactory, prefix = '') {
    this.input = input;
    this.fail = fail;
    this.prefix = prefix;
  }

  private path(field: string): string {
    return this.prefix ? `${this.prefix}.${field}` : field;
  }

  private constraint(field: string, value: unknown, constraint: string): ApiError {
    const shown = value === undefined || value === null ? 'null' : `'${String(JSON.stringify(value)).slice(0, 80)}'`;
    return this.fail(`1 validation error detected: Value ${shown} at '${this.path(field)}' failed to satisfy constraint: ${constraint}`);
  }

  string(field: string, opts: { pattern?: RegExp; max?: number } = {}): string {
    const v = this.optionalString(field, opts);
    if (v === undefined) throw this.constraint(field, undefined, 'Member must not be null');
    return v;
  }

  optionalString(field: string, opts: { pattern?: RegExp; max?: number } = {}): string | undefined {
    const v = this.input[field];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') throw this.constraint(field, v, 'Member must be a string');
    if (opts.max !== undefined && v.length > opts.max) throw this.constraint(field, v, `Member must have length less than or equal to ${opts.max}`);
    if (opts.pattern && !opts.pattern.test(v)) throw this.constraint(field, v, `Member must satisfy regular expression pattern: ${opts.pattern.source}`);
    return v;
  }

  optionalEnum<T extends string>(field: string, values: readonly T[]): T | undefined {
    const v = this.optionalString(field);
    if (v === undefined) return undefined;
    if (!(values as readonly string[]).includes(v)) throw this.constraint(field, v, `Member must satisfy enum value set: [${values.join(', ')}]`);
    return v as T;
  }

  optionalInt(field: string, min: number, max: number): number | undefined {
    const v = this.input[field];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v)) throw this.constraint(field, v, 'Member must be an integer');
    if (v < min) throw this.constraint(field, v, `Member must have value greater than or equal to ${min}`);
    if (v > max) throw this.constraint(field, v, `Member must have value less than or equal to ${max}`);
    return v;
  }

  optionalStringList(field: string, opts: { min?: number; max?: number } = {}): string[] | undefined {
    const v = this.input[field];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw this.constraint(field, v, 'Member must be a list of strings');
    if (opts.min !== undefined && v.length < opts.min) throw this.constraint(field, v, `Member must have length greater than or equal to ${opts.min}`);
    if (opts.max !== undefined && v.length > opts.max) throw this.constraint(field, v, `Member must have length less than or equal to ${opts.max}`);
    return v;
  }

  optionalObject(field: string): Reader | undefined {
    const v = this.input[field];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'object' || Array.isArray(v)) throw this.constraint(field, v, 'Member must be a structure');
    return new Reader(v as Record<string, unknown>, this.fail, this.path(field));
  }

  object(field: string): Reader {
    const r = this.optionalObject(field);
    if (!r) throw this.constraint(field, undefined, 'Member must not be null');
    return r;
  }

  optionalObjectList(field: string, opts: { min?: number; max?: number } = {}): Reader[] | undefined {
    const v = this.input[field];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || !v.every((x) => x !== null && typeof x === 'object' && !Array.isArray(x))) {
      throw this.constraint(field, v, 'Member must be a list of structures');
    }
    if (opts.min !== undefined && v.length < opts.min) throw this.constraint(field, v, `Member must have length greater than or equal to ${opts.min}`);
    if (opts.max !== undefined && v.length > opts.max) throw this.constraint(field, v, `Member must have length less than or equal to ${opts.max}`);
    return v.map((x, i) => new Reader(x as Record<string, unknown>, this.fail, `${this.path(field)}.${i + 1}.member`));
  }

  objectList(field: string, opts: { min?: number; max?: number } = {}): Reader[] {
    const list = this.optionalObjectList(field, opts);
    if (!list) throw this.constraint(field, undefined, 'Member must not be null');
    return list;
  }

  keys(): string[] {
    return Object.keys(this.input);
  }

  raw(): Record<string, unknown> {
    return this.input;
  }
}

export const DIGEST = /^[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+$/;
export const ACCOUNT = /^[0-9]{12}$/;
export const REPOSITORY = /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/;

/** Opaque pagination tokens: base64url JSON naming the query they belong to, so a token
 *  replayed against a different query is refused as AWS refuses it. */
export function encodeToken(query: string, offset: number): string {
  return Buffer.from(JSON.stringify({ q: query, o: offset })).toString('base64url');
}

export function decodeToken(token: string | undefined, query: string, fail: ErrorFactory): number {
  if (token === undefined) return 0;
  try {
    const v = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { q?: unknown; o?: unknown };
    if (v.q === query && typeof v.o === 'number' && Number.isInteger(v.o) && v.o >= 0) return v.o;
  } catch {
    // fall through to the refusal below
  }
  throw fail('The nextToken is not valid for this request');
}

/** One page of `items` starting at the token's offset. */
export function page<T>(items: T[], query: string, nextToken: string | undefined, size: number, fail: ErrorFactory): { items: T[]; nextToken?: string } {
  const offset = decodeToken(nextToken, query, fail);
  const slice = items.slice(offset, offset + size);
  return offset + size < items.length ? { items: slice, nextToken: encodeToken(query, offset + size) } : { items: slice };
}
