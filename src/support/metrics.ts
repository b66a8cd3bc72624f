// Prometheus metrics. One registry per app instance (not prom-client's global) so tests and
// the demo can run several apps in one process.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  readonly registry: Registry;
  readonly admissions: Counter<'kind' | 'operation' | 'result'>;
  readonly decisionSeconds: Histogram<'kind'>;
  readonly checkResults: Counter<'check' | 'status'>;
  readonly awsCalls: Counter<'service' | 'operation' | 'outcome'>;
  readonly cacheEvents: Counter<'fact' | 'event'>;
  readonly cacheEntries: Gauge<'fact'>;
  readonly policyReloads: Counter<'outcome'>;
  /** Unix time (s) of the served certificate's notAfter: the alert fires well before it. */
  readonly certificateNotAfter: Gauge;
}

export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'ecr_admission_' });
  const registers = [registry];
  return {
    registry,
    admissions: new Counter({ name: 'ecr_admission_admissions_total', help: 'Admission reviews answered, by kind, operation and result (allow, deny, warn, audit, invalid)', labelNames: ['kind', 'operation', 'result'], registers }),
    decisionSeconds: new Histogram({
      name: 'ecr_admission_decision_duration_seconds', help: 'Time from request to decision', labelNames: ['kind'], registers,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    }),
    checkResults: new Counter({ name: 'ecr_admission_check_results_total', help: 'Per-image check results', labelNames: ['check', 'status'], registers }),
    awsCalls: new Counter({ name: 'ecr_admission_aws_calls_total', help: 'AWS API calls by service, operation and outcome', labelNames: ['service', 'operation', 'outcome'], registers }),
    cacheEvents: new Counter({ name: 'ecr_admission_cache_events_total', help: 'Cache hits, misses, coalesced waits, stale serves, by fact', labelNames: ['fact', 'event'], registers }),
    cacheEntries: new Gauge({ name: 'ecr_admission_cache_entries', help: 'Entries held in the fact cache', labelNames: ['fact'], registers }),
    policyReloads: new Counter({ name: 'ecr_admission_policy_reloads_total', help: 'Policy file reloads by outcome', labelNames: ['outcome'], registers }),
    certificateNotAfter: new Gauge({ name: 'ecr_admission_certificate_not_after_seconds', help: 'Unix time of the notAfter of the serving certificate this process serves', registers }),
  };
}
