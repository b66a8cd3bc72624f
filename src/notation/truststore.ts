// Trust stores from files (trust-store-trust-policy.md, "Trust Store"): a PEM or DER file,
// or a directory holding .pem/.crt/.cer files (a Notary named store; subdirectories are
// ignored). Symbolic links are followed: Kubernetes mounts every ConfigMap and Secret file as
// a link into a "..data" directory, and the files are the cluster admin's, not the image's.
// Runs at configuration time, so it throws.
import { createHash, X509Certificate } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { describeSubject, isSelfSigned, parseCertificate, rememberTrusted, type CertificateInfo } from './certificate.ts';
import { NotationError } from './errors.ts';
import type { TrustStore, TrustStoreType } from './types.ts';
import { ErrorCodes } from '../support/errors.ts';

/** AWS Signer's commercial-partition root, by the SHA-256 of its DER. */
export const AWS_SIGNER_ROOT_CN = 'AWS Signer Code Signing Root CA G1';
export const AWS_SIGNER_ROOT_SHA256 = '90a87d0543c3f094dbff9589b6649affe2f3d6e0f308799be2258461c686473f';

const CERT_EXTENSIONS = new Set(['.pem', '.crt', '.cer']);
const PEM_BLOCK = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g;
const MAX_TRUST_STORE_FILE_BYTES = 1024 * 1024;

function storeError(path: string, why: string, cause?: unknown): NotationError {
  return new NotationError(ErrorCodes.TRUST_STORE_INVALID, `trust store ${path}: ${why}`, cause === undefined ? {} : { cause });
}

function certificatesInFile(file: string): Uint8Array[] {
  const st = statSync(file);
  if (!st.isFile()) throw storeError(file, 'not a regular file');
  if (st.size > MAX_TRUST_STORE_FILE_BYTES) throw storeError(file, `larger than ${MAX_TRUST_STORE_FILE_BYTES} bytes`);
  const bytes = readFileSync(file);
  const text = bytes.toString('latin1');
  if (!text.includes('-----BEGIN')) return [new Uint8Array(bytes)]; // DER
  const ders: Uint8Array[] = [];
  for (const m of text.matchAll(PEM_BLOCK)) {
    const body = (m[1] ?? '').replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body)) throw storeError(file, 'a PEM certificate block is not base64');
    ders.push(new Uint8Array(Buffer.from(body, 'base64')));
  }
  if (ders.length === 0) throw storeError(file, 'no PEM CERTIFICATE block');
  return ders;
}

/** Notary rule: trust store certificates are CA certificates or self-signed signing certificates. */
function checkTrustedCertificate(path: string, cert: CertificateInfo): void {
  const subject = describeSubject(cert);
  if (!cert.basicConstraints?.ca && !isSelfSigned(cert)) {
    throw storeError(path, `certificate ${JSON.stringify(subject)} is neither a CA nor self-signed`);
  }
  const cn = cert.subject.find((a) => a.type === 'CN')?.value;
  if (cn === AWS_SIGNER_ROOT_CN && cert.sha256 !== AWS_SIGNER_ROOT_SHA256) {
    throw storeError(
      path,
      `certificate ${JSON.stringify(subject)} claims to be the AWS Signer root but its SHA-256 is ${cert.sha256}, not ${AWS_SIGNER_ROOT_SHA256}`,
    );
  }
}

/** Loads a trust store; throws NotationError TRUST_STORE_INVALID naming the path. */
export function loadTrustStore(spec: { type: TrustStoreType; path: string }): TrustStore {
  const { type, path } = spec;
  if (type !== 'ca' && type !== 'signingAuthority') {
    throw storeError(path, `unknown trust store type ${JSON.stringify(String(type))} (ca or signingAuthority)`);
  }
  let ders: Uint8Array[];
  try {
    const st = statSync(path);
    if (st.isDirectory()) {
      // "..data" and the timestamped directories of a Kubernetes volume start with "..".
      const files = readdirSync(path, { withFileTypes: true })
        .filter((e) => !e.name.startsWith('..') && !e.isDirectory() && CERT_EXTENSIONS.has(extname(e.name).toLowerCase()))
        .filter((e) => statSync(join(path, e.name)).isFile())
        .map((e) => join(path, e.name))
        .sort();
      ders = files.flatMap(certificatesInFile);
    } else {
      ders = certificatesInFile(path);
    }
  } catch (err) {
    if (err instanceof NotationError) throw err;
    throw storeError(path, err instanceof Error ? err.message : String(err), err);
  }
  if (ders.length === 0) throw storeError(path, 'holds no certificates');
  const certificates: X509Certificate[] = [];
  const seen = new Set<string>();
  for (const der of ders) {
    const cert = parseCertificate(der);
    if (!cert.ok) throw storeError(path, cert.reason);
    checkTrustedCertificate(path, cert.value);
    const digest = createHash('sha256').update(der).digest('hex');
    if (seen.has(digest)) continue;
    seen.add(digest);
    rememberTrusted(cert.value);
    certificates.push(cert.value.x509);
  }
  return { type, name: basename(path), certificates };
}
