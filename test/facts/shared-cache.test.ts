// The fleet's shared fact cache (issue 16) against a real redis-server (Debian's, installed by
// scripts/tools/ensure-redis.sh): replicas that are separate runtimes (own fact cache, AWS
// clients, Redis connections) against one AWS sandbox, counted at the sandbox. Poisoned
// entries: test/hardening/shared-cache-poisoning.test.ts.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { imageDigest, startSandbox } from '../../src/dev/sandbox/index.ts';
import { digestGroup } from '../../src/facts/shared-cache/index.ts';
import { ACCOUNT, HOST, REGION } from '../helpers/harness.ts';
import { startReplica, type Replica } from '../helpers/fleet.ts';
import { startRedisServer } from '../helpers/redis-server.ts';
import { WHERE, callsByOp, clean, fixture, fleet, policy, xz } from '../helpers/shared-cache-fixture.ts';

t.test('two replicas admitting the same image at once make one AWS call per fact; a third makes none', async (t) => {
  const redis = await startRedisServer();
  t.teardown(() => redis.stop());
  const { sandbox, replica } = await fleet(t, redis, { latencyMs: 100 });
  const [a, b] = [await replica(), await replica()];
  const both = await Promise.all([a.reviewPod([`${HOST}/clean:1`]), b.reviewPod([`${HOST}/clean:1`])]);
  t.same(
    both.map((o) => o.response.allowed),
    [true, true],
  );
  const calls = callsByOp(sandbox);
  t.ok(calls.size >= 4, `the admission needed several facts (${[...calls.keys()].join(', ')})`);
  for (const [op, n] of calls) t.equal(n, 1, `${op}: one call for two replicas`);
  const shared = async (r: Replica, event: string) => r.metric('ecr_admission_shared_cache_events_total', { event });
  t.ok((await shared(a, 'waited')) + (await shared(b, 'waited')) > 0);

  sandbox.resetCalls();
  const c = await replica();
  const third = await c.reviewPod([`${HOST}/clean:1`]);
  t.equal(third.response.allowed, true);
  t.equal(sandbox.callLog().length, 0, 'a replica that starts later reads every fact from the shared level');
  t.equal(await c.metric('ecr_admission_shared_cache_degraded'), 0);
});

t.test('repository facts (immutability, posture) are shared too: one DescribeRepositories for two replicas', async (t) => {
  // DescribeRepositories always returns encryptionConfiguration; a shape without it refused
  // every shared repository record, and each replica asked AWS again.
  const redis = await startRedisServer();
  t.teardown(() => redis.stop());
  const { sandbox, replica } = await fleet(t, redis, { latencyMs: 50 });
  const a = await replica();
  t.equal((await a.reviewPod([`${HOST}/clean:1`])).response.allowed, true);
  t.equal(callsByOp(sandbox).get('ecr:DescribeRepositories'), 1, 'the first replica asks AWS');
  sandbox.resetCalls();
  const b = await replica();
  t.equal((await b.reviewPod([`${HOST}/clean:1`])).response.allowed, true);
  t.same([...callsByOp(sandbox)], [], 'the second reads every fact, the repository too, from the shared level');
});

t.test('the server killed mid-load and restarted: every admission decides, in time; the level comes back', async (t) => {
  const redis = await startRedisServer();
  t.teardown(() => redis.stop());
  const budgetMs = 5000;
  const { sandbox, replica } = await fleet(t, redis, { latencyMs: 300 });
  const [a, b, c] = [await replica(), await replica(), await replica()];
  const started = Date.now();
  const reviews = Promise.all([a, b, c].map((r) => r.reviewPod([`${HOST}/crit:1`, `${HOST}/clean:1`])));
  await sleep(150);
  await redis.kill();
  const outcomes = await reviews;
  const elapsed = Date.now() - started;
  for (const o of outcomes) {
    t.equal(o.response.allowed, false, 'denied for crit, as AWS says');
    t.equal(o.images[0]?.results.find((x) => x.check === 'vulnerabilities')?.status, 'fail');
    t.equal(o.images[1]?.results.find((x) => x.check === 'vulnerabilities')?.status, 'pass', 'clean still passes: a decision, not an error');
  }
  t.ok(elapsed < budgetMs, `all decided within the budget (${elapsed} ms)`);
  const degraded = (await Promise.all([a, b, c].map((r) => r.metric('ecr_admission_shared_cache_degraded')))).reduce((x, y) => x + y, 0);
  t.ok(degraded >= 1, 'the level is reported degraded');

  await redis.restart();
  // The replicas reconnect by themselves; once the pause after the failure is over they share again.
  const until = Date.now() + 10_000;
  let recovered = false;
  while (Date.now() < until && !recovered) {
    await sleep(200);
    await a.reviewPod([`${HOST}/clean:1`]);
    recovered = (await a.metric('ecr_admission_shared_cache_degraded')) === 0 && a.runtime.shared?.degraded === false;
  }
  t.ok(recovered, 'the shared level is used again after the restart');
  const d = await replica();
  t.equal((await d.reviewPod([`${HOST}/clean:1`])).response.allowed, true);
  sandbox.resetCalls();
  const e = await replica();
  t.equal((await e.reviewPod([`${HOST}/clean:1`])).response.allowed, true);
  t.equal(sandbox.callLog().length, 0, 'after the restart a new replica reads the facts another stored');
});

t.test('a drop in one replica reaches the others (pub/sub), and outdates the stored record', async (t) => {
  const redis = await startRedisServer();
  t.teardown(() => redis.stop());
  const { sandbox, replica } = await fleet(t, redis);
  const [a, b] = [await replica(), await replica()];
  t.equal((await a.reviewPod([`${HOST}/clean:1`])).response.allowed, true);
  t.equal((await b.reviewPod([`${HOST}/clean:1`])).response.allowed, true);
  sandbox.update((f) => {
    const img = f.accounts[ACCOUNT]!.regions[REGION]!.repositories.find((r) => r.name === 'clean')!.images[0]!;
    img.findings = [xz];
  });
  t.equal((await b.reviewPod([`${HOST}/clean:1`])).response.allowed, true, 'before the drop, the cached report stands');
  await a.runtime.shared!.drop([digestGroup(WHERE('clean'), imageDigest(clean))]);
  const until = Date.now() + 2000;
  let denied = false;
  while (Date.now() < until && !denied) {
    denied = !(await b.reviewPod([`${HOST}/clean:1`])).response.allowed;
    if (!denied) await sleep(20);
  }
  t.ok(denied, 'the other replica dropped its copy and the outdated shared record');
});

t.test('AUTH (requirepass) and TLS (rediss://): shared; a wrong password degrades, admissions still decide', async (t) => {
  const redis = await startRedisServer({ password: 's3cret pass', tls: true });
  t.teardown(() => redis.stop());
  const caFile = join(t.testdir(), 'ca.pem');
  writeFileSync(caFile, redis.caPem!);
  const sb = await startSandbox({ fixture: fixture() });
  t.teardown(() => sb.close());
  const text = policy(redis, `    caFile: ${caFile}`);
  const make = async (password: string) => {
    const r = await startReplica({
      sandbox: sb,
      policy: text,
      env: { ECR_ADMISSION_SHARED_CACHE_PASSWORD: password },
      awaitShared: password === 's3cret pass',
    });
    t.teardown(() => r.runtime.close());
    return r;
  };
  t.equal((await (await make('s3cret pass')).reviewPod([`${HOST}/clean:1`])).response.allowed, true);
  sb.resetCalls();
  const second = await make('s3cret pass');
  t.equal((await second.reviewPod([`${HOST}/clean:1`])).response.allowed, true);
  t.equal(sb.callLog().length, 0, 'the second replica read every fact over TLS, authenticated');
  const wrong = await make('not the password');
  await sleep(300);
  const outcome = await wrong.reviewPod([`${HOST}/crit:1`]);
  t.equal(outcome.response.allowed, false, 'decided from AWS');
  t.equal(await wrong.metric('ecr_admission_shared_cache_degraded'), 1);
});
