// Inspector findings derived from the fixture, in the two wire shapes that carry them:
// Inspector2's Finding and ECR's EnhancedImageScanFinding. One source, so ECR and Inspector
// never disagree about an image.
import { createHash } from 'node:crypto';
import { DEFAULT_PUSHED_AT, toDate, type FindingFixture } from './fixture.ts';
import type { SandboxState, StoredImage, StoredRegion, StoredRepository } from './store.ts';
import { epochSeconds } from './wire.ts';

export interface FindingRecord {
  region: StoredRegion;
  repo: StoredRepository;
  image: StoredImage;
  finding: FindingFixture;
  arn: string;
}

/** Inspector's resource id of an ECR image. */
export function imageResourceId(repo: StoredRepository, digest: string): string {
  return `arn:aws:ecr:${repo.region}:${repo.account}:repository/${repo.name}/${digest}`;
}

export function repositoryArn(repo: StoredRepository): string {
  return `arn:aws:ecr:${repo.region}:${repo.account}:repository/${repo.name}`;
}

function findingArn(repo: StoredRepository, digest: string, f: FindingFixture): string {
  if (f.findingArn) return f.findingArn;
  const id = createHash('sha256').update(`${repo.name}\0${digest}\0${f.vulnerabilityId}`).digest('hex').slice(0, 32);
  return `arn:aws:inspector2:${repo.region}:${repo.account}:finding/${id}`;
}

export function findingsOfImage(region: StoredRegion, repo: StoredRepository, image: StoredImage): FindingRecord[] {
  return (image.source.findings ?? []).map((finding) => ({ region, repo, image, finding, arn: findingArn(repo, image.digest, finding) }));
}

/** Every finding Inspector shows `caller` in one AWS region: its own account's, or every
 *  account's for the delegated administrator. */
export function findingsInRegion(state: SandboxState, region: string, caller: string): FindingRecord[] {
  const out: FindingRecord[] = [];
  for (const reg of state.inspectorRegions(region, caller)) {
    for (const repo of reg.repositories.values()) {
      for (const image of repo.images) out.push(...findingsOfImage(reg, repo, image));
    }
  }
  return out;
}

export const findingStatus = (f: FindingFixture): string => f.status ?? 'ACTIVE';

function title(f: FindingFixture): string {
  const pkg = f.packages[0];
  return f.title ?? (pkg ? `${f.vulnerabilityId} - ${pkg.name}` : f.vulnerabilityId);
}

function observed(rec: FindingRecord): { first: Date; last: Date } {
  const first = toDate(rec.finding.firstObservedAt ?? rec.image.source.pushedAt ?? DEFAULT_PUSHED_AT);
  return { first, last: toDate(rec.finding.lastObservedAt ?? first) };
}

function awsEcrContainerImage(rec: FindingRecord): Record<string, unknown> {
  const { image, repo } = rec;
  return {
    registry: repo.account,
    repositoryName: repo.name,
    imageHash: image.digest,
    ...(image.tags.length ? { imageTags: [...image.tags] } : {}),
    pushedAt: epochSeconds(image.pushedAt),
    ...(image.source.platform ? { architecture: image.source.platform.architecture } : {}),
    ...(image.source.inspectorPlatform ? { platform: image.source.inspectorPlatform } : {}),
  };
}

function packageDetails(f: FindingFixture): Record<string, unknown> {
  return {
    vulnerabilityId: f.vulnerabilityId,
    source: f.source ?? 'NVD',
    vulnerablePackages: f.packages.map((p) => ({
      name: p.name,
      version: p.version,
      ...(p.fixedInVersion ? { fixedInVersion: p.fixedInVersion } : {}),
      ...(p.packageManager ? { packageManager: p.packageManager } : {}),
    })),
  };
}

function defaultFixAvailable(f: FindingFixture): string {
  const fixed = f.packages.filter((p) => p.fixedInVersion).length;
  return fixed === 0 ? 'NO' : fixed === f.packages.length ? 'YES' : 'PARTIAL';
}

/** Inspector2 Finding (ListFindings). */
export function inspectorFinding(rec: FindingRecord): Record<string, unknown> {
  const f = rec.finding;
  const { first, last } = observed(rec);
  return {
    findingArn: rec.arn,
    awsAccountId: rec.repo.account,
    type: 'PACKAGE_VULNERABILITY',
    description: f.description ?? `${f.vulnerabilityId} affects ${f.packages.map((p) => p.name).join(', ') || 'a package'}.`,
    title: title(f),
    severity: f.severity,
    firstObservedAt: epochSeconds(first),
    lastObservedAt: epochSeconds(last),
    updatedAt: epochSeconds(last),
    status: findingStatus(f),
    resources: [
      {
        type: 'AWS_ECR_CONTAINER_IMAGE',
        id: imageResourceId(rec.repo, rec.image.digest),
        partition: 'aws',
        region: rec.repo.region,
        details: { awsEcrContainerImage: awsEcrContainerImage(rec) },
      },
    ],
    ...(f.inspectorScore !== undefined ? { inspectorScore: f.inspectorScore } : {}),
    packageVulnerabilityDetails: packageDetails(f),
    fixAvailable: f.fixAvailable ?? defaultFixAvailable(f),
    exploitAvailable: 'NO',
  };
}

/** ECR EnhancedImageScanFinding (DescribeImageScanFindings in an ENHANCED registry). */
export function ecrEnhancedFinding(rec: FindingRecord): Record<string, unknown> {
  const f = rec.finding;
  const { first, last } = observed(rec);
  return {
    awsAccountId: rec.repo.account,
    description: f.description ?? `${f.vulnerabilityId} affects ${f.packages.map((p) => p.name).join(', ') || 'a package'}.`,
    findingArn: rec.arn,
    firstObservedAt: epochSeconds(first),
    lastObservedAt: epochSeconds(last),
    updatedAt: epochSeconds(last),
    packageVulnerabilityDetails: packageDetails(f),
    resources: [
      {
        type: 'AWS_ECR_CONTAINER_IMAGE',
        id: imageResourceId(rec.repo, rec.image.digest),
        details: { awsEcrContainerImage: awsEcrContainerImage(rec) },
      },
    ],
    ...(f.inspectorScore !== undefined ? { score: f.inspectorScore } : {}),
    severity: f.severity,
    status: findingStatus(f),
    title: title(f),
    type: 'PACKAGE_VULNERABILITY',
    fixAvailable: f.fixAvailable ?? defaultFixAvailable(f),
    exploitAvailable: 'NO',
  };
}

export function severityCounts(severities: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const s of severities) counts[s] = (counts[s] ?? 0) + 1;
  return counts;
}
