// The UPDATE shortcut: an image string the old object already had need not be checked again,
// but only while what made it pass still holds. A digest reference names the same bytes
// forever. A tag does not: ECR lets a tag be reused once its image is deleted (even in an
// IMMUTABLE repository), so an unchanged tag is skipped only when (1) the fact cache still
// trusts the tag's digest (fresh, within the mutableTag TTL) and (2) that same digest passed
// every check for this image string, in this namespace, under this policy, within the same
// TTL. Otherwise it is checked like a CREATE.
import { LRUCache } from 'lru-cache';
import type { ImageSubject } from '../checks/types.ts';
import type { ImageVerdictInput } from '../decision/types.ts';
import type { CompiledPolicy } from '../policy/compile.ts';

export interface TagDigestLookup {
  /** The digest the fact cache still trusts for `tag` of this image, or undefined. */
  freshTagDigest(subject: ImageSubject, tag: string): string | undefined;
}

interface Passed {
  readonly digest: string;
  readonly at: number;
}

/** Images per policy load remembered as recently passed: bounded, oldest forgotten first. */
const MAX_REMEMBERED = 10_000;

export class RecentPasses {
  // Per compiled policy: a reloaded policy starts with nothing remembered.
  readonly #byPolicy = new WeakMap<CompiledPolicy, LRUCache<string, Passed>>();

  #of(policy: CompiledPolicy): LRUCache<string, Passed> {
    let lru = this.#byPolicy.get(policy);
    if (!lru) {
      lru = new LRUCache<string, Passed>({ max: MAX_REMEMBERED });
      this.#byPolicy.set(policy, lru);
    }
    return lru;
  }

  /** Remembers which images passed every check (and forgets those that did not). */
  record(policy: CompiledPolicy, namespace: string, verdicts: readonly ImageVerdictInput[], now: number): void {
    const lru = this.#of(policy);
    for (const v of verdicts) {
      const key = `${namespace}\u0000${v.container.image}`;
      const passed = v.results.every((r) => r.status === 'pass' || r.status === 'skip');
      if (passed && v.digest !== undefined) lru.set(key, { digest: v.digest, at: now });
      else lru.delete(key);
    }
  }

  /** The digest `image` passed with in `namespace` less than `ttlMs` ago, if it did. */
  passedWithin(policy: CompiledPolicy, namespace: string, image: string, ttlMs: number, now: number): string | undefined {
    const passed = this.#byPolicy.get(policy)?.get(`${namespace}\u0000${image}`);
    return passed !== undefined && now - passed.at < ttlMs && now >= passed.at ? passed.digest : undefined;
  }
}
