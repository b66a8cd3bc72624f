// ECR operations about repositories and the registry: DescribeRepositories,
// ListImageReferrers, GetDownloadUrlForLayer, GetAuthorizationToken,
// GetRegistryScanningConfiguration.
import { invalidParameter, repositoryName, repositoryNotFound, requireRepository, type EcrHandler } from './ecr-common.ts';
import { DEFAULT_PUSHED_AT, toDate } from './fixture.ts';
import { repositoryArn } from './findings.ts';
import type { StoredRepository } from './store.ts';
import { ACCOUNT, DIGEST, REPOSITORY, page } from './validate.ts';
import { ApiError, epochSeconds } from './wire.ts';

export const describeRepositories: EcrHandler = (req) => {
  const { input } = req;
  const names = input.optionalStringList('repositoryNames', { min: 1, max: 100 });
  const maxResults = input.optionalInt('maxResults', 1, 1000);
  const nextToken = input.optionalString('nextToken');
  const region = req.rt.state().region(req.account, req.region);
  if (names) {
    if (maxResults !== undefined || nextToken !== undefined) {
      throw invalidParameter('maxResults and nextToken cannot be used when repositoryNames are specified');
    }
    const repos = names.map((n) => {
      if (!REPOSITORY.test(n)) throw invalidParameter(`Invalid parameter at 'repositoryNames' failed to satisfy constraint: '${n}' is not a repository name`);
      const repo = region?.repositories.get(n);
      if (!repo) throw repositoryNotFound(req.account, n);
      return repo;
    });
    return { repositories: repos.map(repository) };
  }
  const all = [...(region?.repositories.values() ?? [])];
  const p = page(all, `DescribeRepositories/${req.account}/${req.region}`, nextToken, maxResults ?? 100, invalidParameter);
  return { repositories: p.items.map(repository), ...(p.nextToken ? { nextToken: p.nextToken } : {}) };
};

function repository(repo: StoredRepository): Record<string, unknown> {
  const f = repo.fixture;
  const mutability = f.tagMutability ?? 'MUTABLE';
  return {
    repositoryArn: repositoryArn(repo),
    registryId: repo.account,
    repositoryName: repo.name,
    repositoryUri: `${repo.account}.dkr.ecr.${repo.region}.amazonaws.com/${repo.name}`,
    createdAt: epochSeconds(toDate(f.createdAt ?? DEFAULT_PUSHED_AT)),
    imageTagMutability: mutability,
    ...(mutability.endsWith('_WITH_EXCLUSION')
      ? { imageTagMutabilityExclusionFilters: (f.exclusionFilters ?? []).map((filter) => ({ filterType: 'WILDCARD', filter })) }
      : {}),
    imageScanningConfiguration: { scanOnPush: f.scanOnPush ?? false },
    encryptionConfiguration: { encryptionType: f.encryption?.type ?? 'AES256', ...(f.encryption?.kmsKey ? { kmsKey: f.encryption.kmsKey } : {}) },
  };
}

export const listImageReferrers: EcrHandler = (req) => {
  const { input } = req;
  const repo = requireRepository(req, repositoryName(input));
  const subject = input.object('subjectId').string('imageDigest', { pattern: DIGEST });
  const filter = input.optionalObject('filter');
  const artifactTypes = filter?.optionalStringList('artifactTypes', { min: 1, max: 5 });
  const artifactStatus = filter?.optionalEnum('artifactStatus', ['ACTIVE', 'ARCHIVED', 'ACTIVATING', 'ANY'] as const) ?? 'ACTIVE';
  // ListImageReferrersRequest.maxResults (@aws-sdk/client-ecr models_0.d.ts): "This value can
  // be between 1 and 50. If this parameter is not used, then ListImageReferrers returns up to
  // 20 results and a nextToken value, if applicable." The filter (ListImageReferrersFilter):
  // artifactTypes, and artifactStatus ACTIVE | ARCHIVED | ACTIVATING | ANY, ACTIVE when absent.
  const maxResults = input.optionalInt('maxResults', 1, 50) ?? 20;
  const nextToken = input.optionalString('nextToken');
  const referrers = (repo.referrers.get(subject) ?? []).filter(
    (r) =>
      (artifactStatus === 'ANY' || r.status === artifactStatus) && (!artifactTypes || (r.artifactType !== undefined && artifactTypes.includes(r.artifactType))),
  );
  const query = `ListImageReferrers/${repo.account}/${repo.name}/${subject}/${artifactStatus}/${(artifactTypes ?? []).join(',')}`;
  const p = page(referrers, query, nextToken, maxResults, invalidParameter);
  return {
    referrers: p.items.map((r) => ({
      digest: r.digest,
      mediaType: r.mediaType,
      ...(r.artifactType ? { artifactType: r.artifactType } : {}),
      size: r.bytes.byteLength,
      ...(r.annotations ? { annotations: { ...r.annotations } } : {}),
      artifactStatus: r.status,
    })),
    ...(p.nextToken ? { nextToken: p.nextToken } : {}),
  };
};

export const getDownloadUrlForLayer: EcrHandler = (req) => {
  const { input } = req;
  const repo = requireRepository(req, repositoryName(input));
  const layerDigest = input.string('layerDigest', { pattern: DIGEST });
  if (!repo.blobs.has(layerDigest)) {
    throw new ApiError(
      400,
      'LayersNotFoundException',
      `The image layer '${layerDigest}' does not exist within the repository with name '${repo.name}' in the registry with id '${repo.account}'`,
    );
  }
  return { downloadUrl: req.rt.issueLayerUrl(repo, layerDigest), layerDigest };
};

export const getAuthorizationToken: EcrHandler = (req) => {
  const ids = req.input.optionalStringList('registryIds', { min: 1, max: 10 }) ?? [req.account];
  for (const id of ids)
    if (!ACCOUNT.test(id)) throw invalidParameter(`Invalid parameter at 'registryIds' failed to satisfy constraint: '${id}' is not an account id`);
  const { password, expiresAt } = req.rt.issueRegistryPassword();
  const token = Buffer.from(`AWS:${password}`).toString('base64');
  return {
    authorizationData: ids.map(() => ({ authorizationToken: token, expiresAt: epochSeconds(expiresAt), proxyEndpoint: req.rt.baseUrl })),
  };
};

export const getRegistryScanningConfiguration: EcrHandler = (req) => {
  const region = req.rt.state().region(req.account, req.region);
  const scanType = region?.scanType ?? 'BASIC';
  const rules = region?.fixture.scanningRules ?? (scanType === 'ENHANCED' ? [{ scanFrequency: 'CONTINUOUS_SCAN' as const, filters: ['*'] }] : []);
  return {
    registryId: req.account,
    scanningConfiguration: {
      scanType,
      rules: rules.map((r) => ({ scanFrequency: r.scanFrequency, repositoryFilters: r.filters.map((filter) => ({ filter, filterType: 'WILDCARD' })) })),
    },
  };
};
