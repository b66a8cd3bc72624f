// Every failure of the OCI client is a FactError with service 'oci'. Content problems a
// pusher can cause (oversized, wrong size, malformed) also carry the SignatureProblem they
// amount to, so a signature listing can set one bad referrer aside and keep examining the others.
import { FactError, type FactErrorCode } from '../errors.ts';
import { OCI_SERVICE, type SignatureProblem } from './types.ts';
import { ErrorCodes } from '../../support/errors.ts';

export class OciContentError extends FactError {
  readonly problem: SignatureProblem;

  constructor(problem: SignatureProblem, operation: string, message: string, options?: { cause?: unknown }) {
    super(problem === 'missing' ? ErrorCodes.IMAGE_NOT_FOUND : ErrorCodes.INVALID_MANIFEST, OCI_SERVICE, operation, message, options);
    this.name = 'OciContentError';
    this.problem = problem;
  }
}

export function ociError(code: FactErrorCode, operation: string, message: string, cause?: unknown): FactError {
  return new FactError(code, OCI_SERVICE, operation, message, cause === undefined ? undefined : { cause });
}

/** The registry served content that does not hash to the digest it was asked for. A registry
 *  checks every digest at push, so no pusher can store such content: the registry or the
 *  transfer is at fault, an error for onError (not a content problem of the referrer). */
export function servedWrongBytes(operation: string, message: string): FactError {
  return ociError(ErrorCodes.AWS_ERROR, operation, `${message} (registries check digests at push: a fault of the registry or the transfer)`);
}

/** Error codes of the OCI distribution spec ("Error Codes") that this client tells apart: the
 *  registry's vocabulary, read from its answers, not one of the codes this project raises. */
const DistributionErrorCodes = { NAME_UNKNOWN: 'NAME_UNKNOWN' } as const;

interface OciErrorBody {
  code: string | undefined;
  message: string | undefined;
}

/** The first entry of an OCI error body ({"errors":[{"code","message"}]}), if it is one. */
export function parseErrorBody(body: Uint8Array): OciErrorBody {
  try {
    const parsed = JSON.parse(new TextDecoder().decode(body)) as { errors?: Array<{ code?: unknown; message?: unknown }> };
    const first = Array.isArray(parsed.errors) ? parsed.errors[0] : undefined;
    return {
      code: typeof first?.code === 'string' ? first.code : undefined,
      message: typeof first?.message === 'string' ? first.message.slice(0, 200) : undefined,
    };
  } catch {
    return { code: undefined, message: undefined };
  }
}

/** Maps a non-success status to a FactError. 404 is "not found" of the thing asked for:
 *  NAME_UNKNOWN names a repository, anything else the manifest or blob. */
export function statusError(status: number, body: Uint8Array, operation: string, what: string): FactError {
  const { code, message } = parseErrorBody(body);
  const detail = code !== undefined ? ` (${code}${message ? `: ${message}` : ''})` : '';
  if (status === 404) {
    if (code === DistributionErrorCodes.NAME_UNKNOWN)
      return ociError(ErrorCodes.REPOSITORY_NOT_FOUND, operation, `registry does not know the repository of ${what}${detail}`);
    return ociError(ErrorCodes.IMAGE_NOT_FOUND, operation, `${what} not found in the registry${detail}`);
  }
  if (status === 401 || status === 403)
    return ociError(ErrorCodes.ACCESS_DENIED, operation, `registry refused ${operation} for ${what}: HTTP ${status}${detail}`);
  if (status === 429) return ociError(ErrorCodes.THROTTLED, operation, `registry throttled ${operation} for ${what}${detail}`);
  return ociError(ErrorCodes.AWS_ERROR, operation, `registry answered ${operation} for ${what} with HTTP ${status}${detail}`);
}
