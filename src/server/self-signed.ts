// CAs and serving certificates made by the server itself: a throw-away pair for local use
// (`serve` without TLS files, `demo`, tests; the CA is printed so a kube-apiserver or curl can
// trust it), and the CA + serving certificate the in-cluster certificate manager keeps in a
// Secret (certificates.ts). ECDSA P-256 throughout: small, fast, accepted by every API server.
import { randomBytes, webcrypto } from 'node:crypto';
import { x509 } from '../support/x509.ts';
import type { KeyPair } from './tls.ts';

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
/** Certificates start a minute in the past: clocks across a cluster are not exactly equal. */
const BACKDATE_MS = 60_000;

function pemOf(label: string, der: ArrayBuffer): string {
  return `-----BEGIN ${label}-----\n${Buffer.from(der)
    .toString('base64')
    .match(/.{1,64}/g)!
    .join('\n')}\n-----END ${label}-----\n`;
}

async function exportKey(key: webcrypto.CryptoKey): Promise<string> {
  return pemOf('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', key));
}

async function importKey(pem: string): Promise<webcrypto.CryptoKey> {
  const der = Buffer.from(pem.replace(/-----(BEGIN|END) PRIVATE KEY-----|\s/g, ''), 'base64');
  return webcrypto.subtle.importKey('pkcs8', der, ALG, false, ['sign']);
}

/** A random positive serial (RFC 5280 4.1.2.2: unique per CA, at most 20 octets). */
function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  return bytes.toString('hex');
}

/** A CA certificate and its key, PEM. */
export interface CertificateAuthority {
  readonly cert: string;
  readonly key: string;
}

export async function createCertificateAuthority(options: { commonName: string; notBefore: Date; notAfter: Date }): Promise<CertificateAuthority> {
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${options.commonName}`,
    notBefore: new Date(options.notBefore.getTime() - BACKDATE_MS),
    notAfter: options.notAfter,
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: ca.toString('pem') + '\n', key: await exportKey(keys.privateKey) };
}

/** A serving certificate for `hosts` (DNS names or IP addresses) signed by `ca`. */
export async function issueServingCertificate(
  ca: CertificateAuthority,
  options: { hosts: readonly string[]; notBefore: Date; notAfter: Date },
): Promise<KeyPair> {
  const caCert = new x509.X509Certificate(ca.cert);
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${options.hosts[0] ?? 'localhost'}`,
    issuer: caCert.subject,
    notBefore: new Date(options.notBefore.getTime() - BACKDATE_MS),
    notAfter: options.notAfter,
    publicKey: keys.publicKey,
    signingKey: await importKey(ca.key),
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(
        options.hosts.map((h) => (/^[\d.]+$|:/.test(h) ? { type: 'ip' as const, value: h } : { type: 'dns' as const, value: h })),
      ),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return { cert: leaf.toString('pem') + '\n', key: await exportKey(keys.privateKey) };
}

export interface SelfSigned extends KeyPair {
  readonly caPem: string;
}

export async function generateSelfSigned(hosts: readonly string[] = ['localhost', '127.0.0.1'], days = 30): Promise<SelfSigned> {
  const notBefore = new Date();
  const notAfter = new Date(Date.now() + days * 86_400_000);
  const ca = await createCertificateAuthority({ commonName: 'ecr-admission local CA', notBefore, notAfter });
  const leaf = await issueServingCertificate(ca, { hosts, notBefore, notAfter });
  return { ...leaf, caPem: ca.cert };
}
