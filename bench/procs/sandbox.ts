// The benchmark's AWS sandbox, in its own process so that its CPU is not the webhook's: the
// fixture of buildWorld(layout) on one port, and a small control API on another for the
// orchestrator (call counters, latency, faults). Prints one JSON line when ready:
//   {"sandboxUrl": ..., "controlUrl": ..., "trustStorePath": ..., "images": N, "buildMs": ...}
// Usage: node bench/procs/sandbox.ts '{"dir": "...", "layout": {...}, "latencyMs": 20, "seed": 1}'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { imageDigest, startSandbox, type Fault } from '../../src/dev/sandbox/index.ts';
import { buildWorld, type WorldLayout } from '../lib/fixture.ts';
import { seededRandom } from '../lib/random.ts';

interface Options {
  readonly dir: string;
  readonly layout: WorldLayout;
  readonly latencyMs: number;
  readonly seed: number;
}

/** Every operation the webhook can call, so per-operation counts need no call log. */
export const OPERATIONS = [
  'ecr:BatchGetImage',
  'ecr:DescribeRepositories',
  'ecr:DescribeImages',
  'ecr:ListImageReferrers',
  'ecr:GetDownloadUrlForLayer',
  'ecr:GetRegistryScanningConfiguration',
  'ecr:DescribeImageSigningStatus',
  'ecr:DescribeImageScanFindings',
  'ecr:GetAuthorizationToken',
  'inspector2:ListFindings',
  'inspector2:ListCoverage',
  'signer:GetRevocationStatus',
  'layer:GET',
] as const;

const options = JSON.parse(process.argv[2] ?? '{}') as Options;
const t0 = performance.now();
const world = await buildWorld(options.layout, options.dir);
const buildMs = Math.round(performance.now() - t0);
const sandbox = await startSandbox({ fixture: world.fixture, latencyMs: options.latencyMs, random: seededRandom(options.seed) });

async function body(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
}

function counts() {
  const byOp: Record<string, number> = {};
  for (const op of OPERATIONS) {
    const n = sandbox.calls(op);
    if (n > 0) byOp[op] = n;
  }
  const total = sandbox.calls();
  const named = Object.values(byOp).reduce((a, b) => a + b, 0);
  if (total > named) byOp.other = total - named;
  // From the call log (its last 100,000 entries): how many calls were faults, and
  // the distinct requests among them (operation + input): the facts asked for.
  const byStatus: Record<string, number> = {};
  const distinct = new Set<string>();
  for (const r of sandbox.callLog()) {
    byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
    distinct.add(`${r.op} ${JSON.stringify(r.input)}`);
  }
  return { total, byOp, byStatus, distinct: distinct.size };
}

/** Every distinct request's call times (ms), and whether it resolves a tag (BatchGetImage by
 *  imageTag): the facts whose lifetime is the policy's mutableTag TTL (bench/lib/lifetimes.ts). */
function requests(): Array<{ op: string; tag: boolean; at: number[] }> {
  const byKey = new Map<string, { op: string; tag: boolean; at: number[] }>();
  for (const r of sandbox.callLog()) {
    const key = `${r.op} ${JSON.stringify(r.input)}`;
    let entry = byKey.get(key);
    if (entry === undefined) {
      const ids = (r.input as { imageIds?: Array<{ imageTag?: unknown }> } | undefined)?.imageIds;
      entry = { op: r.op, tag: r.op === 'ecr:BatchGetImage' && (ids ?? []).some((id) => id.imageTag !== undefined), at: [] };
      byKey.set(key, entry);
    }
    entry.at.push(r.at);
  }
  return [...byKey.values()];
}

async function control(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const route = `${req.method} ${req.url}`;
  let out: unknown = { ok: true };
  switch (route) {
    case 'GET /calls':
      out = counts();
      break;
    case 'GET /requests':
      out = requests();
      break;
    case 'POST /reset':
      sandbox.resetCalls();
      break;
    case 'POST /latency':
      sandbox.setLatency(((await body(req)) as { ms: number }).ms);
      break;
    case 'POST /fault': {
      const { op, fault } = (await body(req)) as { op: string; fault: Fault };
      sandbox.inject(op, fault);
      break;
    }
    case 'POST /clear-faults':
      sandbox.clearFaults();
      break;
    // Issue 16 (bench/scenarios/fleet.ts): a queue EventBridge would feed, an event on it, and
    // a new CRITICAL finding on every image of a repository (returns their digests).
    case 'POST /queue': {
      const { name, region } = (await body(req)) as { name: string; region: string };
      out = { url: sandbox.queues.create(name, { region }) };
      break;
    }
    case 'POST /send': {
      const { url, body: message } = (await body(req)) as { url: string; body: string };
      sandbox.queues.send(url, message);
      break;
    }
    case 'POST /add-finding': {
      const { region, repository } = (await body(req)) as { region: string; repository: string };
      const digests: string[] = [];
      sandbox.update((f) => {
        for (const account of Object.values(f.accounts)) {
          const repo = account.regions[region]?.repositories.find((r) => r.name === repository);
          for (const image of repo?.images ?? []) {
            image.findings = [
              ...(image.findings ?? []),
              { vulnerabilityId: 'CVE-2026-0001', severity: 'CRITICAL', inspectorScore: 9.8, packages: [{ name: 'libbench', version: '1.0' }] },
            ];
            digests.push(imageDigest(image));
          }
        }
      });
      out = { digests };
      break;
    }
    default:
      res.writeHead(404).end();
      return;
  }
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(out));
}

const server = createServer((req, res) => {
  control(req, res).catch((e: unknown) => res.writeHead(500).end(String(e)));
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address() as AddressInfo;
process.stdout.write(
  `${JSON.stringify({ sandboxUrl: sandbox.url, controlUrl: `http://127.0.0.1:${port}`, trustStorePath: world.trustStorePath, images: world.images, buildMs })}\n`,
);

const stop = () => {
  server.close();
  void sandbox.close().then(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
