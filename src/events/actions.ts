// What an AWS event does to the cached facts. Every action is a drop, plus work that only
// reads AWS again (a prewarm), so an event can make the webhook ask AWS sooner, never admit
// anything AWS would not: whoever can write to the queue can cost calls, not decisions. Drops
// are idempotent and order-free (a fact is always read back from AWS), so duplicates and
// reordered deliveries change nothing.
//
// - ECR Image Action PUSH: the tag may name another digest now: drop the tag, then prewarm the
//   pushed tag's facts (the checks of the policy with no override) so the first Pod is warm.
// - ECR Image Action DELETE: drop the digest's facts (and the tag's, when the event names it).
// - ECR Image Scan, Inspector2 Scan: the scan state changed: drop the digest's report.
// - Inspector2 Finding: drop the reports holding the digest (an image, or a platform image of
//   an index) and, for those this process had cached, read them again at once.
import type { Logger } from 'pino';
import type { FactCache } from '../support/fact-cache.ts';
import { digestGroup, inGroups, tagGroup, type SharedFactCache } from '../facts/shared-cache/index.ts';
import type { FactEvent, ImageAt } from './envelope.ts';

export interface Prewarm {
  /** Runs the checks of `image` (a reference in the given registry) to fill the caches. */
  (image: { accountId: string; region: string; repository: string; tag?: string; digest?: string }): Promise<void>;
}

export interface EventActionsOptions {
  readonly cache: FactCache;
  readonly shared?: SharedFactCache;
  readonly prewarm: Prewarm;
  readonly logger?: Logger;
  /** Prewarms at once, and waiting at most: past that an event's prewarm is skipped (a storm of
   *  pushes must not become a storm of AWS calls). */
  readonly maxConcurrentPrewarms?: number;
  readonly maxPendingPrewarms?: number;
}

const where = (i: { accountId: string; region: string; repository: string }) => `${i.accountId}/${i.region}/${i.repository}`;

export class EventActions {
  readonly #o: EventActionsOptions;
  readonly #pending: (() => Promise<void>)[] = [];
  #running = 0;
  #idle: (() => void)[] = [];
  skippedPrewarms = 0;

  constructor(options: EventActionsOptions) {
    this.#o = options;
  }

  async apply(event: FactEvent): Promise<void> {
    switch (event.kind) {
      case 'push':
        await this.#drop(event.tag !== undefined ? [tagGroup(where(event.image), event.tag)] : []);
        this.#schedule({ ...event.image, ...(event.tag !== undefined ? { tag: event.tag } : { digest: event.image.digest }) });
        return;
      case 'delete':
        await this.#drop([digestGroup(where(event.image), event.image.digest), ...(event.tag !== undefined ? [tagGroup(where(event.image), event.tag)] : [])]);
        return;
      case 'scan':
        await this.#drop([digestGroup(where(event.image), event.image.digest)]);
        return;
      case 'finding': {
        const dropped = await this.#drop(event.images.map((i: ImageAt) => digestGroup(where(i), i.digest)));
        // Refresh what this process had: its reports are keyed <where>@<digest>|<severities>.
        const again = new Set<string>();
        for (const d of dropped) if (d.fact === 'vulnerabilities') again.add(d.key.split('|', 1)[0]!);
        for (const key of again) {
          const at = key.lastIndexOf('@');
          const [accountId = '', region = '', ...repo] = key.slice(0, at).split('/');
          this.#schedule({ accountId, region, repository: repo.join('/'), digest: key.slice(at + 1) });
        }
        return;
      }
    }
  }

  /** Drops the groups here and in the shared level (which tells the other replicas). */
  async #drop(groups: string[]): Promise<{ fact: string; key: string }[]> {
    const dropped = this.#o.cache.drop(inGroups(new Set(groups)));
    if (this.#o.shared) {
      try {
        await this.#o.shared.drop(groups);
      } catch (error) {
        // The records outlive this drop until their TTL; the other replicas keep theirs too.
        this.#o.logger?.warn(
          { err: error instanceof Error ? error.message : String(error), groups: groups.length },
          'event: the shared fact cache did not take the drop',
        );
      }
    }
    return dropped;
  }

  #schedule(image: Parameters<Prewarm>[0]): void {
    if (this.#pending.length >= (this.#o.maxPendingPrewarms ?? 100)) {
      this.skippedPrewarms++;
      return;
    }
    this.#pending.push(() => this.#o.prewarm(image));
    this.#pump();
  }

  #pump(): void {
    while (this.#running < (this.#o.maxConcurrentPrewarms ?? 4) && this.#pending.length > 0) {
      const task = this.#pending.shift()!;
      this.#running++;
      task()
        .catch((error: unknown) => this.#o.logger?.debug({ err: error instanceof Error ? error.message : String(error) }, 'event: prewarm failed'))
        .finally(() => {
          this.#running--;
          this.#pump();
          if (this.#running === 0 && this.#pending.length === 0) for (const done of this.#idle.splice(0)) done();
        });
    }
  }

  /** Resolves when no prewarm is running or waiting (tests, shutdown). */
  settled(): Promise<void> {
    if (this.#running === 0 && this.#pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }
}
