// Attacker class: whoever can write to the shared fact cache (issue 16). A record under a
// vulnerable image's key that is a copy of a clean image's, of the wrong shape, not JSON, or
// (with the fleet's HMAC key) a well-formed forgery is a miss: the image is denied as AWS says.
import t from 'tap';
import { Redis } from 'iovalkey';
import { imageDigest } from '../../src/dev/sandbox/index.ts';
import { MAX_RECORD_BYTES, RecordCodec } from '../../src/facts/shared-cache/records.ts';
import { digestGroup } from '../../src/facts/shared-cache/index.ts';
import { HOST } from '../helpers/harness.ts';
import { startRedisServer } from '../helpers/redis-server.ts';
import { WHERE, clean, crit, fleet } from '../helpers/shared-cache-fixture.ts';

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
    // Read as a miss, then once more after taking the lock: counted each time it is read.
    t.ok((await r.metric('ecr_admission_shared_cache_events_total', { fact: 'vulnerabilities', event: 'invalid' })) >= 1, `${what}: counted invalid`);
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
  t.ok((await r.metric('ecr_admission_shared_cache_events_total', { fact: 'vulnerabilities', event: 'invalid' })) >= 1, 'counted invalid');
});

// Attacker class: a writer of the server who makes values huge (a server takes strings of up to
// 512 MB). A record past MAX_RECORD_BYTES, or a version key that is not a version, is a miss
// like any other poison, and is not read in full: the server sends a replica at most one byte
// more than a record may be, measured by the server's own count of the bytes it sent.
t.test('an oversized record or version is a miss, read no further than the bound', async (t) => {
  const redis = await startRedisServer();
  t.teardown(() => redis.stop());
  const raw = new Redis({ host: '127.0.0.1', port: redis.port });
  t.teardown(() => raw.disconnect());
  const codec = new RecordCodec('ecr-admission:', undefined);
  const { replica } = await fleet(t, redis);
  t.equal((await (await replica()).reviewPod([`${HOST}/crit:1`])).response.allowed, false, 'AWS says crit is vulnerable');
  const sentBytes = async () => Number(/total_net_output_bytes:(\d+)/.exec(await raw.info('stats'))![1]);
  const huge = 'x'.repeat(8 * MAX_RECORD_BYTES);

  // Every record of crit's facts made huge: each is read (a miss, then again under the lock).
  const keys = await raw.keys('ecr-admission:f:*');
  t.ok(keys.length >= 3, 'crit has records in the shared level');
  for (const k of keys) await raw.set(k, huge, 'PX', 600_000);
  const before = await sentBytes();
  const r = await replica();
  t.equal((await r.reviewPod([`${HOST}/crit:1`])).response.allowed, false, 'huge records: still denied');
  const sent = (await sentBytes()) - before;
  const reads = await r.metric('ecr_admission_shared_cache_events_total', { event: 'invalid' });
  t.ok(reads >= keys.length, `every huge record counted invalid (${reads} reads)`);
  // Each read costs at most MAX_RECORD_BYTES + 1 bytes of value; GET would have sent 8 times that.
  t.ok(sent <= reads * (MAX_RECORD_BYTES + 1) + 1024 * 1024, `the server sent ${sent} bytes for ${reads} reads of ${huge.length}-byte values`);

  // A version key that is not a version: a record loaded under it is never current.
  const critGroup = digestGroup(WHERE('crit'), imageDigest(crit));
  await raw.set(codec.versionKey(critGroup), `7${huge}`);
  const beforeVersion = await sentBytes();
  t.equal((await (await replica()).reviewPod([`${HOST}/crit:1`])).response.allowed, false, 'a huge version: still denied');
  t.ok((await sentBytes()) - beforeVersion < 1024 * 1024, 'the version key is not read in full');
});
