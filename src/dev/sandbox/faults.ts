// Fault injection: which calls misbehave, and how each protocol expresses a fault kind on
// the wire. A fault answers in the exact shape AWS uses, so the SDK classifies it (retry or
// not) by its own rules, not by anything the sandbox tells it.
import { ApiError } from './wire.ts';

export type FaultKind =
  'throttle' | 'server-error' | 'unavailable' | 'access-denied' | 'expired-token' | 'unrecognized-client' | 'reset' | 'slow' | 'malformed';

export interface Fault {
  kind: FaultKind;
  /** How many calls it affects (default: every call until clearFaults). */
  times?: number;
  /** Chance (0..1) that a matching call is affected (default 1). */
  probability?: number;
  /** 'slow': the delay before the normal answer (default 1000 ms). */
  delayMs?: number;
  /** 'throttle' on REST-JSON services: the Retry-After header in seconds (default 1). */
  retryAfterSeconds?: number;
}

export type Protocol = 'json11' | 'rest-json' | 'oci' | 's3';

interface Entry {
  pattern: string;
  fault: Fault;
  remaining: number;
}

export function opMatches(pattern: string, op: string): boolean {
  if (pattern === '*' || pattern === op) return true;
  return pattern.endsWith(':*') && op.startsWith(pattern.slice(0, -1));
}

export class FaultTable {
  private entries: Entry[] = [];
  private readonly random: () => number;

  constructor(random: () => number = Math.random) {
    this.random = random;
  }

  inject(pattern: string, fault: Fault): void {
    if (fault.probability !== undefined && (fault.probability < 0 || fault.probability > 1)) {
      throw new RangeError(`fault probability must be within 0..1, got ${fault.probability}`);
    }
    if (fault.times !== undefined && (!Number.isInteger(fault.times) || fault.times < 1)) {
      throw new RangeError(`fault times must be a positive integer, got ${fault.times}`);
    }
    this.entries.push({ pattern, fault: { ...fault }, remaining: fault.times ?? Number.POSITIVE_INFINITY });
  }

  clear(): void {
    this.entries = [];
  }

  /** The fault this call suffers, if any: the first matching entry that fires. */
  take(op: string): Fault | undefined {
    for (const e of this.entries) {
      if (e.remaining <= 0 || !opMatches(e.pattern, op)) continue;
      if (e.fault.probability !== undefined && this.random() >= e.fault.probability) continue;
      e.remaining -= 1;
      return e.fault;
    }
    return undefined;
  }
}

/** The error a fault kind becomes in one protocol ('reset', 'slow', 'malformed' are not errors). */
export function faultError(protocol: Protocol, service: string, op: string, fault: Fault): ApiError {
  const action = `${service}:${op.split(':')[1] ?? op}`;
  const denied = `User: arn:aws:sts::000000000000:assumed-role/sandbox/caller is not authorized to perform: ${action}`;
  const retryAfter = { 'retry-after': String(fault.retryAfterSeconds ?? 1) };
  switch (protocol) {
    case 'json11':
      switch (fault.kind) {
        case 'throttle':
          return new ApiError(400, 'ThrottlingException', 'Rate exceeded');
        case 'server-error':
          return new ApiError(500, 'ServerException', 'We encountered an internal error. Please try again.');
        case 'unavailable':
          return new ApiError(503, 'ServiceUnavailableException', 'Service Unavailable');
        case 'access-denied':
          return new ApiError(400, 'AccessDeniedException', denied);
        case 'expired-token':
          return new ApiError(400, 'ExpiredTokenException', 'The security token included in the request is expired');
        case 'unrecognized-client':
          return new ApiError(400, 'UnrecognizedClientException', 'The security token included in the request is invalid.');
        default:
          break;
      }
      break;
    case 'rest-json':
      switch (fault.kind) {
        // Signer throttles with TooManyRequestsException (429): GetRevocationStatus @throws it,
        // and its model says it supersedes the deprecated ThrottlingException
        // (@aws-sdk/client-signer models/errors.d.ts). Inspector2 throttles with ThrottlingException (429).
        case 'throttle':
          return service === 'signer'
            ? new ApiError(429, 'TooManyRequestsException', 'Rate exceeded', { headers: retryAfter, fields: { code: 'TooManyRequestsException' } })
            : new ApiError(429, 'ThrottlingException', 'Rate exceeded', { headers: retryAfter });
        case 'server-error':
          return new ApiError(500, service === 'signer' ? 'InternalServiceErrorException' : 'InternalServerException', 'Internal server error');
        case 'unavailable':
          return new ApiError(503, 'ServiceUnavailableException', 'Service Unavailable');
        case 'access-denied':
          return new ApiError(403, 'AccessDeniedException', denied);
        case 'expired-token':
          return new ApiError(403, 'ExpiredTokenException', 'The security token included in the request is expired');
        case 'unrecognized-client':
          return new ApiError(403, 'UnrecognizedClientException', 'The security token included in the request is invalid.');
        default:
          break;
      }
      break;
    case 'oci':
      switch (fault.kind) {
        case 'throttle':
          return new ApiError(429, 'TOOMANYREQUESTS', 'Rate exceeded', { headers: retryAfter });
        case 'server-error':
          return new ApiError(500, 'UNKNOWN', 'internal error');
        case 'unavailable':
          return new ApiError(503, 'UNAVAILABLE', 'service unavailable');
        case 'access-denied':
          return new ApiError(403, 'DENIED', denied);
        case 'expired-token':
          return new ApiError(401, 'UNAUTHORIZED', 'Your authorization token has expired. Reauthenticate and try again.');
        case 'unrecognized-client':
          return new ApiError(401, 'UNAUTHORIZED', 'Not Authorized');
        default:
          break;
      }
      break;
    case 's3':
      switch (fault.kind) {
        case 'throttle':
          return new ApiError(503, 'SlowDown', 'Please reduce your request rate.');
        case 'server-error':
          return new ApiError(500, 'InternalError', 'We encountered an internal error. Please try again.');
        case 'unavailable':
          return new ApiError(503, 'ServiceUnavailable', 'Service is unable to handle request.');
        case 'access-denied':
          return new ApiError(403, 'AccessDenied', 'Access Denied');
        case 'expired-token':
          return new ApiError(400, 'ExpiredToken', 'The provided token has expired.');
        case 'unrecognized-client':
          return new ApiError(403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.');
        default:
          break;
      }
      break;
  }
  throw new Error(`fault kind ${fault.kind} is not an error response`);
}

/** 'malformed': the answer the handler produced, damaged so that a careful client notices:
 *  JSON is cut in half, binary content has its bytes flipped (the digest no longer matches). */
export function corrupt(body: Uint8Array | string, contentType: string | undefined): Uint8Array | string {
  const bytes = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body);
  if (bytes.byteLength === 0) return '{"';
  if (contentType && /json/.test(contentType) && !/vnd\.(oci|docker)/.test(contentType)) {
    return bytes.subarray(0, Math.max(1, Math.floor(bytes.byteLength / 2)));
  }
  const out = Buffer.from(bytes);
  for (let i = 0; i < out.byteLength; i += 7) out[i] = out[i]! ^ 0xff;
  return out;
}
