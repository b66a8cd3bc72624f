// Every failure of the OCI client is a FactError with service 'oci'. Content problems
// (oversized, wrong digest, malformed) also carry the SignatureProblem they amount to, so a
// signature listing can set one bad referrer aside and keep examining the others.
import { FactError, type FactErrorCode } from '../errors.ts';
import { OCI_SERVICE, type SignatureProblem } from './types.ts';

export class OciContentError extends FactError {
  readonly problem: SignatureProblem;

  constructor(problem: SignatureProblem, operation: string, message: string, options?: { cause?: unknown }) {
    super(problem === 'missing' ? 'IMAGE_NOT_FOUND' : 'INVALID_MANIFEST', OCI_SERVICE, operation, message, options);
    this.name = 'OciContentError';
    this.problem = problem;
  }
}

export function ociError(code: FactErrorCode, operation: string, message: string, cause?: unknown): FactError {
  return new FactError(code, OCI_SERVICE, operation, message, cause === undefined ? undefined : { cause });
}

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
    if (code === 'NAME_UNKNOWN') return ociError('REPOSITORY_NOT_FOUND', operation, `registry does not know the repository of ${what}${detail}`);
    return ociError('IMAGE_NOT_FOUND', operation, `${what} not found in the registry${detail}`);
  }
  if (status === 401 || status === 403) return ociError('ACCESS_DENIED', operation, `registry refused ${operation} for ${what}: HTTP ${status}${detail}`);
  if (status === 429) return ociError('THROTTLED', operation, `registry throttled ${operation} for ${what}${detail}`);
  return ociError('AWS_ERROR', operation, `registry answered ${operation} for ${what} with HTTP ${status}${detail}`);
}
