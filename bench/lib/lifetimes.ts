// "One AWS call per fact", with facts that expire. A tag's digest is trusted for the policy's
// mutableTag TTL (15 s by default, since issue 12: a tag can be moved even in an IMMUTABLE
// repository), so over a 50 s rollout the same BatchGetImage-by-tag must be asked again when
// its answer expires: four lifetimes of one fact, not one fact asked four times. Every other
// fact the rollout reads outlives the rollout (their TTLs are minutes), so each is one lifetime.
//
// A lifetime starts with a call and lasts the fact's TTL; a call within a lifetime (the answer
// still fresh, or its load still in flight) is one too many. Strict: a refresh made before the
// answer expired counts against the webhook.
import type { CalledRequest } from './procs.ts';

export interface Lifetimes {
  /** Distinct requests (operation + input). */
  readonly requests: number;
  /** Fact lifetimes: calls that had to be made. */
  readonly lifetimes: number;
  readonly calls: number;
  /** Calls made while the same fact was fresh or being loaded. */
  readonly redundant: number;
}

export function factLifetimes(requests: readonly CalledRequest[], tagTtlMs: number): Lifetimes {
  let lifetimes = 0;
  let calls = 0;
  for (const r of requests) {
    const ttl = r.tag ? tagTtlMs : Number.POSITIVE_INFINITY;
    let started = Number.NEGATIVE_INFINITY;
    for (const at of [...r.at].sort((a, b) => a - b)) {
      calls++;
      if (at - started >= ttl) {
        lifetimes++;
        started = at;
      }
    }
  }
  return { requests: requests.length, lifetimes, calls, redundant: calls - lifetimes };
}
