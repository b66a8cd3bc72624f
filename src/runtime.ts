// Wires the parts one process needs (policy, checks, facts, metrics) for serve, check and
// demo alike, so the webhook and the CLI reach the same decision by the same code path.
import type { Logger } from 'pino';
import { createReviewer, type Reviewer } from './admission/reviewer.ts';
import { buildChecks } from './checks/index.ts';
import type { PolicyStore } from './config/policy-store.ts';
import type { Metrics } from './server/metrics.ts';

export interface RuntimeOptions {
  readonly policyStore: PolicyStore;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly budgetMs: number;
  readonly env: Readonly<Record<string, string | undefined>>;
}

export interface Runtime {
  readonly reviewer: Reviewer;
  close(): Promise<void>;
}

export function createRuntime(options: RuntimeOptions): Runtime {
  const checks = buildChecks({});
  const reviewer = createReviewer({
    policy: options.policyStore.current,
    checks,
    budgetMs: options.budgetMs,
    metrics: options.metrics,
    logger: options.logger,
  });
  return { reviewer, close: async () => {} };
}
