// Summarises a CPU profile of the webhook under the warm scenario (issue 18): the busy samples
// (idle and "(program)" left out) by area of the admission path, and the top self-time
// functions. Samples are counted, not weighted by their wall-clock spacing, so time the
// process spent waiting for a core on a loaded machine is not charged to the function it
// resumed in. How to take a profile:
//
//   BENCH_ONLY=warm BENCH_SCALE=0.3 BENCH_OUT=/tmp/r \
//   BENCH_WEBHOOK_NODE_FLAGS='--max-old-space-size=128 --max-semi-space-size=4 --cpu-prof --cpu-prof-dir=/tmp/prof' node bench/run.ts
//   node bench/profile-summary.ts /tmp/prof/*.cpuprofile
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
}

/** First match wins, from the sampled function up its stack. */
const AREAS: ReadonlyArray<readonly [string, RegExp]> = [
  [
    'log line (log-line, log-destination; pino, sonic-boom before)',
    /pino|sonic-boom|log-line|log-destination|LOG@|write@node:fs|writeString@:0|writeBuffer@:0|actualWrite/,
  ],
  ['metrics (hot-metrics, prom-client)', /prom-client|hot-metrics/],
  ['decision (review, memo, checks, decide)', /admission\/|decision\/|checks\/|facts\/|support\/fact|support\/pending|unchanged/],
  ['body budget (meter, JSON scan)', /body-budget|json-scan/],
  ['JSON parse of the review', /secure-json-parse|defaultJsonParser/],
  ['socket write (TLS encrypt + send)', /writeUtf8String|writeGeneric|handleWriteReq/],
  ['response serialisation', /serialize@lib\/reply|fast-json-stringify/],
];

export function summarise(profile: Profile): { busy: number; areas: Array<[string, number]>; self: Array<[string, number]> } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const areas = new Map<string, number>();
  const self = new Map<string, number>();
  let busy = 0;
  for (const id of profile.samples) {
    const node = byId.get(id);
    if (!node) continue;
    const fn = node.callFrame.functionName;
    if (fn === '(idle)' || fn === '(program)') continue;
    busy++;
    const where = node.callFrame.url.replace(/.*node_modules\//, '').replace(/.*\/dist\//, '');
    const key = `${fn || '(anonymous)'} ${where}`.trim();
    self.set(key, (self.get(key) ?? 0) + 1);
    let area = fn === '(garbage collector)' ? 'garbage collection' : undefined;
    for (let at: number | undefined = id; at !== undefined && area === undefined; at = parent.get(at)) {
      const cf = byId.get(at)!.callFrame;
      const label = `${cf.functionName}@${cf.url.split('/').slice(-2).join('/')}:${cf.lineNumber + 1}`;
      area = AREAS.find(([, re]) => re.test(label))?.[0];
    }
    area ??= 'Fastify, HTTP parsing, TLS read, event loop (the rest)';
    areas.set(area, (areas.get(area) ?? 0) + 1);
  }
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
  return { busy, areas: sorted(areas), self: sorted(self).slice(0, 12) };
}

if (import.meta.main) {
  for (const path of process.argv.slice(2)) {
    const { busy, areas, self } = summarise(JSON.parse(readFileSync(path, 'utf8')) as Profile);
    const pct = (n: number) => `${((100 * n) / Math.max(1, busy)).toFixed(1)}%`;
    process.stdout.write(`${path}: ${busy} busy samples\n\n| area | share of busy samples |\n|---|---:|\n`);
    for (const [name, n] of areas) process.stdout.write(`| ${name} | ${pct(n)} |\n`);
    process.stdout.write('\n| function (self time) | share |\n|---|---:|\n');
    for (const [name, n] of self) process.stdout.write(`| \`${name}\` | ${pct(n)} |\n`);
  }
}
