// The contract floor (issue 18): the baseline (bench/procs/baseline.ts) plus only what the
// webhook's contract asks of every warm admission, with everything that can be computed ahead
// computed ahead. It answers with the webhook's own answer (its bytes as captured from a real
// `serve` under the bench's full policy, the request's uid spliced in), writes the webhook's own
// log line (captured the same way: time and uid spliced in) through the webhook's log destination
// (src/cli/log-destination.ts) to stdout, and counts the admission, its latency and each check
// result in the webhook's own metrics (src/support/metrics.ts). No decision is made: its CPU per
// request is what the answer, the log line and the metrics cost beside the allow-all baseline,
// so webhook minus floor is the webhook's own per-request work, which is what a faster warm path
// can remove (bench/warm-ab-full.ts --floor). It runs under the webhook's node flags. Left out,
// in the webhook's disfavour: the per-admission cache-event counter (one increment).
//
// Usage: node bench/procs/contract-floor.ts <capture.json> <log file>, where capture.json is
//   {"answer": "<the answer's JSON text>", "uid": "<the uid in it>", "logLine": "<its log line>"}
// Prints {"url": ...} when listening; the log lines go to the log file, as the webhook's do.
import Fastify from 'fastify';
import { openSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { asyncLogDestination } from '../../src/cli/log-destination.ts';
import { generateSelfSigned } from '../../src/server/self-signed.ts';
import { TLS_OPTIONS } from '../../src/server/tls.ts';
import { createMetrics } from '../../src/support/metrics.ts';

export interface FloorCapture {
  /** The webhook's answer to one warm admission, as sent. */
  readonly answer: string;
  /** The uid of that admission (it appears once in the answer, once in the log line). */
  readonly uid: string;
  /** The webhook's log line for that admission. */
  readonly logLine: string;
}

/** The answer and log line split around the parts that change per admission. */
export function floorTemplates(capture: FloorCapture): {
  answer: [string, string];
  logHead: string;
  logMiddle: string;
  logTail: string;
  results: Array<{ check: string; status: string }>;
} {
  const quotedUid = JSON.stringify(capture.uid);
  const at = capture.answer.indexOf(quotedUid);
  if (at < 0 || capture.answer.indexOf(quotedUid, at + 1) >= 0) throw new Error('contract floor: the captured answer must hold its uid exactly once');
  const line = JSON.parse(capture.logLine) as { uid?: string; images?: Array<{ results?: Record<string, string> }> };
  if (line.uid !== capture.uid) throw new Error('contract floor: the captured log line is not the captured admission');
  // The line's own order: {"level":30,"time":N,...,"uid":"...",<rest>}; time and uid change.
  const uidAt = capture.logLine.indexOf(`"uid":${quotedUid}`);
  const timeAt = capture.logLine.indexOf('"time":');
  const afterTime = capture.logLine.indexOf(',', timeAt);
  if (uidAt < 0 || timeAt < 0 || afterTime > uidAt) throw new Error('contract floor: unexpected log line layout');
  const results = Object.entries(line.images?.[0]?.results ?? {}).map(([check, status]) => ({ check, status }));
  return {
    answer: [capture.answer.slice(0, at), capture.answer.slice(at + quotedUid.length)],
    logHead: capture.logLine.slice(0, timeAt),
    logMiddle: capture.logLine.slice(afterTime, uidAt),
    logTail: capture.logLine.slice(uidAt + `"uid":${quotedUid}`.length),
    results,
  };
}

if (import.meta.main) {
  const capture = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as FloorCapture;
  const t = floorTemplates(capture);
  const logs = asyncLogDestination(openSync(process.argv[3]!, 'w'));
  const metrics = createMetrics();
  const pair = await generateSelfSigned(['localhost', '127.0.0.1']);
  const app = Fastify({ logger: false, bodyLimit: 3 * 1024 * 1024, https: { ...TLS_OPTIONS, cert: pair.cert, key: pair.key } });
  app.post('/validate', async (request, reply) => {
    const started = performance.now();
    const uid = JSON.stringify((request.body as { request?: { uid?: string } }).request?.uid ?? '');
    for (const r of t.results) metrics.checkResults.inc(r);
    metrics.admissions.inc({ kind: 'Pod', operation: 'CREATE', result: 'allow', dry_run: 'false' });
    metrics.decisionSeconds.observe({ kind: 'Pod' }, (performance.now() - started) / 1000);
    logs.stream.write(`${t.logHead}"time":${Date.now()}${t.logMiddle}"uid":${uid}${t.logTail}\n`);
    return reply.header('content-type', 'application/json; charset=utf-8').send(t.answer[0] + uid + t.answer[1]);
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ url: `https://127.0.0.1:${port}` })}\n`);
  const stop = () =>
    void app.close().then(async () => {
      await logs.flush();
      process.exit(0);
    });
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
