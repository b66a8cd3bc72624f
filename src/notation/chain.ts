// Certificate chain checks: the Notary Project's code-signing certificate requirements
// (signature-specification.md, "Certificate Requirements"), then anchoring the chain in a
// trust store of the type the signing scheme demands. Trust comes from certificates
// (byte-equal, or a verified issuer), never from a matching name.
import { algorithmForKey } from './algorithms.ts';
import { describeSubject, infoOfTrusted, isIssuedBy, isSelfSigned, KEY_USAGE, type CertificateInfo } from './certificate.ts';
import { failure, parsed, type Parsed } from './errors.ts';
import { SIGNING_SCHEME_X509, type SigningScheme, type TrustStore, type TrustStoreType } from './types.ts';
import { ErrorCodes } from '../support/errors.ts';

const EKU_CODE_SIGNING = '1.3.6.1.5.5.7.3.3';
const EKU_FORBIDDEN: ReadonlyMap<string, string> = new Map([
  ['2.5.29.37.0', 'anyExtendedKeyUsage'],
  ['1.3.6.1.5.5.7.3.1', 'serverAuth'],
  ['1.3.6.1.5.5.7.3.2', 'clientAuth'],
  ['1.3.6.1.5.5.7.3.4', 'emailProtection'],
  ['1.3.6.1.5.5.7.3.8', 'timeStamping'],
  ['1.3.6.1.5.5.7.3.9', 'OCSPSigning'],
]);
const LEAF_FORBIDDEN_KEY_USAGE =
  KEY_USAGE.keyEncipherment |
  KEY_USAGE.dataEncipherment |
  KEY_USAGE.keyAgreement |
  KEY_USAGE.keyCertSign |
  KEY_USAGE.cRLSign |
  KEY_USAGE.encipherOnly |
  KEY_USAGE.decipherOnly;
/** md2/md5/sha1 with RSA, DSA with SHA-1, ECDSA with SHA-1. */
const WEAK_SIGNATURE_ALGORITHMS: ReadonlySet<string> = new Set([
  '1.2.840.113549.1.1.2',
  '1.2.840.113549.1.1.4',
  '1.2.840.113549.1.1.5',
  '1.2.840.10040.4.3',
  '1.2.840.10045.4.1',
]);

const name = (c: CertificateInfo) => JSON.stringify(describeSubject(c));

const ID_NAME_CONSTRAINTS = '2.5.29.30';
/**
 * The extensions a critical flag may sit on (RFC 5280 4.2: a certificate with a critical
 * extension the verifier does not recognise, or cannot process, must be rejected). The
 * first three are what the code-signing checks below act on; the others carry information
 * that adds no constraint a verifier could fail to apply: key identifiers and alternative
 * names only name things; revocation endpoints are handled by revocation.ts's rules;
 * certificate policies constrain nothing when, as here, the initial policy set is anyPolicy
 * and no explicit policy is required (RFC 5280 6.1.1), so long as policyConstraints,
 * policyMappings and inhibitAnyPolicy, which could change that, are refused when critical.
 */
const UNDERSTOOD_EXTENSIONS: ReadonlyMap<string, string> = new Map([
  ['2.5.29.15', 'keyUsage'],
  ['2.5.29.19', 'basicConstraints'],
  ['2.5.29.37', 'extKeyUsage'],
  ['2.5.29.14', 'subjectKeyIdentifier'],
  ['2.5.29.35', 'authorityKeyIdentifier'],
  ['2.5.29.17', 'subjectAltName'],
  ['2.5.29.18', 'issuerAltName'],
  ['2.5.29.31', 'cRLDistributionPoints'],
  ['1.3.6.1.5.5.7.1.1', 'authorityInfoAccess'],
  ['2.5.29.32', 'certificatePolicies'],
]);
/** Names for the reason when a critical extension is refused. */
const REFUSED_EXTENSION_NAMES: ReadonlyMap<string, string> = new Map([
  [ID_NAME_CONSTRAINTS, 'nameConstraints'],
  ['2.5.29.33', 'policyMappings'],
  ['2.5.29.36', 'policyConstraints'],
  ['2.5.29.54', 'inhibitAnyPolicy'],
  ['2.5.29.46', 'freshestCRL'],
  ['2.5.29.9', 'subjectDirectoryAttributes'],
]);

/**
 * Refuses a certificate with an extension this verifier does not process: any critical one
 * outside UNDERSTOOD_EXTENSIONS, a repeated one (RFC 5280 4.2 allows one instance each;
 * with two, which one counts is a guess), and name constraints whether critical or not.
 * Name constraints are not enforced here: a CA that carries them was meant to issue only
 * within them, and ignoring them would trust it for everything, so such a chain is refused
 * (RFC 5280 4.2.1.10 requires them critical; a non-critical copy is refused all the same).
 */
export function unprocessedExtension(cert: CertificateInfo): string | undefined {
  const seen = new Set<string>();
  for (const ext of cert.extensions) {
    if (seen.has(ext.oid)) return `certificate ${name(cert)} carries extension ${ext.oid} more than once`;
    seen.add(ext.oid);
    if (ext.oid === ID_NAME_CONSTRAINTS) {
      return `certificate ${name(cert)} carries ${ext.critical ? 'critical ' : ''}name constraints (extension ${ID_NAME_CONSTRAINTS}), which this verifier does not enforce`;
    }
    if (ext.critical && !UNDERSTOOD_EXTENSIONS.has(ext.oid)) {
      const known = REFUSED_EXTENSION_NAMES.get(ext.oid);
      return `certificate ${name(cert)} carries the critical extension ${ext.oid}${known ? ` (${known})` : ''}, which this verifier does not process (RFC 5280 4.2)`;
    }
  }
  return undefined;
}

function checkLeaf(leaf: CertificateInfo): string | undefined {
  if (leaf.basicConstraints?.ca) return `leaf certificate ${name(leaf)} is a CA certificate`;
  const ku = leaf.keyUsage;
  if (!ku) return `leaf certificate ${name(leaf)} has no key usage extension`;
  if (!ku.critical) return `leaf certificate ${name(leaf)}: key usage must be critical`;
  if (!(ku.flags & KEY_USAGE.digitalSignature)) return `leaf certificate ${name(leaf)} lacks digitalSignature key usage`;
  if (ku.flags & LEAF_FORBIDDEN_KEY_USAGE) return `leaf certificate ${name(leaf)} has key usages beyond digitalSignature`;
  if (leaf.extKeyUsage) {
    for (const oid of leaf.extKeyUsage) {
      const forbidden = EKU_FORBIDDEN.get(oid);
      if (forbidden) return `leaf certificate ${name(leaf)} has the ${forbidden} extended key usage`;
    }
    // Where the extension exists it restricts the key to its purposes (RFC 5280 4.2.1.12).
    if (!leaf.extKeyUsage.includes(EKU_CODE_SIGNING)) {
      return `leaf certificate ${name(leaf)} lacks the codeSigning extended key usage`;
    }
  }
  const keySpec = algorithmForKey(leaf.publicKey);
  if ('error' in keySpec) return `leaf certificate ${name(leaf)}: ${keySpec.error}`;
  return undefined;
}

function checkCa(ca: CertificateInfo, caCertsBelow: number): string | undefined {
  const bc = ca.basicConstraints;
  if (!bc?.ca) return `CA certificate ${name(ca)} lacks basicConstraints cA=true`;
  if (bc.pathLen !== undefined && bc.pathLen < caCertsBelow) {
    return `CA certificate ${name(ca)} allows path length ${bc.pathLen} but has ${caCertsBelow} CA certificates below it`;
  }
  const ku = ca.keyUsage;
  if (!ku) return `CA certificate ${name(ca)} has no key usage extension`;
  if (!ku.critical) return `CA certificate ${name(ca)}: key usage must be critical`;
  if (!(ku.flags & KEY_USAGE.keyCertSign)) return `CA certificate ${name(ca)} lacks keyCertSign key usage`;
  return undefined;
}

/**
 * The chain in the envelope, leaf first, must be a code-signing chain in which each
 * certificate is issued by the next. The last certificate may be a root (self-signed; a
 * chain of one is then a self-signed signing certificate) or, when the root is left out,
 * a certificate issued by a trust-store certificate: anchoring decides that later.
 */
export function validateCodeSigningChain(chain: CertificateInfo[]): Parsed<void> {
  const leaf = chain[0];
  if (!leaf) return failure(ErrorCodes.INVALID_CHAIN, 'the certificate chain is empty');
  for (const cert of chain) {
    if (WEAK_SIGNATURE_ALGORITHMS.has(cert.signatureAlgorithm)) {
      return failure(ErrorCodes.INVALID_CHAIN, `certificate ${name(cert)} is signed with a SHA-1 or weaker algorithm`);
    }
    const extension = unprocessedExtension(cert);
    if (extension) return failure(ErrorCodes.INVALID_CHAIN, extension);
  }
  const leafProblem = checkLeaf(leaf);
  if (leafProblem) return failure(ErrorCodes.INVALID_CHAIN, leafProblem);
  for (let i = 0; i < chain.length - 1; i++) {
    const cert = chain[i] as CertificateInfo;
    const parent = chain[i + 1] as CertificateInfo;
    if (isSelfSigned(cert)) {
      return failure(ErrorCodes.INVALID_CHAIN, `certificate ${name(cert)} at position ${i} is self-signed but not last in the chain`);
    }
    if (!isIssuedBy(cert, parent)) {
      return failure(ErrorCodes.INVALID_CHAIN, `certificate ${name(cert)} is not issued by the next one, ${name(parent)}`);
    }
    const caProblem = checkCa(parent, i);
    if (caProblem) return failure(ErrorCodes.INVALID_CHAIN, caProblem);
  }
  return parsed(undefined);
}

export interface TrustAnchor {
  store: TrustStore;
  /** The trust-store certificate: in the chain, or the issuer of its last certificate. */
  certificate: CertificateInfo;
  /** True when the chain left its root out and the anchor is that missing issuer. */
  outsideChain: boolean;
}

function anchorIn(chain: CertificateInfo[], store: TrustStore): TrustAnchor | undefined {
  const trusted = store.certificates.map(infoOfTrusted).filter((c): c is CertificateInfo => c !== undefined);
  for (const cert of chain) {
    const match = trusted.find((t) => Buffer.from(t.der).equals(cert.der));
    if (match) return { store, certificate: match, outsideChain: false };
  }
  const last = chain[chain.length - 1] as CertificateInfo;
  if (isSelfSigned(last)) return undefined;
  // The chain stops below its root: the trust-store certificate that issued the last
  // one is the anchor, and must itself be a CA fit to issue that many levels.
  const issuer = trusted.find((t) => isIssuedBy(last, t) && checkCa(t, chain.length - 1) === undefined);
  return issuer ? { store, certificate: issuer, outsideChain: true } : undefined;
}

export function requiredStoreType(scheme: SigningScheme): TrustStoreType {
  return scheme === SIGNING_SCHEME_X509 ? 'ca' : 'signingAuthority';
}

/** Finds the trust store, of the type the signing scheme requires, that the chain leads to. */
export function anchorChain(chain: CertificateInfo[], stores: TrustStore[], scheme: SigningScheme): Parsed<TrustAnchor> {
  const wanted = requiredStoreType(scheme);
  for (const store of stores) {
    if (store.type !== wanted) continue;
    const anchor = anchorIn(chain, store);
    if (!anchor) continue;
    // A trust-store certificate outside the chain is held to the same extension rule as
    // the chain's own (one inside it was checked with the chain).
    const extension = anchor.outsideChain ? unprocessedExtension(anchor.certificate) : undefined;
    return extension ? failure(ErrorCodes.INVALID_CHAIN, `trust store ${JSON.stringify(store.name)}: ${extension}`) : parsed(anchor);
  }
  for (const store of stores) {
    if (store.type === wanted) continue;
    if (anchorIn(chain, store)) {
      return failure(
        ErrorCodes.WRONG_TRUST_STORE_TYPE,
        `the chain leads to trust store ${JSON.stringify(store.name)} of type ${store.type}, but signing scheme ${scheme} needs a ${wanted} trust store`,
      );
    }
  }
  const last = chain[chain.length - 1] as CertificateInfo;
  const configured = stores.filter((s) => s.type === wanted).map((s) => s.name);
  return failure(
    ErrorCodes.UNTRUSTED_CHAIN,
    configured.length === 0
      ? `no ${wanted} trust store is configured for signing scheme ${scheme}`
      : `the chain (ending at ${name(last)}) leads to no certificate in the ${wanted} trust stores ${configured.map((n) => JSON.stringify(n)).join(', ')}`,
  );
}
