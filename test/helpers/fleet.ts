// A fleet of webhook runtimes (the one `serve` builds, each with its own fact cache, AWS clients
// and Valkey/Redis connections) against one AWS sandbox: what N replicas of the chart are, in one
// process. The shared fact cache tests count the sandbox's calls across them.
import { pino } from 'pino';
import { createPolicyStore } from '../../src/policy/store.ts';
import { createRuntime, type Runtime } from '../../src/cli/wiring.ts';
import { createMetrics, type Metrics } from '../../src/support/metrics.ts';
import type { Sandbox } from '../../src/dev/sandbox/index.ts';
import type { ReviewOutcome } from '../../src/admission/pipeline.ts';
import { SANDBOX_CREDENTIALS, podRequest } from './harness.ts';

export interface Replica {
  readonly runtime: Runtime;
  readonly metrics: Metrics;
  reviewPod(images: readonly string[], namespace?: string): Promise<ReviewOutcome>;
  /** The value of a metric with these labels (0 when never set). */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
}

export async function startReplica(options: {
  sandbox: Sandbox;
  policy: string;
  env?: Record<string, string>;
  budgetMs?: number;
  awaitShared?: boolean;
}): Promise<Replica> {
  const logger = pino({ level: 'silent' });
  const metrics = createMetrics();
  const policyStore = createPolicyStore({ text: options.policy, logger, metrics });
  const runtime = createRuntime({
    policyStore,
    logger,
    metrics,
    budgetMs: options.budgetMs ?? 5000,
    env: { ...options.sandbox.endpoints(), ...options.env },
    credentials: SANDBOX_CREDENTIALS,
  });
  // A replica that serves is connected to the shared level: wait for it (bounded) as serve does.
  if (runtime.shared && options.awaitShared !== false && !(await runtime.shared.ready(15_000))) {
    await runtime.close();
    throw new Error('the shared fact cache did not connect within 15 s');
  }
  return {
    runtime,
    metrics,
    reviewPod: (images, namespace) => runtime.reviewer.review(podRequest(images, namespace)),
    async metric(name, labels = {}) {
      const found = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
      const values = (found?.values ?? []) as { value: number; labels: Record<string, string | number> }[];
      return values.filter((v) => Object.entries(labels).every(([k, l]) => String(v.labels[k]) === l)).reduce((sum, v) => sum + v.value, 0);
    },
  };
}
