// The fixture of the shared fact cache's tests (test/facts/shared-cache.test.ts and
// test/hardening/shared-cache-poisoning.test.ts): a clean and a vulnerable image, the policy
// naming a redis-server, and a fleet of replicas against one sandbox.
import type { Test } from 'tap';
import { ociImage, startSandbox, type FindingFixture, type Sandbox, type SandboxFixture } from '../../src/dev/sandbox/index.ts';
import { ACCOUNT, REGION } from './harness.ts';
import { startReplica, type Replica } from './fleet.ts';
import type { RedisServer } from './redis-server.ts';

export const xz: FindingFixture = {
  vulnerabilityId: 'CVE-2024-3094',
  severity: 'CRITICAL',
  inspectorScore: 10,
  packages: [{ name: 'xz-utils', version: '5.6.0', fixedInVersion: '5.6.1' }],
};
export const clean = ociImage({ seed: 'shared-clean', tags: ['1'] });
export const crit = ociImage({ seed: 'shared-crit', tags: ['1'], findings: [xz] });
export const WHERE = (repo: string) => `${ACCOUNT}/${REGION}/${repo}`;

export function fixture(): SandboxFixture {
  const repo = (name: string, images: SandboxFixture['accounts'][string]['regions'][string]['repositories'][number]['images']) => ({
    name,
    tagMutability: 'IMMUTABLE' as const,
    images,
  });
  return {
    defaultAccount: ACCOUNT,
    accounts: { [ACCOUNT]: { regions: { [REGION]: { scanType: 'ENHANCED', repositories: [repo('clean', [clean]), repo('crit', [crit])] } } } },
  };
}

export const policy = (redis: RedisServer, extra = '') => `
registries:
  ecr:
    - accountId: "${ACCOUNT}"
checks:
  # Immutability reads the repository fact (DescribeRepositories), shared like the others.
  immutability: true
  vulnerabilities: {}
cache:
  shared:
    url: ${redis.url}
    opTimeoutMs: 2000
${extra}
`;

/** AWS calls per operation since the last reset. */
export function callsByOp(sandbox: Sandbox): Map<string, number> {
  const counts = new Map<string, number>();
  for (const c of sandbox.callLog()) counts.set(c.op, (counts.get(c.op) ?? 0) + 1);
  return counts;
}

export async function fleet(t: Test, redis: RedisServer, options: { env?: Record<string, string>; extra?: string; latencyMs?: number } = {}) {
  const sandbox = await startSandbox({ fixture: fixture(), latencyMs: options.latencyMs ?? 0 });
  const replicas: Replica[] = [];
  t.teardown(async () => {
    for (const r of replicas) await r.runtime.close();
    await sandbox.close();
  });
  const replica = async () => {
    const r = await startReplica({ sandbox, policy: policy(redis, options.extra), ...(options.env && { env: options.env }) });
    replicas.push(r);
    return r;
  };
  return { sandbox, replica };
}
