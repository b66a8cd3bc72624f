// The webhook over a real TLS socket on 127.0.0.1: protocol versions and certificate reload.
import t from 'tap';
import { X509Certificate } from 'node:crypto';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer as createTlsServer, type Server as TlsServer } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildWebhookApp } from '../../src/server/app.ts';
import { createMetrics } from '../../src/support/metrics.ts';
import { generateSelfSigned } from '../../src/server/self-signed.ts';
import { TLS_OPTIONS } from '../../src/server/tls.ts';
import { serve } from '../../src/cli/serve.ts';
import { parseCommandLine, type ServeOptions } from '../../src/cli/args.ts';
import type { AdmissionReviewResponse } from '../../src/admission/codec.ts';
import { loadAdmissionReview } from '../fixtures/admission.ts';
import { httpGet, httpsCall } from '../fixtures/https.ts';
import { FIXTURE_POLICY, reviewerFor, silentLogger } from '../fixtures/policy.ts';

const pairA = await generateSelfSigned(['127.0.0.1', 'localhost']);
const pairB = await generateSelfSigned(['127.0.0.1', 'localhost']);
const fingerprintOf = (pem: string) => new X509Certificate(pem).fingerprint256;
const body = JSON.stringify(loadAdmissionReview('deployment-create'));

async function tlsApp(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const app = buildWebhookApp({ reviewer: reviewerFor(FIXTURE_POLICY), logger: silentLogger, metrics: createMetrics(), tls: pairA });
  t.teardown(() => app.close());
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  return `https://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}

// A client that can really speak TLS 1.1 needs OpenSSL's security level 0.
const TLS11_CLIENT = { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' } as const;

t.test('TLS 1.2 and 1.3 are accepted and the review is answered', async (t) => {
  const url = await tlsApp(t);
  const v13 = await httpsCall(url, { ca: pairA.caPem, body, minVersion: 'TLSv1.3' });
  t.equal(v13.protocol, 'TLSv1.3');
  t.equal(v13.status, 200);
  t.equal((JSON.parse(v13.body) as AdmissionReviewResponse).response.allowed, true);
  const v12 = await httpsCall(url, { ca: pairA.caPem, body, maxVersion: 'TLSv1.2' });
  t.equal(v12.protocol, 'TLSv1.2');
  t.equal(v12.status, 200);
  t.match(v12.cipher, /^ECDHE-ECDSA-(AES\d+-GCM-SHA\d+|CHACHA20-POLY1305)$/, 'a forward-secret AEAD suite for 1.2');
});

t.test('TLS 1.1 is refused by the server (and the same client does get through to a TLS 1.1 server)', async (t) => {
  const url = await tlsApp(t);
  const err = await httpsCall(url, { ca: pairA.caPem, body, ...TLS11_CLIENT }).then(
    () => undefined,
    (e: NodeJS.ErrnoException) => e,
  );
  t.ok(err, 'the TLS 1.1 handshake failed');
  t.match(err?.message, /alert protocol version/, `the server answered with a protocol_version alert (${err?.message})`);

  // Control: the client above is able to negotiate TLS 1.1 with a server that allows it, so
  // the refusal really comes from the webhook's minimum version.
  const legacy: TlsServer = createTlsServer({ ...pairA, minVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }, (socket) => {
    socket.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok');
  });
  t.teardown(() => legacy.close());
  await new Promise<void>((resolve) => legacy.listen(0, '127.0.0.1', resolve));
  const address = legacy.address();
  const control = await httpsCall(`https://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`, {
    ca: pairA.caPem,
    method: 'GET',
    path: '/',
    ...TLS11_CLIENT,
  });
  t.equal(control.protocol, 'TLSv1.1');
  t.equal(control.body, 'ok');
});

t.test('the TLS options say TLS 1.2 minimum', async (t) => {
  t.equal(TLS_OPTIONS.minVersion, 'TLSv1.2');
  t.notMatch(String(TLS_OPTIONS.ciphers), /CBC|RC4|3DES|NULL|(^|:)AES\d+-SHA/);
});

function serveOptions(dir: string, extra: string[] = []): ServeOptions {
  return parseCommandLine(
    [
      'serve',
      '--tls-cert',
      join(dir, 'tls.crt'),
      '--tls-key',
      join(dir, 'tls.key'),
      '--port',
      '0',
      '--health-port',
      '0',
      '--host',
      '127.0.0.1',
      '--reload-interval-ms',
      '50',
      ...extra,
    ],
    {},
  ) as ServeOptions;
}

async function until(what: () => Promise<boolean>, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await what().catch(() => false)) return true;
    await sleep(25);
  }
  return false;
}

t.test('serve reloads a rotated certificate without restart; a half-written pair is not used', async (t) => {
  const dir = t.testdir({ 'tls.crt': pairA.cert, 'tls.key': pairA.key });
  const server = await serve(serveOptions(dir), {}, silentLogger, () => {});
  t.teardown(() => server.close());
  t.equal(server.caPem, undefined, 'no self-signed CA when files are given');
  const before = await httpsCall(server.webhookUrl, { ca: pairA.caPem, body });
  t.equal(before.certFingerprint, fingerprintOf(pairA.cert));
  t.equal(before.status, 200);

  // cert-manager style: the new files appear at once (rename over the old ones).
  writeFileSync(join(dir, 'tls.crt.new'), pairB.cert);
  writeFileSync(join(dir, 'tls.key.new'), pairB.key);
  renameSync(join(dir, 'tls.key.new'), join(dir, 'tls.key'));
  renameSync(join(dir, 'tls.crt.new'), join(dir, 'tls.crt'));
  const rotated = await until(async () => (await httpsCall(server.webhookUrl, { ca: pairB.caPem, body })).certFingerprint === fingerprintOf(pairB.cert));
  t.ok(rotated, 'a new connection sees the new certificate');
  const after = await httpsCall(server.webhookUrl, { ca: pairB.caPem, body });
  t.equal(after.status, 200);
  await t.rejects(httpsCall(server.webhookUrl, { ca: pairA.caPem, body }), 'the old CA no longer verifies the server');

  // A rotation caught half way (new certificate, old key) is refused: the current pair stays.
  writeFileSync(join(dir, 'tls.crt'), pairA.cert);
  await sleep(200);
  const during = await httpsCall(server.webhookUrl, { ca: pairB.caPem, body });
  t.equal(during.certFingerprint, fingerprintOf(pairB.cert), 'a mismatched pair is not installed');
  writeFileSync(join(dir, 'tls.key'), pairA.key);
  t.ok(
    await until(async () => (await httpsCall(server.webhookUrl, { ca: pairA.caPem, body })).certFingerprint === fingerprintOf(pairA.cert)),
    'completing the pair installs it',
  );

  const ready = JSON.parse((await httpGet(`${server.healthUrl}/readyz`)).body) as { tlsReloads: number };
  t.equal(ready.tlsReloads, 2, '/readyz counts the reloads');
});

t.test('serve refuses to start on unusable TLS files, before listening', async (t) => {
  const dir = t.testdir({ 'tls.crt': pairA.cert, 'tls.key': pairB.key });
  await t.rejects(
    serve(serveOptions(dir), {}, silentLogger, () => {}),
    { code: 'E_TLS_INVALID', message: /not a usable pair/ },
  );
  const missing = t.testdir({});
  await t.rejects(
    serve(serveOptions(missing), {}, silentLogger, () => {}),
    { code: 'E_TLS_INVALID', message: /cannot read TLS files/ },
  );
});

t.test('serve without TLS files makes a self-signed pair and prints its CA', async (t) => {
  const printed: string[] = [];
  const options = parseCommandLine(['serve', '--port', '0', '--health-port', '0', '--host', '127.0.0.1'], {}) as ServeOptions;
  const server = await serve(options, {}, silentLogger, (line) => printed.push(line));
  t.teardown(() => server.close());
  t.match(printed.join('\n'), /self-signed certificate[\s\S]*-----BEGIN CERTIFICATE-----/);
  t.ok(server.caPem);
  const answer = await httpsCall(server.webhookUrl, { ca: server.caPem!, body });
  t.equal(answer.status, 200);
});
