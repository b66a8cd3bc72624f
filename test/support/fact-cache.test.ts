// The fact cache on its own, on an injected clock: single-flight, stale-while-revalidate,
// negative entries, callers' deadlines and eviction. Time moves only when a test moves it;
// loads end only when a test settles them, so nothing here sleeps or races a timer.
import t from 'tap';
import { AbortedError, FactCache, type FactSpec } from '../../src/support/fact-cache.ts';
import { createMetrics, type Metrics } from '../../src/support/metrics.ts';
import { FactTrace, withFactTrace } from '../../src/support/fact-trace.ts';

const TTL_MS = 60_000;
const STALE_MS = 30_000;
const NOT_FOUND_TTL_MS = 10_000;
/** Long enough that the load's own timer never fires while a test runs. */
const LOAD_TIMEOUT_MS = 60_000;

class NotFoundError extends Error {
  override readonly name = 'NotFoundError';
  readonly code = 'NOT_FOUND';
}

class ThrottledError extends Error {
  override readonly name = 'ThrottledError';
  readonly code = 'THROTTLED';
}

const FRESH_ONLY: FactSpec<string> = { fact: 'tag', ttlMs: () => TTL_MS };
const STALE_ALLOWED: FactSpec<string> = { fact: 'repository', ttlMs: () => TTL_MS, staleMs: STALE_MS };
const NEGATIVE: FactSpec<string> = {
  fact: 'manifest',
  ttlMs: () => TTL_MS,
  // Only "not found" is a fact worth remembering; anything else is a failure to ask again.
  negativeTtlMs: (error) => (error instanceof NotFoundError ? NOT_FOUND_TTL_MS : undefined),
};

/** A clock the test moves by hand. */
class Clock {
  ms = 1_700_000_000_000;
  readonly now = (): number => this.ms;
  advance(ms: number): void {
    this.ms += ms;
  }
}

/** A load the test settles by hand, counting how often the cache started it. */
class Loads<T> {
  readonly started: { key: string; signal: AbortSignal; resolve: (v: T) => void; reject: (e: unknown) => void }[] = [];
  readonly load =
    (key: string) =>
    (signal: AbortSignal): Promise<T> => {
      const { promise, resolve, reject } = Promise.withResolvers<T>();
      this.started.push({ key, signal, resolve, reject });
      return promise;
    };
  get count(): number {
    return this.started.length;
  }
  last(): Loads<T>['started'][number] {
    const last = this.started.at(-1);
    if (!last) throw new Error('no load started');
    return last;
  }
}

function setup(maxEntries = 100): { clock: Clock; cache: FactCache; metrics: Metrics; loads: Loads<string> } {
  const clock = new Clock();
  const metrics = createMetrics();
  const cache = new FactCache({ maxEntries, metrics, now: clock.now });
  return { clock, cache, metrics, loads: new Loads<string>() };
}

const never = (): AbortSignal => new AbortController().signal;

/** Lets every promise callback that can run, run (a turn of the event loop, not a wait on time). */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Whether `promise` has settled, without waiting for it. */
async function isSettled(promise: Promise<unknown>): Promise<boolean> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await settle();
  return settled;
}

async function events(metrics: Metrics, fact: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const { labels, value } of (await metrics.cacheEvents.get()).values) {
    if (labels.fact === fact) out[String(labels.event)] = value;
  }
  return out;
}

t.test('single-flight: N concurrent misses of one key make one load, and all get its value', async (t) => {
  const { cache, metrics, loads } = setup();
  const waiting = Array.from({ length: 25 }, () => cache.get(FRESH_ONLY, 'img:1', loads.load('img:1'), never(), LOAD_TIMEOUT_MS));
  await settle();
  t.equal(loads.count, 1, 'one load for 25 callers');
  t.notOk(await isSettled(Promise.any(waiting)), 'nobody has an answer before the load ends');
  loads.last().resolve('sha256:one');
  t.same(await Promise.all(waiting), Array(25).fill('sha256:one'));
  t.same(await events(metrics, 'tag'), { miss: 1, coalesced: 24 });

  t.equal(await cache.get(FRESH_ONLY, 'img:1', loads.load('img:1'), never(), LOAD_TIMEOUT_MS), 'sha256:one', 'a later caller is served from the cache');
  t.equal(loads.count, 1);

  const other = cache.get(FRESH_ONLY, 'img:2', loads.load('img:2'), never(), LOAD_TIMEOUT_MS);
  t.equal(loads.count, 2, 'another key is another load');
  loads.last().resolve('sha256:two');
  t.equal(await other, 'sha256:two');
});

t.test('single-flight: a failed load fails every caller that shared it, and the next caller loads again', async (t) => {
  const { cache, loads } = setup();
  const waiting = Array.from({ length: 5 }, () => cache.get(FRESH_ONLY, 'img', loads.load('img'), never(), LOAD_TIMEOUT_MS));
  loads.last().reject(new ThrottledError('Rate exceeded'));
  for (const w of waiting) await t.rejects(w, ThrottledError);
  t.equal(loads.count, 1);
  const again = cache.get(FRESH_ONLY, 'img', loads.load('img'), never(), LOAD_TIMEOUT_MS);
  t.equal(loads.count, 2, 'the failure was not cached');
  loads.last().resolve('ok');
  t.equal(await again, 'ok');
});

t.test('a value is fresh for its TTL; without a stale window a caller after it waits for a new load', async (t) => {
  const { clock, cache, loads } = setup();
  const first = cache.get(FRESH_ONLY, 'k', loads.load('k'), never(), LOAD_TIMEOUT_MS);
  loads.last().resolve('v1');
  t.equal(await first, 'v1');
  clock.advance(TTL_MS - 1);
  t.equal(await cache.get(FRESH_ONLY, 'k', loads.load('k'), never(), LOAD_TIMEOUT_MS), 'v1', 'fresh 1 ms before the TTL');
  t.equal(loads.count, 1);
  clock.advance(1);
  const after = cache.get(FRESH_ONLY, 'k', loads.load('k'), never(), LOAD_TIMEOUT_MS);
  t.equal(loads.count, 2, 'at the TTL it loads again');
  t.notOk(await isSettled(after), 'and the caller waits for that load');
  loads.last().resolve('v2');
  t.equal(await after, 'v2');
});

t.test('the TTL may depend on the value', async (t) => {
  const { clock, cache, loads } = setup();
  const spec: FactSpec<string> = { fact: 'tag', ttlMs: (v) => (v === 'mutable' ? 1_000 : TTL_MS) };
  const first = cache.get(spec, 'k', loads.load('k'), never(), LOAD_TIMEOUT_MS);
  loads.last().resolve('mutable');
  await first;
  clock.advance(1_000);
  void cache.get(spec, 'k', loads.load('k'), never(), LOAD_TIMEOUT_MS);
  t.equal(loads.count, 2, 'a short-lived value is asked again after its own TTL');
  loads.last().resolve('x');
});

t.test('stale-while-revalidate: within the stale window the old value is served at once and one refresh runs', async (t) => {
  const { clock, cache, metrics, loads } = setup();
  const first = cache.get(STALE_ALLOWED, 'repo', loads.load('repo'), never(), LOAD_TIMEOUT_MS);
  loads.last().resolve('v1');
  t.equal(await first, 'v1');

  clock.advance(TTL_MS + 1);
  const served = await Promise.all(Array.from({ length: 10 }, () => cache.get(STALE_ALLOWED, 'repo', loads.load('repo'), never(), LOAD_TIMEOUT_MS)));
  t.same(served, Array(10).fill('v1'), 'ten callers past the TTL get the stale value without waiting for the refresh');
  t.equal(loads.count, 2, 'one background refresh for all of them');
  t.same(await events(metrics, 'repository'), { miss: 1, stale: 10 });

  loads.last().resolve('v2');
  await settle();
  t.equal(await cache.get(STALE_ALLOWED, 'repo', loads.load('repo'), never(), LOAD_TIMEOUT_MS), 'v2', 'the refreshed value is served next');
  t.equal(loads.count, 2, 'and it is fresh: no further load');

  // The refresh restarted the TTL: the stale window now counts from the refresh.
  clock.advance(TTL_MS + STALE_MS - 1);
  t.equal(await cache.get(STALE_ALLOWED, 'repo', loads.load('repo'), never(), LOAD_TIMEOUT_MS), 'v2', 'still servable 1 ms before the stale window ends');
  t.equal(loads.count, 3, 'while it refreshes');
  loads.last().reject(new ThrottledError('Rate exceeded'));
  await settle();
  t.equal((await events(metrics, 'repository'))['refresh-failed'], 1, 'a failed refresh is counted');
});

t.test('stale-while-revalidate: a failed refresh keeps the stale value, and a new caller starts another refresh', async (t) => {
  const { clock, cache, loads } = setup();
  const first = cache.get(STALE_ALLOWED, 'repo', loads.load('repo'), never(), LOAD_TIMEOUT_MS);
  loads.last().resolve('v1');
  await first;
  clock.advance(TTL_MS);
  t.equal(await cache.get(STALE_ALLOWED, 'repo', loads.load('repo'), never(), LOAD_TIMEOUT_MS), 'v1');
  loads.last().reject(new ThrottledError('Rate exceeded'));
  await settle();
  t.equal(await cache.get(STALE_ALLOWED, 'repo', loads.load('repo'), never(), LOAD_TIMEOUT_MS), 'v1', 'the stale value is still served');
  t.equal(loads.count, 3, 'and refreshed again: the failure was not remembered');
  loads.last().resolve('v2');
});

t.test('stale-while-revalidate: past the stale window the value is gone and a caller waits for the load', async (t) => {
  const { clock, cache, metrics, loads } = setup();
  const first = cache.get(STALE_ALLOWED, 'repo', loads.load('repo'), never(), LOAD_TIMEOUT_MS);
  loads.last().resolve('v1');
  await first;

  clock.advance(TTL_MS + STALE_MS);
  const after = cache.get(STALE_ALLOWED, 'repo', loads.load('repo'), never(), LOAD_TIMEOUT_MS);
  t.equal(loads.count, 2, 'a load started');
  t.notOk(await isSettled(after), 'the caller waits for it: the old value is not served');
  loads.last().resolve('v2');
  t.equal(await after, 'v2');
  t.same(await events(metrics, 'repository'), { miss: 2 }, 'a miss, never a stale serve');
});

t.test('negative entries: "not found" is remembered for its TTL, other failures are not cached', async (t) => {
  const { clock, cache, metrics, loads } = setup();
  const cause = new Error('the SDK exception, with its HTTP response');
  const first = cache.get(NEGATIVE, 'gone', loads.load('gone'), never(), LOAD_TIMEOUT_MS);
  loads.last().reject(new NotFoundError('image not found', { cause }));
  await t.rejects(first, { message: 'image not found', cause });

  clock.advance(NOT_FOUND_TTL_MS - 1);
  const remembered = await cache.get(NEGATIVE, 'gone', loads.load('gone'), never(), LOAD_TIMEOUT_MS).catch((e: unknown) => e);
  t.equal(loads.count, 1, 'within its TTL the answer comes from the cache');
  t.ok(remembered instanceof NotFoundError, 'the same class');
  t.match(remembered, { message: 'image not found', code: 'NOT_FOUND' });
  t.equal((remembered as Error).cause, undefined, 'without the cause it was built from (which held the whole HTTP response)');
  t.equal((await events(metrics, 'manifest'))['negative-hit'], 1);

  clock.advance(1);
  const asked = cache.get(NEGATIVE, 'gone', loads.load('gone'), never(), LOAD_TIMEOUT_MS);
  t.equal(loads.count, 2, 'after its TTL it is asked again');
  loads.last().resolve('sha256:back');
  t.equal(await asked, 'sha256:back', 'and an image that came back is found');

  const throttled = cache.get(NEGATIVE, 'busy', loads.load('busy'), never(), LOAD_TIMEOUT_MS);
  loads.last().reject(new ThrottledError('Rate exceeded'));
  await t.rejects(throttled, ThrottledError);
  const retried = cache.get(NEGATIVE, 'busy', loads.load('busy'), never(), LOAD_TIMEOUT_MS);
  t.equal(loads.count, 4, 'a throttled call is not remembered: the next caller asks AWS again');
  loads.last().resolve('sha256:ok');
  t.equal(await retried, 'sha256:ok');

  const { cache: plain, loads: plainLoads } = setup();
  const noNegative = plain.get(FRESH_ONLY, 'gone', plainLoads.load('gone'), never(), LOAD_TIMEOUT_MS);
  plainLoads.last().reject(new NotFoundError('image not found'));
  await t.rejects(noNegative, NotFoundError);
  void plain.get(FRESH_ONLY, 'gone', plainLoads.load('gone'), never(), LOAD_TIMEOUT_MS);
  t.equal(plainLoads.count, 2, 'a fact without a negative TTL remembers no failure, not even "not found"');
  plainLoads.last().resolve('x');
});

t.test('deadlines: a caller whose deadline fires stops waiting; the shared load goes on for the others', async (t) => {
  const { cache, loads } = setup();
  const short = new AbortController();
  const impatient = cache.get(FRESH_ONLY, 'img', loads.load('img'), short.signal, LOAD_TIMEOUT_MS);
  const patient = cache.get(FRESH_ONLY, 'img', loads.load('img'), never(), LOAD_TIMEOUT_MS);
  t.equal(loads.count, 1);

  short.abort();
  const error = await impatient.catch((e: unknown) => e);
  t.ok(error instanceof AbortedError, 'the impatient caller gets a deadline error');
  t.equal((error as AbortedError).code, 'E_DEADLINE');
  t.notOk(loads.last().signal.aborted, 'the load is not cancelled: another caller still wants it');
  t.notOk(await isSettled(patient), 'the other caller still waits');

  loads.last().resolve('sha256:late');
  t.equal(await patient, 'sha256:late', 'and gets the value');
  t.equal(
    await cache.get(FRESH_ONLY, 'img', loads.load('img'), AbortSignal.abort(), LOAD_TIMEOUT_MS).catch(() => 'refused'),
    'sha256:late',
    'the value was cached for everyone (a hit needs no time, so even a caller out of time gets it)',
  );
  t.equal(loads.count, 1);
});

t.test('deadlines: the caller that started the load may give up first, and the load still completes for the rest', async (t) => {
  const { cache, loads } = setup();
  const starter = new AbortController();
  const first = cache.get(FRESH_ONLY, 'img', loads.load('img'), starter.signal, LOAD_TIMEOUT_MS);
  const joined = cache.get(FRESH_ONLY, 'img', loads.load('img'), never(), LOAD_TIMEOUT_MS);
  starter.abort();
  await t.rejects(first, AbortedError);
  loads.last().resolve('v');
  t.equal(await joined, 'v');
  t.equal(loads.count, 1);
});

t.test('deadlines: a caller already out of time is refused at once on a miss, and starts a load for whoever comes next', async (t) => {
  const { cache, loads } = setup();
  await t.rejects(cache.get(FRESH_ONLY, 'img', loads.load('img'), AbortSignal.abort(), LOAD_TIMEOUT_MS), AbortedError);
  t.equal(loads.count, 1);
  const next = cache.get(FRESH_ONLY, 'img', loads.load('img'), never(), LOAD_TIMEOUT_MS);
  t.equal(loads.count, 1, 'the next caller joins that load');
  loads.last().resolve('v');
  t.equal(await next, 'v');
});

t.test('eviction: the cache holds at most maxEntries, dropping the least recently used', async (t) => {
  const { cache, loads } = setup(3);
  const fill = async (key: string): Promise<string> => {
    const p = cache.get(FRESH_ONLY, key, loads.load(key), never(), LOAD_TIMEOUT_MS);
    loads.last().resolve(`value of ${key}`);
    return p;
  };
  for (const key of ['a', 'b', 'c']) await fill(key);
  t.equal(cache.size, 3);
  t.equal(await cache.get(FRESH_ONLY, 'a', loads.load('a'), never(), LOAD_TIMEOUT_MS), 'value of a', 'a is used again: now the most recent');
  await fill('d');
  t.equal(cache.size, 3, 'never more than maxEntries');
  t.equal(loads.count, 4);

  t.equal(await cache.get(FRESH_ONLY, 'a', loads.load('a'), never(), LOAD_TIMEOUT_MS), 'value of a', 'a stayed');
  t.equal(await cache.get(FRESH_ONLY, 'c', loads.load('c'), never(), LOAD_TIMEOUT_MS), 'value of c', 'c stayed');
  t.equal(await cache.get(FRESH_ONLY, 'd', loads.load('d'), never(), LOAD_TIMEOUT_MS), 'value of d', 'd stayed');
  t.equal(loads.count, 4, 'all three from the cache');
  const b = cache.get(FRESH_ONLY, 'b', loads.load('b'), never(), LOAD_TIMEOUT_MS);
  t.equal(loads.count, 5, 'b, the least recently used, was evicted and is loaded again');
  loads.last().resolve('value of b, again');
  t.equal(await b, 'value of b, again');
});

t.test('prime: a fact learnt on the side is served as if loaded, for its TTL', async (t) => {
  const { clock, cache, loads } = setup();
  cache.prime(FRESH_ONLY, 'img', 'sha256:primed');
  t.equal(await cache.get(FRESH_ONLY, 'img', loads.load('img'), never(), LOAD_TIMEOUT_MS), 'sha256:primed');
  t.equal(loads.count, 0);
  clock.advance(TTL_MS);
  void cache.get(FRESH_ONLY, 'img', loads.load('img'), never(), LOAD_TIMEOUT_MS);
  t.equal(loads.count, 1, 'after its TTL it is loaded');
  loads.last().resolve('x');
});

t.test('prime keeps a fresh entry and a load under way: the entries verdicts rest on stay the same', async (t) => {
  // A remembered verdict rests on the entries it read (fact-trace.ts): a side fact that replaced
  // one would make the verdict be evaluated again for nothing (the first tag@digest admission).
  const { clock, cache, loads } = setup();
  t.equal(await cache.get(FRESH_ONLY, 'img', async () => 'sha256:loaded', never(), LOAD_TIMEOUT_MS), 'sha256:loaded');
  const before = cache.freshEntry('tag\u0000img');
  cache.prime(FRESH_ONLY, 'img', 'sha256:primed');
  t.equal(cache.freshEntry('tag\u0000img'), before, 'a fresh entry stands: the same entry, not a renumbered one');
  t.equal(await cache.get(FRESH_ONLY, 'img', loads.load('img'), never(), LOAD_TIMEOUT_MS), 'sha256:loaded');

  const loading = cache.get(FRESH_ONLY, 'other', loads.load('other'), never(), LOAD_TIMEOUT_MS);
  cache.prime(FRESH_ONLY, 'other', 'sha256:primed');
  t.equal(cache.freshEntry('tag\u0000other'), undefined, 'nothing stored beside a load under way');
  loads.last().resolve('sha256:from the load');
  t.equal(await loading, 'sha256:from the load');
  t.equal(cache.peek(FRESH_ONLY, 'other'), 'sha256:from the load', 'the load stores its own value');

  clock.advance(TTL_MS);
  cache.prime(FRESH_ONLY, 'img', 'sha256:primed');
  t.equal(cache.peek(FRESH_ONLY, 'img'), 'sha256:primed', 'an entry past its TTL is replaced by the side fact');
  t.equal(loads.count, 1, 'only the one load asked for');
});

t.test('prime replaces a cached failure: the side fact is newer', async (t) => {
  // A digest asked for before its push is "not found" for NOT_FOUND_TTL_MS; the tag lookup that
  // finds it once pushed must not be denied by that failure (attacker review).
  const { cache } = setup();
  await t.rejects(
    cache.get(
      NEGATIVE,
      'repo@d',
      async () => {
        throw new NotFoundError();
      },
      never(),
      LOAD_TIMEOUT_MS,
    ),
  );
  cache.prime(NEGATIVE, 'repo@d', 'the manifest');
  t.equal(cache.peek(NEGATIVE, 'repo@d'), 'the manifest');
  t.equal(await cache.get(NEGATIVE, 'repo@d', async () => 'loaded again', never(), LOAD_TIMEOUT_MS), 'the manifest', 'served without a load');
});

t.test('the same key under two kinds of fact is two entries', async (t) => {
  const { cache, loads } = setup();
  const tag = cache.get(FRESH_ONLY, 'same', loads.load('same'), never(), LOAD_TIMEOUT_MS);
  loads.last().resolve('a tag');
  const repo = cache.get(STALE_ALLOWED, 'same', loads.load('same'), never(), LOAD_TIMEOUT_MS);
  loads.last().resolve('a repository');
  t.same(await Promise.all([tag, repo]), ['a tag', 'a repository']);
  t.equal(loads.count, 2);
});

t.test('a fact trace notes the entry each answer came from, not what the key holds later', async (t) => {
  const read = (trace: FactTrace, cache: FactCache, spec: FactSpec<string>, load: (signal: AbortSignal) => Promise<string>) =>
    withFactTrace(trace, () => cache.get(spec, 'k', load, never(), LOAD_TIMEOUT_MS));

  t.test('a miss: the entry its load stored', async (t) => {
    const { cache, loads } = setup();
    const trace = new FactTrace();
    const reading = read(trace, cache, FRESH_ONLY, loads.load('k'));
    loads.last().resolve('v1');
    t.equal(await reading, 'v1');
    t.equal(trace.settle()?.entries.length, 1, 'vouched for by the stored entry');
  });

  t.test('a load an AWS event dropped, then a reload by another admission: never vouched for', async (t) => {
    const { cache, loads } = setup();
    const trace = new FactTrace();
    const reading = read(trace, cache, FRESH_ONLY, loads.load('k'));
    const joined = new FactTrace();
    const joining = read(joined, cache, FRESH_ONLY, loads.load('k')); // coalesced on the same load
    t.equal(cache.drop((_fact, key) => key === 'k').length, 0, 'nothing stored yet; the load is marked dropped');
    const reload = cache.get(FRESH_ONLY, 'k', loads.load('k'), never(), LOAD_TIMEOUT_MS);
    loads.last().resolve('after the change');
    t.equal(await reload, 'after the change');
    loads.started[0]!.resolve('before the change');
    t.equal(await reading, 'before the change', 'the dropped load still answers its waiters');
    t.equal(await joining, 'before the change');
    t.equal(trace.settle(), undefined, 'the reloaded entry does not vouch for the value read before the change');
    t.equal(joined.settle(), undefined, 'nor for a waiter that joined the dropped load');
  });

  t.test('a stale value served while it refreshes: never vouched for, even once refreshed', async (t) => {
    const { clock, cache, loads } = setup();
    const first = cache.get(STALE_ALLOWED, 'k', loads.load('k'), never(), LOAD_TIMEOUT_MS);
    loads.last().resolve('old');
    await first;
    clock.advance(TTL_MS + 1);
    const trace = new FactTrace();
    t.equal(await read(trace, cache, STALE_ALLOWED, loads.load('k')), 'old', 'the stale value is served');
    loads.last().resolve('new');
    await settle();
    t.equal(trace.settle(), undefined, 'the refreshed entry does not vouch for the stale value');
  });

  t.test('a failure the cache keeps (not found) is vouched for by that entry; one it does not keep, never', async (t) => {
    const { cache, loads } = setup();
    const kept = new FactTrace();
    const notFound = read(kept, cache, NEGATIVE, loads.load('k'));
    loads.last().reject(new NotFoundError('no such manifest'));
    await t.rejects(notFound, NotFoundError);
    t.equal(kept.settle()?.entries.length, 1);
    const other = new FactTrace();
    const throttled = withFactTrace(other, () => cache.get(NEGATIVE, 'j', loads.load('j'), never(), LOAD_TIMEOUT_MS));
    loads.last().reject(new ThrottledError('slow down'));
    await t.rejects(throttled, ThrottledError);
    t.equal(other.settle(), undefined);
  });
});
