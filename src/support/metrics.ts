// Prometheus metrics. One registry per app instance (not prom-client's global) so tests and
// the demo can run several apps in one process.
import { readFileSync } from 'node:fs';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { HotCounter, HotHistogram } from './hot-metrics.ts';

/** The package version (package.json sits two folders up in the checkout and in the image). */
function packageVersion(): string {
  try {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof version === 'string' ? version : 'unknown';
  } catch {
    return 'unknown';
  }
}

export interface Metrics {
  readonly registry: Registry;
  /** dry_run "true" for server-side dry runs (kubectl --dry-run=server): nothing was created. */
  readonly admissions: Counter<'kind' | 'operation' | 'result' | 'dry_run'>;
  readonly decisionSeconds: Histogram<'kind'>;
  /** Hot: a remembered decision counts its results through a `counting()` of its own. */
  readonly checkResults: HotCounter<'check' | 'status'>;
  readonly awsCalls: Counter<'service' | 'operation' | 'outcome'>;
  /** Latency of each AWS call (all its retries), by service and operation: fixed label values. */
  readonly awsCallSeconds: Histogram<'service' | 'operation'>;
  readonly cacheEvents: Counter<'fact' | 'event'>;
  readonly cacheEntries: Gauge<'fact'>;
  readonly policyReloads: Counter<'outcome'>;
  /** Unix time (s) of the served certificate's notAfter: the alert fires well before it. */
  readonly certificateNotAfter: Gauge;
  /** Digest pinning (POST /mutate): answers by result (patched, unchanged, skipped, invalid),
   *  and images by outcome (pinned, or unresolved: left as written). Fixed label values. */
  readonly mutations: Counter<'result'>;
  readonly pinnedImages: Counter<'outcome'>;
}

export interface MetricsOptions {
  /** Node's process metrics too (`serve`). */
  readonly defaultMetrics?: boolean;
  /** The log lines dropped so far (the log destination's count): exposed as
   *  ecr_admission_log_lines_dropped_total, read at each scrape. */
  readonly logLinesDropped?: () => number;
}

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  // Node's process metrics under their standard names (process_cpu_seconds_total,
  // nodejs_heap_size_used_bytes, ...), so the usual Node.js dashboards and alerts work as they are.
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const buildInfo = new Gauge({
    name: 'ecr_admission_build_info',
    help: 'Always 1: the version running and its Node.js',
    labelNames: ['version', 'node_version'],
    registers,
  });
  buildInfo.set({ version: packageVersion(), node_version: process.version }, 1);
  const dropped = options.logLinesDropped;
  if (dropped) {
    // Lines the log destination could not keep (stdout not keeping up, or gone): without it a
    // silent gap in the admission log is seen only by whoever misses a line.
    let counted = 0;
    new Counter({
      name: 'ecr_admission_log_lines_dropped_total',
      help: 'Log lines dropped because stdout did not keep up (the bounded buffer was full) or could no longer be written',
      registers,
      collect() {
        const now = dropped();
        if (now > counted) this.inc(now - counted);
        counted = now;
      },
    });
  }
  return {
    registry,
    // Counted on every admission, warm ones too: hot-metrics.ts.
    admissions: new HotCounter({
      name: 'ecr_admission_admissions_total',
      help: 'Admission reviews answered, by kind, operation, result (allow, deny, warn, audit, invalid) and dry_run',
      labelNames: ['kind', 'operation', 'result', 'dry_run'],
      registers,
    }),
    decisionSeconds: new HotHistogram({
      name: 'ecr_admission_decision_duration_seconds',
      help: 'Time from request to decision',
      labelNames: ['kind'],
      registers,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    }),
    checkResults: new HotCounter({ name: 'ecr_admission_check_results_total', help: 'Per-image check results', labelNames: ['check', 'status'], registers }),
    awsCalls: new Counter({
      name: 'ecr_admission_aws_calls_total',
      help: 'AWS API calls by service, operation and outcome',
      labelNames: ['service', 'operation', 'outcome'],
      registers,
    }),
    awsCallSeconds: new Histogram({
      name: 'ecr_admission_aws_call_duration_seconds',
      help: 'AWS API call latency, retries included, by service and operation',
      labelNames: ['service', 'operation'],
      registers,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    }),
    cacheEvents: new HotCounter({
      name: 'ecr_admission_cache_events_total',
      help: 'Cache hits, misses, coalesced waits, stale serves, by fact',
      labelNames: ['fact', 'event'],
      registers,
    }),
    cacheEntries: new Gauge({ name: 'ecr_admission_cache_entries', help: 'Entries held in the fact cache', labelNames: ['fact'], registers }),
    policyReloads: new Counter({ name: 'ecr_admission_policy_reloads_total', help: 'Policy file reloads by outcome', labelNames: ['outcome'], registers }),
    certificateNotAfter: new Gauge({
      name: 'ecr_admission_certificate_not_after_seconds',
      help: 'Unix time of the notAfter of the serving certificate this process serves',
      registers,
    }),
    mutations: new Counter({
      name: 'ecr_admission_mutations_total',
      help: 'POST /mutate answers (digest pinning) by result',
      labelNames: ['result'],
      registers,
    }),
    pinnedImages: new Counter({
      name: 'ecr_admission_pinned_images_total',
      help: 'Digest pinning: container images rewritten to tag@digest (pinned), distinct images left as written because their digest could not be had (unresolved)',
      labelNames: ['outcome'],
      registers,
    }),
  };
}
