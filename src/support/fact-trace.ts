// Which cached facts one piece of work read, so that its result can be remembered exactly as
// long as every one of them would still be read back unchanged (admission/check-memo.ts).
// The fact cache notes each key it answers in the trace of the current async context, with the
// entry its answer came from (a hit's, or the one its load stored); the memo keeps those
// entries: the result is valid while each key still holds that very entry (not evicted, not
// refreshed, not replaced) and the earliest of their freshness ends has not passed.
import { AsyncLocalStorage } from 'node:async_hooks';

/** The cache entry behind a key, as the memo sees it: which storing it is (a number, so that
 *  a memo never holds on to an evicted entry's value) and its freshness end. */
export interface TracedEntry {
  readonly seq: number;
  readonly freshUntil: number;
}

/** What a fact cache offers a trace: the fresh entry now under one of its internal keys. */
export interface TracedSource {
  freshEntry(key: string): TracedEntry | undefined;
}

/** One fact read, as a memo keeps it: the place, the key and which storing it was. */
export interface TracedRead {
  readonly source: TracedSource;
  readonly key: string;
  readonly seq: number;
}

/** How many times a traced source has changed what it holds (a fact stored, dropped, the whole
 *  cleared): one count for every source of the process. While it stands still, each key a memo
 *  saw holding an entry still holds that very entry, so the memo need not ask each key again
 *  (issue 18: the warm path asked the cache for every fact behind every remembered image); its
 *  freshness is the memo's own `until`. Shared by all sources: a change anywhere only sends
 *  memos back to asking each key, never the other way. */
let changes = 0;

/** Called by a traced source whenever it stores, drops or clears an entry. */
export function noteFactChange(): void {
  changes++;
}

/** The count of changes so far (noteFactChange). */
export function factChanges(): number {
  return changes;
}

/** Whether a key still holds, fresh, the very entry that was read. */
export function stillHeld(read: TracedRead): boolean {
  return read.source.freshEntry(read.key)?.seq === read.seq;
}

export class FactTrace {
  readonly #read: Array<{ readonly source: TracedSource; readonly key: string; readonly seq: number }> = [];
  #uncached = false;

  /** Called for every AWS call made outside a fact-cache load (pending-calls.ts trackCall): an
   *  answer built on a read the cache does not keep cannot be reused (DescribeImageSigningStatus,
   *  say, which only words an unsigned image's denial). */
  readUncached(): void {
    this.#uncached = true;
  }

  /** Called by the fact cache for every key read while this trace is current, once it knows
   *  which entry the value (or error) it answered came from: the entry it holds (a hit, a stale
   *  value served while it refreshes), or the one a load stored (a miss). A read whose answer
   *  came from no entry it keeps (a load dropped by an AWS event, a failure it does not cache)
   *  is noted with `undefined`: such an answer is never remembered. */
  note(source: TracedSource, key: string, seq: number | undefined): void {
    if (seq === undefined) this.#uncached = true;
    else this.#read.push({ source, key, seq });
  }

  /** The entries read, each still fresh, with the earliest freshness end and the count of
   *  changes at which they were seen held (factChanges()); undefined when one is gone or no
   *  longer fresh, or when a read was answered from no kept entry (a failure the cache does not
   *  keep, a dropped load: note(..., undefined)). */
  settle(): { readonly entries: readonly TracedRead[]; readonly freshUntil: number; readonly heldAt: number } | undefined {
    if (this.#uncached) return undefined;
    const entries: TracedRead[] = [];
    let freshUntil = Number.POSITIVE_INFINITY;
    for (const { source, key, seq } of this.#read) {
      const entry = source.freshEntry(key);
      // Gone, stale, or not the entry whose value was read.
      if (entry === undefined || entry.seq !== seq) return undefined;
      entries.push({ source, key, seq: entry.seq });
      if (entry.freshUntil < freshUntil) freshUntil = entry.freshUntil;
    }
    return { entries, freshUntil, heldAt: changes };
  }
}

const storage = new AsyncLocalStorage<FactTrace>();

/** The trace of the current async context, if any. */
export function currentFactTrace(): FactTrace | undefined {
  return storage.getStore();
}

/** Runs `run` outside any trace: a fact-cache load, whose reads the entry it stores stands for. */
export function outsideFactTrace<T>(run: () => T): T {
  return storage.exit(run);
}

/** Runs `run` (and everything it starts) with `trace` noting the facts it reads. */
export function withFactTrace<T>(trace: FactTrace, run: () => T): T {
  return storage.run(trace, run);
}
