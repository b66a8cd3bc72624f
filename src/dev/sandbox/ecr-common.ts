// Pieces every ECR operation shares: which registry a request addresses, repository and
// image lookup, and ECR's error messages.
import { ImageFailureCode } from '@aws-sdk/client-ecr';
import type { Runtime } from './context.ts';
import type { StoredImage, StoredRepository } from './store.ts';
import { ACCOUNT, DIGEST, REPOSITORY, Reader } from './validate.ts';
import { ApiError } from './wire.ts';

export interface EcrRequest {
  input: Reader;
  account: string;
  region: string;
  rt: Runtime;
}

export type EcrHandler = (req: EcrRequest) => Record<string, unknown>;

export const invalidParameter = (message: string): ApiError => new ApiError(400, 'InvalidParameterException', message);

export function registryOf(input: Reader, defaultAccount: string): string {
  return input.optionalString('registryId', { pattern: ACCOUNT }) ?? defaultAccount;
}

export function repositoryNotFound(account: string, name: string): ApiError {
  return new ApiError(400, 'RepositoryNotFoundException', `The repository with name '${name}' does not exist in the registry with id '${account}'`);
}

export function requireRepository(req: EcrRequest, name: string): StoredRepository {
  const repo = req.rt.state().repository(req.account, req.region, name);
  if (!repo) throw repositoryNotFound(req.account, name);
  return repo;
}

export function repositoryName(input: Reader): string {
  return input.string('repositoryName', { pattern: REPOSITORY, max: 256 });
}

export interface ImageId {
  imageDigest?: string;
  imageTag?: string;
}

export function readImageId(r: Reader): ImageId {
  const imageDigest = r.optionalString('imageDigest');
  const imageTag = r.optionalString('imageTag');
  return { ...(imageDigest !== undefined ? { imageDigest } : {}), ...(imageTag !== undefined ? { imageTag } : {}) };
}

export function showImageId(id: ImageId): string {
  return `{imageDigest:'${id.imageDigest ?? 'null'}', imageTag:'${id.imageTag ?? 'null'}'}`;
}

export function imageNotFound(repo: StoredRepository, id: ImageId): ApiError {
  return new ApiError(
    400,
    'ImageNotFoundException',
    `The image with imageId ${showImageId(id)} does not exist within the repository with name '${repo.name}' in the registry with id '${repo.account}'`,
  );
}

export type Resolution =
  | { ok: true; image: StoredImage }
  | {
      ok: false;
      code: (typeof ImageFailureCode)['MissingDigestAndTag' | 'InvalidImageDigest' | 'InvalidImageTag' | 'ImageTagDoesNotMatchDigest' | 'ImageNotFound'];
      reason: string;
    };

/** Failures that ECR's single-image operations answer with InvalidParameterException. */
export const INVALID_PARAMETER: ReadonlySet<string> = new Set([
  ImageFailureCode.InvalidImageDigest,
  ImageFailureCode.InvalidImageTag,
  ImageFailureCode.MissingDigestAndTag,
]);

const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,299}$/;

/** Resolves an ImageIdentifier the way ECR does: a tag and a digest together must name the
 *  same image. Status filtering is the caller's business. */
export function resolveImage(repo: StoredRepository, id: ImageId): Resolution {
  if (id.imageDigest === undefined && id.imageTag === undefined) {
    return { ok: false, code: ImageFailureCode.MissingDigestAndTag, reason: 'Invalid request parameters: both tag and digest cannot be null' };
  }
  if (id.imageDigest !== undefined && !DIGEST.test(id.imageDigest)) {
    return { ok: false, code: ImageFailureCode.InvalidImageDigest, reason: 'Invalid image digest' };
  }
  if (id.imageTag !== undefined && !TAG.test(id.imageTag)) {
    return { ok: false, code: ImageFailureCode.InvalidImageTag, reason: 'Invalid image tag' };
  }
  const byTag = id.imageTag !== undefined ? repo.tags.get(id.imageTag) : undefined;
  if (id.imageTag !== undefined && id.imageDigest !== undefined && byTag !== undefined && byTag !== id.imageDigest) {
    return { ok: false, code: ImageFailureCode.ImageTagDoesNotMatchDigest, reason: 'Invalid image tag and digest: the tag does not point at the digest' };
  }
  const digest = id.imageDigest ?? byTag;
  const image = digest !== undefined ? repo.byDigest.get(digest) : undefined;
  if (!image || (id.imageTag !== undefined && byTag === undefined)) {
    return { ok: false, code: ImageFailureCode.ImageNotFound, reason: 'Requested image not found' };
  }
  return { ok: true, image };
}

/** Resolve or throw as the single-image operations do (DescribeImageScanFindings, ...). */
export function requireImage(repo: StoredRepository, id: ImageId): StoredImage {
  const r = resolveImage(repo, id);
  if (r.ok) return r.image;
  if (INVALID_PARAMETER.has(r.code)) throw invalidParameter(r.reason);
  throw imageNotFound(repo, id);
}

export function echoImageId(image: StoredImage, asked: ImageId): ImageId {
  return { imageDigest: image.digest, ...(asked.imageTag !== undefined ? { imageTag: asked.imageTag } : {}) };
}
