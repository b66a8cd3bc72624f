// The shared fact cache's own series. They are registered on the server's registry only when a
// shared cache is configured (policy.cache.shared), so they are defined here rather than in
// support/metrics.ts; the chart's monitoring test registers them too, to check that its alert
// on them names series and labels the server really exports.
import { Counter, Gauge, type Registry } from 'prom-client';

export interface SharedCacheMetrics {
  readonly events: Counter<'fact' | 'event'>;
  readonly degraded: Gauge;
}

export function registerSharedCacheMetrics(registry: Registry): SharedCacheMetrics {
  const registers = [registry];
  const events = new Counter({
    name: 'ecr_admission_shared_cache_events_total',
    help: 'Shared fact cache: hit, miss, invalid (wrong shape, key or MAC), outdated (an event changed it), waited (another process loaded it), wait-timeout, skipped (degraded); fact "version", rolled-back (a version key lower than one this process saw); fact "pubsub", oversized (a message over the bound: subscription reconnected)',
    labelNames: ['fact', 'event'],
    registers,
  });
  const degraded = new Gauge({
    name: 'ecr_admission_shared_cache_degraded',
    help: '1 while the shared fact cache is down, slow or answering garbage: facts come from the local cache and AWS',
    registers,
  });
  degraded.set(0);
  // Exported at 0 from the start: the chart's alert on it uses increase(), which does not count a
  // series' first sample, so a series born at 1 would hide a replica's first oversized message.
  events.inc({ fact: 'pubsub', event: 'oversized' }, 0);
  return { events, degraded };
}
