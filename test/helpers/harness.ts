// Test harness: a runtime (the same one `serve` builds) wired to a running AWS sandbox
// through the real SDK clients and the standard AWS_ENDPOINT_URL_* variables.
import { pino } from 'pino';
import { createPolicyStore, type PolicyStore } from '../../src/policy/store.ts';
import { createRuntime, type Runtime } from '../../src/cli/wiring.ts';
import { createMetrics, type Metrics } from '../../src/support/metrics.ts';
import { startSandbox, type Sandbox, type SandboxFixture } from '../../src/dev/sandbox/index.ts';
import type { AdmissionRequest } from '../../src/admission/codec.ts';
import type { ReviewOutcome } from '../../src/admission/pipeline.ts';

export const ACCOUNT = '111122223333';
export const OTHER_ACCOUNT = '444455556666';
export const REGION = 'us-east-1';
export const HOST = `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com`;

export const SANDBOX_CREDENTIALS = { accessKeyId: 'AKIDSANDBOX', secretAccessKey: 'sandbox' };

export interface Harness {
  readonly sandbox: Sandbox;
  readonly runtime: Runtime;
  readonly metrics: Metrics;
  readonly policyStore: PolicyStore;
  /** Reviews a Pod in `namespace` whose containers run `images`. */
  reviewPod(images: readonly string[], namespace?: string): Promise<ReviewOutcome>;
  close(): Promise<void>;
}

let uid = 0;

export function podRequest(images: readonly string[], namespace = 'team-a'): AdmissionRequest {
  uid++;
  return {
    uid: `test-${uid}`,
    kind: { group: '', version: 'v1', kind: 'Pod' },
    operation: 'CREATE',
    namespace,
    name: `pod-${uid}`,
    object: {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `pod-${uid}`, namespace },
      spec: { containers: images.map((image, i) => ({ name: `c${i}`, image })) },
    },
  };
}

/** `policy` may be a function of the sandbox's URL, for policies that name it (registries.oci, aws.endpoints). */
/** `now` is the fact cache's clock: a test that needs a TTL to pass moves it instead of sleeping. */
export async function startHarness(options: {
  fixture: SandboxFixture;
  policy: string | ((sandboxUrl: string) => string);
  budgetMs?: number;
  latencyMs?: number;
  now?: () => number;
}): Promise<Harness> {
  const sandbox = await startSandbox({ fixture: options.fixture, ...(options.latencyMs !== undefined && { latencyMs: options.latencyMs }) });
  const logger = pino({ level: 'silent' });
  const metrics = createMetrics();
  const text = typeof options.policy === 'function' ? options.policy(sandbox.url) : options.policy;
  const policyStore = createPolicyStore({ text, logger, metrics });
  const runtime = createRuntime({
    policyStore,
    logger,
    metrics,
    budgetMs: options.budgetMs ?? 5000,
    env: sandbox.endpoints(),
    credentials: SANDBOX_CREDENTIALS,
    ...(options.now !== undefined && { now: options.now }),
  });
  return {
    sandbox,
    runtime,
    metrics,
    policyStore,
    reviewPod: (images, namespace) => runtime.reviewer.review(podRequest(images, namespace)),
    async close() {
      await runtime.close();
      await sandbox.close();
    },
  };
}

export function resultOf(outcome: ReviewOutcome, check: string, container = 0) {
  return outcome.images[container]?.results.find((r) => r.check === check);
}
