// Attacks on the body budget (issue 12: no request may cost more than a bounded amount of
// memory, and none may crash the process), against the real `serve` process under the chart's
// NODE_OPTIONS, over raw TLS sockets so that headers and the first body bytes go in one packet:
//  (a) a refusal on the very first chunk of a body (other connections hold most of the budget,
//      the body's first packet carries separators past what is left), on reservation, and on a
//      later chunk: each answered 413/503, the process stays up, the next admission is answered.
//      (The first one ended the process: the meter's 'error' came before Fastify listened.)
//  (b) connections that send headers with a large Content-Length and then no body, or one byte,
//      held their reservation for the server's requestTimeout (30 s), and every admission got
//      503 meanwhile. Now they are answered 408 and the budget returned within the pace
//      deadline (FIRST_BODY_BYTE_MS for the first byte, bodyDeadlineMs for the whole body).
import t, { type Test } from 'tap';
import { spawnSync } from 'node:child_process';
import { Agent, request } from 'node:https';
import { connect } from 'node:tls';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse } from 'yaml';
import { generateSelfSigned } from '../../src/server/self-signed.ts';
import { bodyDeadlineMs, COST_PER_BYTE, FIRST_BODY_BYTE_MS } from '../../src/server/body-budget.ts';
import { loadAdmissionReview } from '../fixtures/admission.ts';
import { startServeProcess, type ServeProcess } from '../helpers/serve-process.ts';

const BODY_BUDGET = fileURLToPath(new URL('../../src/server/body-budget.ts', import.meta.url));
const VALUES = fileURLToPath(new URL('../../chart/ecr-admission/values.yaml', import.meta.url));
const CHART_NODE_OPTIONS = (parse(readFileSync(VALUES, 'utf8')) as { server: { nodeOptions: string } }).server.nodeOptions;
const MiB = 1024 * 1024;
/** The largest body the server accepts by default, about 18 MiB: it reserves 2 x that. */
const LARGE = 18 * MiB;
const pair = await generateSelfSigned(['127.0.0.1']);
const review = JSON.stringify(loadAdmissionReview('pod-create'));

/** The budget the served process has: computed by body-budget.ts under the chart's NODE_OPTIONS. */
function chartBudget(): number {
  const out = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', `import { heapBudgetBytes } from ${JSON.stringify(BODY_BUDGET)}; console.log(heapBudgetBytes());`],
    {
      env: { PATH: process.env.PATH ?? '', NODE_OPTIONS: CHART_NODE_OPTIONS },
      encoding: 'utf8',
    },
  );
  return Number(out.stdout.trim());
}

/** The served process under the chart's NODE_OPTIONS, with its webhook port once it serves. */
async function serve(t: Test): Promise<(ServeProcess & { port: number }) | undefined> {
  const served = startServeProcess(t, {
    env: { NODE_OPTIONS: CHART_NODE_OPTIONS },
    files: { policy: 'mode: enforce\nregistries:\n  allow: ["registry.k8s.io/*"]\n', cert: pair.cert, key: pair.key },
  });
  const ready = await served.ready();
  if (ready) return { ...served, port: ready.port };
  t.fail(`the server did not start (${served.stderr().slice(0, 500)})`);
  return undefined;
}

interface Answer {
  /** 0 when the connection closed without a complete answer. */
  status: number;
  code?: string;
  /** Milliseconds from the request's headers to its answer (or the close). */
  ms: number;
}

/** A POST over its own TLS connection: headers declaring `length` bytes and `first` written in
 *  one write (one TLS record), then nothing more unless `rest` is given. */
function rawPost(port: number, length: number, first: string | Buffer, rest?: Buffer) {
  const started = Date.now();
  const socket = connect({ port, host: '127.0.0.1', ca: pair.caPem, checkServerIdentity: () => undefined });
  socket.on('error', () => undefined);
  const head = `POST /validate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;
  socket.write(Buffer.concat([Buffer.from(head), Buffer.from(first)]));
  if (rest) socket.write(rest);
  const answer = new Promise<Answer>((resolve) => {
    let text = Buffer.alloc(0);
    const settle = () => {
      const s = text.toString('latin1');
      const end = s.indexOf('\r\n\r\n');
      if (end < 0) return false;
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(s)?.[1] ?? 0);
      const bodyLength = Number(/\r\ncontent-length: (\d+)/i.exec(s.slice(0, end))?.[1] ?? 0);
      if (text.length < end + 4 + bodyLength) return false;
      const body = text.subarray(end + 4, end + 4 + bodyLength).toString('utf8');
      resolve({ status, code: /"code":"([A-Z_]+)"/.exec(body)?.[1], ms: Date.now() - started });
      return true;
    };
    socket.on('data', (c: Buffer) => {
      text = Buffer.concat([text, c]);
      if (settle()) socket.destroy();
    });
    socket.on('close', () => {
      if (!settle()) resolve({ status: 0, ms: Date.now() - started });
    });
  });
  return { socket, answer };
}

/** An ordinary admission, as the API server sends it. */
function admit(port: number) {
  const agent = new Agent({ keepAlive: false, ca: pair.caPem });
  return new Promise<Answer>((resolve) => {
    const started = Date.now();
    const req = request(
      `https://127.0.0.1:${port}/validate`,
      { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(review) } },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => {
          text += c.toString('utf8');
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, code: /"code":"([A-Z_]+)"/.exec(text)?.[1], ms: Date.now() - started }));
      },
    );
    req.on('error', () => resolve({ status: 0, ms: Date.now() - started }));
    req.end(review);
  });
}

const budget = chartBudget();

t.test(`(a) refusals on the first chunk, on reservation and part way answer cleanly (${CHART_NODE_OPTIONS})`, async (t) => {
  t.ok(budget > COST_PER_BYTE * LARGE, `the chart's budget (${(budget / MiB).toFixed(1)} MiB) fits one largest body`);
  const served = await serve(t);
  if (!served) return;
  const { port } = served;

  // One connection holds the largest reservation and sends nothing more.
  const holder = rawPost(port, LARGE, '');
  t.teardown(() => holder.socket.destroy());
  await sleep(300);
  // The reviewer's input: a body whose reservation just fits (2 KiB of cost to spare), with 100
  // separators (6.4 KB of cost) in the packet that carries its headers.
  const fits = Math.floor((budget - COST_PER_BYTE * LARGE) / COST_PER_BYTE) - 1024;
  const first = await rawPost(port, fits, '['.repeat(100)).answer;
  t.match(first, { status: 503, code: 'E_BODY_BUDGET_BUSY' }, `a ${(fits / MiB).toFixed(1)} MiB body refused on its first chunk: 503`);
  t.equal(served.exited(), false, 'the process is still running');

  const reserved = await rawPost(port, LARGE, '').answer;
  t.match(reserved, { status: 503, code: 'E_BODY_BUDGET_BUSY' }, 'a body whose reservation does not fit: 503 at once');
  t.ok(reserved.ms < FIRST_BODY_BYTE_MS, `before its body (${reserved.ms} ms)`);
  holder.socket.destroy();
  await sleep(200);

  // 1 MiB of `[`: 64 MiB of separator cost, past the whole budget after some 900 KB. The answer
  // can be lost to a reset (the server closes with the rest of the body unread).
  const bomb = Buffer.from('['.repeat(MiB));
  const partWay = await rawPost(port, bomb.length, bomb.subarray(0, 1024), bomb.subarray(1024)).answer;
  t.ok(
    partWay.status === 0 || (partWay.status === 413 && partWay.code === 'E_BODY_TOO_COSTLY'),
    `a body refused part way: ${partWay.status || 'reset'} ${partWay.code ?? ''}`,
  );

  const after = await admit(port);
  t.equal(after.status, 200, 'an ordinary admission afterwards is answered');
  t.equal(served.exited(), false, 'the process is still running');
  t.notMatch(served.stderr(), /Unhandled|ERR_UNHANDLED_ERROR|BodyBudgetError|FATAL/, 'no unhandled error on stderr');
});

t.test('(b) reservations of clients that do not send their body are returned within the pace deadline', async (t) => {
  const served = await serve(t);
  if (!served) return;
  const { port } = served;
  // Two phases: three connections that send no body (the first-byte rule), then two that send
  // one byte and stop (the whole-body deadline). In each, the holders leave less of the budget
  // than an ordinary review costs, so admissions get 503 until the holders are let go.
  const phases: Array<{ name: string; first: string; deadline: number }> = [
    { name: 'headers and no body', first: '', deadline: FIRST_BODY_BYTE_MS },
    { name: 'one body byte, then nothing', first: '{', deadline: bodyDeadlineMs(LARGE) },
  ];
  for (const phase of phases) {
    const rest = Math.floor((budget - COST_PER_BYTE * LARGE) / COST_PER_BYTE);
    const lengths = phase.first === '' ? [LARGE, Math.floor(rest / 2) - 256, Math.floor(rest / 2) - 256] : [LARGE, rest - 512];
    const holders: Array<ReturnType<typeof rawPost>> = [];
    for (const length of lengths) {
      holders.push(rawPost(port, length, phase.first));
      await sleep(100);
    }
    t.teardown(() => holders.forEach((h) => h.socket.destroy()));
    const started = Date.now();
    const blocked = await admit(port);
    t.match(blocked, { status: 503, code: 'E_BODY_BUDGET_BUSY' }, `${phase.name}: ${holders.length} connections hold the budget, an admission gets 503`);
    let answered: Answer | undefined;
    while (Date.now() - started < phase.deadline + 3000) {
      const a = await admit(port);
      if (a.status === 200) {
        answered = a;
        break;
      }
      await sleep(200);
    }
    const waited = Date.now() - started;
    t.ok(answered, `${phase.name}: an ordinary admission is answered 200 within the pace deadline (${phase.deadline} ms) + 3 s (after ${waited} ms)`);
    const answers = await Promise.all(holders.map((h) => Promise.race([h.answer, sleep(phase.deadline + 3000).then((): Answer => ({ status: -1, ms: -1 }))])));
    t.ok(
      answers.every((a) => a.status === 408 && a.code === 'E_BODY_TOO_SLOW'),
      `each holder answered 408 E_BODY_TOO_SLOW (${answers.map((a) => `${a.status} after ${a.ms} ms`).join(', ')})`,
    );
    t.ok(
      answers.every((a) => a.ms >= 0 && a.ms <= bodyDeadlineMs(LARGE) + 1000),
      'none held its reservation past the deadline for its size',
    );
    holders.forEach((h) => h.socket.destroy());
  }
  t.equal((await admit(port)).status, 200, 'afterwards, admissions are answered');
  t.equal(served.exited(), false, 'the process is still running');
});
