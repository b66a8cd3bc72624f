// Micro-benchmark (issue 18): CPU per warm admission under the bench's full policy (every check
// on, facts from the AWS sandbox, the `serve` command as deployed, under the chart's heap flags),
// for one or more webhook source trees side by side with the allow-all baseline. Several
// processes per tree: two processes of the same code differ by up to 10% in CPU per request on a
// shared machine (memory layout, JIT), more than most single changes buy, so a comparison of one
// process each can point the wrong way. Rounds are interleaved; the figure is the median of each
// process's rounds, then the mean over a tree's processes; the per-thread split (main thread,
// V8's workers, libuv's pool) is read from /proc/<pid>/task.
//
//   node bench/warm-ab-full.ts [--rounds 6] [--seconds 4] [--connections 16] [--processes 2]
//                              [--tree name=/path/to/src/main.ts[@node flags joined by +]]...
//                              [--floor]
//
// --floor adds the contract floor (bench/procs/contract-floor.ts): the baseline plus the
// webhook's own answer, log line and metrics, captured from the first webhook process and
// replayed with nothing decided. Webhook minus floor is the webhook's own per-request work.
//
// Without --tree, this checkout's src/main.ts. A tree is usually a `git worktree` of another
// commit with node_modules linked in; `@--max-semi-space-size=8` (say) runs it under other flags.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import { benchPolicy, imageRef, regionsOf, type WorldLayout } from './lib/fixture.ts';
import { cpuMsOf, ROOT, runLoad, startBaseline, startContractFloor, startSandboxProcess, startWebhook } from './lib/procs.ts';
import { captureAdmission } from './lib/floor.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '6' },
    seconds: { type: 'string', default: '4' },
    connections: { type: 'string', default: '16' },
    processes: { type: 'string', default: '2' },
    tree: { type: 'string', multiple: true, default: [] },
    floor: { type: 'boolean', default: false },
  },
});
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const processes = Number(values.processes);
const chart = parse(readFileSync(join(ROOT, 'chart/ecr-admission/values.yaml'), 'utf8')) as { server: { nodeOptions: string } };
const chartFlags = chart.server.nodeOptions.split(/\s+/);

interface Tree {
  readonly name: string;
  readonly main: string;
  readonly flags: readonly string[];
}

function treeOf(spec: string): Tree {
  const eq = spec.indexOf('=');
  if (eq <= 0) throw new Error(`--tree ${spec}: expected name=/path/to/src/main.ts[@flags]`);
  const [main = '', flags] = spec.slice(eq + 1).split('@', 2);
  return { name: spec.slice(0, eq), main, flags: flags === undefined ? chartFlags : flags.split('+').filter((f) => f !== '') };
}

const trees = values.tree.length > 0 ? values.tree.map(treeOf) : [{ name: 'this', main: join(ROOT, 'src/main.ts'), flags: chartFlags }];

/** CPU ms per thread name (main thread, V8Worker, libuv-worker...) of a process so far. */
function threadCpuMs(pid: number): Map<string, number> {
  const out = new Map<string, number>();
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    const stat = readFileSync(`/proc/${pid}/task/${task}/stat`, 'utf8');
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    // utime and stime, the 14th and 15th fields, in clock ticks of 10 ms.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.set(name, (out.get(name) ?? 0) + (Number(fields[11]) + Number(fields[12])) * 10);
  }
  return out;
}

interface Server {
  readonly tree: string;
  readonly url: string;
  readonly pid: number;
  stop(): Promise<unknown> | void;
  readonly cpuUs: number[];
  readonly threadUs: Map<string, number>;
}

const dir = mkdtempSync(join(tmpdir(), 'warm-ab-full-'));
const layout: WorldLayout = { warm: { count: 1, perRepository: 1 } };
const images = [imageRef('warm', layout.warm!, 0)];
const sandbox = await startSandboxProcess({ dir, layout, latencyMs: 20, seed: 7 });
const policyPath = join(dir, 'policy.yaml');
writeFileSync(policyPath, benchPolicy(sandbox.trustStorePath, { maxEntries: 10_000, regions: regionsOf(layout) }));
const servers: Server[] = [];
try {
  const baseline = await startBaseline();
  servers.push({ tree: 'baseline', url: baseline.url, pid: baseline.pid, stop: () => baseline.stop(), cpuUs: [], threadUs: new Map() });
  for (let p = 0; p < processes; p++) {
    for (const tree of trees) {
      const w = await startWebhook({
        entry: { kind: 'dist', path: tree.main },
        policyPath,
        sandboxUrl: sandbox.url,
        logPath: join(dir, `${tree.name}-${p}.log`),
        budgetMs: 8000,
        nodeFlags: tree.flags,
      });
      servers.push({ tree: tree.name, url: w.url, pid: w.pid, stop: () => w.stop(), cpuUs: [], threadUs: new Map() });
    }
  }
  if (values.floor) {
    const capture = await captureAdmission(servers[1]!.url, join(dir, `${trees[0]!.name}-0.log`), images[0]!, dir);
    const floor = await startContractFloor(capture, join(dir, 'floor.log'), trees[0]!.flags);
    servers.push({ tree: 'floor', url: floor.url, pid: floor.pid, stop: () => floor.stop(), cpuUs: [], threadUs: new Map() });
  }
  for (const s of servers) {
    // The first admission fills the caches; every answer must then be an allow from them.
    const [fill, warm] = await runLoad(
      {
        url: s.url,
        timeoutSeconds: 10,
        phases: [
          { name: 'fill', connections: 1, amount: 1, images, record: true, classify: true },
          { name: 'warm-up', connections, duration: 3, images, record: true, classify: true },
        ],
      },
      dir,
      'warm-up',
    );
    if (fill?.decisions?.allowed !== 1 || warm?.decisions?.allowed !== warm?.completed) throw new Error(`${s.tree}: not every warm-up admission was allowed`);
  }
  for (let round = 0; round < rounds; round++) {
    for (const s of servers) {
      const before = cpuMsOf(s.pid);
      const threadsBefore = threadCpuMs(s.pid);
      const [phase] = await runLoad(
        { url: s.url, timeoutSeconds: 10, phases: [{ name: 'measure', connections, duration: seconds, images, record: true }] },
        dir,
        'measure',
      );
      if (!phase || phase.non2xx > 0 || phase.errors > 0) throw new Error(`${s.tree}: ${phase?.non2xx} non-2xx answers, ${phase?.errors} errors`);
      s.cpuUs.push(((cpuMsOf(s.pid) - before) * 1000) / phase.completed);
      for (const [name, ms] of threadCpuMs(s.pid))
        s.threadUs.set(name, (s.threadUs.get(name) ?? 0) + ((ms - (threadsBefore.get(name) ?? 0)) * 1000) / phase.completed / rounds);
    }
  }
} finally {
  for (const s of servers) await s.stop();
  await sandbox.stop();
  rmSync(dir, { recursive: true, force: true });
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const baselineUs = median(servers[0]!.cpuUs);
for (const name of ['baseline', ...trees.map((t) => t.name), ...(values.floor ? ['floor'] : [])]) {
  const own = servers.filter((s) => s.tree === name);
  const us = mean(own.map((s) => median(s.cpuUs)));
  process.stdout.write(
    `${name.padEnd(10)} CPU µs per request ${us.toFixed(1)} (capacity ${((baselineUs / us) * 100).toFixed(0)}%); per process ${own.map((s) => median(s.cpuUs).toFixed(1)).join(', ')}\n`,
  );
  for (const s of own) {
    const threads = [...s.threadUs].filter(([, v]) => v >= 0.5).map(([k, v]) => `${k} ${v.toFixed(1)}`);
    process.stdout.write(`${''.padEnd(10)} rounds ${s.cpuUs.map((x) => x.toFixed(0)).join(' ')}; by thread: ${threads.join(', ')}\n`);
  }
}
