// The benchmark's AWS world: one account, images in named groups spread over repositories
// (all IMMUTABLE, so tags are trusted for the long TTL) and regions, every image signed and
// scanned (images.ts). Image names are a pure function of (group, index), so the orchestrator
// names images without asking the sandbox process.
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { buildAwsSignerShapedChain } from '../../src/dev/notation/testchain.ts';
import type { ImageFixture, RegionFixture, RepositoryFixture, SandboxFixture } from '../../src/dev/sandbox/index.ts';
import { BENCH_ACCOUNT, BENCH_PROFILE, BENCH_REGION, makeSignedImage, type ImageSpec } from './images.ts';

export { BENCH_ACCOUNT, BENCH_PROFILE, BENCH_REGION };

export interface GroupLayout {
  readonly count: number;
  /** Images (tags) per repository; 1 makes every image's repository facts cold too. */
  readonly perRepository: number;
  /** Regions the group's repositories are spread over, round robin (default [BENCH_REGION]). */
  readonly regions?: readonly string[];
  /** Give every image two Inspector findings below the denied severity (default true). */
  readonly findings?: boolean;
}

export type WorldLayout = Readonly<Record<string, GroupLayout>>;

/** Where image `i` of a group lives, as buildWorld lays it out. */
function placement(group: string, layout: GroupLayout, i: number): { region: string; repository: string; tag: string } {
  const r = Math.floor(i / layout.perRepository);
  const regions = layout.regions ?? [BENCH_REGION];
  return { region: regions[r % regions.length]!, repository: `bench/${group}-${r}`, tag: `v${i % layout.perRepository}` };
}

/** The image reference of image `i` of `group`. */
export function imageRef(group: string, layout: GroupLayout, i: number): string {
  const p = placement(group, layout, i);
  return `${BENCH_ACCOUNT}.dkr.ecr.${p.region}.amazonaws.com/${p.repository}:${p.tag}`;
}

/** Regions with a registry, so the policy can allow them all. */
export function regionsOf(layout: WorldLayout): string[] {
  return [...new Set([BENCH_REGION, ...Object.values(layout).flatMap((g) => g.regions ?? [])])];
}

export interface BenchWorld {
  readonly fixture: SandboxFixture;
  readonly trustStorePath: string;
  readonly images: number;
}

function signInWorkers(specs: ImageSpec[], signing: { certificates: Uint8Array[]; leafKey: unknown; signingTime: Date }): Promise<ImageFixture[]> {
  const workers = Math.max(1, Math.min(availableParallelism(), Math.ceil(specs.length / 500)));
  const size = Math.ceil(specs.length / workers);
  const parts = Array.from({ length: workers }, (_, w) => specs.slice(w * size, (w + 1) * size));
  return Promise.all(
    parts.map(
      (part) =>
        new Promise<ImageFixture[]>((resolve, reject) => {
          const worker = new Worker(new URL('./sign-worker.ts', import.meta.url), { workerData: { ...signing, specs: part } });
          worker.once('message', (images: ImageFixture[]) => resolve(images));
          worker.once('error', reject);
          worker.once('exit', (code) => {
            if (code !== 0) reject(new Error(`sign worker exited with ${code}`));
          });
        }),
    ),
  ).then((lists) => lists.flat());
}

export async function buildWorld(layout: WorldLayout, dir: string): Promise<BenchWorld> {
  const chain = await buildAwsSignerShapedChain({ leafValidityDays: 30 });
  mkdirSync(dir, { recursive: true });
  const trustStorePath = join(dir, 'bench-signer-root.pem');
  writeFileSync(trustStorePath, chain.rootPem);
  const signing = { certificates: chain.certificates, leafKey: chain.leafKey, signingTime: new Date() };

  const specs: ImageSpec[] = [];
  const where: Array<{ region: string; repository: string }> = [];
  for (const [group, g] of Object.entries(layout)) {
    for (let i = 0; i < g.count; i++) {
      const p = placement(group, g, i);
      specs.push({ seed: `${group}-${i}`, tag: p.tag, n: specs.length, findings: g.findings ?? true });
      where.push(p);
    }
  }
  const images = specs.length > 500 ? await signInWorkers(specs, signing) : specs.map((s) => makeSignedImage(s, signing));

  const regions: Record<string, RegionFixture> = {};
  const repos = new Map<string, RepositoryFixture>();
  images.forEach((image, i) => {
    const { region, repository } = where[i]!;
    const key = `${region}/${repository}`;
    let repo = repos.get(key);
    if (!repo) {
      repo = { name: repository, tagMutability: 'IMMUTABLE', images: [] };
      repos.set(key, repo);
      regions[region] ??= { scanType: 'ENHANCED', scanningRules: [{ scanFrequency: 'CONTINUOUS_SCAN', filters: ['*'] }], repositories: [] };
      regions[region].repositories.push(repo);
    }
    repo.images.push(image);
  });
  const fixture: SandboxFixture = { defaultAccount: BENCH_ACCOUNT, defaultRegion: BENCH_REGION, accounts: { [BENCH_ACCOUNT]: { regions } } };
  return { fixture, trustStorePath, images: images.length };
}

/** The policy the scenarios serve: every check on, as a production policy has them (ecrOnly:
 *  origin, digest and immutability, the scope of issue 3's ECR-facts figures). */
export function benchPolicy(trustStorePath: string, options: { maxEntries: number; regions: readonly string[]; ecrOnly?: boolean }): string {
  const checks = options.ecrOnly
    ? '  immutability: true\n'
    : `  immutability: true
  signature:
    trustStores: [{ type: signingAuthority, path: ${JSON.stringify(trustStorePath)} }]
    trustedIdentities: ["${BENCH_PROFILE}"]
    revocation: enforce
  vulnerabilities:
    denySeverities: [CRITICAL]
    notScanned: deny
`;
  return `mode: enforce
onError: deny
registries:
  ecr:
    - accountId: "${BENCH_ACCOUNT}"
      regions: [${options.regions.join(', ')}]
namespaces:
  exclude: [kube-system]
checks:
${checks}cache:
  maxEntries: ${options.maxEntries}
`;
}
