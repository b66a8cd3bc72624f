// Continuous compliance at scale (issue 15): N Pods running D distinct digests as objects in a
// real kube-apiserver (the e2e rig's etcd + kube-apiserver, built once in ~/.cache), each Pod's
// containerStatuses written through the status subresource as a kubelet would; the AWS sandbox
// (in this process) with the benchmark's signed, scanned world and a latency per call; and
// `node src/main.ts controller` as a child process. Not part of `make bench` (which has no API
// server); run it alone:
//   node bench/scenarios/controller.ts [--pods 10000] [--digests 500] [--namespaces 20]
//     [--interval-ms 30000] [--rounds 3] [--latency-ms 20] [--concurrency 16] [--node-options '...']
// It prints, per round: images evaluated, AWS calls (the controller's own count and the
// sandbox's, by operation), time to evaluate and publish, PolicyReport writes; and the
// controller's peak RSS (VmHWM). The TTLs of findings, revocation and repository facts are set
// just under the interval, so every interval re-reads them: the calls an interval costs in
// production (5 min interval, 5 min TTLs); digest facts (1 h) stay cached.
import { parseArgs } from 'node:util';
import { mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApiextensionsV1Api, CoreV1Api, type V1CustomResourceDefinition, type V1Pod } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { startSandbox, imageDigest } from '../../src/dev/sandbox/index.ts';
import { startEtcd, startApiServer, repoRoot } from '../../test/e2e/rig/index.ts';
import { startPeer } from '../../test/e2e/rig/process.ts';
import { BENCH_ACCOUNT, benchPolicy, buildWorld, imageRef, regionsOf, type WorldLayout } from '../lib/fixture.ts';

const { values: args } = parseArgs({
  options: {
    pods: { type: 'string', default: '10000' },
    digests: { type: 'string', default: '500' },
    namespaces: { type: 'string', default: '20' },
    'interval-ms': { type: 'string', default: '30000' },
    rounds: { type: 'string', default: '3' },
    'latency-ms': { type: 'string', default: '20' },
    concurrency: { type: 'string', default: '16' },
    // The chart's controller.nodeOptions: the heap bound the Pod runs with.
    'node-options': { type: 'string', default: '--max-old-space-size=256 --max-semi-space-size=4' },
    out: { type: 'string', default: join(repoRoot, 'test-output', 'bench-controller') },
  },
});
const PODS = Number(args.pods);
const DIGESTS = Number(args.digests);
const NAMESPACES = Number(args.namespaces);
const INTERVAL_MS = Number(args['interval-ms']);
const ROUNDS = Number(args.rounds);
const OUT = args.out;
// A fresh etcd and logs each run.
rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });
const log = (line: string) => process.stdout.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);

/** Runs `work` over items, `n` at a time. */
async function bounded<T>(items: readonly T[], n: number, work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

const layout: WorldLayout = { ctl: { count: DIGESTS, perRepository: 10 } };
log(`world: ${DIGESTS} signed, scanned images`);
const world = await buildWorld(layout, OUT);
const digestOf = new Map<string, string>();
for (const [region, r] of Object.entries(world.fixture.accounts[BENCH_ACCOUNT]!.regions))
  for (const repo of r.repositories)
    for (const image of repo.images) digestOf.set(`${BENCH_ACCOUNT}.dkr.ecr.${region}.amazonaws.com/${repo.name}:${image.tags![0]}`, imageDigest(image));
const sandbox = await startSandbox({ fixture: world.fixture, latencyMs: Number(args['latency-ms']) });
const etcd = await startEtcd(join(OUT, 'etcd'));
const api = await startApiServer({ etcdUrl: etcd.url, dir: join(OUT, 'kube-apiserver'), extraArgs: ['--max-requests-inflight=800'] });
let controller: ReturnType<typeof startPeer> | undefined;
const stopAll = async () => {
  await controller?.stop();
  await api.stop();
  await etcd.stop();
  await sandbox.close();
};
try {
  const core = api.kubeConfig.makeApiClient(CoreV1Api);
  const crdText = readFileSync(join(repoRoot, 'chart', 'ecr-admission', 'files', 'policyreport-crd.yaml'), 'utf8');
  const crd = parseAllDocuments(crdText)
    .map((d) => d.toJS() as V1CustomResourceDefinition | null)
    .find((d) => d?.kind === 'CustomResourceDefinition')!;
  await api.kubeConfig.makeApiClient(ApiextensionsV1Api).createCustomResourceDefinition({ body: crd });
  for (let n = 0; n < NAMESPACES; n++) await core.createNamespace({ body: { metadata: { name: `ns-${n}` } } });

  log(`creating ${PODS} Pods in ${NAMESPACES} namespaces, then their status (running digest)`);
  const t0 = Date.now();
  await bounded(
    Array.from({ length: PODS }, (_, i) => i),
    48,
    async (i) => {
      const image = imageRef('ctl', layout.ctl!, i % DIGESTS);
      const namespace = `ns-${i % NAMESPACES}`;
      const name = `pod-${i}`;
      const body: V1Pod = { metadata: { name, namespace }, spec: { containers: [{ name: 'app', image }] } };
      const created = await core.createNamespacedPod({ namespace, body });
      created.status = {
        phase: 'Running',
        containerStatuses: [
          { name: 'app', image, imageID: `${image.split(':')[0]}@${digestOf.get(image)}`, ready: true, restartCount: 0, state: { running: {} } },
        ],
      };
      await core.replaceNamespacedPodStatus({ namespace, name, body: created });
    },
  );
  log(`  ${PODS} Pods in ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  const policyPath = join(OUT, 'policy.yaml');
  const ttl = Math.max(1, Math.floor(INTERVAL_MS / 1000) - 5);
  writeFileSync(
    policyPath,
    `${benchPolicy(world.trustStorePath, { maxEntries: 50_000, regions: regionsOf(layout) })}  ttlSeconds:\n    findings: ${ttl}\n    revocation: ${ttl}\n    repository: ${ttl}\n`,
  );
  const endpoints = { ECR: sandbox.url, INSPECTOR2: sandbox.url, SIGNER: sandbox.url, STS: sandbox.url };
  sandbox.resetCalls();
  const peer = startPeer({
    name: 'controller',
    command: process.execPath,
    args: [
      join(repoRoot, 'src', 'main.ts'),
      'controller',
      '--config',
      policyPath,
      '--host',
      '127.0.0.1',
      '--health-port',
      '0',
      '--interval-ms',
      String(INTERVAL_MS),
      '--concurrency',
      args.concurrency,
    ],
    dir: join(OUT, 'controller'),
    env: {
      PATH: process.env.PATH ?? '',
      HOME: OUT,
      KUBECONFIG: api.kubeconfigPath,
      POD_NAME: 'bench-controller',
      AWS_ACCESS_KEY_ID: 'AKIDBENCH',
      AWS_SECRET_ACCESS_KEY: 'bench',
      AWS_REGION: 'us-east-1',
      AWS_EC2_METADATA_DISABLED: 'true',
      NODE_OPTIONS: args['node-options'],
      ...Object.fromEntries(Object.entries(endpoints).map(([k, v]) => [`AWS_ENDPOINT_URL_${k}`, v])),
    },
  });
  controller = peer;
  const rounds = (): Array<Record<string, number | string>> =>
    existsSync(peer.logPath)
      ? readFileSync(peer.logPath, 'utf8')
          .split('\n')
          .filter((l) => l.includes('"controller: round done"'))
          .map((l) => JSON.parse(l) as Record<string, number | string>)
      : [];
  const byOp = () => {
    const counts: Record<string, number> = {};
    for (const c of sandbox.callLog()) counts[c.op] = (counts[c.op] ?? 0) + 1;
    sandbox.resetCalls();
    return counts;
  };
  const table: Array<{ round: number; stats: Record<string, number | string>; sandboxCalls: Record<string, number> }> = [];
  const deadline = Date.now() + 60_000 + ROUNDS * (INTERVAL_MS + 120_000);
  while (table.length < ROUNDS && Date.now() < deadline) {
    if (peer.exitStatus() !== undefined) throw new Error(`the controller exited: ${peer.logTail()}`);
    const done = rounds().filter((r) => r.kind === 'interval');
    if (done.length > table.length) {
      const stats = done[table.length]!;
      table.push({ round: table.length + 1, stats, sandboxCalls: byOp() });
      log(
        `round ${table.length}: pods ${stats.pods}, distinct ${stats.distinctImages}, evaluated ${stats.evaluated}, AWS calls ${stats.awsCalls}, ${stats.durationMs} ms, report writes ${stats.writes}`,
      );
    }
    await sleep(200);
  }
  const status = readFileSync(`/proc/${peer.pid}/status`, 'utf8');
  const peakRssMb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
  const result = {
    pods: PODS,
    digests: DIGESTS,
    namespaces: NAMESPACES,
    intervalMs: INTERVAL_MS,
    latencyMs: Number(args['latency-ms']),
    peakRssMb,
    rounds: table,
  };
  writeFileSync(join(OUT, 'controller-bench.json'), JSON.stringify(result, null, 1));
  log(`peak RSS of the controller: ${peakRssMb.toFixed(0)} MB`);
  for (const r of table) log(`round ${r.round} sandbox calls by operation: ${JSON.stringify(r.sandboxCalls)}`);
} finally {
  await stopAll();
}
