// A self-signed serving certificate for 127.0.0.1, made with openssl, for HTTPS servers the API
// server calls (webhooks). The certificate is its own CA: it goes in the webhook's caBundle.
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface ServingCert {
  certPath: string;
  keyPath: string;
  certPem: string;
  keyPem: string;
}

export async function selfSignedServingCert(dir: string, commonName = 'rig-webhook'): Promise<ServingCert> {
  mkdirSync(dir, { recursive: true });
  const certPath = join(dir, 'tls.crt');
  const keyPath = join(dir, 'tls.key');
  await execFileAsync('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    keyPath,
    '-out',
    certPath,
    '-days',
    '1',
    '-subj',
    `/CN=${commonName}`,
    // The API server checks the IP SAN against the url's host (CN is ignored by Go).
    '-addext',
    'subjectAltName=IP:127.0.0.1',
  ]);
  return { certPath, keyPath, certPem: readFileSync(certPath, 'utf8'), keyPem: readFileSync(keyPath, 'utf8') };
}
