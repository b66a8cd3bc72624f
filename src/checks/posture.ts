// posture: does the repository an image comes from meet the ECR baseline the policy requires
// (checks.posture.require: scanning ECR.1, lifecyclePolicy ECR.3, kmsEncryption ECR.5,
// restrictedPolicy)? These are facts about the repository, not the image: `action: warn` (the
// default) admits with one warning per failing item, `deny` fails the check with one line per
// failing item, each naming the control, what is wrong and the aws CLI command that fixes it.
// The items' facts are loaded in parallel, each cached per repository (registry scanning per
// account and region); a call that fails (access denied) is an error named by the call.
import type { EcrFacts } from '../facts/ecr/images.ts';
import type { EcrPostureFacts } from '../facts/ecr/posture.ts';
import { FactError } from '../facts/errors.ts';
import { ErrorCodes } from '../support/errors.ts';
import type { PostureCheckConfig } from '../policy/schema.ts';
import { factFailure, remainingMs } from './ecr-messages.ts';
import { encryptionVerdict, lifecycleVerdict, policyVerdict, POSTURE_ITEMS, scanningVerdict, type ItemVerdict, type PostureItem } from './posture-items.ts';
import { fail, pass, type Check, type CheckContext, type CheckOutcome, type EcrImageLocation } from './types.ts';

export interface PostureCheckDeps {
  readonly ecr: EcrFacts;
  readonly posture: EcrPostureFacts;
}

type Loaded = { item: PostureItem; verdict: ItemVerdict } | { item: PostureItem; error: unknown };

function notAuthoritative(loc: EcrImageLocation): FactError {
  // GetRegistryScanningConfiguration has no registryId: without a role in the registry's
  // account it describes the caller's own registry, which says nothing about this one.
  return new FactError(
    ErrorCodes.ACCESS_DENIED,
    'ecr',
    'GetRegistryScanningConfiguration',
    `ecr GetRegistryScanningConfiguration described another registry than ${loc.accountId}'s (it reads the caller's own; set registries.ecr[].roleArn for ${loc.accountId})`,
  );
}

async function load(item: PostureItem, deps: PostureCheckDeps, loc: EcrImageLocation, signal: AbortSignal, budgetMs: number): Promise<Loaded> {
  try {
    switch (item) {
      case 'scanning': {
        const [scanning, repo] = await Promise.all([deps.posture.registryScanning(loc, signal, budgetMs), deps.ecr.repository(loc, signal, budgetMs)]);
        if (!scanning.authoritative) throw notAuthoritative(loc);
        return { item, verdict: scanningVerdict(scanning, repo, loc) };
      }
      case 'lifecyclePolicy':
        return { item, verdict: lifecycleVerdict(await deps.posture.lifecyclePolicy(loc, signal, budgetMs), loc) };
      case 'kmsEncryption':
        return { item, verdict: encryptionVerdict(await deps.ecr.repository(loc, signal, budgetMs), loc) };
      case 'restrictedPolicy':
        return { item, verdict: policyVerdict(await deps.posture.repositoryPolicy(loc, signal, budgetMs), loc) };
    }
  } catch (error) {
    return { item, error };
  }
}

/** One line of a denial: `ECR.3 repository web has no lifecycle policy. Fix: aws ecr ...`. */
const denialLine = (v: ItemVerdict) => `${v.control}: ${v.detail}. Fix: ${v.fix ?? ''}`;
/** One warning, under kubectl's 120 characters: the control, what is wrong in short, the command's name. */
const warningLine = (v: ItemVerdict) => `[posture] ${v.control}: ${v.short ?? v.detail.slice(0, 50)}; fix: ${v.fixCommand ?? ''}`;

export function postureCheck(deps: PostureCheckDeps): Check {
  return {
    id: 'posture',
    needs: ['origin'],
    enabled: (policy, image) => policy.checks.posture !== undefined && image.managed,
    async run({ image, policy, signal, deadline }: CheckContext): Promise<CheckOutcome> {
      const loc = image.ecr!;
      const config: PostureCheckConfig = policy.checks.posture ?? {};
      const items = config.require ?? POSTURE_ITEMS;
      const action = config.action ?? 'warn';
      const loaded = await Promise.all(items.map((item) => load(item, deps, loc, signal, remainingMs(deadline))));
      const failing = loaded.flatMap((l) => ('verdict' in l && !l.verdict.ok ? [l.verdict] : []));
      const errors = loaded.flatMap((l) => ('error' in l ? [l] : []));
      const passed = loaded.flatMap((l) => ('verdict' in l && l.verdict.ok ? [`${l.verdict.control} ${l.verdict.detail}`] : []));

      if (action === 'warn') {
        // Warn never blocks: an item that could not be read is a warning too, not an error
        // that onError: deny would turn into a denial.
        const unread = errors.map((e) => `[posture] ${e.item} not verified: ${factFailure('posture', e.error, loc, 'repository').reason ?? 'error'}`);
        if (failing.length === 0 && unread.length === 0) return pass('posture', { reason: passed.join('; ') });
        return pass('posture', {
          reason: [...failing.map(denialLine), ...unread].join('\n'),
          warnings: [...failing.map(warningLine), ...unread],
        });
      }
      if (failing.length > 0) {
        // One line per failing item: decide() prefixes the first with [posture], the rest carry their own.
        const lines = failing.map(denialLine);
        const unread = errors.map((e) => `[posture] ${e.item} not verified: ${factFailure('posture', e.error, loc, 'repository').reason ?? 'error'}`);
        return fail('posture', [lines[0]!, ...lines.slice(1).map((l) => `[posture] ${l}`), ...unread].join('\n  '));
      }
      if (errors.length > 0) return factFailure('posture', errors[0]!.error, loc, 'repository');
      return pass('posture', { reason: passed.join('; ') });
    },
  };
}
