// Serving certificate and key from files, re-read when they change (cert-manager rotates them
// in place). A half-written or mismatched pair is refused and the current one kept.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import type { Server as HttpsServer } from 'node:https';
import type { Logger } from 'pino';
import { AdmissionError, ErrorCodes, errorMessage } from '../support/errors.ts';

/** TLS 1.2 minimum, and only forward-secret AEAD suites for 1.2 (1.3 suites are all AEAD). */
export const TLS_OPTIONS: SecureContextOptions = {
  minVersion: 'TLSv1.2',
  ciphers: [
    'TLS_AES_128_GCM_SHA256',
    'TLS_AES_256_GCM_SHA384',
    'TLS_CHACHA20_POLY1305_SHA256',
    'ECDHE-ECDSA-AES128-GCM-SHA256',
    'ECDHE-RSA-AES128-GCM-SHA256',
    'ECDHE-ECDSA-AES256-GCM-SHA384',
    'ECDHE-RSA-AES256-GCM-SHA384',
    'ECDHE-ECDSA-CHACHA20-POLY1305',
    'ECDHE-RSA-CHACHA20-POLY1305',
  ].join(':'),
  honorCipherOrder: true,
};

export interface KeyPair {
  readonly cert: string;
  readonly key: string;
}

export function readKeyPair(certPath: string, keyPath: string): KeyPair {
  let pair: KeyPair;
  try {
    pair = { cert: readFileSync(certPath, 'utf8'), key: readFileSync(keyPath, 'utf8') };
  } catch (err) {
    throw new AdmissionError(ErrorCodes.TLS_INVALID, `cannot read TLS files: ${errorMessage(err)}`, { cause: err });
  }
  try {
    createSecureContext({ ...TLS_OPTIONS, ...pair }); // fails on a mismatched or malformed pair
  } catch (err) {
    throw new AdmissionError(ErrorCodes.TLS_INVALID, `TLS certificate ${certPath} and key ${keyPath} are not a usable pair: ${errorMessage(err)}`, {
      cause: err,
    });
  }
  return pair;
}

export function fingerprint(pair: KeyPair): string {
  return createHash('sha256').update(pair.cert).update(pair.key).digest('hex').slice(0, 16);
}

/** Polls the files and swaps the server's secure context when they change. Returns a stop function. */
export function watchKeyPair(
  server: HttpsServer,
  paths: { certPath: string; keyPath: string },
  initial: KeyPair,
  options: { intervalMs: number; logger?: Logger; onReload?: (fp: string, pair: KeyPair) => void },
): () => void {
  let current = fingerprint(initial);
  const timer = setInterval(() => {
    let pair: KeyPair;
    try {
      pair = readKeyPair(paths.certPath, paths.keyPath);
    } catch (err) {
      options.logger?.warn({ err: errorMessage(err) }, 'TLS files changed but are not usable yet; keeping the current certificate');
      return;
    }
    const fp = fingerprint(pair);
    if (fp === current) return;
    server.setSecureContext({ ...TLS_OPTIONS, ...pair });
    current = fp;
    options.logger?.info({ fingerprint: fp }, 'TLS certificate reloaded');
    options.onReload?.(fp, pair);
  }, options.intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
