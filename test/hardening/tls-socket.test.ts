// The webhook over a real TLS socket on 127.0.0.1, wired to the real runtime and the AWS
// sandbox: old protocol versions, weak cipher suites and plain HTTP are refused; hostile
// bodies and hostile HTTP framing get a 4xx or a decision, and the server keeps serving.
import fc from 'fast-check';
import t from 'tap';
import { connect as tcpConnect } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { pino } from 'pino';
import { buildWebhookApp } from '../../src/server/app.ts';
import { generateSelfSigned } from '../../src/server/self-signed.ts';
import { startHarness } from '../helpers/harness.ts';
import { httpsCall } from '../fixtures/https.ts';
import { loadAdmissionReview } from '../fixtures/admission.ts';
import { fixture, fullPolicy, HOST, runs } from './helpers.ts';

const BUDGET_MS = 2000;
const pair = await generateSelfSigned(['127.0.0.1']);
const h = await startHarness({ fixture: fixture(), policy: fullPolicy(), budgetMs: BUDGET_MS });
const app = buildWebhookApp({ reviewer: h.runtime.reviewer, logger: pino({ level: 'silent' }), metrics: h.metrics, tls: pair });
await app.listen({ port: 0, host: '127.0.0.1' });
const port = (app.server.address() as { port: number }).port;
const url = `https://127.0.0.1:${port}`;
t.teardown(async () => {
  await app.close();
  await h.close();
});

const goodReview = () => {
  const review = loadAdmissionReview('pod-create');
  (review.request.object as { spec: Record<string, unknown> }).spec = { containers: [{ name: 'app', image: `${HOST}/app:1.0` }] };
  return JSON.stringify(review);
};

/** Whether the server still admits a good pod over TLS. */
async function stillServes(): Promise<boolean> {
  const answer = await httpsCall(url, { ca: pair.caPem, body: goodReview() });
  return (JSON.parse(answer.body) as { response: { allowed: boolean } }).response.allowed;
}

/** A TLS handshake with `options`: the negotiated protocol and cipher, or the error. */
function handshake(options: ConnectionOptions): Promise<{ ok: true; protocol: string | null; cipher: string } | { ok: false; error: string }> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ca: pair.caPem, servername: '127.0.0.1', ...options }, () => {
      resolve({ ok: true, protocol: socket.getProtocol(), cipher: socket.getCipher().name });
      socket.end();
    });
    socket.on('error', (e: Error) => resolve({ ok: false, error: e.message }));
  });
}

t.test('TLS 1.0 and 1.1 are refused; 1.2 and 1.3 are served', async (t) => {
  for (const version of ['TLSv1', 'TLSv1.1'] as const) {
    const r = await handshake({ minVersion: version, maxVersion: version, ciphers: 'DEFAULT@SECLEVEL=0' });
    t.equal(r.ok, false, `${version}: refused`);
    if (!r.ok) t.match(r.error, /protocol version|unsupported protocol|no protocols available/i, `${version}: ${r.error}`);
  }
  const v12 = await handshake({ minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' });
  t.match(v12, { ok: true, protocol: 'TLSv1.2' });
  const v13 = await handshake({ minVersion: 'TLSv1.3' });
  t.match(v13, { ok: true, protocol: 'TLSv1.3' });
  if (v13.ok) t.match(v13.cipher, /^TLS_(AES_128_GCM_SHA256|AES_256_GCM_SHA384|CHACHA20_POLY1305_SHA256)$/);
});

t.test('weak TLS 1.2 suites (CBC, SHA-1 MAC, no forward secrecy) are refused', async (t) => {
  const weak = [
    'ECDHE-ECDSA-AES128-SHA',
    'ECDHE-ECDSA-AES256-SHA',
    'ECDHE-ECDSA-AES128-SHA256',
    'ECDHE-ECDSA-AES256-SHA384',
    'AES128-SHA',
    'AES256-SHA256',
    'AES128-GCM-SHA256',
  ];
  for (const cipher of weak) {
    const r = await handshake({ maxVersion: 'TLSv1.2', ciphers: `${cipher}@SECLEVEL=0` });
    t.equal(r.ok, false, `${cipher}: refused${r.ok ? '' : ` (${r.error})`}`);
  }
  // Control: a server with Node's default suites accepts the first of them, so the refusal
  // above comes from the webhook's cipher list.
  const lax = buildWebhookApp({ reviewer: h.runtime.reviewer, logger: pino({ level: 'silent' }), metrics: h.metrics, tls: pair });
  const { createServer } = await import('node:tls');
  const plain = createServer({ ...pair }, (s) => s.end());
  await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    plain.close();
    return lax.close();
  });
  const controlPort = (plain.address() as { port: number }).port;
  const control = await new Promise<string>((resolve) => {
    const s = tlsConnect({ host: '127.0.0.1', port: controlPort, ca: pair.caPem, maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA' }, () => {
      resolve(s.getCipher().name);
      s.end();
    });
    s.on('error', (e: Error) => resolve(`error: ${e.message}`));
  });
  t.equal(control, 'ECDHE-ECDSA-AES128-SHA', 'a default Node TLS server would have accepted ECDHE-ECDSA-AES128-SHA');
});

/** Raw bytes to the port: what comes back before the server closes (or 3 s pass). */
function raw(bytes: Buffer | string, secure: boolean): Promise<{ received: string; closed: boolean }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = secure
      ? tlsConnect({ host: '127.0.0.1', port, ca: pair.caPem, servername: '127.0.0.1' }, () => socket.write(bytes))
      : tcpConnect({ host: '127.0.0.1', port }, () => socket.write(bytes));
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ received: Buffer.concat(chunks).toString('latin1'), closed: false });
    }, 3000);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ received: Buffer.concat(chunks).toString('latin1'), closed: true });
    });
  });
}

t.test('plain HTTP on the webhook port is refused: no decision is ever sent in clear', async (t) => {
  const body = goodReview();
  const request = `POST /validate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
  const r = await raw(request, false);
  t.ok(r.closed, 'the server closes the connection');
  t.notMatch(r.received, /AdmissionReview|allowed|HTTP\/1\.1 200/, `nothing of a review comes back in clear (${JSON.stringify(r.received.slice(0, 80))})`);
  const get = await raw('GET /validate HTTP/1.0\r\n\r\n', false);
  t.ok(get.closed);
  t.notMatch(get.received, /HTTP\/1\.[01] 200/);
  t.ok(await stillServes(), 'after plain HTTP: the server still admits a good pod');
});

t.test('hostile HTTP framing over TLS: a 4xx or a closed connection, and the server keeps serving', async (t) => {
  const body = goodReview();
  const cases: Array<[string, string, RegExp]> = [
    [
      'Content-Length and Transfer-Encoding together (smuggling)',
      `POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      /^HTTP\/1\.1 400|^$/,
    ],
    [
      'two Content-Length headers',
      `POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}`,
      /^HTTP\/1\.1 400|^$/,
    ],
    [
      'a bad chunk size',
      `POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`,
      /^HTTP\/1\.1 400|^$/,
    ],
    [
      '20,000 headers',
      `POST /validate HTTP/1.1\r\nHost: x\r\n${Array.from({ length: 20_000 }, (_, i) => `X-H${i}: v`).join('\r\n')}\r\n\r\n`,
      /^HTTP\/1\.1 431|^$/,
    ],
    ['a 100 KB URL', `POST /validate?${'a'.repeat(100_000)} HTTP/1.1\r\nHost: x\r\n\r\n`, /^HTTP\/1\.1 (414|431|400)|^$/],
    ['a NUL in the request line', `POST /val\u0000idate HTTP/1.1\r\nHost: x\r\n\r\n`, /^HTTP\/1\.1 400|^$/],
    ['HTTP/0.9', `GET /validate\r\n\r\n`, /^HTTP\/1\.1 4\d\d|^$/],
    [
      'a body shorter than its Content-Length, then close',
      `POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n${body.slice(0, 100)}`,
      // 408 once the rest of the body is overdue (the body budget's pace deadline).
      /^$|^HTTP\/1\.1 (400|408)/,
    ],
    ['garbage', '\u0016\u0003\u0001\u0000\u0000garbage\r\n\r\n', /^HTTP\/1\.1 400|^$/],
  ];
  for (const [label, bytes, answer] of cases) {
    const r = await raw(bytes, true);
    t.match(r.received.slice(0, 40), answer, `${label}: ${JSON.stringify(r.received.slice(0, 40))}`);
    t.notMatch(r.received, /HTTP\/1\.1 5\d\d/, `${label}: no 5xx`);
  }
  t.ok(await stillServes(), 'after hostile framing: the server still admits a good pod');
});

t.test('hostile bodies over TLS: random JSON, deep nesting, invalid UTF-8, too large', async (t) => {
  const n = runs(300);
  let answered = 0;
  const send = async (body: string | Buffer): Promise<number> => {
    const started = Date.now();
    const answer = await httpsCall(url, { ca: pair.caPem, body: body as string });
    if (Date.now() - started > BUDGET_MS + 1000) throw new Error(`answered after ${Date.now() - started} ms`);
    if (answer.status >= 500) throw new Error(`status ${answer.status}: ${answer.body.slice(0, 200)}`);
    answered++;
    return answer.status;
  };
  await fc.assert(
    fc.asyncProperty(fc.jsonValue({ maxDepth: 6 }), async (v) => {
      const status = await send(JSON.stringify(v));
      if (status !== 400 && status !== 200) throw new Error(`status ${status}`);
    }),
    { numRuns: n },
  );
  const valid = goodReview();
  t.equal(await send(`${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}`), 400, 'a 1,000,000-deep array: 400');
  t.equal(
    await send(valid.replace('"apiVersion":"admission.k8s.io/v1"', `"apiVersion":${'['.repeat(500_000)}${']'.repeat(500_000)}`)),
    400,
    'a deep apiVersion: 400',
  );
  const mangled = Buffer.concat([
    Buffer.from(valid.slice(0, valid.indexOf(':1.0"'))),
    Buffer.from([0xff, 0xfe, 0xc0, 0xaf]),
    Buffer.from(valid.slice(valid.indexOf(':1.0"'))),
  ]);
  t.equal(await send(mangled), 200, 'invalid UTF-8 in the image: a decision');
  t.equal(await send(`{"x":"${'a'.repeat(19 * 1024 * 1024)}"}`), 413, 'a 19 MiB body (over the default limit): 413');
  t.pass(`${answered} hostile bodies over TLS answered by contract`);
  t.ok(await stillServes(), 'after hostile bodies: the server still admits a good pod');
});

t.test('200 concurrent connections, each with a review: every one answered in time', async (t) => {
  const started = Date.now();
  const answers = await Promise.all(
    Array.from({ length: 200 }, (_, i) =>
      httpsCall(url, { ca: pair.caPem, body: i % 2 === 0 ? goodReview() : goodReview().replace('app:1.0', 'app:unsigned') }),
    ),
  );
  const took = Date.now() - started;
  t.ok(
    answers.every((a) => a.status === 200),
    'all 200 answered 200',
  );
  const allowed = answers.filter((a) => (JSON.parse(a.body) as { response: { allowed: boolean } }).response.allowed).length;
  t.equal(allowed, 100, 'the good half admitted, the unsigned half denied');
  t.ok(took < BUDGET_MS + 3000, `in ${took} ms`);
});
