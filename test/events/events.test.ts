// AWS events through SQS (issue 16): EventBridge events put on a sandbox queue, read by the
// webhook's poller with the real @aws-sdk/client-sqs, acting on the caches that the next
// admission reads. With a shared cache (a real redis-server) one replica's event reaches all.
import t, { type Test } from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { SQSClient } from '@aws-sdk/client-sqs';
import { imageDigest, ociImage, startSandbox, type FindingFixture, type Sandbox, type SandboxFixture } from '../../src/dev/sandbox/index.ts';
import { EventPoller } from '../../src/events/index.ts';
import type { FactEvent } from '../../src/events/envelope.ts';
import { ACCOUNT, HOST, REGION, SANDBOX_CREDENTIALS } from '../helpers/harness.ts';
import { startReplica, type Replica } from '../helpers/fleet.ts';
import { startRedisServer } from '../helpers/redis-server.ts';

const xz: FindingFixture = {
  vulnerabilityId: 'CVE-2024-3094',
  severity: 'CRITICAL',
  inspectorScore: 10,
  packages: [{ name: 'xz-utils', version: '5.6.0', fixedInVersion: '5.6.1' }],
};
const v1 = ociImage({ seed: 'events-app-1', tags: ['1'] });
const v2 = ociImage({ seed: 'events-app-2', tags: ['2'] });
const clean = ociImage({ seed: 'events-clean', tags: ['1'] });

function fixture(): SandboxFixture {
  const repo = (name: string, images: (typeof v1)[]) => ({ name, tagMutability: 'IMMUTABLE' as const, images });
  return {
    defaultAccount: ACCOUNT,
    accounts: { [ACCOUNT]: { regions: { [REGION]: { scanType: 'ENHANCED', repositories: [repo('app', [v1, v2]), repo('clean', [clean])] } } } },
  };
}

const policy = (queueUrl: string, redisUrl?: string) => `
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
const envelope = (source: string, type: string, detail: unknown, extra: Record<string, unknown> = {}) =>
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
const pushEvent = (repository: string, tag: string, digest: string) =>
  envelope('aws.ecr', 'ECR Image Action', {
    result: 'SUCCESS',
    'repository-name': repository,
    'image-digest': digest,
    'action-type': 'PUSH',
    'image-tag': tag,
  });
const findingEvent = (repository: string, digest: string) =>
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

async function handled(replicas: Replica[], count: number, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  const total = () => replicas.reduce((n, r) => n + (r.runtime.events?.poller.handled ?? 0), 0);
  while (total() < count) {
    if (Date.now() > until) throw new Error(`only ${total()} of ${count} messages handled`);
    await sleep(10);
  }
  for (const r of replicas) await r.runtime.events?.actions.settled();
}

async function setup(t: Test, options: { redis?: boolean } = {}) {
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

t.test('a pushed tag is prewarmed: the first admission after the push makes no AWS call', async (t) => {
  const { sandbox, queue, replica } = await setup(t);
  const r = await replica();
  r.runtime.events!.start();
  sandbox.queues.send(queue, pushEvent('app', '2', imageDigest(v2)));
  await handled([r], 1);
  t.same(sandbox.queues.depth(queue), { visible: 0, inFlight: 0 }, 'the message was deleted');
  t.ok(sandbox.calls('ecr:BatchGetImage') >= 1, 'the prewarm read the pushed tag');
  sandbox.resetCalls();
  const outcome = await r.reviewPod([`${HOST}/app:2`]);
  t.equal(outcome.response.allowed, true);
  t.same(
    sandbox.callLog().filter((c) => !c.op.startsWith('sqs:')),
    [],
    'a warm admission: every fact was in the cache',
  );
  t.equal(await r.metric('ecr_admission_events_total', { kind: 'push', outcome: 'applied' }), 1);

  // The same event again (at-least-once delivery): nothing changes, nothing is asked twice.
  sandbox.resetCalls();
  sandbox.queues.send(queue, pushEvent('app', '2', imageDigest(v2)));
  await handled([r], 2);
  t.equal((await r.reviewPod([`${HOST}/app:2`])).response.allowed, true);
  const aws = sandbox.callLog().filter((c) => !c.op.startsWith('sqs:'));
  t.ok(
    aws.every((c) => c.op === 'ecr:BatchGetImage'),
    `a duplicate push only reads the tag again (${aws.map((c) => c.op).join(', ')})`,
  );
  t.ok(aws.length <= 1);
});

t.test('an Inspector finding event turns the next admission into a denial', async (t) => {
  const { sandbox, queue, replica } = await setup(t);
  const r = await replica();
  r.runtime.events!.start();
  t.equal((await r.reviewPod([`${HOST}/clean:1`])).response.allowed, true);
  sandbox.update((f) => {
    f.accounts[ACCOUNT]!.regions[REGION]!.repositories.find((x) => x.name === 'clean')!.images[0]!.findings = [xz];
  });
  t.equal((await r.reviewPod([`${HOST}/clean:1`])).response.allowed, true, 'without the event the cached report stands (findings TTL 300 s)');
  const sent = Date.now();
  sandbox.queues.send(queue, findingEvent('clean', imageDigest(clean)));
  await handled([r], 1);
  const outcome = await r.reviewPod([`${HOST}/clean:1`]);
  t.equal(outcome.response.allowed, false, 'denied once the event is read');
  t.match(outcome.response.status?.message ?? '', /CVE-2024-3094/);
  t.comment(`finding event to denial: ${Date.now() - sent} ms`);
  t.equal(await r.metric('ecr_admission_events_total', { kind: 'finding', outcome: 'applied' }), 1);
});

t.test('a fleet sharing a cache: the replica that reads the finding event drops it for all', async (t) => {
  const { sandbox, queue, replica } = await setup(t, { redis: true });
  const [a, b, c] = [await replica(), await replica(), await replica()];
  for (const r of [a, b, c]) t.equal((await r.reviewPod([`${HOST}/clean:1`])).response.allowed, true);
  sandbox.update((f) => {
    f.accounts[ACCOUNT]!.regions[REGION]!.repositories.find((x) => x.name === 'clean')!.images[0]!.findings = [xz];
  });
  a.runtime.events!.start(); // one poller is enough: SQS gives each message to one of them
  sandbox.queues.send(queue, findingEvent('clean', imageDigest(clean)));
  await handled([a], 1);
  const until = Date.now() + 2000;
  const deniedNow = () => Promise.all([a, b, c].map(async (r) => !(await r.reviewPod([`${HOST}/clean:1`])).response.allowed));
  let denied = await deniedNow();
  while (!denied.every(Boolean) && Date.now() < until) {
    await sleep(20);
    denied = await deniedNow();
  }
  t.same(denied, [true, true, true], 'every replica denies');
});

t.test('malformed, unknown and hostile messages are logged and deleted; the poller carries on', async (t) => {
  const { sandbox, queue, replica } = await setup(t);
  const r = await replica();
  r.runtime.events!.start();
  const bad = [
    'not json',
    '[]',
    JSON.stringify({ hello: 'world' }),
    pushEvent('../../etc/passwd', '2', imageDigest(v2)),
    pushEvent('app', '2', 'sha256:not-a-digest'),
    pushEvent('app', 'a tag with spaces', imageDigest(v2)),
    envelope(
      'aws.ecr',
      'ECR Image Action',
      { result: 'SUCCESS', 'repository-name': 'app', 'image-digest': imageDigest(v2), 'action-type': 'PUSH' },
      { region: 'mars-1' },
    ),
    envelope('aws.inspector2', 'Inspector2 Finding', { resources: 'all of them' }),
    'x'.repeat(300 * 1024),
  ];
  const ignored = [
    envelope('aws.s3', 'Object Created', { bucket: { name: 'b' } }),
    envelope('aws.ecr', 'ECR Image Action', {
      result: 'FAILURE',
      'repository-name': 'app',
      'image-digest': imageDigest(v2),
      'action-type': 'PUSH',
      'image-tag': '2',
    }),
  ];
  for (const body of [...bad, ...ignored]) sandbox.queues.send(queue, body);
  await handled([r], bad.length + ignored.length);
  t.same(sandbox.queues.depth(queue), { visible: 0, inFlight: 0 }, 'every message deleted, none retried');
  t.equal(await r.metric('ecr_admission_events_total', { outcome: 'malformed' }), bad.length);
  t.equal(await r.metric('ecr_admission_events_total', { outcome: 'ignored' }), ignored.length);
  t.same(
    sandbox.callLog().filter((c) => !c.op.startsWith('sqs:')),
    [],
    'no message made an AWS call',
  );
  sandbox.queues.send(queue, pushEvent('app', '2', imageDigest(v2)));
  await handled([r], bad.length + ignored.length + 1);
  t.equal(await r.metric('ecr_admission_events_total', { kind: 'push', outcome: 'applied' }), 1, 'a good message after them is applied');
});

t.test('the poller backs off on receive errors and recovers; stop() ends the long poll', async (t) => {
  const sandbox = await startSandbox({ fixture: fixture() });
  t.teardown(() => sandbox.close());
  const queue = sandbox.queues.create('q');
  const client = new SQSClient({ region: REGION, endpoint: sandbox.url, credentials: SANDBOX_CREDENTIALS, maxAttempts: 1 });
  t.teardown(() => client.destroy());
  const applied: FactEvent[] = [];
  const poller = new EventPoller({
    client,
    queueUrl: queue,
    waitTimeSeconds: 20,
    apply: (e) => {
      applied.push(e);
      return Promise.resolve();
    },
    backoffMs: { first: 100, max: 400 },
  });
  sandbox.inject('sqs:ReceiveMessage', { kind: 'unavailable', times: 4 });
  poller.start();
  sandbox.queues.send(queue, pushEvent('app', '2', imageDigest(v2)));
  const until = Date.now() + 5000;
  while (applied.length === 0 && Date.now() < until) await sleep(10);
  t.equal(applied.length, 1, 'applied after the errors');
  const errorsAndRetry = sandbox.callLog().filter((c) => c.op === 'sqs:ReceiveMessage');
  t.ok(errorsAndRetry.length >= 5, `4 failed receives, then one that worked (${errorsAndRetry.length})`);
  const gaps = errorsAndRetry.slice(1, 5).map((c, i) => c.at - errorsAndRetry[i]!.at);
  t.ok(gaps[1]! >= gaps[0]! && gaps[2]! >= gaps[1]!, `the waits grow (${gaps.join(', ')} ms)`);
  const stopping = Date.now();
  await poller.stop();
  t.ok(Date.now() - stopping < 2000, 'stop() does not wait out a 20 s long poll');
});
