// digest: which digest does this reference name, and does it exist in that ECR repository?
// Every later check works on the digest this check resolves.
import { effectiveTag } from '../image/reference.ts';
import { pullThroughCacheOrigin } from '../image/ecr-host.ts';
import { FactError } from '../facts/errors.ts';
import type { EcrFacts } from '../facts/ecr/images.ts';
import { MAX_INDEX_CHILDREN, UncheckableIndexError } from '../facts/manifest.ts';
import type { OciFacts } from '../facts/oci/facts.ts';
import { ociFactFailure } from './oci-messages.ts';
import { shortDigest } from '../image/digest.ts';
import { factFailure, remainingMs } from './ecr-messages.ts';
import { fail, pass, type Check, type CheckContext, type CheckOutcome } from './types.ts';
import { ErrorCodes } from '../support/errors.ts';

/** A pull-through-cache repository fills on its first pull, which a denial would prevent:
 *  say so, and how to fill it, instead of a plain "not found". */
function notYetCached(ctx: CheckContext, err: unknown, what: string) {
  const loc = ctx.image.ecr!;
  if (!(err instanceof FactError) || (err.code !== ErrorCodes.IMAGE_NOT_FOUND && err.code !== ErrorCodes.REPOSITORY_NOT_FOUND)) return undefined;
  const origin = pullThroughCacheOrigin(loc.repository, ctx.compiled.ecrAccounts.get(loc.accountId)?.pullThroughCachePrefixes ?? []);
  if (!origin) return undefined;
  return fail(
    'digest',
    `${what} is not in the pull-through cache ${origin.prefix} (upstream ${origin.upstreamPath}) yet`,
    `ECR fills the cache on the first pull: pull it once (docker pull ${loc.host}/${loc.repository}${ctx.image.ref.tag ? `:${ctx.image.ref.tag}` : ctx.image.ref.digest ? `@${ctx.image.ref.digest}` : ''}) so it is scanned and signed like the rest, then deploy again.`,
  );
}

/** An index the webhook cannot account for child by child names images no check would see. */
function uncheckableIndex(err: unknown, what: string) {
  if (!(err instanceof UncheckableIndexError)) return undefined;
  return fail(
    'digest',
    `${what} is an index the webhook cannot check: ${err.message}`,
    `Push an index whose every entry names a platform manifest by sha256 digest and size, at most ${MAX_INDEX_CHILDREN} of them and no nested index.`,
  );
}

/** A reference with a tag and a digest whose tag names no image (deleted after the reference was
 *  pinned): said so for the pipeline, which judges the digest alone (src/admission/moved-tag.ts),
 *  as it does for a tag that names another digest (ecr-messages.ts, oci-messages.ts) and for any
 *  other digest result but a pass. */
function tagGone(outcome: CheckOutcome, err: unknown, ctx: CheckContext, tag: string | undefined, repo: string): CheckOutcome {
  if (tag === undefined || ctx.image.ref.digest === undefined || outcome.tagMismatch) return outcome;
  if (!(err instanceof FactError) || err.code !== ErrorCodes.IMAGE_NOT_FOUND) return outcome;
  return { ...outcome, tagMismatch: { kind: 'gone', detail: `tag ${tag} names no image in ${repo} now` } };
}

export function digestCheck(ecr: EcrFacts, oci: OciFacts): Check {
  return {
    id: 'digest',
    needs: ['origin'],
    enabled: (_policy, image) => image.managed || image.oci !== undefined,
    async run(ctx) {
      const { image, signal, deadline } = ctx;
      const tag = effectiveTag(image.ref);
      const what = tag !== undefined ? `tag ${tag}` : `digest ${shortDigest(image.ref.digest ?? '')}`;
      const ref = { ...(tag !== undefined && { tag }), ...(image.ref.digest !== undefined && { digest: image.ref.digest }) };
      if (image.oci) {
        try {
          const resolved = await oci.resolve(image.oci, ref, signal, remainingMs(deadline));
          return pass('digest', { resolved, reason: `${what} is ${resolved.digest}` });
        } catch (err) {
          return tagGone(uncheckableIndex(err, what) ?? ociFactFailure('digest', err, image.oci, what), err, ctx, tag, image.oci.repository);
        }
      }
      const loc = image.ecr!;
      try {
        const resolved = await ecr.resolve(loc, ref, signal, remainingMs(deadline));
        const platforms = resolved.platforms ? ` (index of ${resolved.platforms.length} platforms)` : '';
        return pass('digest', { resolved, reason: `${what} is ${resolved.digest}${platforms}` });
      } catch (err) {
        return tagGone(uncheckableIndex(err, what) ?? notYetCached(ctx, err, what) ?? factFailure('digest', err, loc, what), err, ctx, tag, loc.repository);
      }
    },
  };
}
