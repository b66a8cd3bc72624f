// Why a fact could not be had. "Definitive" codes are facts about the image (it does not
// exist, it is archived): the checks deny on them whatever onError says. The others mean AWS
// could not answer, and the decision follows onError.
import { outcomeOf } from './aws-clients.ts';
import { ErrorCodes, hasCode, type FactErrorCode } from '../support/errors.ts';

export type { FactErrorCode };

const DEFINITIVE: ReadonlySet<FactErrorCode> = new Set([
  ErrorCodes.IMAGE_NOT_FOUND,
  ErrorCodes.REPOSITORY_NOT_FOUND,
  ErrorCodes.IMAGE_ARCHIVED,
  ErrorCodes.IMAGE_ACTIVATING,
  ErrorCodes.TAG_DIGEST_MISMATCH,
  ErrorCodes.INVALID_MANIFEST,
]);

export class FactError extends Error {
  readonly code: FactErrorCode;
  readonly service: string;
  readonly operation: string;

  constructor(code: FactErrorCode, service: string, operation: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'FactError';
    this.code = code;
    this.service = service;
    this.operation = operation;
  }

  get definitive(): boolean {
    return DEFINITIVE.has(this.code);
  }
}

const ACCESS = new Set([
  'AccessDeniedException',
  'UnrecognizedClientException',
  'ExpiredTokenException',
  'InvalidSignatureException',
  'ExpiredToken',
  'InvalidClientTokenId',
  'CredentialsProviderError',
]);
const THROTTLE = new Set(['ThrottlingException', 'TooManyRequestsException', 'Throttling', 'LimitExceededException']);

/** Turns an SDK error into a FactError naming the service and operation that failed. */
export function fromAwsError(error: unknown, service: string, operation: string): FactError {
  if (error instanceof FactError) return error;
  const name = outcomeOf(error);
  const message = (error as { message?: string })?.message ?? String(error);
  const where = `${service} ${operation}`;
  if (name === 'ImageNotFoundException') return new FactError(ErrorCodes.IMAGE_NOT_FOUND, service, operation, message, { cause: error });
  if (name === 'RepositoryNotFoundException') return new FactError(ErrorCodes.REPOSITORY_NOT_FOUND, service, operation, message, { cause: error });
  if (ACCESS.has(name)) return new FactError(ErrorCodes.ACCESS_DENIED, service, operation, `${where} was refused (${name}): ${message}`, { cause: error });
  if (THROTTLE.has(name)) return new FactError(ErrorCodes.THROTTLED, service, operation, `${where} was throttled by AWS after retries`, { cause: error });
  if (name === 'timeout' || hasCode(error, ErrorCodes.DEADLINE)) {
    return new FactError(ErrorCodes.TIMEOUT, service, operation, `${where} did not answer within the admission deadline`, { cause: error });
  }
  const status = (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  return new FactError(ErrorCodes.AWS_ERROR, service, operation, `${where} failed: ${name}${status ? ` (HTTP ${status})` : ''}: ${message.slice(0, 200)}`, {
    cause: error,
  });
}
