// Remembers one image's check results per (policy, namespace, image reference), so that an
// image admitted a moment ago is decided again without running its checks: the warm path's
// cost is then the HTTP exchange, not the check machinery (bench/README.md, issue 18).
//
// A remembered result is exactly what the checks would answer now, because it is dropped
// (or never kept) whenever anything it was built from could answer differently:
// - the policy: results are kept per compiled policy object, so a reload (any new version:
//   the file, a trust store's certificates) starts empty; the key holds the namespace and the
//   image, which with the policy are everything a check is given (the effective settings,
//   overrides and exceptions derive from them), so a new check is covered without a change here;
// - the facts: every fact-cache read the checks made is traced (support/fact-trace.ts); a
//   result lives while each key still holds the very entry read, fresh, so a refresh, an
//   eviction or the first TTL to run out ends it;
// - the clock: the vulnerability exceptions of the image's effective policy change the answer
//   at their expiry and on each day of their expiry warning: a result never lives across one;
// - errors: a result with a check in error (AWS could not answer, the deadline) is never kept,
//   nor one judged as the digest alone because its tag could not be read: the failed read is
//   no kept entry, so its trace does not settle (support/fact-trace.ts), and the next admission
//   that reads the tag is judged under the tag's policy (test/admission/moved-tag.test.ts).
// The decision itself (decide()) is made for each request: it names the object and its containers.
import { LRUCache } from 'lru-cache';
import type { CheckResult, TagMismatch } from '../checks/types.ts';
import { EXPIRY_WARNING_MS } from '../checks/vulnerabilities.ts';
import { DAY_MS } from '../policy/exceptions.ts';
import type { CompiledPolicy, EffectivePolicy } from '../policy/compile.ts';
import { factChanges, FactTrace, stillHeld, withFactTrace, type TracedRead } from '../support/fact-trace.ts';
import type { Metrics } from '../support/metrics.ts';

/** What checking one image yields: its results, the policy they were judged under, its digest. */
export interface ImageVerdict {
  readonly results: readonly CheckResult[];
  readonly effective: EffectivePolicy;
  readonly digest?: string;
  /** Set when a tag@digest reference was judged as its digest alone: why (admission/moved-tag.ts). */
  readonly tagMismatch?: TagMismatch;
}

interface Remembered {
  readonly verdict: ImageVerdict;
  readonly until: number;
  readonly reads: readonly TracedRead[];
  /** factChanges() when every read was last seen held: while no fact has changed since, they
   *  all still are (fact-trace.ts), and `until` bounds their freshness. */
  heldAt: number;
}

/** Namespace and image together longer than this are checked every time, never kept: the
 *  memo's memory is bounded by its entry count times this. */
const MAX_KEY_LENGTH = 4096 + 256;
/** At most this many results are kept, whatever the fact cache's size. */
const MAX_ENTRIES = 4096;

/** The next instant after `now` at which an exception's verdict or warning changes. */
export function nextExceptionChange(effective: EffectivePolicy, now: number): number {
  let next = Number.POSITIVE_INFINITY;
  const days = Math.ceil(EXPIRY_WARNING_MS / DAY_MS);
  for (const e of effective.vulnerabilityExceptions ?? []) {
    // The warning starts EXPIRY_WARNING_MS before the end and counts whole days down to it.
    for (let d = 0; d <= days; d++) {
      const at = e.endsAt - d * DAY_MS;
      if (at > now && at < next) next = at;
    }
    const warnFrom = e.endsAt - EXPIRY_WARNING_MS;
    if (warnFrom > now && warnFrom < next) next = warnFrom;
  }
  return next;
}

/** Whether every fact behind a result is still the entry read, asking each key; notes when. */
function stillHeldNow(kept: Remembered): boolean {
  if (!kept.reads.every(stillHeld)) return false;
  kept.heldAt = factChanges();
  return true;
}

export class CheckMemo {
  readonly #byPolicy = new WeakMap<CompiledPolicy, LRUCache<string, Remembered>>();
  readonly #now: () => number;
  readonly #maxEntries: number;
  readonly #metrics: Metrics | undefined;

  /** `now` is the fact cache's clock (ms since the epoch): freshness ends are read on it. Hits
   *  and misses count as ecr_admission_cache_events_total{fact="check-results"}: a remembered
   *  image reads no fact, so without them the fact cache's hit rate would fall as it works. */
  constructor(options: { maxEntries: number; now?: () => number; metrics?: Metrics }) {
    this.#now = options.now ?? Date.now;
    this.#maxEntries = Math.max(1, Math.min(options.maxEntries, MAX_ENTRIES));
    this.#metrics = options.metrics;
  }

  /** How many results are kept for this policy (tests of the memo's memory). */
  size(policy: CompiledPolicy): number {
    return this.#byPolicy.get(policy)?.size ?? 0;
  }

  #count(event: 'hit' | 'miss'): void {
    this.#metrics?.cacheEvents.inc({ fact: 'check-results', event });
  }

  /** The results remembered for this image, if they are still what its checks would answer. */
  lookup(policy: CompiledPolicy, namespace: string, image: string): ImageVerdict | undefined {
    const lru = this.#byPolicy.get(policy);
    const key = `${namespace}\u0000${image}`;
    const kept = lru?.get(key);
    if (kept !== undefined && this.#now() < kept.until && (kept.heldAt === factChanges() || stillHeldNow(kept))) {
      this.#count('hit');
      return kept.verdict;
    }
    if (kept !== undefined) lru!.delete(key);
    this.#count('miss');
    return undefined;
  }

  /** Runs `check` with its fact reads traced, and keeps its verdict when it may be reused. */
  async remember(policy: CompiledPolicy, namespace: string, image: string, check: () => Promise<ImageVerdict>): Promise<ImageVerdict> {
    const trace = new FactTrace();
    // The checks read the clock after this: an exception boundary crossed while they ran ends
    // what they answer at once.
    const started = this.#now();
    const verdict = await withFactTrace(trace, check);
    const key = `${namespace}\u0000${image}`;
    if (key.length > MAX_KEY_LENGTH || verdict.results.some((r) => r.status === 'error')) return verdict;
    const settled = trace.settle();
    if (settled === undefined) return verdict;
    const until = Math.min(settled.freshUntil, nextExceptionChange(verdict.effective, started));
    if (until <= this.#now()) return verdict;
    let lru = this.#byPolicy.get(policy);
    if (lru === undefined) {
      lru = new LRUCache<string, Remembered>({ max: this.#maxEntries });
      this.#byPolicy.set(policy, lru);
    }
    lru.set(key, { verdict, until, reads: settled.entries, heldAt: settled.heldAt });
    return verdict;
  }
}
