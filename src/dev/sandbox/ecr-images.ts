// ECR operations about images: DescribeImages, BatchGetImage, DescribeImageSigningStatus,
// DescribeImageScanFindings.
import { ImageFailureCode } from '@aws-sdk/client-ecr';
import { MediaTypes } from './builders.ts';
import {
  INVALID_PARAMETER,
  echoImageId,
  imageNotFound,
  invalidParameter,
  readImageId,
  repositoryName,
  requireImage,
  requireRepository,
  resolveImage,
  type EcrHandler,
  type EcrRequest,
  type ImageId,
} from './ecr-common.ts';
import { DEFAULT_PUSHED_AT, toDate } from './fixture.ts';
import { ecrEnhancedFinding, findingStatus, findingsOfImage, severityCounts } from './findings.ts';
import type { StoredImage, StoredRepository } from './store.ts';
import { page } from './validate.ts';
import { ApiError, epochSeconds } from './wire.ts';

const IMAGE_STATUSES = ['ACTIVE', 'ARCHIVED', 'ACTIVATING', 'ANY'] as const;

// When a caller sends no acceptedMediaTypes, the sandbox serves single-platform manifests
// only: an index comes back as ImageNotFound. That is the trap AWS-NOTES warns about (send
// every type you can handle), modelled strictly so a client that forgets is caught in tests.
const DEFAULT_ACCEPTED = [MediaTypes.DOCKER_MANIFEST_V1, MediaTypes.DOCKER_MANIFEST, MediaTypes.OCI_MANIFEST];

export const describeImages: EcrHandler = (req) => {
  const { input } = req;
  const name = repositoryName(input);
  const repo = requireRepository(req, name);
  const ids = input.optionalObjectList('imageIds', { min: 1, max: 100 });
  const maxResults = input.optionalInt('maxResults', 1, 1000);
  const nextToken = input.optionalString('nextToken');
  const filter = input.optionalObject('filter');
  const tagStatus = filter?.optionalEnum('tagStatus', ['TAGGED', 'UNTAGGED', 'ANY'] as const) ?? 'ANY';
  const imageStatus = filter?.optionalEnum('imageStatus', IMAGE_STATUSES) ?? 'ACTIVE';
  const visible = (i: StoredImage): boolean => imageStatus === 'ANY' || i.status === imageStatus;

  if (ids) {
    if (maxResults !== undefined || nextToken !== undefined) {
      throw invalidParameter('maxResults and nextToken cannot be used when imageIds are specified');
    }
    const details: StoredImage[] = [];
    for (const r of ids) {
      const id = readImageId(r);
      const res = resolveImage(repo, id);
      if (!res.ok) {
        if (INVALID_PARAMETER.has(res.code)) throw invalidParameter(res.reason);
        throw imageNotFound(repo, id);
      }
      // An archived image is invisible to the default filter: AWS answers as if it did not exist.
      if (!visible(res.image)) throw imageNotFound(repo, id);
      if (!details.includes(res.image)) details.push(res.image);
    }
    return { imageDetails: details.map((i) => imageDetail(req, repo, i)) };
  }
  const all = repo.images.filter(visible).filter((i) => tagStatus === 'ANY' || (tagStatus === 'TAGGED' ? i.tags.length > 0 : i.tags.length === 0));
  const p = page(all, `DescribeImages/${repo.account}/${repo.name}/${tagStatus}/${imageStatus}`, nextToken, maxResults ?? 100, invalidParameter);
  return { imageDetails: p.items.map((i) => imageDetail(req, repo, i)), ...(p.nextToken ? { nextToken: p.nextToken } : {}) };
};

function imageDetail(req: EcrRequest, repo: StoredRepository, image: StoredImage): Record<string, unknown> {
  const src = image.source;
  const summary = findingsSummary(req, repo, image);
  return {
    registryId: repo.account,
    repositoryName: repo.name,
    imageDigest: image.digest,
    ...(image.tags.length ? { imageTags: [...image.tags] } : {}),
    imageSizeInBytes: image.imageSizeInBytes,
    imagePushedAt: epochSeconds(image.pushedAt),
    ...(src.scanStatus ? { imageScanStatus: { ...src.scanStatus } } : {}),
    ...(summary ? { imageScanFindingsSummary: summary } : {}),
    imageManifestMediaType: image.mediaType,
    ...(image.configMediaType ? { artifactMediaType: image.configMediaType } : {}),
    ...(src.lastRecordedPullTime !== undefined ? { lastRecordedPullTime: epochSeconds(toDate(src.lastRecordedPullTime)) } : {}),
    ...(image.subjectDigest ? { subjectManifestDigest: image.subjectDigest } : {}),
    imageStatus: image.status,
  };
}

/** Scan results exist once ECR reports the scan COMPLETE (basic) or ACTIVE (enhanced). */
function scanFinished(image: StoredImage): boolean {
  const s = image.source.scanStatus?.status;
  return s === 'COMPLETE' || s === 'ACTIVE';
}

function scanType(req: EcrRequest, repo: StoredRepository): 'BASIC' | 'ENHANCED' {
  return req.rt.state().region(repo.account, repo.region)?.scanType ?? 'BASIC';
}

function activeSeverities(req: EcrRequest, repo: StoredRepository, image: StoredImage): string[] {
  if (scanType(req, repo) === 'BASIC') return (image.source.basicFindings ?? []).map((f) => f.severity);
  return (image.source.findings ?? []).filter((f) => findingStatus(f) === 'ACTIVE').map((f) => f.severity);
}

function findingsSummary(req: EcrRequest, repo: StoredRepository, image: StoredImage): Record<string, unknown> | undefined {
  if (!scanFinished(image)) return undefined;
  const completed = epochSeconds(toDate(image.source.scanCompletedAt ?? image.source.pushedAt ?? DEFAULT_PUSHED_AT));
  return {
    imageScanCompletedAt: completed,
    vulnerabilitySourceUpdatedAt: completed,
    findingSeverityCounts: severityCounts(activeSeverities(req, repo, image)),
  };
}

export const batchGetImage: EcrHandler = (req) => {
  const { input } = req;
  const repo = requireRepository(req, repositoryName(input));
  const ids = input.objectList('imageIds', { min: 1, max: 100 });
  const accepted = input.optionalStringList('acceptedMediaTypes', { min: 1, max: 100 }) ?? DEFAULT_ACCEPTED;
  const images: Array<Record<string, unknown>> = [];
  const failures: Array<Record<string, unknown>> = [];
  for (const r of ids) {
    const id = readImageId(r);
    const res = resolveImage(repo, id);
    if (!res.ok) {
      failures.push({ imageId: id, failureCode: res.code, failureReason: res.reason });
    } else if (res.image.status === 'ARCHIVED') {
      failures.push({
        imageId: id,
        failureCode: ImageFailureCode.ImageInaccessible,
        failureReason: 'The image is archived and cannot be pulled until it is restored',
      });
    } else if (!accepted.includes(res.image.mediaType)) {
      failures.push({ imageId: id, failureCode: ImageFailureCode.ImageNotFound, failureReason: 'Requested image not found' });
    } else {
      images.push({
        registryId: repo.account,
        repositoryName: repo.name,
        imageId: echoImageId(res.image, id),
        imageManifest: new TextDecoder().decode(res.image.bytes),
        imageManifestMediaType: res.image.mediaType,
      });
    }
  }
  return { images, failures };
};

function singleImage(req: EcrRequest): { repo: StoredRepository; image: StoredImage; asked: ImageId } {
  const repo = requireRepository(req, repositoryName(req.input));
  const asked = readImageId(req.input.object('imageId'));
  return { repo, image: requireImage(repo, asked), asked };
}

export const describeImageSigningStatus: EcrHandler = (req) => {
  const { repo, image, asked } = singleImage(req);
  return {
    repositoryName: repo.name,
    imageId: echoImageId(image, asked),
    registryId: repo.account,
    signingStatuses: (image.source.signingStatuses ?? []).map((s) => ({ ...s })),
  };
};

export const describeImageScanFindings: EcrHandler = (req) => {
  const { repo, image, asked } = singleImage(req);
  const maxResults = req.input.optionalInt('maxResults', 1, 1000) ?? 100;
  const nextToken = req.input.optionalString('nextToken');
  const status = image.source.scanStatus;
  if (!status) {
    throw new ApiError(
      400,
      'ScanNotFoundException',
      `Image scan does not exist for the image with '${JSON.stringify(asked)}' in the repository with name '${repo.name}' in the registry with id '${repo.account}'`,
    );
  }
  const base = { registryId: repo.account, repositoryName: repo.name, imageId: echoImageId(image, asked), imageScanStatus: { ...status } };
  const summary = findingsSummary(req, repo, image);
  if (!summary) return base;
  const query = `DescribeImageScanFindings/${repo.account}/${repo.name}/${image.digest}`;
  if (scanType(req, repo) === 'BASIC') {
    const p = page(image.source.basicFindings ?? [], query, nextToken, maxResults, invalidParameter);
    return { ...base, imageScanFindings: { ...summary, findings: p.items.map((f) => ({ ...f })) }, ...(p.nextToken ? { nextToken: p.nextToken } : {}) };
  }
  const region = req.rt.state().region(repo.account, repo.region)!;
  const active = findingsOfImage(region, repo, image).filter((r) => findingStatus(r.finding) === 'ACTIVE');
  const p = page(active, query, nextToken, maxResults, invalidParameter);
  return { ...base, imageScanFindings: { ...summary, enhancedFindings: p.items.map(ecrEnhancedFinding) }, ...(p.nextToken ? { nextToken: p.nextToken } : {}) };
};
