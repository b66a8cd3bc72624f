// The load generator, in its own process: autocannon (from node_modules) over keep-alive TLS
// connections, one phase after another, each request an AdmissionReview for the next image of
// the phase's list. Latencies are taken from autocannon's per-response timings (hrtime, ms)
// and summarised exactly; with `classify`, every answer is read and counted as allowed,
// denied on a check's verdict, or denied because a fact could not be established (onError).
// Usage: node bench/procs/load.ts SPEC.json   (prints one JSON result on stdout)
import { readFileSync } from 'node:fs';
import autocannon from 'autocannon';
import { podReview } from '../lib/review.ts';
import { summarize } from '../lib/stats.ts';
import type { Decisions, LoadSpec, PhaseResult, PhaseSpec } from '../lib/load-types.ts';

interface AuditImage {
  results?: Record<string, string>;
}
interface ReviewAnswer {
  response?: { allowed?: boolean; status?: { message?: string }; auditAnnotations?: Record<string, string> };
}

function classifier(decisions: Decisions) {
  return (status: number, body: string): void => {
    if (status !== 200) return;
    let answer: ReviewAnswer;
    try {
      answer = JSON.parse(body) as ReviewAnswer;
    } catch {
      decisions.unreadable++;
      return;
    }
    const r = answer.response;
    if (r?.allowed === true) {
      decisions.allowed++;
      return;
    }
    const message = r?.status?.message ?? '';
    if (message.includes('not decided within the admission deadline')) decisions.deadlineErrors++;
    let images: AuditImage[] = [];
    try {
      images = JSON.parse(r?.auditAnnotations?.images ?? '[]') as AuditImage[];
    } catch {
      /* truncated annotation: counted below as a verdict */
    }
    const errored = images.flatMap((i) =>
      Object.entries(i.results ?? {})
        .filter(([, s]) => s === 'error')
        .map(([c]) => c),
    );
    for (const c of errored) decisions.checkErrors[c] = (decisions.checkErrors[c] ?? 0) + 1;
    const failed = images.some((i) => Object.values(i.results ?? {}).includes('fail'));
    if (failed || errored.length === 0) decisions.deniedByVerdict++;
    else decisions.deniedOnError++;
    if (decisions.samples.length < 3 && !decisions.samples.includes(message)) decisions.samples.push(message);
  };
}

async function runPhase(spec: LoadSpec, phase: PhaseSpec, counter: { n: number }): Promise<PhaseResult> {
  const latencies: number[] = [];
  const decisions: Decisions = { allowed: 0, deniedByVerdict: 0, deniedOnError: 0, checkErrors: {}, deadlineErrors: 0, unreadable: 0, samples: [] };
  const classify = phase.classify ? classifier(decisions) : undefined;
  let index = 0;
  const started = performance.now();
  const instance = autocannon({
    url: `${spec.url}/validate`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    connections: phase.connections,
    pipelining: 1,
    timeout: spec.timeoutSeconds,
    ...(phase.duration !== undefined ? { duration: phase.duration } : {}),
    ...(phase.amount !== undefined ? { amount: phase.amount } : {}),
    ...(phase.overallRate !== undefined ? { overallRate: phase.overallRate } : {}),
    requests: [
      {
        setupRequest: (req: Record<string, unknown>) => {
          const image = phase.images[index++ % phase.images.length]!;
          counter.n++;
          return { ...req, body: podReview(`bench-${process.pid}-${counter.n}`, image, counter.n) };
        },
        ...(classify && { onResponse: (status: number, body: string) => classify(status, body) }),
      },
    ],
  });
  instance.on('response', (_client: unknown, _status: number, _bytes: number, responseTime: number) => {
    latencies.push(responseTime);
  });
  const result = await instance;
  const seconds = (performance.now() - started) / 1000;
  return {
    name: phase.name,
    connections: phase.connections,
    seconds: Math.round(seconds * 100) / 100,
    completed: latencies.length,
    requestsPerSecond: Math.round((latencies.length / seconds) * 10) / 10,
    latencyMs: summarize(latencies),
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    ...(phase.classify && { decisions }),
    ...(phase.raw && { latencies: latencies.map((l) => Math.round(l * 100) / 100) }),
  };
}

const spec = JSON.parse(readFileSync(process.argv[2] ?? '', 'utf8')) as LoadSpec;
const counter = { n: 0 };
const phases: PhaseResult[] = [];
for (const phase of spec.phases) {
  const r = await runPhase(spec, phase, counter);
  if (phase.record) phases.push(r);
}
process.stdout.write(`${JSON.stringify({ phases })}\n`);
