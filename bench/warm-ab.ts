// Micro-benchmark (issue 18): CPU per warm admission over real TLS, the webhook's Fastify app
// against the allow-all baseline, each in its own process (bench/procs/warm-server.ts and
// bench/procs/baseline.ts), loaded
// by autocannon (bench/procs/load.ts) one after the other in rounds so that a change in the
// machine's load hits both alike. CPU per request is the server's user+system time from /proc
// over the phase. No AWS sandbox: the policy allows the image by pattern, so what it measures is
// the HTTP layer, the body reader, the review and the log line; the median of the rounds is the
// figure, the spread says how noisy the machine was.
//
//   node bench/warm-ab.ts [--rounds 6] [--seconds 4] [--connections 16]
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import { cpuMsOf, memoryOf, ROOT, runLoad, startBaseline } from './lib/procs.ts';
import { WARM_AB_REGISTRY } from './lib/warm-ab.ts';

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '6' }, seconds: { type: 'string', default: '4' }, connections: { type: 'string', default: '16' } },
});
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const chart = parse(readFileSync(join(ROOT, 'chart/ecr-admission/values.yaml'), 'utf8')) as { server: { nodeOptions: string } };
const dir = mkdtempSync(join(tmpdir(), 'warm-ab-'));
const images = [`${WARM_AB_REGISTRY}/bench/warm-0:v1`];

interface Server {
  readonly name: string;
  readonly url: string;
  readonly pid: number;
  cpuMs(): number;
  stop(): Promise<unknown> | void;
  readonly cpuUs: number[];
  readonly rps: number[];
  /** Read just before the server stops. */
  peakRssMiB?: number;
}

/** The webhook under the chart's heap flags, as deployed. */
async function startWebhookApp(): Promise<Server> {
  const flags = chart.server.nodeOptions.split(/\s+/);
  const child = spawn(process.execPath, [...flags, join(ROOT, 'bench/procs/warm-server.ts')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the webhook exited with ${code}`)));
    createInterface({ input: child.stdout }).once('line', resolve);
  });
  const pid = child.pid!;
  return {
    name: 'webhook',
    url: (JSON.parse(line) as { url: string }).url,
    pid,
    cpuMs: () => cpuMsOf(pid),
    stop: () => void child.kill('SIGTERM'),
    cpuUs: [],
    rps: [],
  };
}

// The baseline as the bench's scenario 2 runs it (bench/procs/baseline.ts).
const servers: Server[] = [{ name: 'baseline', ...(await startBaseline()), cpuUs: [], rps: [] }, await startWebhookApp()];
try {
  for (const s of servers) {
    await runLoad({ url: s.url, timeoutSeconds: 10, phases: [{ name: 'warm-up', connections, duration: 2, images, record: false }] }, dir, 'warm-up');
  }
  for (let round = 0; round < rounds; round++) {
    for (const s of servers) {
      const before = s.cpuMs();
      const [phase] = await runLoad(
        { url: s.url, timeoutSeconds: 10, phases: [{ name: 'measure', connections, duration: seconds, images, record: true }] },
        dir,
        'measure',
      );
      if (!phase || phase.non2xx > 0 || phase.errors > 0) throw new Error(`${s.name}: ${phase?.non2xx} non-2xx answers, ${phase?.errors} errors`);
      s.cpuUs.push(((s.cpuMs() - before) * 1000) / phase.completed);
      s.rps.push(phase.requestsPerSecond);
    }
  }
} finally {
  for (const s of servers) {
    s.peakRssMiB = memoryOf(s.pid).peakRssMiB;
    await s.stop();
  }
  rmSync(dir, { recursive: true, force: true });
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const baselineUs = median(servers[0]!.cpuUs);
for (const s of servers) {
  process.stdout.write(
    `${s.name.padEnd(9)} CPU µs per request ${s.cpuUs.map((x) => x.toFixed(0)).join(' ')}, median ${median(s.cpuUs).toFixed(0)} ` +
      `(capacity ${((baselineUs / median(s.cpuUs)) * 100).toFixed(0)}% of the baseline), ${median(s.rps).toFixed(0)} req/s, peak RSS ${s.peakRssMiB} MiB\n`,
  );
}
