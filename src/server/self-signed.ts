// A throw-away CA and serving certificate for local use (`serve` without TLS files, `demo`,
// tests): the CA is printed so a kube-apiserver or curl can trust it.
import { webcrypto } from 'node:crypto';
import { x509 } from '../support/x509.ts';
import type { KeyPair } from './tls.ts';

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

async function exportKey(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').match(/.{1,64}/g)!.join('\n')}\n-----END PRIVATE KEY-----\n`;
}

export interface SelfSigned extends KeyPair {
  readonly caPem: string;
}

export async function generateSelfSigned(hosts: readonly string[] = ['localhost', '127.0.0.1'], days = 30): Promise<SelfSigned> {
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(Date.now() + days * 86_400_000);
  const caKeys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']) as webcrypto.CryptoKeyPair;
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01', name: 'CN=ecr-admission local CA', notBefore, notAfter, keys: caKeys, signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
  });
  const leafKeys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']) as webcrypto.CryptoKeyPair;
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: '02', subject: `CN=${hosts[0] ?? 'localhost'}`, issuer: ca.subject, notBefore, notAfter,
    publicKey: leafKeys.publicKey, signingKey: caKeys.privateKey, signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(hosts.map((h) => (/^[\d.]+$|:/.test(h) ? { type: 'ip' as const, value: h } : { type: 'dns' as const, value: h }))),
    ],
  });
  return { cert: leaf.toString('pem') + '\n', key: await exportKey(leafKeys.privateKey), caPem: ca.toString('pem') + '\n' };
}
