// Every AWS fact goes through here: a bounded LRU with a TTL per kind of fact, single-flight
// (N concurrent admissions of one uncached image make one AWS call), stale-while-revalidate
// for facts that may be served while refreshing, and short negative caching for "not found".
// Failures other than "not found" are never cached: nothing passes because a call failed.
import { LRUCache } from 'lru-cache';
import { untilAborted } from './abort.ts';
import type { Metrics } from './metrics.ts';
import { PendingCalls, currentPendingCalls, withPendingCalls } from './pending-calls.ts';
import { ErrorCodes } from './errors.ts';
import { sharedRemainingMs, type SharedLevel } from './shared-level.ts';
import { currentFactTrace, noteFactChange, outsideFactTrace, type FactTrace, type TracedEntry, type TracedSource } from './fact-trace.ts';

export interface FactSpec<T> {
  /** Kind of fact, for keys and metrics: "tag", "manifest", "repository", ... */
  readonly fact: string;
  /** How long a value is fresh, in ms; may depend on the value (a mutable tag moves). */
  readonly ttlMs: (value: T) => number;
  /** How long past freshness a value may be served while it is refreshed (0: never). */
  readonly staleMs?: number;
  /** For errors that are facts ("image not found"): how long to remember them (undefined: never). */
  readonly negativeTtlMs?: (error: unknown) => number | undefined;
}

interface Entry {
  readonly value?: unknown;
  readonly error?: unknown;
  readonly hasValue: boolean;
  readonly freshUntil: number;
  /** Until when a value past freshUntil may still be served while it is refreshed. */
  readonly staleUntil: number;
  /** Which storing this is (a fact trace tells a kept entry from its replacement by it). */
  readonly seq: number;
}

let stored = 0;

export type CacheEvent = 'hit' | 'miss' | 'coalesced' | 'stale' | 'negative-hit' | 'refresh-failed';

export interface FactCacheOptions {
  readonly maxEntries: number;
  readonly metrics?: Metrics;
  readonly now?: () => number;
  /** Time budget of a background refresh (no admission is waiting on it). */
  readonly refreshTimeoutMs?: number;
  /** A second level shared by the fleet (Valkey/Redis), asked on a local miss before AWS. */
  readonly shared?: SharedLevel;
}

export class AbortedError extends Error {
  readonly code = ErrorCodes.DEADLINE;
  constructor(message = 'deadline reached while waiting for AWS') {
    super(message);
    this.name = 'AbortedError';
  }
}

/** What a remembered failure keeps: its class, code and message, not its cause nor its
 *  captured stack. An AWS SDK exception holds the whole HTTP response (~13 KB), and a full
 *  cache of "repository not found" answers held that 10,000 times over (168 MB, near the
 *  chart's memory limit); a stack holds the frames of the load that made it. */
function withoutCause(error: unknown): unknown {
  if (!(error instanceof Error)) return error;
  const copy = Object.create(Object.getPrototypeOf(error) as object) as Error;
  for (const key of Object.getOwnPropertyNames(error)) {
    if (key !== 'cause' && key !== 'stack') Object.defineProperty(copy, key, Object.getOwnPropertyDescriptor(error, key)!);
  }
  return copy;
}

const DEADLINE_MARGIN_MS = 20;

interface InFlight {
  promise: Promise<unknown>;
  readonly calls: PendingCalls;
  /** Set when the load settles: it ended because its own time bound (its starter's deadline) ran out. */
  outOfTime: boolean;
  /** Set by drop(): the fact changed while this load ran, so its value is not kept. */
  dropped?: boolean;
  /** Set when the load settles: the entry it stored (its value, or a cached failure), if any.
   *  What its waiters read is that entry, and a fact trace notes it (fact-trace.ts). */
  stored?: number;
}

const keyOf = (spec: FactSpec<never>, key: string): string => `${spec.fact}\u0000${key}`;

/** What a waiter on a load passes on once it settles, after noting in its fact trace the entry
 *  the load stored: not whatever the key holds by the time the trace settles (a load dropped by
 *  an AWS event, then a reload by another admission, would otherwise vouch for a value read
 *  before the change). */
function notingStored<T>(trace: FactTrace | undefined, source: TracedSource, k: string, load: InFlight) {
  return {
    value: (value: T): T => {
      trace?.note(source, k, load.stored);
      return value;
    },
    error: (error: unknown): never => {
      trace?.note(source, k, load.stored);
      throw error;
    },
  };
}

export class FactCache implements TracedSource {
  readonly #lru: LRUCache<string, Entry>;
  readonly #inflight = new Map<string, InFlight>();
  readonly #metrics: Metrics | undefined;
  readonly #now: () => number;
  readonly #refreshTimeoutMs: number;
  readonly #shared: SharedLevel | undefined;

  constructor(options: FactCacheOptions) {
    this.#now = options.now ?? Date.now;
    // The LRU drops an entry when its stale window is over, on the same clock as freshness:
    // an injected clock moves both (real time passing must not drop what the clock says is
    // fresh). ttlResolution 0 reads that clock at each check, not once per real millisecond.
    this.#lru = new LRUCache<string, Entry>({ max: options.maxEntries, ttlAutopurge: false, perf: { now: () => this.#now() }, ttlResolution: 0 });
    this.#metrics = options.metrics;
    this.#refreshTimeoutMs = options.refreshTimeoutMs ?? 10_000;
    this.#shared = options.shared;
  }

  get size(): number {
    return this.#lru.size;
  }

  #count(fact: string, event: CacheEvent): void {
    this.#metrics?.cacheEvents.inc({ fact, event });
  }

  /**
   * The fact under `key`, loading it at most once at a time. `signal` is the caller's
   * deadline: the caller stops waiting when it fires; `loadTimeoutMs` bounds the load itself,
   * which other callers may be sharing.
   */
  async get<T>(spec: FactSpec<T>, key: string, load: (signal: AbortSignal) => Promise<T>, signal: AbortSignal, loadTimeoutMs: number): Promise<T> {
    const k = keyOf(spec, key);
    const trace = currentFactTrace();
    const entry = this.#lru.get(k);
    const now = this.#now();
    if (entry && now < entry.freshUntil) {
      trace?.note(this, k, entry.seq);
      this.#count(spec.fact, entry.hasValue ? 'hit' : 'negative-hit');
      if (!entry.hasValue) throw entry.error;
      return entry.value as T;
    }
    if (entry?.hasValue && now < entry.staleUntil) {
      // The stale entry's value is answered: the trace notes that entry, which is no longer
      // fresh, so nothing built on it is remembered.
      trace?.note(this, k, entry.seq);
      this.#count(spec.fact, 'stale');
      if (!this.#inflight.has(k)) {
        this.#start(spec, k, this.#viaShared(spec, key, load, this.#refreshTimeoutMs), this.#refreshTimeoutMs).promise.catch(() =>
          this.#count(spec.fact, 'refresh-failed'),
        );
      }
      return entry.value as T;
    }
    const running = this.#inflight.get(k);
    if (running) {
      this.#count(spec.fact, 'coalesced');
      currentPendingCalls()?.link(running.calls);
      // A shared load is bounded by the deadline of the admission that started it. One that
      // joined later and still has time asks again rather than inherit a timeout (or a value
      // built from cancelled calls) that is not its own.
      const until = now + loadTimeoutMs;
      const askAgain = () => running.outOfTime && !signal.aborted && until > this.#now();
      // Asking again reads (and notes) the key anew; otherwise what was read is what the load stored.
      const again = () => this.get(spec, key, load, signal, until - this.#now());
      const noting = notingStored<T>(trace, this, k, running);
      return untilAborted(running.promise as Promise<T>, signal, () => new AbortedError()).then(
        (value) => (askAgain() ? again() : noting.value(value)),
        (error: unknown) => (askAgain() ? again() : noting.error(error)),
      );
    }
    this.#count(spec.fact, 'miss');
    const started = this.#start(spec, k, this.#viaShared(spec, key, load, loadTimeoutMs), loadTimeoutMs);
    currentPendingCalls()?.link(started.calls);
    const read = untilAborted(started.promise, signal, () => new AbortedError());
    if (!trace) return read;
    const noting = notingStored<T>(trace, this, k, started.entry);
    return read.then(noting.value, noting.error);
  }

  #start<T>(
    spec: FactSpec<T>,
    k: string,
    load: (signal: AbortSignal) => Promise<T>,
    timeoutMs: number,
  ): { promise: Promise<T>; calls: PendingCalls; entry: InFlight } {
    // The load runs under its own tracker: whoever waits on it links that tracker, so a
    // deadline names the AWS calls this load is still waiting on.
    const calls = new PendingCalls();
    const loadSignal = AbortSignal.timeout(Math.max(1, timeoutMs));
    const endsAt = this.#now() + timeoutMs;
    // In the map before the load starts, so that a load failing at once leaves nothing behind.
    const entry = { calls, outOfTime: false } as InFlight;
    this.#inflight.set(k, entry);
    const promise = (async () => {
      try {
        // Outside the caller's fact trace: what the load reads, the entry it stores stands for.
        const value = await withPendingCalls(calls, () => outsideFactTrace(() => load(loadSignal)));
        if (!entry.dropped) entry.stored = this.#remember(spec, k, value);
        return value;
      } catch (error) {
        const ttl = spec.negativeTtlMs?.(error);
        if (ttl !== undefined && ttl > 0 && !entry.dropped) {
          entry.stored = this.#store(k, { error: withoutCause(error), hasValue: false, freshUntil: this.#now() + ttl, staleUntil: 0 }, ttl);
        }
        throw error;
      } finally {
        // Calls inside the load carry the same deadline and can time out a moment before
        // this load's own timer does: a load that ends that close to its end is out of time.
        entry.outOfTime = loadSignal.aborted || this.#now() >= endsAt - DEADLINE_MARGIN_MS;
        if (this.#inflight.get(k) === entry) this.#inflight.delete(k);
        this.#metrics?.cacheEntries.set({ fact: 'all' }, this.#lru.size);
      }
    })();
    entry.promise = promise;
    return { promise, calls, entry };
  }

  /** The value under `key` if it is fresh now, without loading, refreshing or counting it:
   *  for callers that may skip work only while a fact is still trusted. A stale value (one
   *  served only while it is refreshed) is not fresh. */
  peek<T>(spec: FactSpec<T>, key: string): T | undefined {
    return this.#freshValue(keyOf(spec, key))?.value as T | undefined;
  }

  /** The entry under an internal key when it holds a value that is fresh now (not a cached failure). */
  #freshValue(k: string): Entry | undefined {
    const entry = this.#lru.peek(k);
    return entry?.hasValue && this.#now() < entry.freshUntil ? entry : undefined;
  }

  /** Stores a fact learnt as a side effect of another call (BatchGetImage by tag returns the
   *  manifest too), unless the key has a fresh value or a load under way: those stand, as they
   *  would had the side effect not happened. Replacing one would renumber an entry that verdicts
   *  remembered meanwhile rest on (fact-trace.ts), and they would be evaluated again for nothing:
   *  the first admission of `repo:tag@digest` loads the digest's manifest beside the tag's
   *  (pipeline.ts checks both forms), and was never remembered. A cached failure (not found) is
   *  replaced: the side fact is newer, and keeping it let anyone who could guess a digest
   *  before its push deny the tag that names it, for the failure's TTL (attacker review). */
  prime<T>(spec: FactSpec<T>, key: string, value: T): void {
    const k = keyOf(spec, key);
    if (this.#inflight.has(k) || this.#freshValue(k)) return;
    this.#remember(spec, k, value);
    this.#shared?.store(spec, key, value);
  }

  /** Keeps a value for its TTL, and past it for the stale window in which it may be served.
   *  Returns the stored entry's number, or undefined when the value is not kept (no TTL left). */
  #remember<T>(spec: FactSpec<T>, k: string, value: T): number | undefined {
    const ttl = Math.min(spec.ttlMs(value), sharedRemainingMs(value) ?? Infinity);
    const staleMs = spec.staleMs ?? 0;
    const now = this.#now();
    if (ttl <= 0) return undefined;
    return this.#store(k, { value, hasValue: true, freshUntil: now + ttl, staleUntil: now + ttl + staleMs }, ttl + staleMs);
  }

  /** Every entry is stored here: numbered, kept for `ttlMs`, and counted as a change
   *  (fact-trace.ts noteFactChange), values and cached failures alike. Returns its number. */
  #store(k: string, entry: Omit<Entry, 'seq'>, ttlMs: number): number {
    const seq = ++stored;
    this.#lru.set(k, { ...entry, seq }, { ttl: ttlMs });
    noteFactChange();
    return seq;
  }

  /** The entry under an internal key while it is fresh, for a fact trace (fact-trace.ts): the
   *  same object for as long as the key keeps it, without counting, refreshing or reordering. */
  freshEntry(k: string): TracedEntry | undefined {
    const entry = this.#lru.peek(k);
    return entry && this.#now() < entry.freshUntil ? entry : undefined;
  }

  /** A miss goes to the shared level first, when there is one. */
  #viaShared<T>(spec: FactSpec<T>, key: string, load: (signal: AbortSignal) => Promise<T>, timeoutMs: number): (signal: AbortSignal) => Promise<T> {
    const shared = this.#shared;
    return shared ? (signal) => shared.load(spec, key, load, signal, timeoutMs) : load;
  }

  /** Forgets the facts `test` names (an AWS event said they changed), and keeps no value from
   *  the loads of them under way: those may have read AWS before the change. Returns what was
   *  dropped, for callers that refresh it. */
  drop(test: (fact: string, key: string, value: unknown) => boolean): { fact: string; key: string; value: unknown }[] {
    const dropped: { fact: string; key: string; value: unknown }[] = [];
    for (const [k, entry] of this.#lru.entries()) {
      const [fact = '', key = ''] = k.split('\u0000', 2);
      if (test(fact, key, entry.value)) {
        this.#lru.delete(k);
        noteFactChange();
        dropped.push({ fact, key, value: entry.value });
      }
    }
    for (const [k, running] of this.#inflight) {
      const [fact = '', key = ''] = k.split('\u0000', 2);
      if (test(fact, key, undefined)) {
        running.dropped = true;
        this.#inflight.delete(k);
      }
    }
    return dropped;
  }

  /** Forgets every entry (a new policy does not need this: verdict keys carry its version). */
  clear(): void {
    this.#lru.clear();
    noteFactChange();
  }
}
