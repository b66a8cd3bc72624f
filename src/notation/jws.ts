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
import { parseBoundedJson, type JsonLimits } from './json.ts';
import { MAX_CERTIFICATES, MAX_ENVELOPE_BYTES, MEDIA_TYPE_JWS } from './types.ts';
import { ErrorCodes } from '../support/errors.ts';

/** Header names JWS itself defines (RFC 7515 4.1); `crit` must not list them. */
const REGISTERED_HEADERS: ReadonlySet<string> = new Set(['alg', 'jku', 'jwk', 'kid', 'x5u', 'x5c', 'x5t', 'x5t#S256', 'typ', 'cty', 'crit']);
const TOP_LEVEL_KEYS: ReadonlySet<string> = new Set(['payload', 'protected', 'header', 'signature']);
const HEADER_SIGNING_AGENT = 'io.cncf.notary.signingAgent';
const HEADER_TIMESTAMP_SIGNATURE = 'io.cncf.notary.timestampSignature';

// Bounds, checked before the JSON they apply to is parsed. A real envelope is one object
// holding the unprotected header object holding the x5c array: depth 3, under 20 values.
// A real protected header is one object with the crit array (depth 2) and about ten members;
// depth 4 leaves room for an extended attribute that is a small object with an array.
const ENVELOPE_JSON: JsonLimits = { maxBytes: MAX_ENVELOPE_BYTES, maxDepth: 3, maxValues: 1024 };
const PROTECTED_JSON: JsonLimits = { maxBytes: 16 * 1024, maxDepth: 4, maxValues: 1024 };
/** RSA-4096 gives 512 bytes, ECDSA P-521 132; the Notary Project allows nothing larger. */
const MAX_SIGNATURE_BYTES = 1024;
/** The longest base64url text (no padding) that decodes to at most `bytes` bytes. */
const base64UrlChars = (bytes: number) => Math.ceil((bytes * 4) / 3);

type JsonObject = Record<string, unknown>;

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseJsonObject(bytes: Uint8Array, limits: JsonLimits, what: string): Parsed<JsonObject> {
  const value = parseBoundedJson(bytes, limits, what);
  if (!value.ok) return value;
  return isObject(value.value) ? parsed(value.value) : failure(ErrorCodes.PARSE, `${what} is not a JSON object`);
}

function optionalTime(header: JsonObject, name: string): Parsed<Date | undefined> {
  const v = header[name];
  if (v === undefined) return parsed(undefined);
  const date = typeof v === 'string' ? parseRfc3339(v) : undefined;
  return date ? parsed(date) : failure(ErrorCodes.PARSE, `${name} is not an RFC 3339 date-time: ${describe(v)}`);
}

/**
 * The envelope's shape, checked before anything in it is decoded: a JSON object (bounded in
 * size, depth and values) with exactly the members payload, protected and signature (strings,
 * each within its bound) and header (an object whose known members have their types).
 */
function envelopeShape(bytes: Uint8Array): Parsed<{ payload: string; protectedB64: string; signature: string; header: JsonObject }> {
  const top = parseJsonObject(bytes, ENVELOPE_JSON, 'the JWS envelope');
  if (!top.ok) return top;
  const env = top.value;
  for (const key of Object.keys(env)) {
    if (!TOP_LEVEL_KEYS.has(key)) return failure(ErrorCodes.PARSE, `JWS envelope has unsupported member ${describe(key)}`);
  }
  const { payload, protected: protectedB64, signature, header } = env;
  if (typeof payload !== 'string' || typeof protectedB64 !== 'string' || typeof signature !== 'string') {
    return failure(ErrorCodes.PARSE, 'JWS envelope needs string members payload, protected and signature');
  }
  if (protectedB64.length > base64UrlChars(PROTECTED_JSON.maxBytes)) {
    return failure(ErrorCodes.PARSE, `the JWS protected header has ${protectedB64.length} characters (at most ${base64UrlChars(PROTECTED_JSON.maxBytes)})`);
  }
  if (signature.length > base64UrlChars(MAX_SIGNATURE_BYTES)) {
    return failure(ErrorCodes.PARSE, `the JWS signature has ${signature.length} characters (at most ${base64UrlChars(MAX_SIGNATURE_BYTES)})`);
  }
  if (!isObject(header)) return failure(ErrorCodes.PARSE, 'JWS envelope needs an unprotected header object');
  for (const name of [HEADER_SIGNING_AGENT, HEADER_TIMESTAMP_SIGNATURE]) {
    if (header[name] !== undefined && typeof header[name] !== 'string') {
      return failure(ErrorCodes.PARSE, `JWS unprotected header ${name} must be a string`);
    }
  }
  return parsed({ payload, protectedB64, signature, header });
}

export function parseJws(bytes: Uint8Array): Parsed<ParsedEnvelope> {
  const shape = envelopeShape(bytes);
  if (!shape.ok) return shape;
  const { payload, protectedB64, signature, header } = shape.value;

  const protectedBytes = decodeBase64Url(protectedB64);
  const signatureBytes = decodeBase64Url(signature);
  if (!protectedBytes || !signatureBytes) return failure(ErrorCodes.PARSE, 'JWS protected or signature is not base64url');
  // The signature covers the payload's text as written, so a malformed payload is
  // reported after the signature check (which it fails unless the signer wrote it so).
  const payloadBytes = decodeBase64Url(payload) ?? null;
  const ph = parseJsonObject(protectedBytes, PROTECTED_JSON, 'the JWS protected header');
  if (!ph.ok) return ph;
  const prot = ph.value;

  const alg = typeof prot.alg === 'string' ? JWS_ALGORITHMS.get(prot.alg) : undefined;
  if (!alg) return failure(ErrorCodes.UNSUPPORTED_ALGORITHM, `JWS alg ${describe(prot.alg)} is not supported`);

  const crit = prot.crit;
  if (crit !== undefined && !(Array.isArray(crit) && crit.every((c) => typeof c === 'string'))) {
    return failure(ErrorCodes.PARSE, 'JWS crit must be an array of strings');
  }
  const critical = crit ?? [];
  for (const name of critical) {
    if (REGISTERED_HEADERS.has(name)) return failure(ErrorCodes.PARSE, `JWS crit must not list the registered header ${name}`);
  }

  const signingTime = optionalTime(prot, HEADER_SIGNING_TIME);
  if (!signingTime.ok) return signingTime;
  const authenticSigningTime = optionalTime(prot, HEADER_AUTHENTIC_SIGNING_TIME);
  if (!authenticSigningTime.ok) return authenticSigningTime;
  const expiry = optionalTime(prot, HEADER_EXPIRY);
  if (!expiry.ok) return expiry;

  const x5c = header.x5c;
  if (!Array.isArray(x5c) || x5c.length === 0) return failure(ErrorCodes.PARSE, 'JWS header x5c is missing or empty');
  if (x5c.length > MAX_CERTIFICATES) {
    return failure(ErrorCodes.PARSE, `the certificate chain has ${x5c.length} certificates (at most ${MAX_CERTIFICATES})`);
  }
  const certificates: Uint8Array[] = [];
  for (const entry of x5c) {
    const der = typeof entry === 'string' ? decodeBase64(entry) : undefined;
    if (!der || der.length === 0) return failure(ErrorCodes.PARSE, 'JWS x5c entries must be base64 DER certificates');
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
