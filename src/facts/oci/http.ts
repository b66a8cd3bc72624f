// One HTTP exchange with a registry on Node's fetch: the admission deadline and a
// per-request timeout, redirects followed by hand (so Authorization never leaves its origin
// and https never turns into http), and bodies read up to a bound, never past it.
import { ociError } from './errors.ts';
import { MAX_SMALL_BODY_BYTES } from './types.ts';
import { FactError } from '../errors.ts';
import { ErrorCodes } from '../../support/errors.ts';

export interface HttpRequest {
  readonly method: 'GET' | 'HEAD';
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  /** For errors: 'GET manifests', 'GET referrers', ... */
  readonly operation: string;
  /** The admission deadline. */
  readonly signal: AbortSignal;
  readonly timeoutMs: number;
  /** Success bodies larger than this are refused (error bodies: 64 KiB). */
  readonly maxBytes: number;
  /** What the body is, for the too-large message: "manifest sha256:...". */
  readonly what: string;
  /** Builds the error for a body over maxBytes, given the declared or observed byte count. */
  readonly tooLarge: (message: string, bytes: number) => FactError;
  readonly plainHttp: boolean;
  readonly maxRedirects: number;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: Uint8Array;
  /** The URL that answered, after redirects. */
  readonly url: URL;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

// Connection failures (refused, reset) are worth another attempt; the errors this module
// raises for other reasons (too many redirects, a body over its bound) are not.
const connectionFailures = new WeakSet<FactError>();
export const isConnectionFailure = (error: unknown): boolean => error instanceof FactError && connectionFailures.has(error);

export function checkScheme(url: URL, plainHttp: boolean, operation: string): void {
  if (url.protocol === 'https:') return;
  if (url.protocol === 'http:' && plainHttp) return;
  throw ociError(
    ErrorCodes.ACCESS_DENIED,
    operation,
    `refusing ${url.protocol}//${url.host}: only https is allowed${url.protocol === 'http:' ? ' (plain HTTP was not enabled for this registry)' : ''}`,
  );
}

export async function exchange(request: HttpRequest): Promise<HttpResponse> {
  const timeout = AbortSignal.timeout(request.timeoutMs);
  const signal = AbortSignal.any([request.signal, timeout]);
  let url = request.url;
  let headers: Record<string, string> = { ...request.headers };
  try {
    for (let hop = 0; ; hop += 1) {
      checkScheme(url, request.plainHttp, request.operation);
      const response = await fetch(url, { method: request.method, headers, redirect: 'manual', signal });
      const location = response.headers.get('location');
      if (REDIRECTS.has(response.status) && location !== null) {
        await response.body?.cancel();
        if (hop >= request.maxRedirects)
          throw ociError(ErrorCodes.AWS_ERROR, request.operation, `${request.what}: more than ${request.maxRedirects} redirects`);
        const next = new URL(location, url);
        // Pre-signed object-storage URLs carry their own authorization; a registry token
        // must not travel to another origin (and S3 refuses requests that carry both).
        if (next.origin !== url.origin) {
          headers = Object.fromEntries(Object.entries(headers).filter(([name]) => name.toLowerCase() !== 'authorization'));
        }
        url = next;
        continue;
      }
      const ok = response.status >= 200 && response.status < 300;
      const body =
        request.method === 'HEAD' ? new Uint8Array(0) : await readBounded(response, ok ? request.maxBytes : MAX_SMALL_BODY_BYTES, ok ? request : undefined);
      return { status: response.status, headers: response.headers, body, url };
    }
  } catch (error) {
    if (error instanceof FactError) throw error;
    if (request.signal.aborted) {
      throw ociError(
        ErrorCodes.TIMEOUT,
        request.operation,
        `registry ${request.operation} for ${request.what} did not answer within the admission deadline`,
        error,
      );
    }
    if (timeout.aborted) {
      throw ociError(
        ErrorCodes.TIMEOUT,
        request.operation,
        `registry ${request.operation} for ${request.what} did not answer within ${request.timeoutMs} ms`,
        error,
      );
    }
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const detail = cause?.code ?? cause?.message ?? (error as Error).message;
    const failure = ociError(
      ErrorCodes.AWS_ERROR,
      request.operation,
      `registry ${request.operation} for ${request.what} failed at ${url.host}: ${detail}`,
      error,
    );
    connectionFailures.add(failure);
    throw failure;
  }
}

/** Reads a body up to `max` bytes. A declared Content-Length over the bound is refused before
 *  reading; an undeclared or lying one is cut off as soon as the bound is passed. Error bodies
 *  (limit undefined) are truncated silently: they are only read for their message. */
async function readBounded(response: Response, max: number, limit: HttpRequest | undefined): Promise<Uint8Array> {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (limit && Number.isFinite(declared) && declared > max) {
    await response.body?.cancel();
    throw limit.tooLarge(`${limit.what} is ${declared} bytes, over the ${max}-byte limit`, declared);
  }
  if (!response.body) return new Uint8Array(0);
  // A fetch body streams Uint8Array chunks (Fetch standard); Node's types leave its chunk type `any`.
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel();
      if (limit) throw limit.tooLarge(`${limit.what} is over the ${max}-byte limit (stopped reading at ${total} bytes)`, total);
      chunks.push(value.subarray(0, value.byteLength - (total - max)));
      break;
    }
    chunks.push(value);
  }
  return concat(chunks);
}

function concat(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}
