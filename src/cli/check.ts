// `ecr-admission check`: the webhook's decision for CI pipelines and for a developer asking
// "why was I denied?". Exit 0 allowed, 1 denied, 2 usage or configuration error.
import type { Logger } from 'pino';
import type { CheckOptions } from './args.ts';
import { createPolicyStore } from '../policy/store.ts';
import { createRuntime } from './wiring.ts';
import { createMetrics } from '../support/metrics.ts';
import { checkInputs } from './inputs.ts';
import { needsPin, pinnedReference } from '../admission/json-patch.ts';
import { siteField } from '../decision/image-site.ts';

export async function check(
  options: CheckOptions,
  env: Readonly<Record<string, string | undefined>>,
  logger: Logger,
  print: (line: string) => void,
): Promise<number> {
  const metrics = createMetrics();
  const policyStore = createPolicyStore({ ...(options.config !== undefined && { path: options.config }), logger, metrics });
  const inputs = checkInputs(options.inputs, options.namespace);
  const runtime = createRuntime({ policyStore, logger, metrics, budgetMs: options.budgetMs, env });
  try {
    let denied = false;
    const report: unknown[] = [];
    for (const input of inputs) {
      const outcome = await runtime.reviewer.review(input.request);
      const { response } = outcome;
      denied ||= !response.allowed;
      const subject = `${input.request.kind.kind} ${input.request.namespace ?? ''}/${input.request.name ?? ''}`;
      if (options.output === 'json') {
        report.push({
          input: input.origin,
          kind: input.request.kind.kind,
          namespace: input.request.namespace,
          name: input.request.name,
          allowed: response.allowed,
          result: outcome.result,
          message: response.status?.message,
          warnings: response.warnings ?? [],
          images: outcome.images.map((i) => ({
            ...siteField(i.container),
            image: i.container.image,
            digest: i.digest,
            // What digest pinning would make of it: as written when it names a digest already.
            pinned: i.digest === undefined ? undefined : needsPin(i.container.image) ? pinnedReference(i.container.image, i.digest) : i.container.image,
            policy: i.policy.name,
            results: i.results,
          })),
        });
        continue;
      }
      if (!response.allowed) print(response.status?.message ?? `ecr-admission denied ${subject}`);
      else print(`ecr-admission allowed ${subject}${outcome.why ? ` (${outcome.why})` : ''}`);
      for (const w of response.warnings ?? []) print(`Warning: ${w}`);
    }
    if (options.output === 'json') print(JSON.stringify(report, null, 2));
    return denied ? 1 : 0;
  } finally {
    await runtime.close();
  }
}
