// One X.509 certificate, parsed once into what the Notary Project's certificate
// requirements look at. Node's X509Certificate (OpenSSL) validates the DER and checks
// signatures; it does not expose key usage bits, extension criticality, path length or
// the raw TBSCertificate, so those come from @peculiar/asn1-x509 and a DER slice.
import { createHash, X509Certificate, type KeyObject } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import {
  AuthorityInfoAccessSyntax,
  BasicConstraints,
  Certificate,
  ExtendedKeyUsage,
  id_ad_ocsp,
  id_ce_basicConstraints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  KeyUsage,
  type AttributeValue,
} from '@peculiar/asn1-x509';
import { failure, parsed, type Parsed } from './errors.ts';
import { ErrorCodes } from '../support/errors.ts';

export interface SubjectAttribute {
  /** Short name (C, ST, O, CN, ...) when the attribute type has one, else the dotted OID. */
  type: string;
  value: string;
}

const ID_AUTHORITY_INFO_ACCESS = '1.3.6.1.5.5.7.1.1';
const ID_CRL_DISTRIBUTION_POINTS = '2.5.29.31';

export interface CertificateInfo {
  der: Uint8Array;
  x509: X509Certificate;
  /** Decoded up front: OpenSSL decodes the key lazily and throws on a malformed one. */
  publicKey: KeyObject;
  tbs: Uint8Array;
  rawIssuer: Uint8Array;
  rawSubject: Uint8Array;
  /** In certificate order; `multiValuedRdn` says if any RDN held more than one attribute. */
  subject: SubjectAttribute[];
  multiValuedRdn: boolean;
  notBefore: Date;
  notAfter: Date;
  keyUsage?: { critical: boolean; flags: number };
  basicConstraints?: { critical: boolean; ca: boolean; pathLen?: number };
  /** Extended key usage OIDs, when the extension is present. */
  extKeyUsage?: string[];
  /**
   * Where the certificate says its revocation status is published: an OCSP responder (an
   * authorityInfoAccess entry with the id-ad-ocsp method) and/or CRL distribution points.
   */
  revocationEndpoints?: Array<'OCSP' | 'CRL'>;
  /** Every extension, in certificate order: chain.ts refuses those it does not process. */
  extensions: Array<{ oid: string; critical: boolean }>;
  signatureAlgorithm: string;
  sha256: string;
}

export const KEY_USAGE = {
  digitalSignature: 1,
  nonRepudiation: 2,
  keyEncipherment: 4,
  dataEncipherment: 8,
  keyAgreement: 16,
  keyCertSign: 32,
  cRLSign: 64,
  encipherOnly: 128,
  decipherOnly: 256,
} as const;

/** Attribute types with the short names RFC 4514 and the Notary Project use. */
export const ATTRIBUTE_SHORT_NAMES: ReadonlyMap<string, string> = new Map([
  ['2.5.4.6', 'C'],
  ['2.5.4.8', 'ST'],
  ['2.5.4.7', 'L'],
  ['2.5.4.10', 'O'],
  ['2.5.4.11', 'OU'],
  ['2.5.4.3', 'CN'],
  ['2.5.4.5', 'SERIALNUMBER'],
  ['2.5.4.9', 'STREET'],
  ['2.5.4.17', 'POSTALCODE'],
  ['0.9.2342.19200300.100.1.25', 'DC'],
  ['0.9.2342.19200300.100.1.1', 'UID'],
  ['1.2.840.113549.1.9.1', 'EMAILADDRESS'],
]);

interface Tlv {
  start: number;
  contentStart: number;
  end: number;
}

/** Reads one DER TLV header at `pos` (short and long definite lengths only). */
function readTlv(bytes: Uint8Array, pos: number): Tlv {
  if (pos + 2 > bytes.length) throw new Error('truncated DER');
  let len = bytes[pos + 1] as number;
  let contentStart = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || contentStart + n > bytes.length) throw new Error('unsupported DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + (bytes[contentStart + i] as number);
    contentStart += n;
  }
  const end = contentStart + len;
  if (end > bytes.length) throw new Error('DER length past the end');
  return { start: pos, contentStart, end };
}

/** The raw TBSCertificate, issuer and subject, sliced from the DER rather than re-encoded. */
function rawParts(der: Uint8Array): { tbs: Uint8Array; issuer: Uint8Array; subject: Uint8Array } {
  const cert = readTlv(der, 0);
  if (cert.end !== der.length) throw new Error('trailing bytes after the certificate');
  const tbs = readTlv(der, cert.contentStart);
  let pos = tbs.contentStart;
  const first = readTlv(der, pos);
  if (der[pos] === 0xa0) pos = first.end; // explicit [0] version
  const serial = readTlv(der, pos);
  const sigAlg = readTlv(der, serial.end);
  const issuer = readTlv(der, sigAlg.end);
  const validity = readTlv(der, issuer.end);
  const subject = readTlv(der, validity.end);
  return {
    tbs: der.subarray(tbs.start, tbs.end),
    issuer: der.subarray(issuer.start, issuer.end),
    subject: der.subarray(subject.start, subject.end),
  };
}

function attributeText(v: AttributeValue): string {
  const s = v.utf8String ?? v.printableString ?? v.ia5String ?? v.teletexString ?? v.bmpString ?? v.universalString;
  if (s !== undefined) return s;
  // Not a string type: render so that it can never equal a configured identity value.
  return `#${Buffer.from(v.anyValue ?? new ArrayBuffer(0)).toString('hex')}`;
}

// Certificates repeat across signatures (AWS Signer's CA certificates are the same for every
// signature of a region, a leaf for all the jobs of its days), and parsing one or checking a
// signature on one is a pure function of its bytes: both are memoised, keyed by the DER's
// SHA-256, in bounded maps that drop their oldest entry when full.
const MAX_CACHED_CERTIFICATES = 512;
const MAX_CACHED_LINKS = 1024;
const parsedCache = new Map<string, CertificateInfo>();
const linkCache = new Map<string, boolean>();

function remember<V>(cache: Map<string, V>, max: number, key: string, value: V): void {
  if (cache.size >= max) {
    const oldest = cache.keys().next();
    if (!oldest.done) cache.delete(oldest.value);
  }
  cache.set(key, value);
}

export function parseCertificate(der: Uint8Array): Parsed<CertificateInfo> {
  const key = createHash('sha256').update(der).digest('hex');
  const cached = parsedCache.get(key);
  if (cached) return parsed(cached);
  const result = parseCertificateUncached(der, key);
  if (result.ok) remember(parsedCache, MAX_CACHED_CERTIFICATES, key, result.value);
  return result;
}

function parseCertificateUncached(input: Uint8Array, sha256: string): Parsed<CertificateInfo> {
  // A copy: the result is cached, and the caller's buffer may change after this returns.
  const der = new Uint8Array(input);
  try {
    const x509 = new X509Certificate(der);
    const parts = rawParts(der);
    const asn = AsnConvert.parse(der, Certificate);
    const tbs = asn.tbsCertificate;
    const info: CertificateInfo = {
      der,
      x509,
      publicKey: x509.publicKey,
      tbs: parts.tbs,
      rawIssuer: parts.issuer,
      rawSubject: parts.subject,
      subject: [],
      multiValuedRdn: false,
      notBefore: x509.validFromDate,
      notAfter: x509.validToDate,
      extensions: [],
      signatureAlgorithm: asn.signatureAlgorithm.algorithm,
      sha256,
    };
    for (const rdn of tbs.subject) {
      if (rdn.length > 1) info.multiValuedRdn = true;
      for (const atv of rdn) {
        info.subject.push({ type: ATTRIBUTE_SHORT_NAMES.get(atv.type) ?? atv.type, value: attributeText(atv.value) });
      }
    }
    for (const ext of tbs.extensions ?? []) {
      const critical = ext.critical === true;
      info.extensions.push({ oid: ext.extnID, critical });
      if (ext.extnID === id_ce_keyUsage) {
        info.keyUsage = { critical, flags: AsnConvert.parse(ext.extnValue, KeyUsage).toNumber() };
      } else if (ext.extnID === id_ce_basicConstraints) {
        const bc = AsnConvert.parse(ext.extnValue, BasicConstraints);
        info.basicConstraints = {
          critical,
          ca: bc.cA === true,
          ...(bc.pathLenConstraint !== undefined && { pathLen: bc.pathLenConstraint }),
        };
      } else if (ext.extnID === id_ce_extKeyUsage) {
        info.extKeyUsage = [...AsnConvert.parse(ext.extnValue, ExtendedKeyUsage)];
      } else if (ext.extnID === ID_AUTHORITY_INFO_ACCESS) {
        // caIssuers entries only say where the issuer's certificate is: not a revocation source.
        const access = AsnConvert.parse(ext.extnValue, AuthorityInfoAccessSyntax);
        if (access.some((a) => a.accessMethod === id_ad_ocsp)) info.revocationEndpoints = [...(info.revocationEndpoints ?? []), 'OCSP'];
      } else if (ext.extnID === ID_CRL_DISTRIBUTION_POINTS) {
        info.revocationEndpoints = [...(info.revocationEndpoints ?? []), 'CRL'];
      }
    }
    return parsed(info);
  } catch (err) {
    return failure(ErrorCodes.PARSE, `invalid certificate (${err instanceof Error ? err.message : String(err)})`);
  }
}

/** The subject in x509.subject syntax ("C=US, ST=WA, O=..."), for messages and identities. */
export function describeSubject(info: CertificateInfo): string {
  return info.subject.map((a) => `${a.type}=${escapeDnValue(a.value)}`).join(', ');
}

function escapeDnValue(v: string): string {
  return v.replace(/[\\,;+"<>=#]/g, (c) => `\\${c}`).replace(/^ | $/g, '\\ ');
}

/** Does `parent`'s key verify `child`, and do the names link (RFC 5280 6.1.3)? */
export function isIssuedBy(child: CertificateInfo, parent: CertificateInfo): boolean {
  if (!Buffer.from(child.rawIssuer).equals(parent.rawSubject)) return false;
  const key = `${child.sha256}:${parent.sha256}`;
  let verified = linkCache.get(key);
  if (verified === undefined) {
    try {
      verified = child.x509.verify(parent.publicKey);
    } catch {
      verified = false;
    }
    remember(linkCache, MAX_CACHED_LINKS, key, verified);
  }
  return verified;
}

export function isSelfSigned(info: CertificateInfo): boolean {
  return isIssuedBy(info, info);
}

/** Parsed trust store certificates, computed once per X509Certificate object. */
const trustedInfoCache = new WeakMap<X509Certificate, CertificateInfo>();

export function rememberTrusted(info: CertificateInfo): void {
  trustedInfoCache.set(info.x509, info);
}

export function infoOfTrusted(cert: X509Certificate): CertificateInfo | undefined {
  let info = trustedInfoCache.get(cert);
  if (!info) {
    const p = parseCertificate(new Uint8Array(cert.raw));
    if (!p.ok) return undefined;
    info = p.value;
    trustedInfoCache.set(cert, info);
  }
  return info;
}
