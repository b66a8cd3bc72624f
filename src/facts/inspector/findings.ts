// Amazon Inspector's side of vulnerability scanning: the active findings of ECR images
// (ListFindings) and their scan state (ListCoverage: pending initial scan, in progress,
// unsupported OS or media type, eligibility expired...). Raw calls only: image-vulns.ts
// caches them together, as one snapshot per digest.
//
// Pagination follows the token, never the page's contents: Inspector serves pages that are
// empty but carry a nextToken, and a trailing token that leads to an empty page. The SDK's
// paginators (paginateListFindings, paginateListCoverage) do exactly that; the page bound is
// ours, and reaching it with a token still pending is an error (onError decides), never
// "not covered" or "no findings".
import { paginateListCoverage, paginateListFindings, type Finding, type Inspector2Client, type ListCoverageCommandOutput } from '@aws-sdk/client-inspector2';
import type { EcrImageLocation } from '../ports.ts';
import type { AwsClients } from '../aws-clients.ts';
import { FactError, fromAwsError } from '../errors.ts';
import { ErrorCodes } from '../../support/errors.ts';

export interface VulnerablePackage {
  readonly name: string;
  readonly version?: string;
  readonly fixedInVersion?: string;
}

/** One active finding on one manifest, as the check reads it (BASIC findings map to this too). */
export interface VulnerabilityFinding {
  /** CVE-2024-3094, GHSA-..., or a BASIC finding's name. */
  readonly id: string;
  readonly severity: string;
  readonly inspectorScore?: number;
  /** YES, NO, PARTIAL; undefined when the scanner does not say (BASIC). */
  readonly fixAvailable?: string;
  readonly packages: readonly VulnerablePackage[];
  /** The manifest the finding is on (a platform image of an index). */
  readonly digest: string;
}

export interface Coverage {
  readonly statusCode: string;
  readonly reason: string;
  /** When Inspector last scanned it; absent: Inspector has never scanned it. */
  readonly lastScannedAt?: Date;
}

export interface FindingsPage {
  readonly findings: VulnerabilityFinding[];
  /** More findings than MAX_FINDING_PAGES pages held: the rest were not read. */
  readonly truncated: boolean;
}

/** Inspector filter lists hold at most 10 values, OR'ed. */
const FILTER_VALUES = 10;
const PAGE_SIZE = 100;
/** Requests per group of digests, empty pages included: up to 2000 findings at a denied
 *  severity (enough to deny), bounded in time. */
export const MAX_FINDING_PAGES = 20;
/** At most 10 resources match one group of resource ids; pages beyond the first are empty
 *  pages Inspector serves on the way. Bounded, so a token that never ends cannot hold an
 *  admission: the bound reached is an error. */
export const MAX_COVERAGE_PAGES = 10;

const eq = (value: string) => ({ comparison: 'EQUALS' as const, value });

/** Inspector's resource id of an ECR image (what ListCoverage filters on). */
export function imageResourceId(loc: EcrImageLocation, digest: string): string {
  return `arn:${loc.partition}:ecr:${loc.region}:${loc.accountId}:repository/${loc.repository}/${digest}`;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Inspector writes "NotAvailable" where a package has no fixed version. */
function fixedVersion(v: string | undefined): string | undefined {
  return v === undefined || v === '' || v === 'NotAvailable' ? undefined : v;
}

/** A finding's vulnerable packages, as Inspector's ListFindings and ECR's enhanced findings
 *  (the same Inspector data, relayed) both describe them. */
export function vulnerablePackagesOf(
  packages: readonly { name?: string | undefined; version?: string | undefined; fixedInVersion?: string | undefined }[] | undefined,
): VulnerablePackage[] {
  return (packages ?? []).map((p) => {
    const fixed = fixedVersion(p.fixedInVersion);
    return {
      name: p.name ?? 'unknown package',
      ...(p.version !== undefined && { version: p.version }),
      ...(fixed !== undefined && { fixedInVersion: fixed }),
    };
  });
}

function digestOf(f: Finding, asked: readonly string[]): string | undefined {
  for (const r of f.resources ?? []) {
    const hash = r.details?.awsEcrContainerImage?.imageHash ?? r.id?.slice(r.id.lastIndexOf('/') + 1);
    if (hash !== undefined && asked.includes(hash)) return hash;
  }
  return undefined;
}

function toFinding(f: Finding, digest: string): VulnerabilityFinding {
  const details = f.packageVulnerabilityDetails;
  return {
    id: details?.vulnerabilityId ?? f.title ?? f.findingArn ?? 'unknown finding',
    severity: f.severity ?? 'UNTRIAGED',
    ...(f.inspectorScore !== undefined && { inspectorScore: f.inspectorScore }),
    ...(f.fixAvailable !== undefined && { fixAvailable: f.fixAvailable }),
    packages: vulnerablePackagesOf(details?.vulnerablePackages),
    digest,
  };
}

export class InspectorFacts {
  readonly #clients: AwsClients;

  constructor(clients: AwsClients) {
    this.#clients = clients;
  }

  #inspector(loc: EcrImageLocation): Inspector2Client {
    return this.#clients.inspector(loc.accountId, loc.region);
  }

  /** ACTIVE findings at `severities` on `digests` of one repository, worst first. Suppressed and
   *  closed findings are filtered out by Inspector itself (findingStatus ACTIVE). */
  async activeFindings(loc: EcrImageLocation, digests: readonly string[], severities: readonly string[], signal: AbortSignal): Promise<FindingsPage> {
    const groups = await Promise.all(chunks(digests, FILTER_VALUES).map((group) => this.#listFindings(loc, group, severities, signal)));
    return { findings: groups.flatMap((g) => g.findings), truncated: groups.some((g) => g.truncated) };
  }

  async #listFindings(loc: EcrImageLocation, digests: readonly string[], severities: readonly string[], signal: AbortSignal): Promise<FindingsPage> {
    const filterCriteria = {
      resourceType: [eq('AWS_ECR_CONTAINER_IMAGE')],
      ecrImageRegistry: [eq(loc.accountId)],
      ecrImageRepositoryName: [eq(loc.repository)],
      ecrImageHash: digests.map(eq),
      findingStatus: [eq('ACTIVE')],
      severity: severities.map(eq),
    };
    const findings: VulnerabilityFinding[] = [];
    const pages = paginateListFindings(
      { client: this.#inspector(loc), pageSize: PAGE_SIZE },
      { filterCriteria, sortCriteria: { field: 'SEVERITY', sortOrder: 'DESC' } },
      { abortSignal: signal },
    );
    let read = 0;
    try {
      for await (const page of pages) {
        for (const f of page.findings ?? []) {
          // The filter asked for these; a finding that is not is ignored rather than trusted.
          const digest = digestOf(f, digests);
          if (digest !== undefined && f.status === 'ACTIVE') findings.push(toFinding(f, digest));
        }
        // More pages than the bound: the findings read so far still deny; the check turns an
        // image with none of them into an error, never into "no findings".
        if (++read >= MAX_FINDING_PAGES && page.nextToken) return { findings, truncated: true };
      }
    } catch (error) {
      throw fromAwsError(error, 'inspector2', 'ListFindings');
    }
    return { findings, truncated: false };
  }

  /** Inspector's coverage of each digest: {statusCode ACTIVE|INACTIVE, reason SUCCESSFUL,
   *  PENDING_INITIAL_SCAN, UNSUPPORTED_OS, ...}. A digest Inspector does not cover is absent. */
  async coverage(loc: EcrImageLocation, digests: readonly string[], signal: AbortSignal): Promise<Map<string, Coverage>> {
    const byResource = new Map(digests.map((d) => [imageResourceId(loc, d), d]));
    const groups = await Promise.all(
      chunks([...byResource.keys()], FILTER_VALUES).map(async (group) => {
        const found: Array<[string, Coverage]> = [];
        const pages = paginateListCoverage(
          { client: this.#inspector(loc), pageSize: PAGE_SIZE },
          { filterCriteria: { resourceType: [eq('AWS_ECR_CONTAINER_IMAGE')], resourceId: group.map(eq) } },
          { abortSignal: signal },
        );
        let read = 0;
        let last: ListCoverageCommandOutput | undefined;
        try {
          for await (const page of pages) {
            last = page;
            for (const r of page.coveredResources ?? []) {
              const digest = r.resourceId !== undefined ? byResource.get(r.resourceId) : undefined;
              if (digest !== undefined && r.scanStatus?.statusCode !== undefined) {
                found.push([
                  digest,
                  {
                    statusCode: r.scanStatus.statusCode,
                    reason: r.scanStatus.reason ?? 'UNKNOWN',
                    ...(r.lastScannedAt instanceof Date && !Number.isNaN(r.lastScannedAt.getTime()) && { lastScannedAt: r.lastScannedAt }),
                  },
                ]);
              }
            }
            if (++read >= MAX_COVERAGE_PAGES) break;
          }
        } catch (error) {
          throw fromAwsError(error, 'inspector2', 'ListCoverage');
        }
        // A digest absent from a listing that was not read to its end is unknown, not uncovered.
        if (last?.nextToken) {
          throw new FactError(
            ErrorCodes.AWS_ERROR,
            'inspector2',
            'ListCoverage',
            `inspector2 ListCoverage still had more pages after ${MAX_COVERAGE_PAGES} (page limit reached): the scan state is unknown`,
          );
        }
        return found;
      }),
    );
    return new Map(groups.flat());
  }
}
