// COSE_Sign1_Tagged (RFC 9052, CBOR tag 18) as signature-envelope-cose.md profiles it.
import { COSE_ALGORITHMS } from './algorithms.ts';
import { CborTag, COSE_LIMITS, decodeCborWith, encodeCbor, MAJOR_MAP, type CborKey, type CborValue } from './cbor.ts';
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
import { MAX_CERTIFICATES, MAX_ENVELOPE_BYTES, MEDIA_TYPE_COSE } from './types.ts';
import { ErrorCodes } from '../support/errors.ts';

export const COSE_SIGN1_TAG = 18;
export const LABEL_ALG = 1;
export const LABEL_CRIT = 2;
export const LABEL_CONTENT_TYPE = 3;
export const LABEL_X5CHAIN = 33;
/** CBOR tag for an epoch-based date/time (RFC 8949 3.4.2), which Notary's time attributes use. */
export const TAG_EPOCH_TIME = 1;

type Header = Map<CborKey, CborValue>;

function optionalTime(header: Header, name: string): Parsed<Date | undefined> {
  const v = header.get(name);
  if (v === undefined) return parsed(undefined);
  if (v instanceof CborTag && v.tag === TAG_EPOCH_TIME && typeof v.value === 'number' && Number.isFinite(v.value)) {
    const date = new Date(v.value * 1000);
    if (!Number.isNaN(date.getTime())) return parsed(date);
  }
  return failure(ErrorCodes.PARSE, `${name} must be a tag 1 epoch date/time`);
}

function certificateChain(value: CborValue): Uint8Array[] | string {
  // RFC 9360: one certificate may be a bare bstr, several are an array of bstr.
  const items = value instanceof Uint8Array ? [value] : value;
  if (!Array.isArray(items) || items.length === 0) return 'x5chain (label 33) is missing or empty';
  if (items.length > MAX_CERTIFICATES) {
    return `the certificate chain has ${items.length} certificates (at most ${MAX_CERTIFICATES})`;
  }
  const out: Uint8Array[] = [];
  for (const item of items) {
    if (!(item instanceof Uint8Array) || item.length === 0) return 'x5chain entries must be DER certificates';
    out.push(item);
  }
  return out;
}

/** Sig_structure for COSE_Sign1 with empty external_aad (RFC 9052 section 4.4). */
export function coseSign1ToBeSigned(protectedBytes: Uint8Array, payload: Uint8Array): Uint8Array {
  return encodeCbor(['Signature1', protectedBytes, new Uint8Array(0), payload]);
}

interface CoseSign1Parts {
  protectedBytes: Uint8Array;
  unprotected: Header;
  payload: Uint8Array;
  signature: Uint8Array;
}

/**
 * Reads COSE_Sign1_Tagged head by head: tag 18, an array of exactly 4, the protected header
 * as a byte string, the unprotected header as a map (the only part decoded whole, under the
 * item and depth budget), the payload and the signature as byte strings, nothing after. A
 * wrong shape is refused at the first head that shows it, before anything inside is decoded.
 */
function readCoseSign1(bytes: Uint8Array): Parsed<CoseSign1Parts> {
  return decodeCborWith(bytes, COSE_LIMITS, (r) => {
    r.expectTag(COSE_SIGN1_TAG, 'COSE envelope is not a COSE_Sign1_Tagged item (tag 18)');
    r.expectArray(4, 'COSE_Sign1 must be an array of 4 items');
    const protectedBytes = r.expectBytes('COSE_Sign1 protected header must be a byte string');
    // Depth 2: inside the tag (0) and the array (1).
    const unprotected = r.expectItem(MAJOR_MAP, 2, 'COSE_Sign1 unprotected header must be a map') as Header;
    const payload = r.expectBytes('COSE_Sign1 payload must be attached as a byte string');
    const signature = r.expectBytes('COSE_Sign1 signature must be a byte string');
    r.end();
    return { protectedBytes, unprotected, payload, signature };
  });
}

/** The protected header's bytes: one map, under a budget of its own. */
function readProtectedHeader(bytes: Uint8Array): Parsed<Header> {
  return decodeCborWith(bytes, COSE_LIMITS, (r) => {
    const header = r.expectItem(MAJOR_MAP, 0, 'COSE protected header must be a map') as Header;
    r.end();
    return header;
  });
}

export function parseCose(bytes: Uint8Array): Parsed<ParsedEnvelope> {
  // verify.ts checks the same bound; repeated so that no caller of this parser can skip it.
  if (bytes.length > MAX_ENVELOPE_BYTES) {
    return failure(ErrorCodes.PARSE, `the envelope has ${bytes.length} bytes (at most ${MAX_ENVELOPE_BYTES})`);
  }
  const parts = readCoseSign1(bytes);
  if (!parts.ok) return parts;
  const { protectedBytes, unprotected, payload, signature } = parts.value;
  if (protectedBytes.length === 0) return failure(ErrorCodes.PARSE, 'COSE_Sign1 protected header must be a non-empty byte string');

  const ph = readProtectedHeader(protectedBytes);
  if (!ph.ok) return failure(ErrorCodes.PARSE, ph.reason.startsWith('CBOR:') ? `COSE protected header: ${ph.reason}` : ph.reason);
  const prot = ph.value;

  const algLabel = prot.get(LABEL_ALG);
  const alg = typeof algLabel === 'number' ? COSE_ALGORITHMS.get(algLabel) : undefined;
  if (!alg) return failure(ErrorCodes.UNSUPPORTED_ALGORITHM, `COSE alg ${describe(algLabel)} is not supported`);

  const crit = prot.get(LABEL_CRIT);
  if (crit !== undefined && !(Array.isArray(crit) && crit.every((c) => typeof c === 'number' || typeof c === 'string'))) {
    return failure(ErrorCodes.PARSE, 'COSE crit must be an array of integer or text labels');
  }
  const critical: string[] = [];
  for (const label of (crit ?? []) as CborKey[]) {
    if (typeof label === 'number' && label >= 0 && label <= 8) {
      return failure(ErrorCodes.PARSE, `COSE crit must not list the common header label ${label}`);
    }
    critical.push(String(label));
  }

  const signingTime = optionalTime(prot, HEADER_SIGNING_TIME);
  if (!signingTime.ok) return signingTime;
  const authenticSigningTime = optionalTime(prot, HEADER_AUTHENTIC_SIGNING_TIME);
  if (!authenticSigningTime.ok) return authenticSigningTime;
  const expiry = optionalTime(prot, HEADER_EXPIRY);
  if (!expiry.ok) return expiry;

  // The specification allows x5chain in the protected header too; prefer it there.
  const chainValue = prot.get(LABEL_X5CHAIN) ?? unprotected.get(LABEL_X5CHAIN);
  const certificates = certificateChain(chainValue);
  if (typeof certificates === 'string') return failure(ErrorCodes.PARSE, certificates);

  const checked = checkSignedAttributes({
    contentType: prot.get(LABEL_CONTENT_TYPE),
    signingScheme: prot.get(HEADER_SIGNING_SCHEME),
    signingTime: signingTime.value,
    authenticSigningTime: authenticSigningTime.value,
    expiry: expiry.value,
    critical,
    presentLabels: new Set([...prot.keys()].map(String)),
    certificates,
  });
  if (!checked.ok) return checked;

  // Integer labels belong to COSE itself; string labels outside the standard set are
  // extended attributes. An integer label could still be marked critical: it then
  // stays in `critical` without a meaning here, and the critical-header check refuses it.
  const extendedAttributes = new Map<string, unknown>();
  for (const [key, value] of prot) {
    if (typeof key === 'string' && !STANDARD_ATTRIBUTES.has(key)) extendedAttributes.set(key, value);
  }

  return parsed({
    mediaType: MEDIA_TYPE_COSE,
    alg,
    signingInput: coseSign1ToBeSigned(protectedBytes, payload),
    signature,
    payload,
    signingScheme: checked.value.signingScheme,
    ...(signingTime.value && { signingTime: signingTime.value }),
    ...(authenticSigningTime.value && { authenticSigningTime: authenticSigningTime.value }),
    ...(expiry.value && { expiry: expiry.value }),
    critical: checked.value.critical,
    extendedAttributes,
    certificates,
  });
}
