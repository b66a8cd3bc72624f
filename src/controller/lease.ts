// Leader election on a coordination.k8s.io/v1 Lease, the way client-go's leaderelection does
// it: one holder at a time, written with optimistic concurrency (the resourceVersion read is
// the one replaced, so two candidates cannot both win a race), a lease counted as expired by
// this process's own clock from when it last SAW the record change (clock skew between nodes
// does not matter), a leader that steps down when it could not renew within the renew
// deadline, and a release on shutdown (holder emptied) so a standby takes over at once.
import type { Logger } from 'pino';
import { errorMessage } from '../support/errors.ts';

export interface LeaseRecord {
  /** Empty or absent: nobody holds it (released). */
  readonly holder?: string;
  readonly leaseDurationSeconds: number;
  readonly acquireTime?: Date;
  readonly renewTime?: Date;
  readonly leaseTransitions: number;
  /** The version read; a replace with a stale one fails (409). */
  readonly resourceVersion?: string;
}

/** The Lease on the API server (lease-kube.ts); create and replace answer false on a conflict. */
export interface LeasePort {
  get(): Promise<LeaseRecord | undefined>;
  create(record: LeaseRecord): Promise<boolean>;
  replace(record: LeaseRecord): Promise<boolean>;
}

export interface LeaseTiming {
  /** How long a holder's lease lasts without renewal (client-go's default: 15 s). */
  readonly leaseDurationMs: number;
  /** A leader that has not renewed for this long steps down (default 10 s); < leaseDuration. */
  readonly renewDeadlineMs: number;
  /** Between attempts (default 2 s). */
  readonly retryPeriodMs: number;
}

export const DEFAULT_LEASE_TIMING: LeaseTiming = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };

export interface ElectorOptions {
  readonly port: LeasePort;
  readonly identity: string;
  readonly timing?: LeaseTiming;
  readonly logger?: Logger;
  readonly now?: () => number;
  /** Called when this process becomes the leader, and when it stops being one. */
  readonly onStartedLeading: () => void;
  /** May answer a promise: on shutdown the lease is released only once it settles (no overlap). */
  readonly onStoppedLeading: () => void | Promise<void>;
}

export function checkTiming(t: LeaseTiming): string | undefined {
  if (!(t.retryPeriodMs > 0)) return 'retryPeriod must be positive';
  if (!(t.renewDeadlineMs > t.retryPeriodMs)) return 'renewDeadline must be longer than retryPeriod';
  if (!(t.leaseDurationMs > t.renewDeadlineMs)) return 'leaseDuration must be longer than renewDeadline';
  return undefined;
}

export class LeaderElector {
  readonly #o: ElectorOptions;
  readonly #timing: LeaseTiming;
  readonly #now: () => number;
  /** The record last read and when (by our clock) it was first seen in that version. */
  #observed?: { record: LeaseRecord; at: number };
  #leading = false;
  #lastRenew = 0;
  #timer?: NodeJS.Timeout;
  #stopped = false;
  #attempt?: Promise<void>;

  constructor(options: ElectorOptions) {
    this.#o = options;
    this.#timing = options.timing ?? DEFAULT_LEASE_TIMING;
    const problem = checkTiming(this.#timing);
    if (problem) throw new Error(`lease timing: ${problem}`);
    this.#now = options.now ?? Date.now;
  }

  get leading(): boolean {
    return this.#leading;
  }

  /** Campaigns (and renews) every retryPeriod until stop(). */
  start(): void {
    this.#stopped = false;
    const tick = () => {
      this.#attempt = this.step().finally(() => {
        this.#attempt = undefined;
        if (!this.#stopped) this.#timer = setTimeout(tick, this.#timing.retryPeriodMs);
      });
    };
    tick();
  }

  /** One attempt to acquire or renew, then the step down if the renew deadline has passed. */
  async step(): Promise<void> {
    let ok = false;
    try {
      ok = await this.tryAcquireOrRenew();
    } catch (err) {
      this.#o.logger?.warn({ err: errorMessage(err) }, 'lease: could not reach the API server');
    }
    const now = this.#now();
    if (ok) {
      this.#lastRenew = now;
      if (!this.#leading) {
        this.#leading = true;
        this.#o.logger?.info({ identity: this.#o.identity }, 'lease: became the leader');
        this.#o.onStartedLeading();
      }
    } else if (this.#leading && now - this.#lastRenew >= this.#timing.renewDeadlineMs) {
      this.#leading = false;
      this.#o.logger?.warn({ identity: this.#o.identity }, 'lease: renew deadline passed, stepping down');
      void this.#o.onStoppedLeading();
    }
  }

  /** True when this process holds the lease after the call. */
  async tryAcquireOrRenew(): Promise<boolean> {
    const now = this.#now();
    const durationSeconds = Math.ceil(this.#timing.leaseDurationMs / 1000);
    const current = await this.#o.port.get();
    if (!current) {
      const created: LeaseRecord = {
        holder: this.#o.identity,
        leaseDurationSeconds: durationSeconds,
        acquireTime: new Date(now),
        renewTime: new Date(now),
        leaseTransitions: 0,
      };
      return this.#o.port.create(created);
    }
    if (this.#observed?.record.resourceVersion !== current.resourceVersion) this.#observed = { record: current, at: now };
    const held = current.holder !== undefined && current.holder !== '';
    const mine = current.holder === this.#o.identity;
    const expired = this.#observed!.at + current.leaseDurationSeconds * 1000 <= now;
    if (held && !mine && !expired) return false;
    const record: LeaseRecord = {
      holder: this.#o.identity,
      leaseDurationSeconds: durationSeconds,
      acquireTime: mine && current.acquireTime ? current.acquireTime : new Date(now),
      renewTime: new Date(now),
      leaseTransitions: mine ? current.leaseTransitions : current.leaseTransitions + 1,
      ...(current.resourceVersion !== undefined && { resourceVersion: current.resourceVersion }),
    };
    return this.#o.port.replace(record);
  }

  /** Stops campaigning; a leader releases the lease (holder emptied) so a standby need not wait it out. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#attempt;
    if (!this.#leading) return;
    this.#leading = false;
    await this.#o.onStoppedLeading();
    try {
      const current = await this.#o.port.get();
      if (current?.holder !== this.#o.identity) return;
      const now = new Date(this.#now());
      await this.#o.port.replace({ ...current, holder: '', leaseDurationSeconds: 1, renewTime: now });
      this.#o.logger?.info({ identity: this.#o.identity }, 'lease: released');
    } catch (err) {
      this.#o.logger?.warn({ err: errorMessage(err) }, 'lease: could not release (a standby takes over when it expires)');
    }
  }
}
