// digest: which digest does this reference name, and does it exist in that ECR repository?
// Every later check works on the digest this check resolves.
import { effectiveTag } from '../image/reference.ts';
import type { EcrFacts } from '../facts/ecr.ts';
import { shortDigest } from '../decision/format.ts';
import { factFailure, remainingMs } from './ecr-messages.ts';
import { pass, type Check } from './types.ts';

export function digestCheck(ecr: EcrFacts): Check {
  return {
    id: 'digest',
    needs: ['origin'],
    enabled: (_policy, image) => image.managed,
    async run({ image, signal, deadline }) {
      const loc = image.ecr!;
      const tag = effectiveTag(image.ref);
      const what = tag !== undefined ? `tag ${tag}` : `digest ${shortDigest(image.ref.digest ?? '')}`;
      try {
        const resolved = await ecr.resolve(loc, { ...(tag !== undefined && { tag }), ...(image.ref.digest !== undefined && { digest: image.ref.digest }) }, signal, remainingMs(deadline));
        const platforms = resolved.platforms ? ` (index of ${resolved.platforms.length} platforms)` : '';
        return pass('digest', { resolved, reason: `${what} is ${resolved.digest}${platforms}` });
      } catch (err) {
        return factFailure('digest', err, loc, what);
      }
    },
  };
}
