// JWS JSON serialization (flattened) as signature-envelope-jws.md profiles it.
import { JWS_ALGORITHMS } from './algorithms.ts';
import {
  checkSignedAttributes,
  describe,
  HEADER_AUTHENTIC_SIGNING_TIME,
  HEADER_EXPIRY,
  HEADER_SIGNING_SCHEME,
  HEADER_SIGNING_TIME,
  STANDARD_ATTRIBUTES,
  type ParsedEnvelope,
} from './envelope.ts';
import { failure, parsed, type Parsed } from './errors.ts';
import { decodeBase64, decodeBase64Url, parseRfc3339 } from './encoding.ts';
import { MAX_CERTIFICATES, MEDIA_TYPE_JWS } from './types.ts';

/** Header names JWS itself defines (RFC 7515 4.1); `crit` must not list them. */
const REGISTERED_HEADERS: ReadonlySet<string> = new Set([
  'alg', 'jku', 'jwk', 'kid', 'x5u', 'x5c', 'x5t', 'x5t#S256', 'typ', 'cty', 'crit',
]);
const TOP_LEVEL_KEYS: ReadonlySet<string> = new Set(['payload', 'protected', 'header', 'signature']);
const utf8 = new TextDecoder('utf-8', { fatal: true });

type JsonObject = Record<string, unknown>;

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseJsonObject(bytes: Uint8Array, what: string): Parsed<JsonObject> {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(bytes));
  } catch (err) {
    return failure('PARSE', `${what} is not valid UTF-8 JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  return isObject(value) ? parsed(value) : failure('PARSE', `${what} is not a JSON object`);
}

function optionalTime(header: JsonObject, name: string): Parsed<Date | undefined> {
  const v = header[name];
  if (v === undefined) return parsed(undefined);
  const date = typeof v === 'string' ? parseRfc3339(v) : undefined;
  return date ? parsed(date) : failure('PARSE', `${name} is not an RFC 3339 date-time: ${describe(v)}`);
}

export function parseJws(bytes: Uint8Array): Parsed<ParsedEnvelope> {
  const top = parseJsonObject(bytes, 'the JWS envelope');
  if (!top.ok) return top;
  const env = top.value;
  for (const key of Object.keys(env)) {
    if (!TOP_LEVEL_KEYS.has(key)) return failure('PARSE', `JWS envelope has unsupported member ${describe(key)}`);
  }
  const { payload, protected: protectedB64, signature, header } = env;
  if (typeof payload !== 'string' || typeof protectedB64 !== 'string' || typeof signature !== 'string') {
    return failure('PARSE', 'JWS envelope needs string members payload, protected and signature');
  }
  if (!isObject(header)) return failure('PARSE', 'JWS envelope needs an unprotected header object');

  const protectedBytes = decodeBase64Url(protectedB64);
  const signatureBytes = decodeBase64Url(signature);
  if (!protectedBytes || !signatureBytes) return failure('PARSE', 'JWS protected or signature is not base64url');
  // The signature covers the payload's text as written, so a malformed payload is
  // reported after the signature check (which it fails unless the signer wrote it so).
  const payloadBytes = decodeBase64Url(payload) ?? null;
  const ph = parseJsonObject(protectedBytes, 'the JWS protected header');
  if (!ph.ok) return ph;
  const prot = ph.value;

  const alg = typeof prot.alg === 'string' ? JWS_ALGORITHMS.get(prot.alg) : undefined;
  if (!alg) return failure('UNSUPPORTED_ALGORITHM', `JWS alg ${describe(prot.alg)} is not supported`);

  const crit = prot.crit;
  if (crit !== undefined && !(Array.isArray(crit) && crit.every((c) => typeof c === 'string'))) {
    return failure('PARSE', 'JWS crit must be an array of strings');
  }
  const critical = (crit ?? []) as string[];
  for (const name of critical) {
    if (REGISTERED_HEADERS.has(name)) return failure('PARSE', `JWS crit must not list the registered header ${name}`);
  }

  const signingTime = optionalTime(prot, HEADER_SIGNING_TIME);
  if (!signingTime.ok) return signingTime;
  const authenticSigningTime = optionalTime(prot, HEADER_AUTHENTIC_SIGNING_TIME);
  if (!authenticSigningTime.ok) return authenticSigningTime;
  const expiry = optionalTime(prot, HEADER_EXPIRY);
  if (!expiry.ok) return expiry;

  const x5c = header.x5c;
  if (!Array.isArray(x5c) || x5c.length === 0) return failure('PARSE', 'JWS header x5c is missing or empty');
  if (x5c.length > MAX_CERTIFICATES) {
    return failure('PARSE', `the certificate chain has ${x5c.length} certificates (at most ${MAX_CERTIFICATES})`);
  }
  const certificates: Uint8Array[] = [];
  for (const entry of x5c) {
    const der = typeof entry === 'string' ? decodeBase64(entry) : undefined;
    if (!der || der.length === 0) return failure('PARSE', 'JWS x5c entries must be base64 DER certificates');
    certificates.push(der);
  }

  const checked = checkSignedAttributes({
    contentType: prot.cty,
    signingScheme: prot[HEADER_SIGNING_SCHEME],
    signingTime: signingTime.value,
    authenticSigningTime: authenticSigningTime.value,
    expiry: expiry.value,
    critical,
    presentLabels: new Set(Object.keys(prot)),
    certificates,
  });
  if (!checked.ok) return checked;

  const extendedAttributes = new Map<string, unknown>();
  for (const [key, value] of Object.entries(prot)) {
    if (!REGISTERED_HEADERS.has(key) && !STANDARD_ATTRIBUTES.has(key)) extendedAttributes.set(key, value);
  }

  return parsed({
    mediaType: MEDIA_TYPE_JWS,
    alg,
    signingInput: Buffer.from(`${protectedB64}.${payload}`, 'ascii'),
    signature: signatureBytes,
    payload: payloadBytes,
    signingScheme: checked.value.signingScheme,
    ...(signingTime.value && { signingTime: signingTime.value }),
    ...(authenticSigningTime.value && { authenticSigningTime: authenticSigningTime.value }),
    ...(expiry.value && { expiry: expiry.value }),
    critical: checked.value.critical,
    extendedAttributes,
    certificates,
  });
}
