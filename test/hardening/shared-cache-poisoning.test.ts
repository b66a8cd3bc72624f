// Attacker class: whoever can write to the shared fact cache (issue 16). A record under a
// vulnerable image's key that is a copy of a clean image's, of the wrong shape, not JSON, or
// (with the fleet's HMAC key) a well-formed forgery is a miss: the image is denied as AWS says.
import t, { type Test } from 'tap';
import { Redis } from 'iovalkey';
import { imageDigest } from '../../src/dev/sandbox/index.ts';
import { MAX_RECORD_BYTES, RecordCodec } from '../../src/facts/shared-cache/records.ts';
import { digestGroup, SharedFactCache } from '../../src/facts/shared-cache/index.ts';
import { connect } from '../../src/facts/shared-cache/client.ts';
import { createMetrics } from '../../src/support/metrics.ts';
import { startRedisServer } from '../helpers/redis-server.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { ACCOUNT, HOST, REGION } from '../helpers/harness.ts';
import { WHERE, clean, crit, fleet, xz } from '../helpers/shared-cache-fixture.ts';

const SECRET = 'fleet-secret-of-this-test';

/** A redis-server, a raw client of it (the attacker's), a codec for its key names, and a fleet
 *  of replicas against it, with the fleet's HMAC key when `keyed`. */
async function world(t: Test, keyed = false) {
  const redis = await startRedisServer();
  t.teardown(() => redis.stop());
  const raw = new Redis({ host: '127.0.0.1', port: redis.port });
  t.teardown(() => raw.disconnect());
  const codec = new RecordCodec('ecr-admission:', undefined);
  const { sandbox, replica } = await fleet(t, redis, keyed ? { env: { ECR_ADMISSION_SHARED_CACHE_HMAC_KEY: SECRET } } : {});
  return { raw, codec, sandbox, replica };
}

t.test('poisoned entries are misses: nothing the real facts deny is admitted', async (t) => {
  const { raw, codec, replica } = await world(t);
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
  const { raw, replica } = await world(t, true);
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
  const { raw, codec, replica } = await world(t);
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

// Attacker class: a client of the server that may PUBLISH. The client's parser reads a pub/sub
// message whole before any handler sees it, and the server passes on up to its pubsub output
// limit (32 MB by default): past the longest message a replica reads (about 1 MB) the
// subscription is dropped and made again, so the message is never read whole, and the next
// one is read as before.
for (const tls of [false, true]) {
  t.test(`a pub/sub message past the bound is never read whole, on every connection; the subscription comes back${tls ? ' (TLS)' : ''}`, async (t) => {
    const redis = await startRedisServer({ tls });
    t.teardown(() => redis.stop());
    const raw = new Redis({ host: '127.0.0.1', port: redis.port, ...(tls && { tls: { ca: redis.caPem! } }) });
    t.teardown(() => raw.disconnect());
    const { commands, subscriber } = connect({ url: redis.url, opTimeoutMs: 1_000, ...(tls && { caPem: redis.caPem! }) });
    const metrics = createMetrics();
    const drops: Array<ReadonlySet<string> | 'all'> = [];
    const cache = new SharedFactCache({
      commands,
      subscriber,
      prefix: 'ecr-admission:',
      opTimeoutMs: 1_000,
      lockMs: 2_000,
      metrics,
      onDrop: (g) => drops.push(g),
    });
    t.teardown(() => cache.close());
    t.equal(await cache.ready(), true);
    // Every message the subscriber's client parsed in full, by size.
    const parsed: number[] = [];
    subscriber.on('messageBuffer', (_channel: Buffer, message: Buffer) => parsed.push(message.length));
    const { dropChannel } = new RecordCodec('ecr-admission:', undefined);
    const until = async (what: string, done: () => boolean) => {
      for (let i = 0; i < 400 && !done(); i++) await sleep(25);
      t.ok(done(), what);
    };
    const oversized = async () =>
      (await metrics.registry.getSingleMetric('ecr_admission_shared_cache_events_total')!.get()).values.find(
        (v) => v.labels.fact === 'pubsub' && v.labels.event === 'oversized',
      )?.value;

    // Twice: the bound holds on the connection made again after the first, too.
    const huge = 'x'.repeat(16 * 1024 * 1024);
    for (const n of [1, 2]) {
      t.equal(await raw.publish(dropChannel, huge), 1, `message ${n}: the server passes it on`);
      await until(
        `message ${n}: the subscription was made again (a drop of "all": what was published meanwhile is missed)`,
        () => drops.filter((d) => d === 'all').length === n,
      );
      t.equal(await oversized(), n, `message ${n}: counted, fact="pubsub", event="oversized"`);
    }
    t.same(parsed, [], 'neither 16 MiB message was ever read whole');

    // A drop of the largest size read, and one of the usual size: both still arrive.
    const groups = Array.from({ length: 1_000 }, (_, i) => `g${i}:${'y'.repeat(900)}`);
    await raw.publish(dropChannel, JSON.stringify({ groups }));
    await raw.publish(dropChannel, JSON.stringify({ groups: ['g-after'] }));
    await until('the drop after it is read', () => drops.some((d) => d !== 'all' && d.has('g-after')));
    t.ok(
      drops.some((d) => d !== 'all' && d.size === 1_000),
      'a drop message of nearly 1 MB is read',
    );
    t.equal(parsed.length, 2);
  });
}

// Attacker class: a writer of the server without the fleet's HMAC key, against a fleet that has
// one. It cannot forge a record, but it can keep one (the clean report of an image from before
// its CVE was found) and put it back after an event, rolling the version key back to the version
// that record names, then publish a drop so that replicas read the shared level again. A replica
// that has seen the newer version holds it as a floor: the rolled-back version is never current.
t.test('with an HMAC key, an old record replayed under a rolled-back version is a miss', async (t) => {
  const { raw, codec, sandbox, replica } = await world(t, true);
  const r = await replica();
  t.equal((await r.reviewPod([`${HOST}/clean:1`])).response.allowed, true, 'clean, as AWS says');
  const group = digestGroup(WHERE('clean'), imageDigest(clean));
  const kept = new Map<string, string>();
  for (const k of await raw.keys('ecr-admission:f:*')) kept.set(k, (await raw.get(k))!);
  t.ok(kept.size > 0, 'the clean records, as a writer of the server keeps them');

  // The CVE is found: Inspector's event bumps the group's version; the replica reloads and denies.
  sandbox.update((f) => {
    f.accounts[ACCOUNT]!.regions[REGION]!.repositories.find((repo) => repo.name === 'clean')!.images[0]!.findings = [xz];
  });
  await r.runtime.shared!.drop([group]);
  t.equal(await raw.get(codec.versionKey(group)), '1');
  t.equal((await r.reviewPod([`${HOST}/clean:1`])).response.allowed, false, 'denied once the event is in');

  // The replay: the old records back, the version rolled back to theirs, a drop to make the
  // replica read them.
  for (const [k, v] of kept) await raw.set(k, v, 'PX', 600_000);
  await raw.del(codec.versionKey(group));
  await raw.publish(codec.dropChannel, JSON.stringify({ groups: [group] }));
  await sleep(200);
  t.equal((await r.reviewPod([`${HOST}/clean:1`])).response.allowed, false, 'the replayed clean report does not admit');
  t.ok((await r.metric('ecr_admission_shared_cache_events_total', { fact: 'version', event: 'rolled-back' })) >= 1, 'counted rolled-back');
  // The replica raised the key past its floor: a replica started since, with no floor of its
  // own, finds the replayed records outdated too.
  await sleep(200);
  t.ok(Number(await raw.get(codec.versionKey(group))) >= 2, 'the version key raised past the floor');
  for (const [k, v] of kept) await raw.set(k, v, 'PX', 600_000);
  t.equal((await (await replica()).reviewPod([`${HOST}/clean:1`])).response.allowed, false, 'a new replica does not admit on the replay either');
});

// A value INCR refuses ("" reads as 0, like a missing key) must not let records outlive an event:
// the bump replaces it with a fresh version (review of this round: it froze the group).
for (const planted of ['', '05', '-0']) {
  t.test(`a version key holding ${JSON.stringify(planted)} is bumped by the next event all the same`, async (t) => {
    const { raw, codec, sandbox, replica } = await world(t, true);
    const r = await replica();
    t.equal((await r.reviewPod([`${HOST}/clean:1`])).response.allowed, true);
    const group = digestGroup(WHERE('clean'), imageDigest(clean));
    await raw.set(codec.versionKey(group), planted);
    sandbox.update((f) => {
      f.accounts[ACCOUNT]!.regions[REGION]!.repositories.find((repo) => repo.name === 'clean')!.images[0]!.findings = [xz];
    });
    await r.runtime.shared!.drop([group]);
    t.match(await raw.get(codec.versionKey(group)), /^[1-9][0-9]*$/, 'the key holds a version again');
    t.equal((await (await replica()).reviewPod([`${HOST}/clean:1`])).response.allowed, false, 'the records from before the event are outdated');
  });
}

t.test('a version key of another type is that group invalid, not the whole level down', async (t) => {
  const { raw, codec, replica } = await world(t);
  await raw.rpush(codec.versionKey(digestGroup(WHERE('crit'), imageDigest(crit))), 'x');
  const r = await replica();
  t.equal((await r.reviewPod([`${HOST}/crit:1`])).response.allowed, false, 'crit decided from AWS');
  t.equal(r.runtime.shared!.degraded, false, 'the level is not degraded');
  t.equal((await r.reviewPod([`${HOST}/clean:1`])).response.allowed, true);
  t.ok((await r.metric('ecr_admission_shared_cache_events_total', { event: 'skipped' })) === 0, 'no load skipped the level');
});

// A version key that is not a number cannot be bumped (INCR fails), so a record stored under it
// would outlive every event: none is stored, and none is current.
t.test('under a version key that is not a version, nothing is stored or read as current', async (t) => {
  const { raw, codec, replica } = await world(t, true);
  const group = digestGroup(WHERE('clean'), imageDigest(clean));
  await raw.set(codec.versionKey(group), 'not-a-version');
  const r = await replica();
  t.equal((await r.reviewPod([`${HOST}/clean:1`])).response.allowed, true, 'decided from AWS');
  await sleep(200);
  const stored = await Promise.all((await raw.keys('ecr-admission:f:*')).map(async (k) => (await raw.get(k))!));
  const underGroup = stored.filter((v) => v.includes(JSON.stringify(group)));
  t.same(underGroup, [], 'no record names the group');
  t.ok(stored.length > 0, 'records of other groups (the repository) are stored as usual');
});

t.test('a record naming a version that is not one is never current', async (t) => {
  const { raw, sandbox, replica } = await world(t, true);
  const keyed = new RecordCodec('ecr-admission:', Buffer.from(SECRET));
  const r = await replica();
  t.equal((await r.reviewPod([`${HOST}/clean:1`])).response.allowed, true);
  const group = digestGroup(WHERE('clean'), imageDigest(clean));
  // Every record of the group rewritten as if stored while its version key held garbage (a MAC'd
  // record, as this fleet writes them), and the version key made garbage.
  let rewritten = 0;
  for (const k of await raw.keys('ecr-admission:f:*')) {
    const value = (await raw.get(k))!;
    const json = JSON.parse(value.slice(value.indexOf('.') + 1)) as { k: string; f: string; v: unknown; g: Record<string, number>; x: number };
    if (!Object.hasOwn(json.g, group)) continue;
    await raw.set(k, keyed.encode(json.f, json.k, json.v, { ...json.g, [group]: -1 }, json.x), 'PX', 600_000);
    rewritten++;
  }
  t.ok(rewritten > 0);
  await raw.set(keyed.versionKey(group), 'not-a-version');
  sandbox.update((f) => {
    f.accounts[ACCOUNT]!.regions[REGION]!.repositories.find((repo) => repo.name === 'clean')!.images[0]!.findings = [xz];
  });
  await raw.publish(keyed.dropChannel, JSON.stringify({ groups: [group] }));
  await sleep(200);
  t.equal((await r.reviewPod([`${HOST}/clean:1`])).response.allowed, false, 'the CVE denies: the record is not current');
});
