// ECR's side of vulnerability scanning: how a registry scans (ENHANCED: Amazon Inspector,
// BASIC: ECR's own scanner), and a BASIC registry's scan status and findings. The registry's
// configuration is cached here; the per-image call is raw: image-vulns.ts caches it together
// with the rest of the image's snapshot.
import {
  DescribeImageScanFindingsCommand, GetRegistryScanningConfigurationCommand, type ECRClient,
} from '@aws-sdk/client-ecr';
import type { EcrImageLocation } from '../checks/types.ts';
import type { FactCache, FactSpec } from '../cache/fact-cache.ts';
import { globMatcher } from '../policy/glob.ts';
import type { AwsClients } from './aws-clients.ts';
import { fromAwsError } from './errors.ts';

export type ScanningType = 'BASIC' | 'ENHANCED';

export interface RegistryScanning {
  readonly scanType: ScanningType;
  /** Repository filters (WILDCARD) of the scanning rules: a repository no filter matches is
   *  not scanned at all under ENHANCED, and not scanned on push under BASIC. */
  readonly repositoryFilters: readonly string[];
  /** False when ECR answered for another account than the one asked about: the call has no
   *  registryId, so without a role in the registry's account it describes the caller's own. */
  readonly authoritative: boolean;
}

export function repositoryCovered(scanning: RegistryScanning, repository: string): boolean {
  return scanning.repositoryFilters.some((f) => globMatcher(f)(repository));
}

/** ECR's imageScanStatus of one manifest; undefined status: ECR reports none. */
export interface EcrScanStatus {
  readonly status?: string;
  readonly description?: string;
}

export interface BasicFinding {
  readonly name: string;
  readonly severity: string;
  readonly packageName?: string;
  readonly packageVersion?: string;
}

export interface BasicScan {
  readonly status: EcrScanStatus;
  readonly findings: readonly BasicFinding[];
  /** More findings than MAX_BASIC_PAGES pages held. */
  readonly truncated: boolean;
}

const BASIC_PAGE_SIZE = 1000;
const MAX_BASIC_PAGES = 5;

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
    return this.#cache.get(this.#scanningSpec, `${loc.accountId}/${loc.region}`, async (loadSignal) => {
      try {
        const out = await this.#ecr(loc).send(new GetRegistryScanningConfigurationCommand({}), { abortSignal: loadSignal });
        const config = out.scanningConfiguration;
        return {
          scanType: config?.scanType === 'ENHANCED' ? 'ENHANCED' : 'BASIC',
          repositoryFilters: (config?.rules ?? []).flatMap((r) => (r.repositoryFilters ?? []).map((f) => f.filter ?? '')).filter((f) => f !== ''),
          authoritative: out.registryId === undefined || out.registryId === loc.accountId,
        };
      } catch (error) {
        throw fromAwsError(error, 'ecr', 'GetRegistryScanningConfiguration');
      }
    }, signal, budgetMs);
  }

  /** DescribeImageScanFindings of a BASIC-scanning registry: scan status and findings in one call. */
  async basicScan(loc: EcrImageLocation, digest: string, signal: AbortSignal): Promise<BasicScan> {
    const findings: BasicFinding[] = [];
    let status: EcrScanStatus = {};
    let nextToken: string | undefined;
    let pages = 0;
    try {
      do {
        const out = await this.#ecr(loc).send(new DescribeImageScanFindingsCommand({
          registryId: loc.accountId, repositoryName: loc.repository, imageId: { imageDigest: digest }, maxResults: BASIC_PAGE_SIZE,
          ...(nextToken !== undefined && { nextToken }),
        }), { abortSignal: signal });
        const s = out.imageScanStatus;
        status = { ...(s?.status !== undefined && { status: s.status }), ...(s?.description !== undefined && { description: s.description }) };
        for (const f of out.imageScanFindings?.findings ?? []) {
          const attribute = (key: string) => f.attributes?.find((a) => a.key === key)?.value;
          const packageName = attribute('package_name');
          const packageVersion = attribute('package_version');
          findings.push({
            name: f.name ?? 'unnamed finding',
            // BASIC's UNDEFINED is Inspector's UNTRIAGED: a severity nobody has assigned yet.
            severity: f.severity === 'UNDEFINED' || f.severity === undefined ? 'UNTRIAGED' : f.severity,
            ...(packageName !== undefined && { packageName }),
            ...(packageVersion !== undefined && { packageVersion }),
          });
        }
        nextToken = out.nextToken;
        pages++;
      } while (nextToken !== undefined && pages < MAX_BASIC_PAGES);
    } catch (error) {
      // Never scanned (no scan on push, no manual scan): a scan state, not a failure.
      if ((error as { name?: string }).name === 'ScanNotFoundException') return { status: {}, findings: [], truncated: false };
      throw fromAwsError(error, 'ecr', 'DescribeImageScanFindings');
    }
    return { status, findings, truncated: nextToken !== undefined };
  }
}
