// AWS events through SQS (issue 16): EventBridge events put on a sandbox queue, read by the
// webhook's poller with the real @aws-sdk/client-sqs, acting on the caches that the next
// admission reads. With a shared cache (a real redis-server) one replica's event reaches all.
// Hostile messages: test/hardening/event-messages.test.ts.
import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { SQSClient } from '@aws-sdk/client-sqs';
import { imageDigest, startSandbox } from '../../src/dev/sandbox/index.ts';
import { EventPoller } from '../../src/events/index.ts';
import type { FactEvent } from '../../src/events/envelope.ts';
import { ACCOUNT, HOST, REGION, SANDBOX_CREDENTIALS } from '../helpers/harness.ts';
import { clean, findingEvent, fixture, handled, pushEvent, setup, v2, xz } from '../helpers/events-fixture.ts';

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
