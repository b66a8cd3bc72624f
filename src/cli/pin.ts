// `ecr-admission pin FILE...`: prints the manifests with every image of an ECR repository (or
// of a registries.oci registry) pinned to tag@digest, resolved by the webhook's own digest
// check, for GitOps repositories that keep digests in git. Exit 0 when every such image was
// pinned, 1 when some could not be (each named on stderr), 2 on bad input (a usage error).
// Unlike the mutating webhook, it pins workload templates too (a template in git is what the
// user asked to pin) and ignores pinning.mode and namespace exclusions.
import type { Logger } from 'pino';
import type { PinOptions } from './args.ts';
import { createPolicyStore } from '../policy/store.ts';
import { createMetrics } from '../support/metrics.ts';
import { pinnedReference } from '../admission/json-patch.ts';
import { createRuntime } from './wiring.ts';
import { readManifest, rewriteManifest, type Manifest } from './pin-manifests.ts';

export async function pin(
  options: PinOptions,
  env: Readonly<Record<string, string | undefined>>,
  logger: Logger,
  print: (text: string) => void,
  printError: (line: string) => void,
): Promise<number> {
  const metrics = createMetrics();
  const policyStore = createPolicyStore({ ...(options.config !== undefined && { path: options.config }), logger, metrics });
  // Every file is read before any AWS call: bad input is exit 2 with nothing printed.
  const manifests: Manifest[] = options.files.map((f) => readManifest(f));
  const runtime = createRuntime({ policyStore, logger, metrics, budgetMs: options.budgetMs, pinBudgetMs: options.budgetMs, env });
  try {
    const policy = policyStore.current();
    const byNamespace = new Map<string, Set<string>>();
    for (const m of manifests) for (const i of m.images) byNamespace.set(i.namespace, (byNamespace.get(i.namespace) ?? new Set()).add(i.image));
    const pinned = new Map<string, Map<string, string>>();
    const why = new Map<string, string>();
    const notOurs = new Set<string>();
    for (const [namespace, images] of byNamespace) {
      const resolution = await runtime.pins.resolve([...images], namespace, policy, options.budgetMs);
      pinned.set(namespace, new Map([...resolution.digests].map(([image, digest]) => [image, pinnedReference(image, digest)])));
      for (const [image, reason] of resolution.unresolved) why.set(`${namespace}\u0000${image}`, reason);
      for (const image of resolution.notOurs) notOurs.add(image);
    }
    // Not a failure (exit 0), but said: without --config the built-in policy allows no registry,
    // and every image would be left as written without a word.
    if (notOurs.size > 0) {
      const list = [...notOurs];
      printError(
        `ecr-admission pin: left as written, not of an ECR registry the policy allows nor of registries.oci: ${list.slice(0, 5).join(', ')}${list.length > 5 ? ` and ${list.length - 5} more` : ''}`,
      );
    }
    let failed = 0;
    const outputs = manifests.map((m) => {
      const forFile = new Map<string, string>();
      for (const i of m.images) {
        const to = pinned.get(i.namespace)?.get(i.image);
        const reason = 'unwritable' in i.span ? i.span.unwritable : why.get(`${i.namespace}\u0000${i.image}`);
        if (to !== undefined && !('unwritable' in i.span)) forFile.set(i.image, to);
        else if (reason !== undefined) {
          failed++;
          printError(`ecr-admission pin: ${i.where}: ${i.image} not pinned: ${reason}`);
        }
      }
      return rewriteManifest(m, forFile);
    });
    // Several files print one after the other as one YAML stream.
    print(outputs.map((o) => (o.endsWith('\n') ? o.slice(0, -1) : o)).join('\n---\n'));
    return failed > 0 ? 1 : 0;
  } finally {
    await runtime.close();
  }
}
