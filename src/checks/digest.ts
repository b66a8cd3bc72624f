// digest: which digest does this reference name, and does it exist in that ECR repository?
// Every later check works on the digest this check resolves.
import { effectiveTag } from '../image/reference.ts';
import type { EcrFacts } from '../facts/ecr.ts';
import type { OciFacts } from '../facts/oci-facts.ts';
import { ociFactFailure } from './oci-messages.ts';
import { shortDigest } from '../decision/format.ts';
import { factFailure, remainingMs } from './ecr-messages.ts';
import { pass, type Check } from './types.ts';

export function digestCheck(ecr: EcrFacts, oci: OciFacts): Check {
  return {
    id: 'digest',
    needs: ['origin'],
    enabled: (_policy, image) => image.managed || image.oci !== undefined,
    async run({ image, signal, deadline }) {
      const tag = effectiveTag(image.ref);
      const what = tag !== undefined ? `tag ${tag}` : `digest ${shortDigest(image.ref.digest ?? '')}`;
      const ref = { ...(tag !== undefined && { tag }), ...(image.ref.digest !== undefined && { digest: image.ref.digest }) };
      if (image.oci) {
        try {
          const resolved = await oci.resolve(image.oci, ref, signal, remainingMs(deadline));
          return pass('digest', { resolved, reason: `${what} is ${resolved.digest}` });
        } catch (err) {
          return ociFactFailure('digest', err, image.oci, what);
        }
      }
      const loc = image.ecr!;
      try {
        const resolved = await ecr.resolve(loc, ref, signal, remainingMs(deadline));
        const platforms = resolved.platforms ? ` (index of ${resolved.platforms.length} platforms)` : '';
        return pass('digest', { resolved, reason: `${what} is ${resolved.digest}${platforms}` });
      } catch (err) {
        return factFailure('digest', err, loc, what);
      }
    },
  };
}
