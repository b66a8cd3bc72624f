// Errors for configuration-time functions (loadTrustStore, parseTrustedIdentity),
// which may throw, and the value type that parsers return instead of throwing.
import type { NotationErrorCode, RejectionCode } from '../support/errors.ts';

export type { NotationErrorCode };

export class NotationError extends Error {
  readonly code: NotationErrorCode;
  constructor(code: NotationErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NotationError';
    this.code = code;
  }
}

/** A parser's verdict: a value, or a typed failure with a readable reason. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; code: RejectionCode; reason: string };

export function parsed<T>(value: T): Parsed<T> {
  return { ok: true, value };
}

export function failure(code: RejectionCode, reason: string): { ok: false; code: RejectionCode; reason: string } {
  return { ok: false, code, reason };
}
