// ECR's side of vulnerability scanning: how a registry scans (ENHANCED: Amazon Inspector,
// BASIC: ECR's own scanner), and an image's scan status and findings as ECR reports them.
// DescribeImageScanFindings carries BASIC results in imageScanFindings.findings and, in an
// ENHANCED registry, Inspector's results in imageScanFindings.enhancedFindings: the only way
// to read another account's enhanced findings when Inspector's List APIs cannot see that
// account (no role there, and not its delegated administrator). The registry's
// configuration is cached here; the per-image call is raw: image-vulns.ts caches it together
// with the rest of the image's snapshot.
import {
  GetRegistryScanningConfigurationCommand,
  paginateDescribeImageScanFindings,
  type ECRClient,
  type EnhancedImageScanFinding,
  type ImageScanFinding,
} from '@aws-sdk/client-ecr';
import type { EcrImageLocation } from '../ports.ts';
import type { FactCache, FactSpec } from '../../support/fact-cache.ts';
import type { AwsClients } from '../aws-clients.ts';
import { fromAwsError } from '../errors.ts';
import { vulnerablePackagesOf, type VulnerablePackage } from '../inspector/findings.ts';

export type ScanningType = 'BASIC' | 'ENHANCED';

export interface RegistryScanning {
  readonly scanType: ScanningType;
  /** Repository filters (WILDCARD) of the scanning rules: a repository no filter matches is
   *  not scanned at all under ENHANCED, and not scanned on push under BASIC. */
  readonly repositoryFilters: readonly string[];
  /** The rules with their scan frequency (the posture check's ECR.1 needs to know which scan). */
  readonly rules?: readonly { readonly scanFrequency: string; readonly filters: readonly string[] }[];
  /** False when ECR answered for another account than the one asked about: the call has no
   *  registryId, so without a role in the registry's account it describes the caller's own. */
  readonly authoritative: boolean;
}

/**
 * ECR's rule for a scanning rule's repository filter (filterType WILDCARD): "a filter with no
 * wildcard will match all repository names that contain the filter. A filter with a wildcard
 * (*) matches on any repository name where the wildcard replaces zero or more characters in
 * the repository name" (Amazon ECR User Guide, "Filters to choose which repositories are
 * scanned in Amazon ECR"; the API reference's ScanningRepositoryFilter only says "The filter
 * to use when scanning"). So `prod` matches repo-prod-repo, `prod*` does not. `*` is the only
 * wildcard: the filter pattern ^[a-z0-9*](?:[._\-/a-z0-9*]?[a-z0-9*]+)*$ admits no other.
 */
export function scanningFilterMatches(filter: string, repository: string): boolean {
  if (!filter.includes('*')) return repository.includes(filter);
  const literal = (part: string) => part.replace(/[.+?^${}()|[\]\\/-]/g, '\\$&');
  return new RegExp(`^${filter.split('*').map(literal).join('.*')}$`, 's').test(repository);
}

/** Does any scanning rule of the registry scan this repository? */
export function repositoryCovered(scanning: RegistryScanning, repository: string): boolean {
  return scanning.repositoryFilters.some((f) => scanningFilterMatches(f, repository));
}

/** ECR's imageScanStatus of one manifest; undefined status: ECR reports none. */
export interface EcrScanStatus {
  readonly status?: string;
  readonly description?: string;
}

/** One finding as ECR reports it, basic or enhanced (the check adds the manifest's digest). */
export interface EcrFinding {
  /** CVE-2024-3094, GHSA-..., or a BASIC finding's name. */
  readonly id: string;
  readonly severity: string;
  readonly inspectorScore?: number;
  readonly fixAvailable?: string;
  readonly packages: readonly VulnerablePackage[];
}

export interface EcrScan {
  readonly status: EcrScanStatus;
  /** Which scanner's results these are: ENHANCED when ECR answered with Inspector's
   *  enhancedFindings (or the enhanced-only status ACTIVE), else BASIC. */
  readonly scanning: ScanningType;
  /** Active findings, every severity. */
  readonly findings: readonly EcrFinding[];
  /** More findings than MAX_SCAN_PAGES pages held. */
  readonly truncated: boolean;
}

const SCAN_PAGE_SIZE = 1000;
const MAX_SCAN_PAGES = 5;

/** BASIC: name, severity (UNDEFINED is Inspector's UNTRIAGED: a severity nobody has assigned
 *  yet), and the package in its attributes. */
function basicFinding(f: ImageScanFinding): EcrFinding {
  const attribute = (key: string) => f.attributes?.find((a) => a.key === key)?.value;
  const name = attribute('package_name');
  const version = attribute('package_version');
  return {
    id: f.name ?? 'unnamed finding',
    severity: f.severity === 'UNDEFINED' || f.severity === undefined ? 'UNTRIAGED' : f.severity,
    packages: name !== undefined ? [{ name, ...(version !== undefined && { version }) }] : [],
  };
}

/** ENHANCED (client-ecr EnhancedImageScanFinding): Inspector's finding as ECR relays it, with
 *  the same package details, fixed versions, score and fixAvailable as ListFindings. */
function enhancedFinding(f: EnhancedImageScanFinding): EcrFinding {
  const details = f.packageVulnerabilityDetails;
  return {
    id: details?.vulnerabilityId ?? f.title ?? f.findingArn ?? 'unknown finding',
    severity: f.severity ?? 'UNTRIAGED',
    ...(f.score !== undefined && { inspectorScore: f.score }),
    ...(f.fixAvailable !== undefined && { fixAvailable: f.fixAvailable }),
    packages: vulnerablePackagesOf(details?.vulnerablePackages),
  };
}

/** A finding Inspector has suppressed or closed does not count; one that names no status is
 *  counted (missing data never waives). */
const countsAsActive = (f: EnhancedImageScanFinding): boolean => f.status === undefined || f.status === 'ACTIVE';

export interface EcrScanFactsOptions {
  readonly clients: AwsClients;
  readonly cache: FactCache;
  /** How long a registry's scanning configuration is trusted, and served stale while refreshed. */
  readonly ttlMs: number;
  readonly staleMs: number;
}

export class EcrScanFacts {
  readonly #clients: AwsClients;
  readonly #cache: FactCache;
  readonly #scanningSpec: FactSpec<RegistryScanning>;

  constructor(options: EcrScanFactsOptions) {
    this.#clients = options.clients;
    this.#cache = options.cache;
    this.#scanningSpec = { fact: 'registry-scanning', ttlMs: () => options.ttlMs, staleMs: options.staleMs };
  }

  #ecr(loc: EcrImageLocation): ECRClient {
    return this.#clients.ecr(loc.accountId, loc.region);
  }

  /** GetRegistryScanningConfiguration, cached per account and region. */
  registryScanning(loc: EcrImageLocation, signal: AbortSignal, budgetMs: number): Promise<RegistryScanning> {
    return this.#cache.get(
      this.#scanningSpec,
      `${loc.accountId}/${loc.region}`,
      async (loadSignal) => {
        try {
          const out = await this.#ecr(loc).send(new GetRegistryScanningConfigurationCommand({}), { abortSignal: loadSignal });
          const config = out.scanningConfiguration;
          return {
            scanType: config?.scanType === 'ENHANCED' ? 'ENHANCED' : 'BASIC',
            repositoryFilters: (config?.rules ?? []).flatMap((r) => (r.repositoryFilters ?? []).map((f) => f.filter ?? '')).filter((f) => f !== ''),
            rules: (config?.rules ?? []).map((r) => ({
              scanFrequency: r.scanFrequency ?? 'MANUAL',
              filters: (r.repositoryFilters ?? []).map((f) => f.filter ?? '').filter((f) => f !== ''),
            })),
            authoritative: out.registryId === undefined || out.registryId === loc.accountId,
          };
        } catch (error) {
          throw fromAwsError(error, 'ecr', 'GetRegistryScanningConfiguration');
        }
      },
      signal,
      budgetMs,
    );
  }

  /** DescribeImageScanFindings: an image's scan status and findings in one call, basic
   *  (`findings`) or enhanced (`enhancedFindings`, Inspector's results relayed by ECR). */
  async imageScan(loc: EcrImageLocation, digest: string, signal: AbortSignal): Promise<EcrScan> {
    const findings: EcrFinding[] = [];
    let status: EcrScanStatus = {};
    let enhanced = false;
    let truncated = false;
    let read = 0;
    // The SDK's paginator follows nextToken whatever a page holds (an empty page with a token
    // is not the end); the page bound is ours.
    const pages = paginateDescribeImageScanFindings(
      { client: this.#ecr(loc), pageSize: SCAN_PAGE_SIZE },
      { registryId: loc.accountId, repositoryName: loc.repository, imageId: { imageDigest: digest } },
      { abortSignal: signal },
    );
    try {
      for await (const out of pages) {
        const s = out.imageScanStatus;
        status = { ...(s?.status !== undefined && { status: s.status }), ...(s?.description !== undefined && { description: s.description }) };
        const page = out.imageScanFindings;
        if (page?.enhancedFindings !== undefined || s?.status === 'ACTIVE') enhanced = true;
        for (const f of page?.findings ?? []) findings.push(basicFinding(f));
        for (const f of page?.enhancedFindings ?? []) if (countsAsActive(f)) findings.push(enhancedFinding(f));
        if (++read >= MAX_SCAN_PAGES && out.nextToken) {
          truncated = true;
          break;
        }
      }
    } catch (error) {
      // Never scanned (no scan on push, no manual scan): a scan state, not a failure.
      if ((error as { name?: string }).name === 'ScanNotFoundException') return { status: {}, scanning: 'BASIC', findings: [], truncated: false };
      throw fromAwsError(error, 'ecr', 'DescribeImageScanFindings');
    }
    return { status, scanning: enhanced ? 'ENHANCED' : 'BASIC', findings, truncated };
  }
}
