// Inspector2's REST-JSON endpoints: POST /findings/list, /coverage/list,
// /findings/aggregation/list. Inspector answers with the caller's own account's resources
// in the request's region, or every account's when the caller is the organisation's
// delegated administrator: a standalone or member account sees only its own resources, the
// delegated administrator its members' too (Amazon Inspector User Guide, "Managing multiple
// accounts in Amazon Inspector with AWS Organizations").
import type { Runtime } from './context.ts';
import { DEFAULT_PUSHED_AT, toDate, type ImageFixture } from './fixture.ts';
import { findingStatus, findingsInRegion, imageResourceId, inspectorFinding, type FindingRecord } from './findings.ts';
import { callerAccount } from './sts.ts';
import { compileCriteria, inspectorValidation, readStringFilters, matchesFilters, type Accessors } from './inspector-filters.ts';
import type { StoredImage, StoredRegion, StoredRepository } from './store.ts';
import { Reader } from './validate.ts';
import { inspectorPage } from './inspector-paging.ts';
import { ApiError, epochSeconds, json, parseJsonBody, requireScope, type Outgoing } from './wire.ts';

export const INSPECTOR_ROUTES: Record<string, string> = {
  '/findings/list': 'ListFindings',
  '/coverage/list': 'ListCoverage',
  '/findings/aggregation/list': 'ListFindingAggregations',
};

const STRING_COMPARISONS = ['EQUALS', 'PREFIX', 'NOT_EQUALS'] as const;
const COVERAGE_COMPARISONS = ['EQUALS', 'NOT_EQUALS'] as const;

const FINDING_FIELDS: Accessors<FindingRecord> = {
  findingArn: (r) => [r.arn],
  awsAccountId: (r) => [r.repo.account],
  findingType: () => ['PACKAGE_VULNERABILITY'],
  severity: (r) => [r.finding.severity],
  findingStatus: (r) => [findingStatus(r.finding)],
  title: (r) => [String(inspectorFinding(r).title)],
  resourceType: () => ['AWS_ECR_CONTAINER_IMAGE'],
  resourceId: (r) => [imageResourceId(r.repo, r.image.digest)],
  ecrImageRegistry: (r) => [r.repo.account],
  ecrImageRepositoryName: (r) => [r.repo.name],
  ecrImageTags: (r) => r.image.tags,
  ecrImageHash: (r) => [r.image.digest],
  ecrImageArchitecture: (r) => (r.image.source.platform ? [r.image.source.platform.architecture] : []),
  vulnerabilityId: (r) => [r.finding.vulnerabilityId],
  vulnerabilitySource: (r) => [r.finding.source ?? 'NVD'],
  fixAvailable: (r) => [String(inspectorFinding(r).fixAvailable)],
};

const SEVERITY_RANK: Record<string, number> = { CRITICAL: 5, HIGH: 4, MEDIUM: 3, LOW: 2, INFORMATIONAL: 1, UNTRIAGED: 0 };

function body(raw: Buffer): Reader {
  return new Reader(parseJsonBody(raw, 'ValidationException'), inspectorValidation);
}

function listFindings(input: Reader, rt: Runtime, region: string, caller: string): Record<string, unknown> {
  const maxResults = input.optionalInt('maxResults', 1, 100) ?? 50;
  const nextToken = input.optionalString('nextToken');
  const matches = compileCriteria(input.optionalObject('filterCriteria'), FINDING_FIELDS, STRING_COMPARISONS, 'filterCriteria');
  const sort = input.optionalObject('sortCriteria');
  let records = findingsInRegion(rt.state(), region, caller).filter(matches);
  if (sort) {
    const field = sort.optionalEnum('field', ['SEVERITY', 'INSPECTOR_SCORE', 'LAST_OBSERVED_AT', 'FIRST_OBSERVED_AT', 'ECR_IMAGE_PUSHED_AT'] as const);
    const order = sort.optionalEnum('sortOrder', ['ASC', 'DESC'] as const) ?? 'DESC';
    if (!field)
      throw inspectorValidation(
        'sortCriteria.field is required (the sandbox sorts by SEVERITY, INSPECTOR_SCORE, LAST_OBSERVED_AT, FIRST_OBSERVED_AT, ECR_IMAGE_PUSHED_AT)',
      );
    const key = (r: FindingRecord): number => {
      const f = inspectorFinding(r);
      if (field === 'SEVERITY') return SEVERITY_RANK[r.finding.severity] ?? 0;
      if (field === 'INSPECTOR_SCORE') return r.finding.inspectorScore ?? 0;
      if (field === 'LAST_OBSERVED_AT') return Number(f.lastObservedAt);
      if (field === 'FIRST_OBSERVED_AT') return Number(f.firstObservedAt);
      return r.image.pushedAt.getTime();
    };
    records = [...records].sort((a, b) => (order === 'ASC' ? key(a) - key(b) : key(b) - key(a)));
  }
  const query = `ListFindings/${region}/${JSON.stringify(input.raw().filterCriteria ?? null)}/${JSON.stringify(input.raw().sortCriteria ?? null)}`;
  const p = inspectorPage(rt, records, query, nextToken, maxResults);
  return { findings: p.items.map(inspectorFinding), ...(p.nextToken ? { nextToken: p.nextToken } : {}) };
}

interface CoverageRecord {
  repo: StoredRepository;
  image: StoredImage;
  statusCode: 'ACTIVE' | 'INACTIVE';
  reason: string;
  lastScannedAt: Date | undefined;
}

function coverageOf(reg: StoredRegion, repo: StoredRepository, image: StoredImage): CoverageRecord | undefined {
  const src: ImageFixture = image.source;
  if (image.subjectDigest) return undefined; // signatures and other artifacts are not scanned
  if (src.coverage === null) return undefined;
  if (src.coverage) {
    // CoveredResource.lastScannedAt, "the date and time the resource was last checked for
    // vulnerabilities": a SUCCESSFUL scan has one; any other reason only when the fixture
    // says the image was scanned (a SCAN_FREQUENCY_SCAN_ON_PUSH image never scanned has none).
    const scanned = src.coverage.reason === 'SUCCESSFUL' ? (src.scanCompletedAt ?? src.pushedAt ?? DEFAULT_PUSHED_AT) : undefined;
    const last = src.coverage.lastScannedAt ?? scanned;
    return { repo, image, statusCode: src.coverage.statusCode, reason: src.coverage.reason, lastScannedAt: last === undefined ? undefined : toDate(last) };
  }
  if (reg.scanType !== 'ENHANCED') return undefined;
  // Enhanced scanning covers only the repositories a scanning rule's filter matches.
  if (!matchedByScanningRules(reg, repo.name)) return undefined;
  // Inspector scans the platform images of an index, not the index itself: a client that
  // takes the index's coverage for the image's must see that it is not scanned.
  if (src.children && src.children.length > 0) return { repo, image, statusCode: 'INACTIVE', reason: 'UNSUPPORTED_MEDIA_TYPE', lastScannedAt: undefined };
  if (image.status === 'ARCHIVED') return { repo, image, statusCode: 'INACTIVE', reason: 'IMAGE_ARCHIVED', lastScannedAt: undefined };
  return { repo, image, statusCode: 'ACTIVE', reason: 'SUCCESSFUL', lastScannedAt: toDate(src.scanCompletedAt ?? src.pushedAt ?? DEFAULT_PUSHED_AT) };
}

/** ECR's WILDCARD repository filters, as the ECR User Guide ("Filters to choose which
 *  repositories are scanned in Amazon ECR") states them: "a filter with no wildcard will
 *  match all repository names that contain the filter. A filter with a wildcard (*) matches
 *  on any repository name where the wildcard replaces zero or more characters in the
 *  repository name" (its table: `prod` matches repo-prod-repo, `prod*` does not, `*prod`
 *  matches repo-prod only). `*` is the only wildcard. No rules: every repository. */
function matchedByScanningRules(reg: StoredRegion, repository: string): boolean {
  const rules = reg.fixture.scanningRules;
  if (!rules) return true;
  return rules.some((r) => r.filters.some((f) => ecrFilterMatches(f, repository)));
}

function ecrFilterMatches(filter: string, repository: string): boolean {
  if (!filter.includes('*')) return repository.includes(filter);
  const parts = filter.split('*');
  // Anchored at both ends; each literal run found in order, left to right.
  const first = parts[0]!;
  const last = parts[parts.length - 1]!;
  if (!repository.startsWith(first) || repository.length < first.length + last.length) return false;
  let at = first.length;
  for (const part of parts.slice(1, -1)) {
    const i = repository.indexOf(part, at);
    if (i === -1) return false;
    at = i + part.length;
  }
  return repository.length - last.length >= at && repository.endsWith(last);
}

const COVERAGE_FIELDS: Accessors<CoverageRecord> = {
  accountId: (c) => [c.repo.account],
  resourceId: (c) => [imageResourceId(c.repo, c.image.digest)],
  resourceType: () => ['AWS_ECR_CONTAINER_IMAGE'],
  scanType: () => ['PACKAGE'],
  scanStatusCode: (c) => [c.statusCode],
  scanStatusReason: (c) => [c.reason],
  ecrRepositoryName: (c) => [c.repo.name],
  ecrImageTags: (c) => c.image.tags,
};

function listCoverage(input: Reader, rt: Runtime, region: string, caller: string): Record<string, unknown> {
  const maxResults = input.optionalInt('maxResults', 1, 200) ?? 100;
  const nextToken = input.optionalString('nextToken');
  const matches = compileCriteria(input.optionalObject('filterCriteria'), COVERAGE_FIELDS, COVERAGE_COMPARISONS, 'filterCriteria');
  const records: CoverageRecord[] = [];
  for (const reg of rt.state().inspectorRegions(region, caller)) {
    for (const repo of reg.repositories.values()) {
      for (const image of repo.images) {
        const c = coverageOf(reg, repo, image);
        if (c && matches(c)) records.push(c);
      }
    }
  }
  const p = inspectorPage(rt, records, `ListCoverage/${region}/${JSON.stringify(input.raw().filterCriteria ?? null)}`, nextToken, maxResults);
  return {
    coveredResources: p.items.map((c) => ({
      resourceType: 'AWS_ECR_CONTAINER_IMAGE',
      resourceId: imageResourceId(c.repo, c.image.digest),
      accountId: c.repo.account,
      scanType: 'PACKAGE',
      scanStatus: { statusCode: c.statusCode, reason: c.reason },
      resourceMetadata: {
        ecrRepository: { name: c.repo.name, scanFrequency: 'CONTINUOUS_SCAN' },
        ecrImage: {
          tags: [...c.image.tags],
          ...(c.image.source.lastRecordedPullTime !== undefined ? { imagePulledAt: epochSeconds(toDate(c.image.source.lastRecordedPullTime)) } : {}),
        },
      },
      ...(c.lastScannedAt ? { lastScannedAt: epochSeconds(c.lastScannedAt) } : {}),
    })),
    ...(p.nextToken ? { nextToken: p.nextToken } : {}),
  };
}

function listFindingAggregations(input: Reader, rt: Runtime, region: string, caller: string): Record<string, unknown> {
  const type = input.optionalEnum('aggregationType', [
    'ACCOUNT',
    'AMI',
    'AWS_EC2_INSTANCE',
    'AWS_ECR_CONTAINER',
    'AWS_LAMBDA_FUNCTION',
    'CODE_REPOSITORY',
    'CONTAINER_IMAGE',
    'FINDING_TYPE',
    'IMAGE_LAYER',
    'LAMBDA_LAYER',
    'PACKAGE',
    'REPOSITORY',
    'TITLE',
    'LAMBDA_FUNCTION',
  ] as const);
  if (!type) throw inspectorValidation("1 validation error detected: Value null at 'aggregationType' failed to satisfy constraint: Member must not be null");
  if (type !== 'AWS_ECR_CONTAINER') throw inspectorValidation(`aggregationType ${type} is not supported by the sandbox (AWS_ECR_CONTAINER is)`);
  const maxResults = input.optionalInt('maxResults', 1, 100) ?? 50;
  const nextToken = input.optionalString('nextToken');
  const accountIds = readStringFilters(input, 'accountIds', STRING_COMPARISONS);
  const req = input.optionalObject('aggregationRequest')?.optionalObject('awsEcrContainerAggregation');
  const imageShas = req ? readStringFilters(req, 'imageShas', STRING_COMPARISONS) : undefined;
  const repositories = req ? readStringFilters(req, 'repositories', STRING_COMPARISONS) : undefined;
  const resourceIds = req ? readStringFilters(req, 'resourceIds', STRING_COMPARISONS) : undefined;
  const imageTags = req ? readStringFilters(req, 'imageTags', STRING_COMPARISONS) : undefined;
  const sortBy = req?.optionalEnum('sortBy', ['CRITICAL', 'HIGH', 'ALL'] as const) ?? 'CRITICAL';
  const sortOrder = req?.optionalEnum('sortOrder', ['ASC', 'DESC'] as const) ?? 'DESC';
  // Aggregations are over active findings: an image without one is absent from the answer.
  const byImage = new Map<string, { rec: FindingRecord; counts: { all: number; critical: number; high: number; medium: number } }>();
  for (const rec of findingsInRegion(rt.state(), region, caller)) {
    if (findingStatus(rec.finding) !== 'ACTIVE') continue;
    const resourceId = imageResourceId(rec.repo, rec.image.digest);
    if (
      !matchesFilters(accountIds, [rec.repo.account]) ||
      !matchesFilters(imageShas, [rec.image.digest]) ||
      !matchesFilters(repositories, [rec.repo.name]) ||
      !matchesFilters(resourceIds, [resourceId]) ||
      !matchesFilters(imageTags, rec.image.tags)
    )
      continue;
    const entry = byImage.get(resourceId) ?? { rec, counts: { all: 0, critical: 0, high: 0, medium: 0 } };
    entry.counts.all += 1;
    const s = rec.finding.severity;
    if (s === 'CRITICAL') entry.counts.critical += 1;
    else if (s === 'HIGH') entry.counts.high += 1;
    else if (s === 'MEDIUM') entry.counts.medium += 1;
    byImage.set(resourceId, entry);
  }
  const key = sortBy === 'ALL' ? 'all' : sortBy === 'HIGH' ? 'high' : 'critical';
  const entries = [...byImage.entries()].sort(([, a], [, b]) => (sortOrder === 'ASC' ? a.counts[key] - b.counts[key] : b.counts[key] - a.counts[key]));
  const query = `ListFindingAggregations/${region}/${JSON.stringify([input.raw().accountIds ?? null, input.raw().aggregationRequest ?? null])}`;
  const p = inspectorPage(rt, entries, query, nextToken, maxResults);
  return {
    aggregationType: type,
    responses: p.items.map(([resourceId, { rec, counts }]) => ({
      awsEcrContainerAggregation: {
        resourceId,
        imageSha: rec.image.digest,
        repository: rec.repo.name,
        ...(rec.image.source.platform ? { architecture: rec.image.source.platform.architecture } : {}),
        imageTags: [...rec.image.tags],
        accountId: rec.repo.account,
        severityCounts: counts,
      },
    })),
    ...(p.nextToken ? { nextToken: p.nextToken } : {}),
  };
}

export function handleInspector(op: string, authorization: string | undefined, raw: Buffer, rt: Runtime): Outgoing {
  const scope = requireScope(authorization, 'inspector2');
  const input = body(raw);
  const caller = callerAccount(scope.accessKeyId, rt.state().fixture.defaultAccount);
  let output: Record<string, unknown>;
  if (op === 'ListFindings') output = listFindings(input, rt, scope.region, caller);
  else if (op === 'ListCoverage') output = listCoverage(input, rt, scope.region, caller);
  else if (op === 'ListFindingAggregations') output = listFindingAggregations(input, rt, scope.region, caller);
  else throw new ApiError(404, 'UnknownOperationException', `Operation ${op} is not supported by the sandbox`);
  return json(200, output, 'application/json');
}
