// Continuous compliance: the running Pods (from the informer) and their images, re-checked every
// interval and at once when a Pod or digest appears, published as PolicyReports, Events on
// pass→fail, and metrics. Rounds never overlap: a request made during a round runs after it.
import type { Logger } from 'pino';
import type { V1Pod } from '@kubernetes/client-node';
import type { CompiledPolicy } from '../policy/compile.ts';
import { errorMessage } from '../support/errors.ts';
import { imageKey, type ImageEvaluator, type ImageTask } from './evaluations.ts';
import { runningImages } from './pod-images.ts';
import type { ReportPublisher } from './publisher.ts';
import { buildReportBody, podOutcomes, podStanding, type PodOutcome, type TrackedPod } from './report.ts';
import type { ControllerMetrics } from './metrics.ts';
import type { PodRef } from './kube-reports.ts';

export interface ControllerOptions {
  readonly evaluator: ImageEvaluator;
  readonly policy: () => CompiledPolicy;
  readonly reports: ReportPublisher;
  readonly event: (pod: PodRef, message: string) => Promise<void>;
  readonly intervalMs: number;
  /** How long a new Pod waits for others to arrive before its round (a rollout is one round). */
  readonly settleMs?: number;
  readonly metrics?: ControllerMetrics;
  /** Whether the webhook checks a namespace (its namespaceSelector on the Namespace's labels,
   *  namespace-scope.ts); absent: every namespace. The policy's exclusions apply besides. */
  readonly namespaceInScope?: (namespace: string) => boolean;
  /** AWS calls made so far (metrics.ts awsCallCount), for the per-round accounting. */
  readonly awsCalls?: () => Promise<number>;
  readonly logger?: Logger;
}

export interface RoundStats {
  readonly kind: 'interval' | 'new';
  readonly pods: number;
  readonly distinctImages: number;
  readonly evaluated: number;
  readonly awsCalls?: number;
  readonly writes: number;
  readonly events: number;
  readonly durationMs: number;
}

const TERMINATED = new Set(['Succeeded', 'Failed']);
/** Rounds kept for /readyz and tests (the process runs for months). */
const MAX_ROUNDS_KEPT = 50;

export class ComplianceController {
  readonly #o: ControllerOptions;
  readonly #pods = new Map<string, TrackedPod>();
  /** Last complete outcomes of each Pod (kept while one of its images is being evaluated). */
  readonly #outcomes = new Map<string, PodOutcome[]>();
  readonly #standing = new Map<string, 'pass' | 'fail'>();
  #queue: Promise<void> = Promise.resolve();
  #scheduled?: { full: boolean };
  #timer?: NodeJS.Timeout;
  /** Rounds run between start() and stop(); Pods are tracked before, so the first round knows them all. */
  #running = false;
  /** The last finished rounds (up to MAX_ROUNDS_KEPT), for /readyz and tests. */
  readonly rounds: RoundStats[] = [];

  constructor(options: ControllerOptions) {
    this.#o = options;
  }

  get podCount(): number {
    return this.#pods.size;
  }

  /** What stored reports say of Pods this process has not judged yet (a new leader's memory). */
  seedStandings(standings: ReadonlyMap<string, 'pass' | 'fail'>): void {
    for (const [uid, standing] of standings) if (!this.#standing.has(uid)) this.#standing.set(uid, standing);
  }

  /** A Pod added or changed: tracked while it runs (whether its namespace is in scope is
   *  decided at each round, so a relabelled namespace or a reloaded policy takes effect). */
  upsert(pod: V1Pod): void {
    const { namespace, name, uid } = pod.metadata ?? {};
    if (!namespace || !name || !uid) return;
    const policy = this.#o.policy();
    if (TERMINATED.has(pod.status?.phase ?? '')) {
      if (this.#pods.has(uid)) this.remove(pod);
      return;
    }
    const images = runningImages(pod);
    const keys = 'containers' in images ? images.containers.map((c) => imageKey(policy, namespace, c.image)) : [];
    const before = this.#pods.get(uid);
    this.#pods.set(uid, { namespace, name, uid, images, keys });
    const changed = !before || before.keys.join('\n') !== keys.join('\n') || 'error' in before.images !== 'error' in images;
    if (changed && this.#inScope(namespace, policy)) this.request(false);
  }

  /** A Pod deleted: its entries leave the report at the next round (which this requests). */
  remove(pod: V1Pod): void {
    const uid = pod.metadata?.uid;
    if (!uid || !this.#pods.delete(uid)) return;
    this.#outcomes.delete(uid);
    this.#standing.delete(uid);
    this.request(false);
  }

  #inScope(namespace: string, policy: CompiledPolicy): boolean {
    return !policy.isNamespaceExcluded(namespace) && (this.#o.namespaceInScope?.(namespace) ?? true);
  }

  /** Pods of namespaces the webhook checks, now. */
  #livePods(policy: CompiledPolicy): TrackedPod[] {
    return [...this.#pods.values()].filter((p) => this.#inScope(p.namespace, policy));
  }

  /** Starts the rounds: the interval, and requests (the first full round is requested by
   *  whoever synced the Pods; requests before start() are dropped, the Pods they were for kept). */
  start(): void {
    this.#running = true;
    this.#timer = setInterval(() => this.request(true), this.#o.intervalMs);
  }

  /** Stops the interval and waits for the round under way. */
  async stop(): Promise<void> {
    this.#running = false;
    clearInterval(this.#timer);
    await this.#queue;
  }

  /** Resolves when every requested round has run. */
  idle(): Promise<void> {
    return this.#queue;
  }

  /** A round soon: `full` re-checks every image, otherwise only those not yet evaluated. */
  request(full: boolean): void {
    if (!this.#running) return;
    if (this.#scheduled) {
      this.#scheduled.full ||= full;
      return;
    }
    const scheduled = { full };
    this.#scheduled = scheduled;
    const settleMs = full ? 0 : (this.#o.settleMs ?? 250);
    this.#queue = this.#queue
      .then(() => new Promise((resolve) => setTimeout(resolve, settleMs)))
      .then(() => {
        this.#scheduled = undefined;
        return this.#running ? this.round(scheduled.full) : undefined;
      })
      .then(
        (stats) => {
          if (!stats) return;
          this.rounds.push(stats);
          if (this.rounds.length > MAX_ROUNDS_KEPT) this.rounds.shift();
        },
        (err: unknown) => this.#o.logger?.error({ err: errorMessage(err) }, 'controller: round failed; the next one retries'),
      );
  }

  /** Evaluates, then publishes. Exposed for tests; normally run through request(). */
  async round(full: boolean): Promise<RoundStats> {
    const started = performance.now();
    const callsBefore = await this.#o.awsCalls?.();
    const policy = this.#o.policy();
    // Keys carry the policy version: a reloaded policy re-keys (and so re-checks) every image.
    const tasks = new Map<string, ImageTask>();
    const live: TrackedPod[] = [];
    for (const tracked of this.#livePods(policy)) {
      const images = tracked.images;
      if (!('containers' in images)) {
        live.push(tracked);
        continue;
      }
      const keys = images.containers.map((c) => imageKey(policy, tracked.namespace, c.image));
      const pod = keys.join('\n') === tracked.keys.join('\n') ? tracked : { ...tracked, keys };
      if (pod !== tracked) this.#pods.set(pod.uid, pod);
      live.push(pod);
      images.containers.forEach((c, i) => {
        const key = keys[i]!;
        if (!tasks.has(key)) tasks.set(key, { key, image: c.image, namespace: pod.namespace });
      });
    }
    const due = [...tasks.values()].filter((t) => full || this.#o.evaluator.get(t.key) === undefined);
    await this.#o.evaluator.evaluate(due);
    this.#o.evaluator.retain(new Set(tasks.keys()));
    this.#o.metrics?.evaluations.inc(due.length);
    const published = await this.#publish(live);
    const callsAfter = await this.#o.awsCalls?.();
    const kind = full ? 'interval' : 'new';
    const stats: RoundStats = {
      kind,
      pods: live.length,
      distinctImages: tasks.size,
      evaluated: due.length,
      ...(callsBefore !== undefined && callsAfter !== undefined && { awsCalls: callsAfter - callsBefore }),
      writes: published.writes,
      events: published.events,
      durationMs: Math.round(performance.now() - started),
    };
    const m = this.#o.metrics;
    m?.runningPods.set(stats.pods);
    m?.distinctImages.set(stats.distinctImages);
    m?.roundSeconds.set({ kind }, stats.durationMs / 1000);
    if (stats.awsCalls !== undefined) m?.roundAwsCalls.set({ kind }, stats.awsCalls);
    this.#o.logger?.info(stats, 'controller: round done');
    return stats;
  }

  async #publish(live: readonly TrackedPod[]): Promise<{ writes: number; events: number }> {
    const byNamespace = new Map<string, PodOutcome[]>();
    const failing = new Map<string, number>();
    let events = 0;
    const liveUids = new Set(live.map((p) => p.uid));
    // A Pod out of scope now (its namespace relabelled or excluded) starts afresh if it returns.
    for (const uid of this.#outcomes.keys()) if (!liveUids.has(uid)) this.#outcomes.delete(uid);
    for (const uid of this.#standing.keys()) if (!liveUids.has(uid)) this.#standing.delete(uid);
    for (const pod of live) {
      const uid = pod.uid;
      const fresh = podOutcomes(pod, (key) => this.#o.evaluator.get(key));
      if (fresh) this.#outcomes.set(uid, fresh);
      const outcomes = fresh ?? this.#outcomes.get(uid);
      if (!outcomes) continue;
      let inNamespace = byNamespace.get(pod.namespace);
      if (!inNamespace) byNamespace.set(pod.namespace, (inNamespace = []));
      inNamespace.push(...outcomes);
      for (const o of outcomes) {
        if (o.standing !== 'fail') continue;
        const label = `${o.result.rule}\u0000${o.result.severity ?? 'none'}`;
        failing.set(label, (failing.get(label) ?? 0) + 1);
      }
      const standing = podStanding(outcomes);
      if (standing === undefined) continue;
      const before = this.#standing.get(uid);
      this.#standing.set(uid, standing);
      if (fresh && before === 'pass' && standing === 'fail') {
        const why = outcomes
          .filter((o) => o.standing === 'fail')
          .map((o) => o.result.message)
          .join('; ');
        try {
          await this.#o.event(pod, `A running image no longer passes the image policy: ${why}`);
          events++;
          this.#o.metrics?.events.inc();
        } catch (err) {
          this.#o.logger?.warn({ err: errorMessage(err), pod: `${pod.namespace}/${pod.name}` }, 'controller: could not record the Event');
        }
      }
    }
    this.#o.metrics?.failingPods.reset();
    for (const [label, count] of failing) {
      const [check = '', severity = ''] = label.split('\u0000');
      this.#o.metrics?.failingPods.set({ check, severity }, count);
    }
    let writes = 0;
    const namespaces = new Set([...byNamespace.keys(), ...this.#o.reports.namespaces()]);
    for (const namespace of namespaces) {
      const outcomes = byNamespace.get(namespace);
      try {
        const outcome = await this.#o.reports.sync(namespace, outcomes ? buildReportBody(outcomes.map((o) => o.result)) : undefined);
        if (outcome !== 'unchanged') {
          writes++;
          this.#o.metrics?.reportWrites.inc({ outcome });
        }
      } catch (err) {
        this.#o.logger?.warn({ err: errorMessage(err), namespace }, 'controller: could not write the PolicyReport; the next round retries');
      }
    }
    return { writes, events };
  }
}
