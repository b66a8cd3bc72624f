// The port of a second cache level shared by a fleet of webhook processes (issue 16): the
// fact cache asks it on a local miss, before AWS, and tells it the facts it learns as side
// effects. The implementation (Valkey/Redis) lives in facts/shared-cache/; this file only
// says what the fact cache needs of it, so that support/ never depends on a client.

/** What the shared level reads of a FactSpec (fact-cache.ts): its kind and its TTL. */
export interface SharedSpec<T> {
  readonly fact: string;
  readonly ttlMs: (value: T) => number;
}

export interface SharedLevel {
  /**
   * The fact under `key`: a value another process stored (still fresh and of the right
   * shape), or the value of the process that is loading it now (waited for within part of
   * `timeoutMs`), or else `load`'s own, which is then stored for the others. Never fails
   * because the shared level does: it then runs `load` as if it were not there.
   */
  load<T>(spec: SharedSpec<T>, key: string, load: (signal: AbortSignal) => Promise<T>, signal: AbortSignal, timeoutMs: number): Promise<T>;
  /** Stores a fact learnt as a side effect of another call (FactCache.prime). */
  store<T>(spec: SharedSpec<T>, key: string, value: T): void;
}

/** How long a value read from the shared level has left to live there: the local copy lives
 *  no longer (same TTLs across the fleet, not a TTL restarted at each level). Keyed by the
 *  value object itself, which the fact cache keeps as it is. */
const sharedFreshFor = new WeakMap<object, number>();

export function markSharedRemaining(value: unknown, ms: number): void {
  if (typeof value === 'object' && value !== null) sharedFreshFor.set(value, ms);
}

export function sharedRemainingMs(value: unknown): number | undefined {
  return typeof value === 'object' && value !== null ? sharedFreshFor.get(value) : undefined;
}
