// The fleet's shared fact cache (issue 16) against a real redis-server (Debian's, installed by
// scripts/tools/ensure-redis.sh): replicas that are separate runtimes (own fact cache, AWS
// clients, Redis connections) against one AWS sandbox, counted at the sandbox.
import t, { type Test } from 'tap';
import { Redis } from 'iovalkey';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { imageDigest, ociImage, startSandbox, type FindingFixture, type Sandbox, type SandboxFixture } from '../../src/dev/sandbox/index.ts';
import { RecordCodec } from '../../src/facts/shared-cache/records.ts';
import { digestGroup } from '../../src/facts/shared-cache/index.ts';
import { ACCOUNT, HOST, REGION } from '../helpers/harness.ts';
import { startReplica, type Replica } from '../helpers/fleet.ts';
import { startRedisServer, type RedisServer } from '../helpers/redis-server.ts';

const xz: FindingFixture = {
  vulnerabilityId: 'CVE-2024-3094',
  severity: 'CRITICAL',
  inspectorScore: 10,
  packages: [{ name: 'xz-utils', version: '5.6.0', fixedInVersion: '5.6.1' }],
};
const clean = ociImage({ seed: 'shared-clean', tags: ['1'] });
const crit = ociImage({ seed: 'shared-crit', tags: ['1'], findings: [xz] });
const WHERE = (repo: string) => `${ACCOUNT}/${REGION}/${repo}`;

function fixture(): SandboxFixture {
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

const policy = (redis: RedisServer, extra = '') => `
registries:
  ecr:
    - accountId: "${ACCOUNT}"
checks:
  vulnerabilities: {}
cache:
  shared:
    url: ${redis.url}
    opTimeoutMs: 2000
${extra}
`;

/** AWS calls per operation since the last reset. */
function callsByOp(sandbox: Sandbox): Map<string, number> {
  const counts = new Map<string, number>();
  for (const c of sandbox.callLog()) counts.set(c.op, (counts.get(c.op) ?? 0) + 1);
  return counts;
}

async function fleet(t: Test, redis: RedisServer, options: { env?: Record<string, string>; extra?: string; latencyMs?: number } = {}) {
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

t.test('poisoned entries are misses: nothing the real facts deny is admitted', async (t) => {
  const redis = await startRedisServer();
  t.teardown(() => redis.stop());
  const raw = new Redis({ host: '127.0.0.1', port: redis.port });
  t.teardown(() => raw.disconnect());
  const codec = new RecordCodec('ecr-admission:', undefined);
  const { replica } = await fleet(t, redis);
  t.equal((await (await replica()).reviewPod([`${HOST}/clean:1`])).response.allowed, true);

  // The clean image's stored report, as a writer of the server would find it.
  const records = await Promise.all((await raw.keys('ecr-admission:f:*')).map(async (k) => ({ k, raw: (await raw.get(k))! })));
  const report = records
    .map((r) => ({ ...r, json: JSON.parse(r.raw.slice(r.raw.indexOf('.') + 1)) as { k: string; f: string; v: unknown } }))
    .find((r) => r.json.f === 'vulnerabilities');
  t.ok(report, 'the clean report is in the shared level');
  const critKey = report!.json.k.replace(`${WHERE('clean')}@${imageDigest(clean)}`, `${WHERE('crit')}@${imageDigest(crit)}`);
  t.not(critKey, report!.json.k);
  const critGroup = digestGroup(WHERE('crit'), imageDigest(crit));
  const forged = (value: unknown) => `-.${JSON.stringify({ k: critKey, f: 'vulnerabilities', v: value, g: { [critGroup]: 0 }, x: Date.now() + 600_000 })}`;
  const cleanReport = report!.json.v as { manifests: { digest: string }[] };
  const poisons: Record<string, string> = {
    'the clean record copied under the vulnerable key': report!.raw,
    'a clean report of the other digest under the right key': forged(cleanReport),
    'a report with an unknown member': forged({ ...cleanReport, allow: true }),
    'a report whose finding list is not a list': forged({ ...cleanReport, findings: 'none' }),
    'bytes that are not JSON': '-.{"k":',
    'a record without a MAC separator': 'garbage',
  };
  for (const [what, value] of Object.entries(poisons)) {
    await raw.set(codec.factKey('vulnerabilities', critKey), value, 'PX', 600_000);
    const r = await replica();
    const outcome = await r.reviewPod([`${HOST}/crit:1`]);
    t.equal(outcome.response.allowed, false, `${what}: the vulnerable image is still denied`);
    t.equal(await r.metric('ecr_admission_shared_cache_events_total', { fact: 'vulnerabilities', event: 'invalid' }), 1, `${what}: counted invalid`);
  }
});

t.test('with an HMAC key, a well-formed clean report forged for the vulnerable digest is a miss', async (t) => {
  const redis = await startRedisServer();
  t.teardown(() => redis.stop());
  const raw = new Redis({ host: '127.0.0.1', port: redis.port });
  t.teardown(() => raw.disconnect());
  const env = { ECR_ADMISSION_SHARED_CACHE_HMAC_KEY: 'fleet-secret-of-this-test' };
  const { replica } = await fleet(t, redis, { env });
  t.equal((await (await replica()).reviewPod([`${HOST}/crit:1`])).response.allowed, false);
  // Every vulnerabilities record rewritten as a writer without the key would: clean, same key.
  let rewritten = 0;
  for (const k of await raw.keys('ecr-admission:f:*')) {
    const value = (await raw.get(k))!;
    const json = JSON.parse(value.slice(value.indexOf('.') + 1)) as { f: string; v: { findings: unknown[] } };
    if (json.f !== 'vulnerabilities') continue;
    json.v.findings = [];
    await raw.set(k, `-.${JSON.stringify(json)}`, 'PX', 600_000);
    rewritten++;
  }
  t.equal(rewritten, 1);
  const r = await replica();
  t.equal((await r.reviewPod([`${HOST}/crit:1`])).response.allowed, false, 'the forged report does not admit');
  t.equal(await r.metric('ecr_admission_shared_cache_events_total', { fact: 'vulnerabilities', event: 'invalid' }), 1);
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
