// The fixture of the AWS events tests (test/events/events.test.ts and
// test/hardening/event-messages.test.ts): images, the policy naming the sandbox's queue,
// EventBridge envelopes as the SQS target delivers them, and replicas polling the queue.
import type { Test } from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { ociImage, startSandbox, type FindingFixture, type Sandbox, type SandboxFixture } from '../../src/dev/sandbox/index.ts';
import { ACCOUNT, REGION } from './harness.ts';
import { startReplica, type Replica } from './fleet.ts';
import { startRedisServer } from './redis-server.ts';

export const xz: FindingFixture = {
  vulnerabilityId: 'CVE-2024-3094',
  severity: 'CRITICAL',
  inspectorScore: 10,
  packages: [{ name: 'xz-utils', version: '5.6.0', fixedInVersion: '5.6.1' }],
};
export const v1 = ociImage({ seed: 'events-app-1', tags: ['1'] });
export const v2 = ociImage({ seed: 'events-app-2', tags: ['2'] });
export const clean = ociImage({ seed: 'events-clean', tags: ['1'] });

export function fixture(): SandboxFixture {
  const repo = (name: string, images: (typeof v1)[]) => ({ name, tagMutability: 'IMMUTABLE' as const, images });
  return {
    defaultAccount: ACCOUNT,
    accounts: { [ACCOUNT]: { regions: { [REGION]: { scanType: 'ENHANCED', repositories: [repo('app', [v1, v2]), repo('clean', [clean])] } } } },
  };
}

export const policy = (queueUrl: string, redisUrl?: string) => `
registries:
  ecr:
    - accountId: "${ACCOUNT}"
checks:
  vulnerabilities: {}
events:
  sqsQueueUrl: ${queueUrl}
  region: ${REGION}
  waitTimeSeconds: 1
${redisUrl ? `cache:\n  shared:\n    url: ${redisUrl}\n    opTimeoutMs: 2000\n` : ''}`;

// EventBridge events as the SQS target delivers them (shapes of the ECR and Inspector user guides).
export const envelope = (source: string, type: string, detail: unknown, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    version: '0',
    id: crypto.randomUUID(),
    'detail-type': type,
    source,
    account: ACCOUNT,
    time: new Date().toISOString(),
    region: REGION,
    resources: [],
    detail,
    ...extra,
  });
export const pushEvent = (repository: string, tag: string, digest: string) =>
  envelope('aws.ecr', 'ECR Image Action', {
    result: 'SUCCESS',
    'repository-name': repository,
    'image-digest': digest,
    'action-type': 'PUSH',
    'image-tag': tag,
  });
export const findingEvent = (repository: string, digest: string) =>
  envelope('aws.inspector2', 'Inspector2 Finding', {
    awsAccountId: ACCOUNT,
    findingArn: `arn:aws:inspector2:${REGION}:${ACCOUNT}:finding/0123456789abcdef`,
    severity: 'CRITICAL',
    status: 'ACTIVE',
    type: 'PACKAGE_VULNERABILITY',
    resources: [
      {
        type: 'AWS_ECR_CONTAINER_IMAGE',
        id: `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/${repository}/${digest}`,
        region: REGION,
        partition: 'aws',
        details: { awsEcrContainerImage: { registry: ACCOUNT, repositoryName: repository, imageHash: digest, imageTags: ['1'] } },
      },
    ],
  });

export async function handled(replicas: Replica[], count: number, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  const total = () => replicas.reduce((n, r) => n + (r.runtime.events?.poller.handled ?? 0), 0);
  while (total() < count) {
    if (Date.now() > until) throw new Error(`only ${total()} of ${count} messages handled`);
    await sleep(10);
  }
  for (const r of replicas) await r.runtime.events?.actions.settled();
}

export async function setup(t: Test, options: { redis?: boolean } = {}) {
  const sandbox: Sandbox = await startSandbox({ fixture: fixture() });
  const queue = sandbox.queues.create('ecr-admission-events');
  const redis = options.redis ? await startRedisServer() : undefined;
  const replicas: Replica[] = [];
  t.teardown(async () => {
    for (const r of replicas) await r.runtime.close();
    await redis?.stop();
    await sandbox.close();
  });
  const replica = async () => {
    const r = await startReplica({ sandbox, policy: policy(queue, redis?.url) });
    replicas.push(r);
    return r;
  };
  return { sandbox, queue, replica };
}
