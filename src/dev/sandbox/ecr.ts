// ECR's AWS JSON 1.1 endpoint: POST / with X-Amz-Target AmazonEC2ContainerRegistry_V20150921.<Op>.
import type { Runtime } from './context.ts';
import { registryOf, type EcrHandler } from './ecr-common.ts';
import { batchGetImage, describeImageScanFindings, describeImageSigningStatus, describeImages } from './ecr-images.ts';
import { describeRepositories, getAuthorizationToken, getDownloadUrlForLayer, getRegistryScanningConfiguration, listImageReferrers } from './ecr-registry.ts';
import { describePullThroughCacheRules, describeRepositoryCreationTemplates, getLifecyclePolicy, getRepositoryPolicy } from './ecr-posture.ts';
import { callerAccount } from './sts.ts';
import { Reader } from './validate.ts';
import { ApiError, json, parseJsonBody, requireScope, type Outgoing } from './wire.ts';

export const ECR_TARGET_PREFIX = 'AmazonEC2ContainerRegistry_V20150921.';

const OPERATIONS: Record<string, EcrHandler> = {
  DescribeImages: describeImages,
  BatchGetImage: batchGetImage,
  DescribeRepositories: describeRepositories,
  ListImageReferrers: listImageReferrers,
  GetDownloadUrlForLayer: getDownloadUrlForLayer,
  GetAuthorizationToken: getAuthorizationToken,
  DescribeImageSigningStatus: describeImageSigningStatus,
  DescribeImageScanFindings: describeImageScanFindings,
  GetRegistryScanningConfiguration: getRegistryScanningConfiguration,
  GetLifecyclePolicy: getLifecyclePolicy,
  GetRepositoryPolicy: getRepositoryPolicy,
  DescribePullThroughCacheRules: describePullThroughCacheRules,
  DescribeRepositoryCreationTemplates: describeRepositoryCreationTemplates,
};

export function ecrOperationName(target: string): string {
  return target.startsWith(ECR_TARGET_PREFIX) ? target.slice(ECR_TARGET_PREFIX.length) : target;
}

export function parseEcrInput(body: Buffer): unknown {
  try {
    return body.byteLength ? JSON.parse(body.toString('utf8')) : {};
  } catch {
    return undefined;
  }
}

export function handleEcr(op: string, authorization: string | undefined, body: Buffer, rt: Runtime): Outgoing {
  const handler = OPERATIONS[op];
  if (!handler) throw new ApiError(400, 'UnknownOperationException', `Operation ${op} is not supported by the sandbox`);
  const scope = requireScope(authorization, 'ecr');
  const input = new Reader(parseJsonBody(body, 'SerializationException'), (m) => new ApiError(400, 'ValidationException', m));
  // Without registryId ECR addresses "the default registry", the caller's own account.
  const account = registryOf(input, callerAccount(scope.accessKeyId, rt.state().fixture.defaultAccount));
  const output = handler({ input, account, region: scope.region, rt });
  return json(200, output, 'application/x-amz-json-1.1');
}
