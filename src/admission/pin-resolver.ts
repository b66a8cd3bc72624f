// Which digest each tag names, for digest pinning: the webhook's own `origin` and `digest`
// checks, run through the same runner, facts and fact cache as validation. So the mutating
// call primes exactly the facts the validating call that follows reads (the tag's digest and
// the manifest), and a pinned Pod costs no more AWS calls than an unpinned one.
import { parseImageReference } from '../image/reference.ts';
import { errorMessage } from '../support/errors.ts';
import { runChecks } from '../checks/runner.ts';
import type { Check } from '../checks/types.ts';
import type { CompiledPolicy } from '../policy/compile.ts';
import { subjectOf } from './pipeline.ts';

export interface PinResolution {
  /** Image as written -> the digest its tag names now (for an index, the index's digest). */
  readonly digests: ReadonlyMap<string, string>;
  /** ECR or registries.oci images whose digest could not be had in time, with why. */
  readonly unresolved: ReadonlyMap<string, string>;
  /** Images pinning leaves alone: not ECR of an allowed account, nor of registries.oci. */
  readonly notOurs: readonly string[];
}

export interface PinResolver {
  /** Never throws; whatever is not resolved within `budgetMs` is reported unresolved. */
  resolve(images: readonly string[], namespace: string, policy: CompiledPolicy, budgetMs: number): Promise<PinResolution>;
}

const RESOLVING_CHECKS = new Set(['origin', 'digest']);

export function createPinResolver(deps: { readonly checks: readonly Check[]; readonly now?: () => Date }): PinResolver {
  const checks = deps.checks.filter((c) => RESOLVING_CHECKS.has(c.id));
  const now = deps.now ?? (() => new Date());
  return {
    async resolve(images, namespace, policy, budgetMs) {
      const digests = new Map<string, string>();
      const unresolved = new Map<string, string>();
      const notOurs: string[] = [];
      const controller = new AbortController();
      // Referenced (see pipeline.ts): the `pin` command must not exit before its answer.
      const timer = setTimeout(() => controller.abort(new DOMException(`pinning budget of ${budgetMs} ms spent`, 'TimeoutError')), budgetMs);
      const deadline = Date.now() + budgetMs;
      try {
        await Promise.all(
          [...new Set(images)].map(async (image) => {
            let ref;
            try {
              ref = parseImageReference(image);
            } catch (err) {
              unresolved.set(image, errorMessage(err));
              return;
            }
            if (ref.digest !== undefined) return;
            const subject = subjectOf(ref, policy);
            if (!subject.managed && subject.oci === undefined) {
              notOurs.push(image);
              return;
            }
            const effective = policy.forImage(namespace, ref);
            const results = await runChecks(checks, {
              image: subject,
              policy: effective,
              compiled: policy,
              namespace,
              signal: controller.signal,
              deadline,
              now: now(),
            });
            if (subject.resolved) digests.set(image, subject.resolved.digest);
            else {
              const why = results.find((r) => r.status !== 'pass' && r.status !== 'skip') ?? results.find((r) => r.status !== 'pass');
              unresolved.set(image, why?.reason ?? 'the digest check did not run');
            }
          }),
        );
      } finally {
        clearTimeout(timer);
      }
      return { digests, unresolved, notOurs };
    },
  };
}
