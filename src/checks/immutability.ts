// immutability: can this tag be moved to another image? A movable tag means the image that
// was checked is not necessarily the image a node pulls later.
import { isTagImmutable, type EcrFacts, type RepositoryFacts } from '../facts/ecr/images.ts';
import { factFailure, remainingMs } from './ecr-messages.ts';
import { fail, pass, type Check, type EcrImageLocation } from './types.ts';

function fixHint(loc: EcrImageLocation, repo: RepositoryFacts): string {
  const byDigest = `or deploy by digest (${loc.repository}@sha256:...)`;
  if (repo.tagMutability === 'MUTABLE') {
    return `Make the repository's tags immutable: aws ecr put-image-tag-mutability --repository-name ${loc.repository} --image-tag-mutability IMMUTABLE --registry-id ${loc.accountId} --region ${loc.region}, ${byDigest}.`;
  }
  return `Use a tag the repository's exclusion filters make immutable, ${byDigest}.`;
}

function whyMutable(repo: RepositoryFacts, tag: string): string {
  const filters = repo.exclusionFilters.join(', ');
  switch (repo.tagMutability) {
    case 'IMMUTABLE_WITH_EXCLUSION':
      return `tag ${tag} matches an exclusion filter (${filters}) of repository ${repo.name}, so it can be moved`;
    case 'MUTABLE_WITH_EXCLUSION':
      return `tag ${tag} is not matched by the immutable filters (${filters || 'none'}) of repository ${repo.name}, so it can be moved`;
    default:
      return `repository ${repo.name} has MUTABLE tags: ${tag} can be moved to another image`;
  }
}

export function immutabilityCheck(ecr: EcrFacts): Check {
  return {
    id: 'immutability',
    needs: ['origin'],
    enabled: (policy, image) => policy.checks.immutability === true && image.managed,
    async run({ image, signal, deadline }) {
      const loc = image.ecr!;
      // A node pulls a digest reference by its digest; no tag can redirect it.
      if (image.ref.digest !== undefined) return pass('immutability', { reason: 'pinned by digest' });
      const tag = image.ref.tag ?? 'latest';
      try {
        const repo = await ecr.repository(loc, signal, remainingMs(deadline));
        if (isTagImmutable(repo, tag))
          return pass('immutability', {
            reason: `${repo.tagMutability}${repo.exclusionFilters.length ? ` (filters ${repo.exclusionFilters.join(', ')})` : ''}`,
          });
        return fail('immutability', whyMutable(repo, tag), fixHint(loc, repo));
      } catch (err) {
        return factFailure('immutability', err, loc, `tag ${tag}`);
      }
    },
  };
}
