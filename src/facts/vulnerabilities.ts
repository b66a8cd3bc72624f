// One image's vulnerability facts: the scan state of each scanned manifest and its active
// findings at the denied severities, cached per digest as one snapshot.
//
// Why one fact and not two: a finding list fetched while the image was still pending its
// scan is empty. Cached on its own for the findings TTL, it would outlive the pending state
// and let the image pass once scanned, its findings unread. Cached together with the state,
// the snapshot expires quickly while the scan is unfinished, and lives the findings TTL after.
//
// Calls, ENHANCED registries: Inspector ListCoverage (scan state) in parallel with
// ListFindings, each one call per 10 manifests (an index's platform images in one), so one
// round trip. ListCoverage rather than ECR DescribeImages: both answer in one call, but
// Inspector is where the state lives (ECR's imageScanStatus mirrors it), it names the exact
// state (PENDING_INITIAL_SCAN vs SCAN_IN_PROGRESS, UNSUPPORTED_OS vs UNSUPPORTED_MEDIA_TYPE,
// which ECR folds into PENDING and UNSUPPORTED_IMAGE) and it is the same service, client and
// credentials as ListFindings. BASIC registries: ECR DescribeImageScanFindings, which carries
// the scan status and the findings together, one call per manifest. A registry whose
// configuration ECR would not describe (another account without a role, or refused) is asked
// Inspector first; Inspector shows only the caller's own account (unless it is the delegated
// administrator), so for another account's registry the answer is ECR's
// DescribeImageScanFindings, which relays Inspector's enhancedFindings in an ENHANCED registry.
import type { EcrImageLocation, ResolvedImage } from './ports.ts';
import type { FactCache, FactSpec } from '../support/fact-cache.ts';
import type { CacheConfig } from '../policy/schema.ts';
import type { AwsClients } from './aws-clients.ts';
import { FactError } from './errors.ts';
import { EcrScanFacts, repositoryCovered, type EcrScanStatus, type ScanningType } from './ecr/scan.ts';
import { InspectorFacts, type Coverage, type VulnerabilityFinding } from './inspector/findings.ts';
import { ErrorCodes } from '../support/errors.ts';

export type { VulnerabilityFinding } from './inspector/findings.ts';

/**
 * SCANNED, or why not: PENDING_INITIAL_SCAN, PENDING_REVIVAL_SCAN, SCAN_IN_PROGRESS,
 * SCAN_FREQUENCY_SCAN_ON_PUSH (on-push only, never scanned), NO_SCAN_RECORDED (coverage
 * SUCCESSFUL without a lastScannedAt),
 * UNSUPPORTED_OS, UNSUPPORTED_MEDIA_TYPE, UNSUPPORTED_IMAGE, SCAN_ELIGIBILITY_EXPIRED,
 * FAILED, LIMIT_EXCEEDED, NOT_COVERED (Inspector knows nothing of it), NEVER_SCANNED (BASIC,
 * no scan), or another Inspector coverage reason as Inspector spells it.
 */
export type ScanState = string;

/** States that change on their own within minutes: a snapshot holding one is trusted briefly. */
const TRANSIENT = new Set(['PENDING_INITIAL_SCAN', 'PENDING_REVIVAL_SCAN', 'SCAN_IN_PROGRESS', 'NOT_COVERED', 'LIMIT_EXCEEDED']);
export const TRANSIENT_TTL_MS = 30_000;

export interface ManifestScan {
  readonly digest: string;
  /** "linux/arm64" for a platform image of an index. */
  readonly platform?: string;
  readonly state: ScanState;
  /** What AWS said, verbatim: "Inspector coverage INACTIVE/UNSUPPORTED_OS", "ECR scan status FAILED: ...". */
  readonly detail?: string;
}

export interface VulnerabilityReport {
  readonly scanning: ScanningType;
  /** The manifests that are scanned: the image itself, or each platform image of an index. */
  readonly manifests: readonly ManifestScan[];
  /** Where the scan was read: Inspector's own APIs, or ECR's DescribeImageScanFindings (always
   *  for BASIC; for ENHANCED, when Inspector could not see the registry's account). */
  readonly via: 'inspector' | 'ecr';
  /** ACTIVE findings at the denied severities, on any of `manifests`. */
  readonly findings: readonly VulnerabilityFinding[];
  /** Not every finding was read (more pages than the bound). */
  readonly truncated: boolean;
  /** False when no ENHANCED scanning rule's filter matches the repository. */
  readonly repositoryCovered: boolean;
}

export const isScanned = (m: ManifestScan): boolean => m.state === 'SCANNED';

/** Inspector's coverage of one ECR image as a scan state. Scanned means Inspector scanned
 *  it: a lastScannedAt, whatever the reason code says. */
export function stateFromCoverage(c: Coverage | undefined): ScanState {
  if (!c) return 'NOT_COVERED';
  // SCAN_FREQUENCY_SCAN_ON_PUSH: "This image will be scanned one time and will not [get]
  // new findings" (client-inspector2 ScanStatus.reason). Once scanned its findings are real,
  // only not refreshed as new CVEs appear; before that scan, there are none to read.
  const scannedReason = c.reason === 'SCAN_FREQUENCY_SCAN_ON_PUSH' || (c.statusCode === 'ACTIVE' && c.reason === 'SUCCESSFUL');
  if (!scannedReason) return c.reason;
  if (c.lastScannedAt !== undefined) return 'SCANNED';
  return c.reason === 'SUCCESSFUL' ? 'NO_SCAN_RECORDED' : c.reason;
}

/** ECR's imageScanStatus under BASIC scanning as a scan state. */
export function stateFromEcr(s: EcrScanStatus): ScanState {
  switch (s.status) {
    case undefined:
      return 'NEVER_SCANNED';
    case 'COMPLETE':
    case 'ACTIVE':
      return 'SCANNED';
    case 'IN_PROGRESS':
      return 'SCAN_IN_PROGRESS';
    case 'PENDING':
      return 'PENDING_INITIAL_SCAN';
    default:
      return s.status;
  }
}

type Target = { readonly digest: string; readonly platform?: string };

export interface VulnerabilityFactsOptions {
  readonly clients: AwsClients;
  readonly cache: FactCache;
  readonly ttl: CacheConfig;
}

export class VulnerabilityFacts {
  readonly #cache: FactCache;
  readonly #ecr: EcrScanFacts;
  readonly #inspector: InspectorFacts;
  readonly #reportSpec: FactSpec<VulnerabilityReport>;

  constructor(options: VulnerabilityFactsOptions) {
    this.#cache = options.cache;
    const s = options.ttl.ttlSeconds;
    const staleMs = options.ttl.staleSeconds * 1000;
    this.#ecr = new EcrScanFacts({ clients: options.clients, cache: options.cache, ttlMs: s.repository * 1000, staleMs });
    this.#inspector = new InspectorFacts(options.clients);
    const findingsMs = s.findings * 1000;
    this.#reportSpec = {
      fact: 'vulnerabilities',
      ttlMs: (r) => (r.manifests.some((m) => TRANSIENT.has(m.state)) ? Math.min(TRANSIENT_TTL_MS, findingsMs) : findingsMs),
      staleMs,
    };
  }

  /** The scan state and active findings of a resolved image, at `severities`. */
  report(loc: EcrImageLocation, image: ResolvedImage, severities: readonly string[], signal: AbortSignal, budgetMs: number): Promise<VulnerabilityReport> {
    const wanted = [...new Set(severities)].sort();
    // Keyed by digest, never by tag: an index's own bytes name its platform images.
    const key = `${loc.accountId}/${loc.region}/${loc.repository}@${image.digest}|${wanted.join(',')}`;
    return this.#cache.get(
      this.#reportSpec,
      key,
      async (loadSignal) => {
        // Without ecr:GetRegistryScanningConfiguration the scanning type is found by asking.
        const scanning = await this.#ecr.registryScanning(loc, loadSignal, budgetMs).catch((error: unknown) => {
          if (error instanceof FactError && error.code === ErrorCodes.ACCESS_DENIED) return undefined;
          throw error;
        });
        const targets: Target[] =
          image.platforms && image.platforms.length > 0 ? image.platforms.map((p) => ({ digest: p.digest, platform: p.platform })) : [{ digest: image.digest }];
        if (scanning?.authoritative) {
          if (scanning.scanType === 'BASIC') return this.#fromEcr(loc, targets, wanted, loadSignal);
          return this.#enhanced(loc, targets, wanted, repositoryCovered(scanning, loc.repository), loadSignal);
        }
        // ECR described the caller's own registry, not the image's (another account, no role),
        // or refused: ask Inspector first; if it covers none of the manifests, ask ECR, which
        // answers with the basic or the enhanced scan, whichever the registry runs.
        const enhanced = await this.#enhanced(loc, targets, wanted, true, loadSignal);
        if (enhanced.findings.length > 0 || enhanced.manifests.some((m) => m.state !== 'NOT_COVERED')) return enhanced;
        const fromEcr = await this.#fromEcr(loc, targets, wanted, loadSignal);
        return fromEcr.manifests.some((m) => m.state !== 'NEVER_SCANNED') ? fromEcr : enhanced;
      },
      signal,
      budgetMs,
    );
  }

  async #enhanced(
    loc: EcrImageLocation,
    targets: readonly Target[],
    severities: readonly string[],
    covered: boolean,
    signal: AbortSignal,
  ): Promise<VulnerabilityReport> {
    const digests = targets.map((t) => t.digest);
    const [coverage, page] = await Promise.all([
      this.#inspector.coverage(loc, digests, signal),
      this.#inspector.activeFindings(loc, digests, severities, signal),
    ]);
    const manifests = targets.map((t) => {
      const c = coverage.get(t.digest);
      return manifest(t, stateFromCoverage(c), c ? `Inspector coverage ${c.statusCode}/${c.reason}` : undefined);
    });
    return { scanning: 'ENHANCED', via: 'inspector', manifests, findings: page.findings, truncated: page.truncated, repositoryCovered: covered };
  }

  /** ECR DescribeImageScanFindings per manifest: basic findings, or Inspector's enhanced ones. */
  async #fromEcr(loc: EcrImageLocation, targets: readonly Target[], severities: readonly string[], signal: AbortSignal): Promise<VulnerabilityReport> {
    const scans = await Promise.all(targets.map((t) => this.#ecr.imageScan(loc, t.digest, signal)));
    const findings: VulnerabilityFinding[] = [];
    scans.forEach((scan, i) => {
      const digest = targets[i]!.digest;
      for (const f of scan.findings) if (severities.includes(f.severity)) findings.push({ ...f, digest });
    });
    const manifests = targets.map((t, i) => {
      const s = scans[i]!.status;
      const detail = s.status !== undefined ? `ECR scan status ${s.status}${s.description ? `: ${s.description}` : ''}` : undefined;
      return manifest(t, stateFromEcr(s), detail);
    });
    const scanning = scans.some((s) => s.scanning === 'ENHANCED') ? 'ENHANCED' : 'BASIC';
    return { scanning, via: 'ecr', manifests, findings, truncated: scans.some((s) => s.truncated), repositoryCovered: true };
  }
}

function manifest(t: Target, state: ScanState, detail: string | undefined): ManifestScan {
  return { digest: t.digest, ...(t.platform !== undefined && { platform: t.platform }), state, ...(detail !== undefined && { detail }) };
}
