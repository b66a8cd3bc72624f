// A prewarm: the checks of one image under the policy with no override, run for their side
// effect of filling the fact caches (and, shared, the other replicas'), so that the first Pod
// after a push is a warm admission. Nothing is decided: the results are dropped. Only images
// of the policy's own registries are prewarmed (an event can name any account).
import { runChecks } from '../checks/runner.ts';
import type { Check, ImageSubject } from '../checks/types.ts';
import { ecrHost, parseEcrHost } from '../image/ecr-host.ts';
import { parseImageReference } from '../image/reference.ts';
import type { CompiledPolicy } from '../policy/compile.ts';
import type { Prewarm } from './actions.ts';

export function checksPrewarm(deps: { checks: readonly Check[]; policy: () => CompiledPolicy; budgetMs: number; now?: () => number }): Prewarm {
  return async (image) => {
    const policy = deps.policy();
    const allowed = policy.ecrAccounts.get(image.accountId);
    if (!allowed || (allowed.regions && !allowed.regions.includes(image.region))) return;
    const registry = parseEcrHost(ecrHost(image.accountId, image.region));
    if (!registry) return;
    const ref = parseImageReference(`${registry.host}/${image.repository}${image.tag !== undefined ? `:${image.tag}` : `@${image.digest ?? ''}`}`);
    const subject: ImageSubject = { ref, ecr: { ...registry, repository: image.repository }, managed: true };
    const signal = AbortSignal.timeout(deps.budgetMs);
    await runChecks(deps.checks, {
      image: subject,
      policy: policy.base,
      compiled: policy,
      namespace: '',
      signal,
      deadline: Date.now() + deps.budgetMs,
      now: new Date(deps.now?.() ?? Date.now()),
    });
  };
}
