// ECR facts: what a reference resolves to, and how a repository treats its tags. Every call
// goes through the fact cache; the digest is resolved once per image and every later check
// works on the digest, never on the tag.
import { BatchGetImageCommand, DescribeImagesCommand, DescribeRepositoriesCommand, ImageFailureCode, type ImageIdentifier } from '@aws-sdk/client-ecr';
import type { CacheConfig } from '../../policy/schema.ts';
import type { EcrImageLocation, ResolvedImage } from '../ports.ts';
import { anyOf, globMatcher, type Matcher } from '../../policy/glob.ts';
import type { FactCache, FactSpec } from '../../support/fact-cache.ts';
import type { AwsClients } from '../aws-clients.ts';
import { FactError, fromAwsError } from '../errors.ts';
import { ACCEPTED_MEDIA_TYPES, describeManifest } from '../manifest.ts';
import { ErrorCodes } from '../../support/errors.ts';

export type TagMutability = 'MUTABLE' | 'IMMUTABLE' | 'IMMUTABLE_WITH_EXCLUSION' | 'MUTABLE_WITH_EXCLUSION';

export interface RepositoryFacts {
  readonly name: string;
  readonly tagMutability: TagMutability;
  /** Wildcard filters of the *_WITH_EXCLUSION modes. */
  readonly exclusionFilters: readonly string[];
  readonly scanOnPush?: boolean;
  /** encryptionConfiguration (the posture check's ECR.5): AES256, KMS or KMS_DSSE, and the key. */
  readonly encryption?: { readonly type: string; readonly kmsKey?: string };
}

interface TagFact {
  readonly digest: string;
}

/** Whether `tag` can be moved to another image in this repository. */
// Cached RepositoryFacts are the same objects across admissions: their filters compile once.
const exclusionMatchers = new WeakMap<RepositoryFacts, Matcher>();

export function isTagImmutable(repo: RepositoryFacts, tag: string): boolean {
  let matcher = exclusionMatchers.get(repo);
  if (!matcher) {
    matcher = anyOf(repo.exclusionFilters.map(globMatcher));
    exclusionMatchers.set(repo, matcher);
  }
  const matched = matcher(tag);
  switch (repo.tagMutability) {
    case 'IMMUTABLE':
      return true;
    case 'IMMUTABLE_WITH_EXCLUSION':
      return !matched;
    case 'MUTABLE_WITH_EXCLUSION':
      return matched;
    default:
      return false;
  }
}

const where = (loc: EcrImageLocation) => `${loc.accountId}/${loc.region}/${loc.repository}`;
/** DescribeImages only picks the message for an image BatchGetImage did not find: it may use
 *  what is left of the first half of the time the lookup has. */
const explainBy = (budgetMs: number) => Date.now() + budgetMs / 2;
const isDefinitive = (error: unknown) => error instanceof FactError && error.definitive;

export interface EcrFactsOptions {
  readonly clients: AwsClients;
  readonly cache: FactCache;
  readonly ttl: CacheConfig;
}

export class EcrFacts {
  readonly #clients: AwsClients;
  readonly #cache: FactCache;
  readonly #tagSpec: FactSpec<TagFact>;
  readonly #manifestSpec: FactSpec<ResolvedImage>;
  readonly #repositorySpec: FactSpec<RepositoryFacts>;

  constructor(options: EcrFactsOptions) {
    this.#clients = options.clients;
    this.#cache = options.cache;
    const s = options.ttl.ttlSeconds;
    const notFound = (e: unknown) => (isDefinitive(e) ? s.notFound * 1000 : undefined);
    // Every tag's digest is trusted only for the mutableTag TTL, IMMUTABLE repository or not:
    // ECR lets a tag be reused once its image is deleted (BatchDeleteImage, a lifecycle rule)
    // and a new one pushed. Digest pinning (issue 14) makes a pinned Pod run the digest
    // verified at admission; this TTL bounds how long a tag written without a digest (a
    // template, an unpinned Pod, the pin resolver itself) keeps resolving to the same one.
    // ttlSeconds.immutableTag is still accepted (policy files keep loading) but governs nothing.
    this.#tagSpec = { fact: 'tag', ttlMs: () => s.mutableTag * 1000, negativeTtlMs: notFound };
    this.#manifestSpec = { fact: 'manifest', ttlMs: () => s.digest * 1000, negativeTtlMs: notFound };
    this.#repositorySpec = { fact: 'repository', ttlMs: () => s.repository * 1000, staleMs: options.ttl.staleSeconds * 1000, negativeTtlMs: notFound };
  }

  /** DescribeRepositories: tag mutability and its exclusion filters. */
  repository(loc: EcrImageLocation, signal: AbortSignal, budgetMs: number): Promise<RepositoryFacts> {
    return this.#cache.get(
      this.#repositorySpec,
      where(loc),
      async (loadSignal) => {
        try {
          const out = await this.#clients
            .ecr(loc.accountId, loc.region)
            .send(new DescribeRepositoriesCommand({ registryId: loc.accountId, repositoryNames: [loc.repository] }), { abortSignal: loadSignal });
          const repo = out.repositories?.[0];
          if (!repo) throw new FactError(ErrorCodes.REPOSITORY_NOT_FOUND, 'ecr', 'DescribeRepositories', `repository ${loc.repository} not found`);
          return {
            name: loc.repository,
            tagMutability: repo.imageTagMutability ?? 'MUTABLE',
            exclusionFilters: (repo.imageTagMutabilityExclusionFilters ?? []).map((f) => f.filter ?? '').filter((f) => f !== ''),
            ...(repo.imageScanningConfiguration?.scanOnPush !== undefined && { scanOnPush: repo.imageScanningConfiguration.scanOnPush }),
            ...(repo.encryptionConfiguration?.encryptionType !== undefined && {
              encryption: {
                type: repo.encryptionConfiguration.encryptionType,
                ...(repo.encryptionConfiguration.kmsKey !== undefined && { kmsKey: repo.encryptionConfiguration.kmsKey }),
              },
            }),
          };
        } catch (error) {
          throw fromAwsError(error, 'ecr', 'DescribeRepositories');
        }
      },
      signal,
      budgetMs,
    );
  }

  /** The image a reference names, confirmed to exist in this repository. */
  async resolve(loc: EcrImageLocation, ref: { tag?: string; digest?: string }, signal: AbortSignal, budgetMs: number): Promise<ResolvedImage> {
    if (ref.tag !== undefined) {
      const tag = await this.#resolveTag(loc, ref.tag, signal, budgetMs);
      if (ref.digest !== undefined && ref.digest !== tag.digest) {
        throw new FactError(ErrorCodes.TAG_DIGEST_MISMATCH, 'ecr', 'BatchGetImage', `tag ${ref.tag} points to ${tag.digest}, not ${ref.digest}`);
      }
      return this.#manifest(loc, tag.digest, signal, budgetMs);
    }
    if (ref.digest === undefined) throw new FactError(ErrorCodes.IMAGE_NOT_FOUND, 'ecr', 'BatchGetImage', 'the reference names neither tag nor digest');
    return this.#manifest(loc, ref.digest, signal, budgetMs);
  }

  #resolveTag(loc: EcrImageLocation, tag: string, signal: AbortSignal, budgetMs: number): Promise<TagFact> {
    return this.#cache.get(
      this.#tagSpec,
      `${where(loc)}:${tag}`,
      async (loadSignal) => {
        const image = await this.#batchGetImage(loc, { imageTag: tag }, loadSignal, explainBy(budgetMs));
        this.#cache.prime(this.#manifestSpec, `${where(loc)}@${image.digest}`, image);
        return { digest: image.digest };
      },
      signal,
      budgetMs,
    );
  }

  /** The digest `tag` names, if the cache still trusts that answer (the UPDATE shortcut may
   *  skip an image only then); undefined when it would have to be asked again. */
  freshTagDigest(loc: EcrImageLocation, tag: string): string | undefined {
    return this.#cache.peek(this.#tagSpec, `${where(loc)}:${tag}`)?.digest;
  }

  #manifest(loc: EcrImageLocation, digest: string, signal: AbortSignal, budgetMs: number): Promise<ResolvedImage> {
    return this.#cache.get(
      this.#manifestSpec,
      `${where(loc)}@${digest}`,
      (loadSignal) => this.#batchGetImage(loc, { imageDigest: digest }, loadSignal, explainBy(budgetMs)),
      signal,
      budgetMs,
    );
  }

  async #batchGetImage(loc: EcrImageLocation, imageId: ImageIdentifier, signal: AbortSignal, explainUntil: number): Promise<ResolvedImage> {
    let out;
    try {
      out = await this.#clients.ecr(loc.accountId, loc.region).send(
        new BatchGetImageCommand({
          registryId: loc.accountId,
          repositoryName: loc.repository,
          imageIds: [imageId],
          acceptedMediaTypes: ACCEPTED_MEDIA_TYPES,
        }),
        { abortSignal: signal },
      );
    } catch (error) {
      throw fromAwsError(error, 'ecr', 'BatchGetImage');
    }
    const image = out.images?.[0];
    if (image?.imageManifest !== undefined && image.imageId?.imageDigest !== undefined) {
      return describeManifest(image.imageManifest, image.imageId.imageDigest, image.imageManifestMediaType, { service: 'ecr', operation: 'BatchGetImage' });
    }
    const failure = out.failures?.[0];
    const code = failure?.failureCode ?? ImageFailureCode.ImageNotFound;
    const what = imageId.imageTag !== undefined ? `tag ${imageId.imageTag}` : `digest ${imageId.imageDigest}`;
    const detail = `${code}${failure?.failureReason ? ` (${failure.failureReason})` : ''}`;
    // Archived images answer ImageNotFound or ImageInaccessible; only DescribeImages says which.
    if (code === ImageFailureCode.ImageNotFound)
      throw await this.#archivedOr(
        loc,
        imageId,
        what,
        signal,
        explainUntil,
        new FactError(ErrorCodes.IMAGE_NOT_FOUND, 'ecr', 'BatchGetImage', `${what} not found in ${loc.repository}`),
      );
    if (code === ImageFailureCode.ImageInaccessible)
      throw await this.#archivedOr(
        loc,
        imageId,
        what,
        signal,
        explainUntil,
        new FactError(ErrorCodes.AWS_ERROR, 'ecr', 'BatchGetImage', `ecr BatchGetImage cannot read ${what}: ${detail}`),
      );
    if (code === ImageFailureCode.ImageTagDoesNotMatchDigest)
      throw new FactError(ErrorCodes.TAG_DIGEST_MISMATCH, 'ecr', 'BatchGetImage', failure?.failureReason ?? 'tag does not match digest');
    if (code === ImageFailureCode.InvalidImageDigest || code === ImageFailureCode.InvalidImageTag)
      throw new FactError(ErrorCodes.IMAGE_NOT_FOUND, 'ecr', 'BatchGetImage', `${what} is not valid for ECR: ${failure?.failureReason ?? code}`);
    throw new FactError(ErrorCodes.AWS_ERROR, 'ecr', 'BatchGetImage', `ecr BatchGetImage failed for ${what}: ${detail}`);
  }

  /** DescribeImages with status ANY sees archived images; otherwise `fallback` stands. */
  async #archivedOr(
    loc: EcrImageLocation,
    imageId: ImageIdentifier,
    what: string,
    signal: AbortSignal,
    explainUntil: number,
    fallback: FactError,
  ): Promise<FactError> {
    try {
      // Bounded so that a throttled or slow explanation cannot hold a definitive answer
      // past the admission's deadline, where it would become an error onError may admit.
      const bounded = AbortSignal.any([signal, AbortSignal.timeout(Math.max(1, Math.ceil(explainUntil - Date.now())))]);
      const out = await this.#clients.ecr(loc.accountId, loc.region).send(
        new DescribeImagesCommand({
          registryId: loc.accountId,
          repositoryName: loc.repository,
          imageIds: [imageId],
          filter: { imageStatus: 'ANY' },
        }),
        { abortSignal: bounded },
      );
      const status = out.imageDetails?.[0]?.imageStatus;
      if (status === 'ARCHIVED') return new FactError(ErrorCodes.IMAGE_ARCHIVED, 'ecr', 'DescribeImages', `${what} is archived`);
      if (status === 'ACTIVATING') return new FactError(ErrorCodes.IMAGE_ACTIVATING, 'ecr', 'DescribeImages', `${what} is being restored from the archive`);
    } catch (error) {
      const fact = fromAwsError(error, 'ecr', 'DescribeImages');
      // Every answer DescribeImages could give about an image BatchGetImage did not find
      // (archived, being restored, not found) denies: its failure only costs the better
      // message, and must not turn that definitive answer into an error onError may admit.
      if (!fact.definitive) return fallback.definitive ? fallback : fact;
      if (fact.code === ErrorCodes.REPOSITORY_NOT_FOUND) return fact;
    }
    return fallback;
  }
}
