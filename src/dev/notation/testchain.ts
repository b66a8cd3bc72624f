// Certificate chains shaped like AWS Signer's (root CA, intermediate CA, regional CA, a
// leaf valid about three days with the codeSigning EKU), made with real keys through
// @peculiar/x509 and WebCrypto. Used by tests and by the `demo` command at run time.
// The root is NOT AWS's: its name says it is a test root, so loadTrustStore's AWS root
// pinning never mistakes it for the real one.
import { KeyObject, X509Certificate as NodeX509Certificate, webcrypto } from 'node:crypto';
import { x509 } from '../../support/x509.ts';
import type { SignatureAlgorithm } from '../../notation/algorithms.ts';

const DAY = 24 * 60 * 60 * 1000;

// RSA leaves are generated as RSASSA-PKCS1-v1_5 keys only so that the certificate carries
// a plain rsaEncryption public key (as Notation expects); envelopes are signed with PSS.
const KEY_PARAMS: Readonly<Record<SignatureAlgorithm, webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams>> = {
  ES256: { name: 'ECDSA', namedCurve: 'P-256' },
  ES384: { name: 'ECDSA', namedCurve: 'P-384' },
  ES512: { name: 'ECDSA', namedCurve: 'P-521' },
  PS256: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
  PS384: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 3072, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-384' },
  PS512: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 4096, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-512' },
};
/** CA certificates are signed as AWS Signer's are: ECDSA P-384 with SHA-384. */
const CA_KEY: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-384' };
const CA_SIGNING: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-384' };

export interface LeafOverrides {
  /** Key usage bits (x509.KeyUsageFlags); default digitalSignature. */
  keyUsage?: number;
  /** Extended key usage OIDs; null leaves the extension out. Default [codeSigning]. */
  extendedKeyUsage?: string[] | null;
  /** Adds basicConstraints cA=true to the leaf (an invalid code-signing leaf). */
  ca?: boolean;
}

export interface ChainOptions {
  /** The leaf's key algorithm (what envelopes it signs will use). Default ES384, as AWS Signer. */
  leafAlgorithm?: SignatureAlgorithm;
  /** Start of the leaf's validity; default one hour before `now`. */
  leafNotBefore?: Date;
  /** Leaf lifetime; default 3 days. */
  leafValidityDays?: number;
  now?: Date;
  region?: string;
  /** Root subject common name; default "ecr-admission Test Signer Root CA G1". */
  rootCommonName?: string;
  leaf?: LeafOverrides;
  /** Extensions added to each certificate after its usual ones (tests of unknown or critical extensions). */
  extraExtensions?: Partial<Record<'leaf' | 'regional' | 'intermediate' | 'root', x509.Extension[]>>;
}

export interface TestChain {
  /** DER, leaf first: leaf, regional CA, intermediate CA, root. */
  certificates: Uint8Array[];
  /** The root as PEM, to write into a trust store file. */
  rootPem: string;
  root: NodeX509Certificate;
  /** The leaf's private key, for sign.ts. */
  leafKey: KeyObject;
  leafAlgorithm: SignatureAlgorithm;
}

async function caKeys(): Promise<webcrypto.CryptoKeyPair> {
  return await webcrypto.subtle.generateKey(CA_KEY, true, ['sign', 'verify']);
}

function caExtensions(pathLength: number): x509.Extension[] {
  return [
    new x509.BasicConstraintsExtension(true, pathLength, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
  ];
}

export async function buildAwsSignerShapedChain(options: ChainOptions = {}): Promise<TestChain> {
  const now = options.now ?? new Date();
  const region = options.region ?? 'us-east-1';
  const leafAlgorithm = options.leafAlgorithm ?? 'ES384';
  const base = 'OU=Cryptography, O=ecr-admission test, ST=WA, C=US';
  const caNotBefore = new Date(now.getTime() - 365 * DAY);

  const rootKeys = await caKeys();
  const rootName = `CN=${options.rootCommonName ?? 'ecr-admission Test Signer Root CA G1'}, ${base}`;
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    name: rootName,
    keys: rootKeys,
    signingAlgorithm: CA_SIGNING,
    notBefore: caNotBefore,
    notAfter: new Date(now.getTime() + 30 * 365 * DAY),
    extensions: [...caExtensions(2), ...(options.extraExtensions?.root ?? [])],
  });

  const intermediateKeys = await caKeys();
  const intermediateName = `CN=ecr-admission Test Signer Int CA G1, ${base}`;
  const intermediate = await x509.X509CertificateGenerator.create({
    subject: intermediateName,
    issuer: rootName,
    publicKey: intermediateKeys.publicKey,
    signingKey: rootKeys.privateKey,
    signingAlgorithm: CA_SIGNING,
    notBefore: caNotBefore,
    notAfter: new Date(now.getTime() + 10 * 365 * DAY),
    extensions: [...caExtensions(1), ...(options.extraExtensions?.intermediate ?? [])],
  });

  const regionalKeys = await caKeys();
  const regionalName = `CN=ecr-admission Test Signer ${region} CA G1, ${base}`;
  const regional = await x509.X509CertificateGenerator.create({
    subject: regionalName,
    issuer: intermediateName,
    publicKey: regionalKeys.publicKey,
    signingKey: intermediateKeys.privateKey,
    signingAlgorithm: CA_SIGNING,
    notBefore: caNotBefore,
    notAfter: new Date(now.getTime() + 2 * 365 * DAY),
    extensions: [...caExtensions(0), ...(options.extraExtensions?.regional ?? [])],
  });

  const leafKeys = await webcrypto.subtle.generateKey(KEY_PARAMS[leafAlgorithm], true, ['sign', 'verify']);
  const leafNotBefore = options.leafNotBefore ?? new Date(now.getTime() - 60 * 60 * 1000);
  const overrides = options.leaf ?? {};
  const eku = overrides.extendedKeyUsage === undefined ? [x509.ExtendedKeyUsage.codeSigning] : overrides.extendedKeyUsage;
  const leafExtensions: x509.Extension[] = [new x509.KeyUsagesExtension(overrides.keyUsage ?? x509.KeyUsageFlags.digitalSignature, true)];
  if (eku) leafExtensions.push(new x509.ExtendedKeyUsageExtension(eku, false));
  if (overrides.ca) leafExtensions.push(new x509.BasicConstraintsExtension(true, undefined, true));
  leafExtensions.push(...(options.extraExtensions?.leaf ?? []));
  const leaf = await x509.X509CertificateGenerator.create({
    subject: `CN=ecr-admission Test Signer, OU=Signing, O=ecr-admission test, L=Seattle, ST=WA, C=US`,
    issuer: regionalName,
    publicKey: leafKeys.publicKey,
    signingKey: regionalKeys.privateKey,
    signingAlgorithm: CA_SIGNING,
    notBefore: leafNotBefore,
    notAfter: new Date(leafNotBefore.getTime() + (options.leafValidityDays ?? 3) * DAY),
    extensions: leafExtensions,
  });

  const certificates = [leaf, regional, intermediate, root].map((c) => new Uint8Array(c.rawData));
  return {
    certificates,
    rootPem: root.toString('pem'),
    root: new NodeX509Certificate(Buffer.from(root.rawData)),
    leafKey: KeyObject.from(leafKeys.privateKey),
    leafAlgorithm,
  };
}
