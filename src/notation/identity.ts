// Trusted identities: AWS Signer signing-profile ARNs (the AWS Signer plugin's rules) and
// `x509.subject:` distinguished names (trust-store-trust-policy.md, "Trusted Identities
// Constraints"), and matching them against a verified signature.
import { ATTRIBUTE_SHORT_NAMES, type SubjectAttribute } from './certificate.ts';
import { NotationError } from './errors.ts';
import type { TrustedIdentity } from './types.ts';
import { ErrorCodes } from '../support/errors.ts';

const X509_SUBJECT_PREFIX = 'x509.subject:';
const ARN = /^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b|aws-iso-e|aws-iso-f|aws-eusc):signer:([a-z0-9-]+):(\d{12}):(\/signing-profiles\/.+)$/i;
const PROFILE_SEGMENT = /^[A-Za-z0-9_]+$/;

/** Aliases an identity may use for an attribute type (RFC 4514 names, upper-cased). */
const TYPE_ALIASES: ReadonlyMap<string, string> = new Map([
  ['S', 'ST'],
  ['E', 'EMAILADDRESS'],
]);
const KNOWN_TYPES: ReadonlySet<string> = new Set(ATTRIBUTE_SHORT_NAMES.values());
const MANDATORY_TYPES = ['C', 'ST', 'O'];

function invalid(text: string, why: string): NotationError {
  return new NotationError(ErrorCodes.TRUSTED_IDENTITY_INVALID, `trusted identity ${JSON.stringify(text)}: ${why}`);
}

function normaliseType(raw: string): string | undefined {
  const t = raw.trim();
  if (/^\d+(\.\d+)+$/.test(t)) return ATTRIBUTE_SHORT_NAMES.get(t) ?? t;
  const upper = t.toUpperCase();
  const canonical = TYPE_ALIASES.get(upper) ?? upper;
  return KNOWN_TYPES.has(canonical) ? canonical : undefined;
}

/**
 * Splits an RFC 4514-style DN on unescaped commas (or semicolons), unescaping `\,`,
 * `\;`, `\\`, `\ `, the other RFC 4514 specials and `\XX` hex pairs. Multi-valued RDNs
 * (`+`) and hex-encoded values (`=#...`) are refused, as the Notary Project refuses them.
 */
export function parseDistinguishedName(dn: string, text = dn): Map<string, string> {
  const attributes = new Map<string, string>();
  const rdns: { type: string; value: string }[] = [];
  let type = '';
  let value = '';
  let inValue = false;
  /** value.slice(0, escapedUpTo) ends with an escaped character: trailing-space trimming stops there. */
  let escapedUpTo = 0;
  const hexBytes: number[] = [];
  const flushHex = () => {
    if (hexBytes.length === 0) return;
    value += Buffer.from(hexBytes).toString('utf8');
    escapedUpTo = value.length;
    hexBytes.length = 0;
  };
  const endRdn = () => {
    flushHex();
    if (!inValue) throw invalid(text, `"${type.trim()}" has no "=value"`);
    rdns.push({ type, value: value.slice(0, escapedUpTo) + value.slice(escapedUpTo).replace(/ +$/, '') });
    type = '';
    value = '';
    inValue = false;
    escapedUpTo = 0;
  };
  for (let i = 0; i < dn.length; i++) {
    const c = dn[i] as string;
    if (!inValue) {
      if (c === '=') inValue = true;
      else if (c === ',' || c === ';' || c === '+' || c === '\\') throw invalid(text, `unexpected "${c}" in an attribute type`);
      else type += c;
      continue;
    }
    if (c === '\\') {
      const pair = dn.slice(i + 1, i + 3);
      if (/^[0-9a-fA-F]{2}$/.test(pair)) {
        hexBytes.push(parseInt(pair, 16));
        i += 2;
        continue;
      }
      const next = dn[i + 1];
      if (next === undefined) throw invalid(text, 'dangling "\\" at the end');
      flushHex();
      value += next;
      escapedUpTo = value.length;
      i += 1;
      continue;
    }
    flushHex();
    if (c === ',' || c === ';') {
      endRdn();
      continue;
    }
    if (c === '+') throw invalid(text, 'multi-valued RDNs ("+") are not supported');
    if (c === ' ' && value === '') continue; // unescaped leading space
    if (c === '#' && value === '') throw invalid(text, 'hex-encoded values ("=#") are not supported');
    value += c;
  }
  endRdn();
  for (const rdn of rdns) {
    const t = normaliseType(rdn.type);
    if (!t) throw invalid(text, `unknown attribute type "${rdn.type.trim()}"`);
    if (rdn.value === '') throw invalid(text, `attribute ${t} has an empty value`);
    if (attributes.has(t)) throw invalid(text, `attribute ${t} appears twice`);
    attributes.set(t, rdn.value);
  }
  for (const t of MANDATORY_TYPES) {
    if (!attributes.has(t)) throw invalid(text, 'an x509.subject must contain C, ST (or S) and O');
  }
  return attributes;
}

/** Parses one trustedIdentities entry; throws NotationError TRUSTED_IDENTITY_INVALID. */
export function parseTrustedIdentity(s: string): TrustedIdentity {
  // Trailing spaces are left for the DN parser: an escaped one ("\\ ") belongs to a value.
  const text = s.trimStart();
  if (text.trimEnd() === '*') return { kind: 'any', text: '*' };
  if (text.startsWith(X509_SUBJECT_PREFIX)) {
    const dn = text.slice(X509_SUBJECT_PREFIX.length);
    if (dn.trim() === '') throw invalid(text, 'x509.subject has no distinguished name');
    return { kind: 'x509Subject', text, attributes: parseDistinguishedName(dn, text) };
  }
  const arn = text.trimEnd();
  const m = ARN.exec(arn);
  if (m) {
    const segments = (m[4] as string).split('/');
    // ['', 'signing-profiles', name] or ['', 'signing-profiles', name, version]
    const names = segments.slice(2);
    if (names.length >= 1 && names.length <= 2 && names.every((n) => PROFILE_SEGMENT.test(n))) {
      return names.length === 1
        ? { kind: 'signingProfile', text: arn, arn: arn.toLowerCase() }
        : { kind: 'signingProfileVersion', text: arn, arn: arn.toLowerCase() };
    }
    throw invalid(arn, 'an AWS Signer identity is arn:...:/signing-profiles/<name> or .../<name>/<version>');
  }
  throw invalid(text, 'expected "*", "x509.subject: C=..., ST=..., O=...", or an AWS Signer signing-profile ARN');
}

/** A leaf subject as a type -> value map, or why it cannot be compared. */
export function subjectAttributes(subject: SubjectAttribute[], multiValued: boolean): Map<string, string> | string {
  if (multiValued) return 'its subject has a multi-valued RDN';
  const out = new Map<string, string>();
  for (const a of subject) {
    if (out.has(a.type)) return `its subject has attribute ${a.type} more than once`;
    out.set(a.type, a.value);
  }
  return out;
}

/** Every attribute the identity names must be in the leaf subject with the same value. */
export function subjectMatches(identity: ReadonlyMap<string, string>, leaf: ReadonlyMap<string, string>): boolean {
  for (const [type, value] of identity) {
    if (leaf.get(type) !== value) return false;
  }
  return true;
}

/** The AWS Signer plugin's rule: a profile ARN matches the version ARN minus its last segment. */
export function profileArnMatches(identity: TrustedIdentity, profileVersionArn: string): boolean {
  const version = profileVersionArn.toLowerCase();
  if (identity.kind === 'signingProfileVersion') return identity.arn === version;
  if (identity.kind === 'signingProfile') {
    const cut = version.lastIndexOf('/');
    return cut !== -1 && version.slice(0, cut) === identity.arn;
  }
  return false;
}
