// The controller's Prometheus metrics, on the same registry as the shared ones (AWS calls, fact
// cache, check results), served by the health port's /metrics.
import { Counter, Gauge } from 'prom-client';
import type { Metrics } from '../support/metrics.ts';

export interface ControllerMetrics {
  readonly runningPods: Gauge;
  readonly distinctImages: Gauge;
  readonly evaluations: Counter;
  /** Pods whose check stands failed, by check and (for vulnerabilities) severity. */
  readonly failingPods: Gauge<'check' | 'severity'>;
  readonly reportWrites: Counter<'outcome'>;
  readonly events: Counter;
  readonly roundSeconds: Gauge<'kind'>;
  readonly roundAwsCalls: Gauge<'kind'>;
  readonly leader: Gauge;
}

export function createControllerMetrics(metrics: Metrics): ControllerMetrics {
  const registers = [metrics.registry];
  return {
    runningPods: new Gauge({
      name: 'ecr_admission_controller_running_pods',
      help: 'Running Pods the controller checks (excluded namespaces aside)',
      registers,
    }),
    distinctImages: new Gauge({
      name: 'ecr_admission_controller_distinct_images',
      help: 'Distinct running images (digest and effective policy) evaluated per round',
      registers,
    }),
    evaluations: new Counter({
      name: 'ecr_admission_controller_image_evaluations_total',
      help: 'Image evaluations (each runs the webhook checks once)',
      registers,
    }),
    failingPods: new Gauge({
      name: 'ecr_admission_controller_failing_pods',
      help: 'Running Pods whose check fails (AWS errors keep the previous result), by check and severity',
      labelNames: ['check', 'severity'],
      registers,
    }),
    reportWrites: new Counter({
      name: 'ecr_admission_controller_report_writes_total',
      help: 'PolicyReport writes by outcome (created, updated, deleted)',
      labelNames: ['outcome'],
      registers,
    }),
    events: new Counter({ name: 'ecr_admission_controller_events_total', help: 'ImagePolicyViolation Events recorded (pass to fail)', registers }),
    roundSeconds: new Gauge({
      name: 'ecr_admission_controller_round_seconds',
      help: 'Duration of the last round, by kind (interval, new)',
      labelNames: ['kind'],
      registers,
    }),
    roundAwsCalls: new Gauge({
      name: 'ecr_admission_controller_round_aws_calls',
      help: 'AWS calls made by the last round, by kind',
      labelNames: ['kind'],
      registers,
    }),
    leader: new Gauge({ name: 'ecr_admission_controller_leader', help: '1 while this process holds the lease', registers }),
  };
}

/** All AWS calls counted so far (support/metrics awsCalls), for the per-round accounting. */
export async function awsCallCount(metrics: Metrics): Promise<number> {
  const { values } = await metrics.awsCalls.get();
  return values.reduce((sum, v) => sum + v.value, 0);
}
