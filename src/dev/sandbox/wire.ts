// HTTP plumbing shared by the sandbox's protocols: the outgoing response value, API errors,
// SigV4 scope parsing, and the error renderers of each wire protocol.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export interface Outgoing {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array | string;
}

/** An error the sandbox answers with; each protocol renders it in its own wire shape. */
export class ApiError extends Error {
  readonly status: number;
  readonly type: string;
  readonly headers: Record<string, string>;
  readonly fields: Record<string, unknown>;
  constructor(status: number, type: string, message: string, opts: { headers?: Record<string, string>; fields?: Record<string, unknown> } = {}) {
    super(message);
    this.status = status;
    this.type = type;
    this.headers = opts.headers ?? {};
    this.fields = opts.fields ?? {};
  }
}

export const MAX_BODY_BYTES = 10 * 1024 * 1024;

export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.byteLength;
    if (size > MAX_BODY_BYTES) throw new ApiError(413, 'RequestEntityTooLarge', `request body exceeds ${MAX_BODY_BYTES} bytes`);
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

export interface SigV4Scope {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
}

/** Reads the credential scope of a SigV4 Authorization header. The signature itself is
 *  never verified: the sandbox only needs to know which region the caller asked. */
export function sigV4Scope(authorization: string | undefined): SigV4Scope | undefined {
  if (!authorization) return undefined;
  const m = /^AWS4-HMAC-SHA256\s+Credential=([^/,\s]+)\/(\d{8})\/([^/,\s]+)\/([^/,\s]+)\/aws4_request\s*,/.exec(authorization);
  if (!m) return undefined;
  return { accessKeyId: m[1]!, date: m[2]!, region: m[3]!, service: m[4]! };
}

/** The region a signed AWS API request addresses, or the error AWS answers a bad signature with. */
export function requireScope(authorization: string | undefined, service: string): SigV4Scope {
  if (!authorization) throw new ApiError(403, 'MissingAuthenticationTokenException', 'Missing Authentication Token');
  const scope = sigV4Scope(authorization);
  if (!scope) throw new ApiError(403, 'IncompleteSignatureException', 'Authorization header requires a SigV4 Credential scope');
  if (scope.service !== service) {
    throw new ApiError(403, 'InvalidSignatureException', `Credential should be scoped to correct service: '${service}'.`);
  }
  return scope;
}

const epochSeconds = (d: Date): number => d.getTime() / 1000;
export { epochSeconds };

function requestId(): Record<string, string> {
  return { 'x-amzn-requestid': randomUUID() };
}

export function json(status: number, body: unknown, contentType: string, headers: Record<string, string> = {}): Outgoing {
  return { status, headers: { 'content-type': contentType, ...requestId(), ...headers }, body: JSON.stringify(body) };
}

/** AWS JSON 1.1 (ECR): every error is a body with __type; client errors are 400 even for
 *  authorization failures, which is what ECR really sends. */
export function renderJson11Error(e: ApiError): Outgoing {
  const status = e.status === 403 ? 400 : e.status;
  return json(status, { __type: e.type, message: e.message, ...e.fields }, 'application/x-amz-json-1.1', e.headers);
}

/** REST-JSON (Inspector2, Signer): the type travels in x-amzn-errortype, the body has message. */
export function renderRestJsonError(e: ApiError): Outgoing {
  return json(e.status, { message: e.message, ...e.fields }, 'application/json', { 'x-amzn-errortype': e.type, ...e.headers });
}

/** OCI distribution spec error body. */
export function renderOciError(e: ApiError): Outgoing {
  return json(e.status, { errors: [{ code: e.type, message: e.message, ...(Object.keys(e.fields).length ? { detail: e.fields } : {}) }] }, 'application/json', {
    'docker-distribution-api-version': 'registry/2.0',
    ...e.headers,
  });
}

/** S3-style XML error, as a pre-signed layer URL answers. */
export function renderS3Error(e: ApiError): Outgoing {
  const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${esc(e.type)}</Code><Message>${esc(e.message)}</Message><RequestId>${randomUUID()}</RequestId></Error>`;
  return { status: e.status, headers: { 'content-type': 'application/xml', ...e.headers }, body };
}

export function parseJsonBody(body: Buffer, errorType: string): Record<string, unknown> {
  if (body.byteLength === 0) return {};
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch {
    throw new ApiError(400, errorType, 'Unable to parse request body as JSON');
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ApiError(400, errorType, 'Request body must be a JSON object');
  return v as Record<string, unknown>;
}
