// The fleet's shared level of the fact cache (issue 16), over Valkey/Redis. On a local miss:
//
// 1. read the record (and the versions of its invalidation groups) in one round trip; a fresh
//    record of the right shape, bound to this key, whose group versions are current, is a hit;
// 2. otherwise take the fact's lock (SET NX PX): the winner loads from AWS and stores the value
//    (SET PX ttl, release the lock, PUBLISH "ready"); the others wait for that value, woken by
//    the "ready" message or by polling, for at most half their time, then load it themselves;
// 3. an AWS event bumps the versions of the groups it names (INCR) and publishes them: every
//    process drops its local copies, and records loaded before the event are misses.
//
// It is an accelerator, never a dependency: a command that fails or takes longer than its
// bound marks the level degraded (metric ecr_admission_shared_cache_degraded), and for the
// next second every load goes straight to AWS without asking it; nothing here ever fails an
// admission that AWS would have answered.
import { randomBytes } from 'node:crypto';
import type { Redis } from 'iovalkey';
import type { Logger } from 'pino';
import { LRUCache } from 'lru-cache';
import type { Counter, Gauge } from 'prom-client';
import type { Metrics } from '../../support/metrics.ts';
import { markSharedRemaining, type SharedLevel, type SharedSpec as FactSpec } from '../../support/shared-level.ts';
import { MAX_RECORD_BYTES, RecordCodec, type SharedRecord } from './records.ts';
import { SHARED_FACTS } from './shapes.ts';
import { boundMessages } from './client.ts';
import { registerSharedCacheMetrics } from './metrics.ts';

export interface SharedFactCacheOptions {
  readonly commands: Redis;
  readonly subscriber: Redis;
  /** Key prefix: fleets sharing one server keep apart by it. */
  readonly prefix: string;
  /** Bound of one command, ms. */
  readonly opTimeoutMs: number;
  /** How long a load's lock is held at most (its loader died: others take over after it). */
  readonly lockMs: number;
  readonly hmacKey?: Buffer;
  readonly metrics?: Metrics;
  readonly logger?: Logger;
  /** Called with the groups an event changed (from any process): drop the local copies. "all":
   *  the drops of a while may have been missed (the subscription was down). */
  readonly onDrop?: (groups: ReadonlySet<string> | 'all') => void;
}

/** How long the level is left alone after a failure before it is asked again. */
const DEGRADED_PAUSE_MS = 1_000;
/** Between two looks at a value another process is loading, if no "ready" message came. */
const WAIT_POLL_MS = 50;
/** Version keys outlive every record stored under an older version (TTL + stale <= 14 days). */
const VERSION_TTL_MS = 15 * 86_400_000;
const MAX_DROP_GROUPS = 1_000;
/** A drop message longer than this is ignored. */
const MAX_MESSAGE_CHARS = 1_000_000;
/** The subscription is dropped past this many bytes of one message (client.ts
 *  boundMessages): the longest message this process reads, plus a read's worth. Bytes against
 *  characters: the messages this process publishes are ASCII (group names), so a message over
 *  the bound in bytes but not in characters is never one of ours. */
const MAX_PENDING_MESSAGE_BYTES = MAX_MESSAGE_CHARS + 128 * 1024;
/** At most one warning per this long about oversized messages (each is counted): a client that
 *  may PUBLISH can send one every few ms. */
const OVERSIZED_WARNING_MS = 60_000;
/** Groups whose version floor is kept (least recently seen forgotten first): a few dozen bytes
 *  each, so about 5 MiB at most. */
const MAX_VERSION_FLOORS = 50_000;

class SharedUnavailable extends Error {}

type Read = { hit: true; value: unknown; remainingMs: number } | { hit: false; versions: Record<string, number> };

// An event's bump of its groups' versions. INCR, unless the value is one INCR refuses (planted
// by a writer of the server: "", "05", a list...): then SET (which replaces a key of any type)
// a fresh version, the time in ms, far
// above any INCR has reached, so the event still outdates every record (review of issue 18's
// round: a value INCR refused froze its group, its records current through every event).
const BUMP = `local out = {}
for i, key in ipairs(KEYS) do
  local v = redis.pcall('INCR', key)
  if type(v) == 'table' then
    redis.call('SET', key, ARGV[1])
    v = tonumber(ARGV[1])
  end
  redis.call('PEXPIRE', key, ARGV[2])
  out[i] = v
end
return out`;

// Raises a version key to at least ARGV[1] (a floor + 1), whatever it holds: the heal of a
// version found below a process's floor (rolled back, expired, or lost in a restart).
const RAISE = `local v = redis.pcall('INCRBY', KEYS[1], 0)
if type(v) == 'table' or v < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return 1`;

// Compare-and-delete: only the holder releases a lock (a lock that expired and was taken by
// another process stays theirs).
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

export class SharedFactCache implements SharedLevel {
  readonly #o: SharedFactCacheOptions;
  readonly #codec: RecordCodec;
  readonly #events: Counter<'fact' | 'event'> | undefined;
  readonly #degradedGauge: Gauge | undefined;
  readonly #waiters = new Map<string, Set<() => void>>();
  /** The highest version this process has seen of each bumped group (read, bumped by its own
   *  drop, or raised by #raise): a version key found lower was rolled back by a writer of the server, to make an
   *  older record (MAC'd, so replayed whole) current again. Such a version is never current. */
  readonly #floors = new LRUCache<string, number>({ max: MAX_VERSION_FLOORS });
  /** Groups whose version key is being raised (#raise). */
  readonly #raising = new Set<string>();
  /** Writes of facts learnt as side effects (store()) still under way. */
  readonly #storing = new Set<Promise<void>>();
  #pausedUntil = 0;
  #degraded = false;
  #subscribed = false;
  /** Whether the command connection was ever ready: before that, loads skip the level without
   *  calling it degraded (a process that has just started). */
  #connected = false;
  readonly #ready: Promise<void>;
  #closed = false;

  constructor(options: SharedFactCacheOptions) {
    this.#o = options;
    this.#codec = new RecordCodec(options.prefix, options.hmacKey);
    if (options.metrics) {
      const metrics = registerSharedCacheMetrics(options.metrics.registry);
      this.#events = metrics.events;
      this.#degradedGauge = metrics.degraded;
    }
    options.commands.on('error', (e: Error) => this.#fail(e));
    const commandsReady = new Promise<void>((resolve) => {
      options.commands.on('ready', () => {
        this.#connected = true;
        resolve();
      });
    });
    const subscribed = new Promise<void>((resolve) => options.subscriber.once('ready', () => resolve()));
    options.subscriber.on('error', () => {});
    let warnedAt = -Infinity;
    boundMessages(options.subscriber, MAX_PENDING_MESSAGE_BYTES, () => {
      this.#count('pubsub', 'oversized');
      if (performance.now() - warnedAt < OVERSIZED_WARNING_MS) return;
      warnedAt = performance.now();
      this.#o.logger?.warn(
        { bytes: MAX_PENDING_MESSAGE_BYTES },
        'shared fact cache: a pub/sub message over the bound (someone publishes junk to the fleet\'s channels), subscription reconnected; counted in ecr_admission_shared_cache_events_total{fact="pubsub"}',
      );
    });
    options.subscriber.on('message', (channel: string, message: string) => this.#onMessage(channel, message));
    options.subscriber.on('ready', () => {
      // Drops published while the subscription was down were missed: forget every local copy
      // an event could have changed (they are read again from the shared level, cheaply). Once
      // the channels are subscribed again, not at 'ready': the client emits it before the server
      // has answered its own SUBSCRIBE, so a drop published in between was missed and never
      // forgotten (a test's publish raced it). Our SUBSCRIBE is answered after the client's.
      if (this.#subscribed) {
        options.subscriber.subscribe(this.#codec.readyChannel, this.#codec.dropChannel).then(
          () => options.onDrop?.('all'),
          (e: unknown) => {
            // Dropped again before the answer: forget now too; the next 'ready' comes round.
            options.onDrop?.('all');
            this.#fail(e);
          },
        );
      }
      this.#subscribed = true;
    });
    const subscribing = options.subscriber.subscribe(this.#codec.readyChannel, this.#codec.dropChannel).catch((e: unknown) => this.#fail(e));
    this.#ready = Promise.all([commandsReady, subscribed, subscribing]).then(() => {});
  }

  /** Resolves once both connections are up and subscribed, or after `timeoutMs` (the level is
   *  then used as soon as it connects): for start-up and tests, never for an admission. */
  async ready(timeoutMs = 5_000): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    try {
      return await Promise.race([this.#ready.then(() => true as const), late]);
    } finally {
      clearTimeout(timer);
    }
  }

  get degraded(): boolean {
    return this.#degraded;
  }

  #count(fact: string, event: string): void {
    this.#events?.inc({ fact, event });
  }

  #fail(error: unknown): void {
    if (this.#closed) return;
    this.#pausedUntil = Date.now() + DEGRADED_PAUSE_MS;
    if (!this.#degraded)
      this.#o.logger?.warn(
        { err: error instanceof Error ? error.message : String(error) },
        'shared fact cache degraded: facts come from the local cache and AWS',
      );
    this.#degraded = true;
    this.#degradedGauge?.set(1);
  }

  #ok(): void {
    if (this.#degraded) this.#o.logger?.info('shared fact cache answering again');
    this.#degraded = false;
    this.#degradedGauge?.set(0);
  }

  /** One bounded command (or pipeline) against the server; any failure degrades the level. */
  async #op<T>(run: (c: Redis) => Promise<T>): Promise<T> {
    if (this.#closed || Date.now() < this.#pausedUntil) throw new SharedUnavailable('shared fact cache paused');
    if (!this.#connected) throw new SharedUnavailable('shared fact cache not connected yet');
    let timer: NodeJS.Timeout | undefined;
    try {
      const result = await Promise.race([
        run(this.#o.commands),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new SharedUnavailable(`shared fact cache took over ${this.#o.opTimeoutMs} ms`)), this.#o.opTimeoutMs);
        }),
      ]);
      this.#ok();
      return result;
    } catch (error) {
      this.#fail(error);
      throw new SharedUnavailable(error instanceof Error ? error.message : String(error));
    } finally {
      clearTimeout(timer);
    }
  }

  async #versions(groups: readonly string[]): Promise<Record<string, number>> {
    if (groups.length === 0) return {};
    const raw = await this.#op(async (c) => {
      const p = c.pipeline();
      for (const g of groups) readVersion(p, this.#codec.versionKey(g));
      return results(await p.exec());
    });
    return Object.fromEntries(groups.map((g, i) => [g, this.#floored(g, raw[i])]));
  }

  /** A group's version as read, held to its floor: -1 (never current) when it is not a version,
   *  or lower than one this process has seen. */
  #floored(group: string, raw: unknown): number {
    const version = raw === WRONG_TYPE ? -1 : versionOf(raw);
    if (version < 0) return -1;
    const floor = this.#floors.get(group);
    if (floor !== undefined && version < floor) {
      // Rolled back, or the key expired or was lost in a restart: never current. The key is
      // raised past the floor, so every record under it is outdated for every process (one
      // started since has no floor to tell), and sharing resumes under the new version.
      this.#count('version', 'rolled-back');
      this.#raise(group, floor + 1);
      return -1;
    }
    // A floor of 0 guards nothing: only bumped groups take a place among MAX_VERSION_FLOORS, so
    // looking up made-up tags does not push the real floors out.
    if (version > 0 && (floor === undefined || version > floor)) this.#floors.set(group, version);
    return version;
  }

  /** Raises a group's version key to `to` in the background (one raise per group at a time). */
  #raise(group: string, to: number): void {
    if (this.#raising.has(group)) return;
    this.#raising.add(group);
    this.#op((c) => c.eval(RAISE, 1, this.#codec.versionKey(group), String(to), String(VERSION_TTL_MS)))
      .then(() => {
        if ((this.#floors.get(group) ?? 0) < to) this.#floors.set(group, to);
      })
      .catch(() => {})
      .finally(() => this.#raising.delete(group));
  }

  /** The record under (fact, key) if it is a hit now; else the current versions of the key's groups. */
  async #read(fact: string, key: string, alsoLock = false): Promise<Read & { locked?: boolean }> {
    const shape = SHARED_FACTS.get(fact)!;
    const groups = shape.groups(key);
    const out = await this.#op(async (c) => {
      // Whoever can write to the server chooses how long a value is (up to 512 MB): a value is
      // read only up to the longest we accept plus one byte (GETRANGE's end is inclusive), so an
      // oversized one is seen as such without crossing the network or landing in the heap.
      const p = c.pipeline().getrangeBuffer(this.#codec.factKey(fact, key), 0, MAX_RECORD_BYTES);
      for (const g of groups) readVersion(p, this.#codec.versionKey(g));
      if (alsoLock) p.exists(this.#codec.lockKey(fact, key));
      return results(await p.exec());
    });
    const raw = out[0];
    const versions = Object.fromEntries(groups.map((g, i) => [g, this.#floored(g, out[1 + i])]));
    const locked = alsoLock ? out[out.length - 1] === 1 : undefined;
    const miss = { hit: false as const, versions, ...(locked !== undefined && { locked }) };
    // GETRANGE answers an empty string for a missing key (no record is empty).
    if (Buffer.isBuffer(raw) && raw.length === 0) return miss;
    if (!Buffer.isBuffer(raw) || raw.length > MAX_RECORD_BYTES) {
      // Another type under the key (WRONG_TYPE), or longer than any record we write.
      this.#count(fact, 'invalid');
      if (Buffer.isBuffer(raw)) this.#o.logger?.warn({ fact, reason: 'too large' }, 'shared fact cache: a record is not a fact; loading it again');
      return miss;
    }
    const record = this.#codec.decode(fact, key, raw.toString('utf8'));
    if ('invalid' in record) {
      this.#count(fact, 'invalid');
      this.#o.logger?.warn({ fact, reason: record.invalid }, 'shared fact cache: a record is not a fact; loading it again');
      return miss;
    }
    if (!(await this.#current(fact, key, record, versions))) {
      this.#count(fact, 'outdated');
      return miss;
    }
    const remainingMs = record.expiresAt - Date.now();
    if (remainingMs <= 0) return miss;
    return { hit: true, value: record.value, remainingMs };
  }

  /** Whether every group the value belongs to is at the version the record was loaded under. */
  async #current(fact: string, key: string, record: SharedRecord, known: Record<string, number>): Promise<boolean> {
    const groups = SHARED_FACTS.get(fact)!.groups(key, record.value);
    // Without a MAC, a record that leaves a group out would escape its events: it must name them all.
    if (!groups.every((g) => Object.hasOwn(record.groups, g))) return false;
    const unknown = groups.filter((g) => !Object.hasOwn(known, g));
    const versions = unknown.length > 0 ? { ...known, ...(await this.#versions(unknown)) } : known;
    // A version that is not one (-1) is never current, whatever the record says: a record
    // stored under it would otherwise outlive every event (INCR fails on such a key).
    return groups.every((g) => versions[g]! >= 0 && versions[g] === record.groups[g]);
  }

  async load<T>(spec: FactSpec<T>, key: string, load: (signal: AbortSignal) => Promise<T>, signal: AbortSignal, timeoutMs: number): Promise<T> {
    const fact = spec.fact;
    if (!SHARED_FACTS.has(fact)) return load(signal);
    const waitUntil = Date.now() + Math.min(this.#o.lockMs, timeoutMs / 2);
    let read: Read;
    try {
      read = await this.#read(fact, key);
    } catch {
      this.#count(fact, 'skipped');
      return load(signal);
    }
    if (read.hit) return this.#hit<T>(fact, read, 'hit');
    this.#count(fact, 'miss');
    let versions = read.versions;
    const token = randomBytes(12).toString('base64url');
    const lockKey = this.#codec.lockKey(fact, key);
    for (;;) {
      let won: boolean;
      try {
        won = (await this.#op((c) => c.set(lockKey, token, 'PX', this.#o.lockMs, 'NX'))) === 'OK';
      } catch {
        return load(signal);
      }
      if (won) {
        // Another process may have stored the value and released its lock between our read and
        // our lock: look once more before asking AWS.
        const again = await this.#read(fact, key).catch(() => undefined);
        if (again?.hit) {
          this.#release(lockKey, token);
          return this.#hit<T>(fact, again, 'waited');
        }
        if (again) versions = again.versions;
        return this.#loadAndStore(spec, key, load, signal, versions, lockKey, token);
      }
      const waited = await this.#waitFor(fact, key, lockKey, waitUntil, signal);
      if (waited.hit) return this.#hit<T>(fact, waited, 'waited');
      if (waited.why === 'gone') {
        // The loader gave up (its AWS call failed, or it died and the lock expired): take over
        // if time is left, through the lock again so that only one process does.
        versions = waited.versions;
        if (Date.now() < waitUntil && !signal.aborted) continue;
      } else if (waited.why === 'timeout') this.#count(fact, 'wait-timeout');
      const value = await load(signal);
      this.#storeAfter(spec, key, value, versions);
      return value;
    }
  }

  #hit<T>(fact: string, read: { value: unknown; remainingMs: number }, event: string): T {
    this.#count(fact, event);
    markSharedRemaining(read.value, read.remainingMs);
    return read.value as T;
  }

  async #loadAndStore<T>(
    spec: FactSpec<T>,
    key: string,
    load: (signal: AbortSignal) => Promise<T>,
    signal: AbortSignal,
    versions: Record<string, number>,
    lockKey: string,
    token: string,
  ): Promise<T> {
    let value: T;
    try {
      value = await load(signal);
    } catch (error) {
      // Failures are not shared (nothing passes because a call failed): the waiters load themselves.
      this.#release(lockKey, token);
      throw error;
    }
    this.#storeAfter(spec, key, value, versions, { lockKey, token });
    return value;
  }

  /** Stores a value in the background (the admission that loaded it does not wait), then
   *  releases the lock and wakes the waiters. */
  #storeAfter<T>(spec: FactSpec<T>, key: string, value: T, versions: Record<string, number>, lock?: { lockKey: string; token: string }): void {
    this.#write(spec, key, value, versions, lock).catch(() => {
      if (lock) this.#release(lock.lockKey, lock.token);
    });
  }

  async #write<T>(spec: FactSpec<T>, key: string, value: T, versions: Record<string, number>, lock?: { lockKey: string; token: string }): Promise<void> {
    // The facts a load learnt on the way (the manifest BatchGetImage by tag returned) are
    // written before the fact its waiters are woken for: they read those next.
    if (lock && this.#storing.size > 0) await Promise.allSettled([...this.#storing]);
    const ttl = spec.ttlMs(value);
    const shape = SHARED_FACTS.get(spec.fact)!;
    // A value that would not read back as a fact is not written (nor is one that expires at once).
    if (ttl <= 0 || !shape.valid(jsonCopy(value), key)) {
      if (lock) this.#release(lock.lockKey, lock.token);
      return;
    }
    const groups = shape.groups(key, value);
    const missing = groups.filter((g) => !Object.hasOwn(versions, g));
    const all = missing.length > 0 ? { ...versions, ...(await this.#versions(missing)) } : versions;
    // Under a version that is not one, a record could never be current: not written.
    if (groups.some((g) => all[g]! < 0)) {
      if (lock) this.#release(lock.lockKey, lock.token);
      return;
    }
    const record = this.#codec.encode(spec.fact, key, value, Object.fromEntries(groups.map((g) => [g, all[g]!])), Date.now() + ttl);
    const factKey = this.#codec.factKey(spec.fact, key);
    await this.#op(async (c) => {
      const p = c.pipeline().set(factKey, record, 'PX', Math.ceil(ttl));
      if (lock) p.eval(RELEASE, 1, lock.lockKey, lock.token).publish(this.#codec.readyChannel, lock.lockKey);
      const res = await p.exec();
      for (const [error] of res ?? []) if (error) throw error;
    });
  }

  #release(lockKey: string, token: string): void {
    this.#op(async (c) => {
      await c.pipeline().eval(RELEASE, 1, lockKey, token).publish(this.#codec.readyChannel, lockKey).exec();
    }).catch(() => {});
  }

  /** Waits for the value another process is loading: a hit, or why not. */
  async #waitFor(
    fact: string,
    key: string,
    lockKey: string,
    until: number,
    signal: AbortSignal,
  ): Promise<{ hit: true; value: unknown; remainingMs: number } | { hit: false; why: 'gone' | 'timeout' | 'down'; versions: Record<string, number> }> {
    let versions: Record<string, number> = {};
    while (!signal.aborted && Date.now() < until) {
      await this.#nap(lockKey, Math.min(WAIT_POLL_MS, until - Date.now()), signal);
      let read;
      try {
        read = await this.#read(fact, key, true);
      } catch {
        return { hit: false, why: 'down', versions };
      }
      if (read.hit) return read;
      versions = read.versions;
      if (!read.locked) return { hit: false, why: 'gone', versions };
    }
    return { hit: false, why: 'timeout', versions };
  }

  #nap(lockKey: string, ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const set = this.#waiters.get(lockKey) ?? new Set();
      this.#waiters.set(lockKey, set);
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        set.delete(done);
        if (set.size === 0 && this.#waiters.get(lockKey) === set) this.#waiters.delete(lockKey);
        resolve();
      };
      const timer = setTimeout(done, Math.max(1, ms));
      signal.addEventListener('abort', done, { once: true });
      set.add(done);
    });
  }

  store<T>(spec: FactSpec<T>, key: string, value: T): void {
    if (!SHARED_FACTS.has(spec.fact)) return;
    const writing = this.#write(spec, key, value, {}).catch(() => {});
    this.#storing.add(writing);
    void writing.finally(() => this.#storing.delete(writing));
  }

  /**
   * An AWS event says these groups changed: bump their versions (every record loaded before is
   * now a miss, wherever it sits) and tell every process to drop its local copies. Throws when
   * the shared level cannot take it (the caller drops its own copies regardless).
   */
  async drop(groups: readonly string[]): Promise<void> {
    if (groups.length === 0) return;
    await this.#op(async (c) => {
      const p = c.pipeline();
      p.eval(BUMP, groups.length, ...groups.map((g) => this.#codec.versionKey(g)), String(Date.now()), String(VERSION_TTL_MS));
      p.publish(this.#codec.dropChannel, JSON.stringify({ groups }));
      const res = await p.exec();
      for (const [error] of res ?? []) if (error) throw error;
      // Each group's new version: the floor from now on.
      const bumped = res![0]![1] as unknown[];
      groups.forEach((g, i) => this.#floored(g, String(bumped[i])));
    });
  }

  #onMessage(channel: string, message: string): void {
    if (channel === this.#codec.readyChannel) {
      for (const wake of [...(this.#waiters.get(message) ?? [])]) wake();
      return;
    }
    if (channel !== this.#codec.dropChannel || message.length > MAX_MESSAGE_CHARS) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(message);
    } catch {
      return;
    }
    const groups = (parsed as { groups?: unknown } | null)?.groups;
    if (!Array.isArray(groups) || groups.length > MAX_DROP_GROUPS || !groups.every((g) => typeof g === 'string' && g.length <= 2048)) return;
    this.#o.onDrop?.(new Set(groups as string[]));
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const set of this.#waiters.values()) for (const wake of [...set]) wake();
    this.#o.subscriber.disconnect();
    this.#o.commands.disconnect();
    await Promise.resolve();
  }
}

/** A version is a non-negative safe integer: at most 16 digits ("9007199254740991"). */
const MAX_VERSION_CHARS = 16;

/** Queues the read of a version key, bounded like a record's: one byte past the longest
 *  version, so a longer value is told from a version without being read in full. */
function readVersion(p: ReturnType<Redis['pipeline']>, versionKey: string): void {
  p.getrange(versionKey, 0, MAX_VERSION_CHARS);
}

/** What a read of a key of another type (a list planted where a string goes) answers: that
 *  key's value is invalid, the server is fine. */
const WRONG_TYPE = Symbol('wrong type');

/** The replies of a pipeline, or the first error in it. A WRONGTYPE reply is one key's value
 *  (WRONG_TYPE), not the server failing: a writer of the server cannot pause the whole level
 *  by planting one key of the wrong type. */
function results(res: Array<[Error | null, unknown]> | null): unknown[] {
  if (!res) throw new Error('pipeline answered nothing');
  for (const [error] of res) if (error && !error.message.startsWith('WRONGTYPE')) throw error;
  return res.map(([error, v]) => (error ? WRONG_TYPE : v));
}

/** A version as INCR writes it: 0, or a positive integer without leading zeros (Redis refuses to
 *  INCR "05" or "-0"; a value we read as a number must be one drop() can bump). */
const VERSION = /^(?:0|[1-9][0-9]{0,15})$/;

/** A version key's value: 0 when missing or empty (GETRANGE answers "" for both; drop() bumps
 *  either), -1 when it is not a version (never current, so a record loaded under it is a miss). */
function versionOf(raw: unknown): number {
  if (typeof raw !== 'string') return -1;
  if (raw === '') return 0;
  if (raw.length > MAX_VERSION_CHARS || !VERSION.test(raw)) return -1;
  const n = Number(raw);
  return Number.isSafeInteger(n) ? n : -1;
}

/** The value as it will read back (JSON drops undefined members). */
function jsonCopy(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value)) as unknown;
}
