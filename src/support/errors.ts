// One registry of error codes: every error a user can see carries a stable `code`, so logs,
// metrics and tests match on the code, never on message text.
export const ErrorCodes = {
  USAGE: 'E_USAGE',
  CONFIG_INVALID: 'E_CONFIG_INVALID',
  CONFIG_READ: 'E_CONFIG_READ',
  REFERENCE_INVALID: 'E_REFERENCE_INVALID',
  REVIEW_INVALID: 'E_REVIEW_INVALID',
  OBJECT_INVALID: 'E_OBJECT_INVALID',
  TLS_INVALID: 'E_TLS_INVALID',
  DEADLINE: 'E_DEADLINE',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export class AdmissionError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'AdmissionError';
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
