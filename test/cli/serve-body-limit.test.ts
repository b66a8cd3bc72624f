// `ecr-admission serve` under the chart's NODE_OPTIONS (its heap limit) with the default body
// limit: UPDATE reviews up to the computed bound are answered, and bodies built to make
// JSON.parse spend the most heap, many at once, are refused (413, or 503 while the budget is
// held) without the process running out of heap. The process is the one the chart runs.
import t from 'tap';
import { Agent, request } from 'node:https';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse } from 'yaml';
import { generateSelfSigned } from '../../src/server/self-signed.ts';
import { loadAdmissionReview } from '../fixtures/admission.ts';
import { startServeProcess } from '../helpers/serve-process.ts';
import { emptyObjectBomb, largeDeploymentUpdate, worstCaseUpdate } from '../server/large-reviews.ts';

const VALUES = fileURLToPath(new URL('../../chart/ecr-admission/values.yaml', import.meta.url));
const CHART_NODE_OPTIONS = (parse(readFileSync(VALUES, 'utf8')) as { server: { nodeOptions: string } }).server.nodeOptions;
const MiB = 1024 * 1024;
const pair = await generateSelfSigned(['127.0.0.1']);

t.test(`large and costly bodies under the chart's NODE_OPTIONS (${CHART_NODE_OPTIONS})`, async (t) => {
  t.match(CHART_NODE_OPTIONS, /--max-old-space-size=\d+/);
  // Images of the fixtures are denied by origin: no AWS call, so each answer is immediate.
  const served = startServeProcess(t, {
    env: { NODE_OPTIONS: CHART_NODE_OPTIONS },
    files: { policy: 'mode: enforce\nregistries:\n  allow: ["registry.k8s.io/*"]\n', cert: pair.cert, key: pair.key },
  });
  const ready = await served.ready();
  t.ok(ready, `the server started (${served.stderr().slice(0, 500)})`);
  if (!ready) return;
  const { port } = ready;

  // Persistent connections, as the API server keeps to a webhook: a request refused before its
  // body is read (413 by Content-Length, 503 busy) has the rest of its body read and dropped by
  // the server, and the connection stays usable. (With Connection: close the server closes it
  // after the answer, and a client still writing its body gets EPIPE.) A body refused part way
  // (a bomb's separators) is answered with Connection: close by Fastify, which then closes the
  // socket with the body unread: the client may see the reset before it reads the 413.
  const agent = new Agent({ keepAlive: true, ca: pair.caPem });
  t.teardown(() => agent.destroy());
  const post = (body: string) =>
    new Promise<{ status: number; json: Record<string, unknown> }>((resolve, reject) => {
      const req = request(
        `https://127.0.0.1:${port}/validate`,
        { method: 'POST', ca: pair.caPem, agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => {
            text += c.toString('utf8');
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown> }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const uidOf = (json: Record<string, unknown>) => (json.response as { uid?: string } | undefined)?.uid;
  /** A POST whose body is sent in two steps: `sent(n)` resolves once the first n bytes are
   *  written to the socket, `finish()` sends the rest and waits for the answer. */
  const open = (body: string) => {
    const bytes = Buffer.from(body);
    let response: { status: number; json: Record<string, unknown> } | undefined;
    let settle: (r: { status: number; json: Record<string, unknown> }) => void = () => undefined;
    let fail: (e: Error) => void = () => undefined;
    const done = new Promise<{ status: number; json: Record<string, unknown> }>((resolve, reject) => {
      settle = resolve;
      fail = reject;
    });
    const req = request(
      `https://127.0.0.1:${port}/validate`,
      { method: 'POST', ca: pair.caPem, agent, headers: { 'content-type': 'application/json', 'content-length': bytes.byteLength } },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c.toString('utf8');
        });
        res.on('end', () => {
          response = { status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown> };
          settle(response);
        });
      },
    );
    req.on('error', fail);
    let offset = 0;
    return {
      sent: (n: number) =>
        new Promise<void>((resolve) => {
          req.write(bytes.subarray(0, n), () => resolve());
          offset = n;
        }),
      answered: () => response !== undefined,
      finish: () => {
        req.end(bytes.subarray(offset));
        return done;
      },
    };
  };

  const over3 = largeDeploymentUpdate(1024 * 1024);
  const r1 = await post(over3.body);
  t.equal(r1.status, 200, `a ${(over3.body.length / MiB).toFixed(1)} MiB UPDATE is answered`);
  t.equal(uidOf(r1.json), over3.review.request.uid);

  const worst = worstCaseUpdate();
  const r2 = await post(worst.body);
  t.equal(r2.status, 200, `the ${(worst.body.length / MiB).toFixed(1)} MiB worst case is answered`);
  t.equal(uidOf(r2.json), worst.review.request.uid);

  const bomb = emptyObjectBomb(18 * MiB);
  const reset = (e: unknown) => {
    if (['EPIPE', 'ECONNRESET'].includes((e as { code?: string }).code ?? '')) return { status: 0, json: { code: 'reset' } };
    throw e;
  };
  const bombs = await Promise.all(Array.from({ length: 8 }, () => post(bomb).catch(reset)));
  t.same(
    [...new Set(bombs.map((r) => r.status))].filter((s) => s !== 413 && s !== 503 && s !== 0),
    [],
    `8 bombs of 18 MiB of {} at once: ${bombs.map((r) => r.status || 'reset').join(' ')}`,
  );
  t.ok(
    bombs.every((r) => r.json.code === 'E_BODY_TOO_COSTLY' || r.json.code === 'E_BODY_BUDGET_BUSY' || r.json.code === 'reset'),
    'each refused by the body budget (or the connection closed after a refusal part way)',
  );
  t.ok(
    bombs.some((r) => r.status !== 0),
    'at least one refusal was read',
  );

  // First come, first served: an UPDATE whose base cost (2 x Content-Length, 35 MiB here, of a
  // 56 MiB budget) is reserved when it arrives keeps its place while its body still streams;
  // those arriving meanwhile are refused at once (503), before their bodies are read, so they
  // cannot starve it. Its body is held back until they have been answered.
  const large = largeDeploymentUpdate(5.5 * MiB);
  const size = `${(large.body.length / MiB).toFixed(1)} MiB`;
  const first = open(large.body);
  // Half of its body sent (its headers long since read): charged as it streamed, it would hold
  // only half its cost, and a second UPDATE would fit beside it, stream, and be answered first.
  await first.sent(Math.floor(large.body.length / 2));
  await sleep(250);
  const meanwhile = await Promise.all(Array.from({ length: 3 }, () => post(large.body)));
  t.same(
    meanwhile.map((r) => r.status),
    [503, 503, 503],
    `3 UPDATEs of ${size} arriving while the first streams: refused at once`,
  );
  t.ok(
    meanwhile.every((r) => r.json.code === 'E_BODY_BUDGET_BUSY'),
    'each refused by the body budget, busy',
  );
  t.equal(first.answered(), false, 'the first was not answered yet: its body is incomplete');
  const answered = await first.finish();
  t.equal(answered.status, 200, 'the first is answered when its body is complete');
  t.equal(uidOf(answered.json), large.review.request.uid);

  const many = await Promise.all(Array.from({ length: 4 }, () => post(large.body)));
  const statuses = many.map((r) => r.status);
  t.equal(statuses.filter((s) => s === 200).length, 1, `4 UPDATEs of ${size} at once: exactly one answered (${statuses.join(' ')})`);
  t.equal(statuses.filter((s) => s === 503).length, 3, 'the others refused at once (503: a retry can succeed), none starved by another');

  const small = loadAdmissionReview('pod-create');
  const r3 = await post(JSON.stringify(small));
  t.equal(r3.status, 200, 'an ordinary review afterwards is answered');
  t.equal(served.child.exitCode, null, 'the process is still running');
  t.notMatch(served.stderr(), /heap out of memory|FATAL ERROR/, 'it never ran out of heap');
});
