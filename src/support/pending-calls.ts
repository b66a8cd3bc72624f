// Which AWS calls a check is waiting on, so that a check stopped by the admission deadline
// says "waiting on ecr DescribeRepositories" instead of only that time ran out. The AWS
// clients' middleware and the signature download record each call in the tracker of the
// async context they run in; the fact cache runs each load under its own tracker and links
// it into every caller's, so an admission that joined another's load (single-flight) names
// the call it waits on too.
import { AsyncLocalStorage } from 'node:async_hooks';
import { currentFactTrace } from './fact-trace.ts';

export class PendingCalls {
  readonly #calls = new Map<symbol, { readonly label: string; readonly since: number }>();
  readonly #linked = new Set<PendingCalls>();

  /** Records `label` ("ecr BatchGetImage") as in flight; returns the function that ends it. */
  start(label: string): () => void {
    const id = Symbol(label);
    this.#calls.set(id, { label, since: Date.now() });
    return () => {
      this.#calls.delete(id);
    };
  }

  /** Calls in flight in `other` count as this tracker's too. */
  link(other: PendingCalls): void {
    if (other !== this) this.#linked.add(other);
  }

  /** The calls in flight here and in linked trackers, oldest first, each named once. */
  describe(): string[] {
    const oldest = new Map<string, number>();
    const seen = new Set<PendingCalls>();
    const visit = (tracker: PendingCalls): void => {
      if (seen.has(tracker)) return;
      seen.add(tracker);
      for (const { label, since } of tracker.#calls.values()) oldest.set(label, Math.min(oldest.get(label) ?? since, since));
      for (const linked of tracker.#linked) visit(linked);
    };
    visit(this);
    return [...oldest].sort((a, b) => a[1] - b[1]).map(([label]) => label);
  }
}

const storage = new AsyncLocalStorage<PendingCalls>();

/** The tracker of the current async context, if any. */
export function currentPendingCalls(): PendingCalls | undefined {
  return storage.getStore();
}

/** Runs `run` (and everything it starts) with `tracker` as the current tracker. */
export function withPendingCalls<T>(tracker: PendingCalls, run: () => T): T {
  return storage.run(tracker, run);
}

/** Records `label` as in flight in the current tracker while `run` is. */
export async function trackCall<T>(label: string, run: () => Promise<T>): Promise<T> {
  // Outside a fact-cache load (loads run outside any trace), a call is a read the cache does not keep.
  currentFactTrace()?.readUncached();
  const done = storage.getStore()?.start(label);
  try {
    return await run();
  } finally {
    done?.();
  }
}
