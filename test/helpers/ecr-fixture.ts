// The sandbox world most admission tests need: one account and region (the harness's), Inspector
// enhanced scanning, the repositories a test names; and the scan status and CRITICAL finding its
// images carry. Tests that need more (other accounts, pull-through rules) write their fixture.
import type { FindingFixture, RepositoryFixture, SandboxFixture } from '../../src/dev/sandbox/index.ts';
import { ACCOUNT, REGION } from './harness.ts';

/** Continuous scanning on, as DescribeImageScanFindings reports it for an enhanced-scanned image. */
export const CONTINUOUS_SCAN = { scanStatus: { status: 'ACTIVE' as const, description: 'Continuous scan is selected for image.' } };

/** A CRITICAL finding (the xz-utils backdoor): an image carrying it is denied by default. */
export const XZ_CRITICAL: FindingFixture = {
  vulnerabilityId: 'CVE-2024-3094',
  severity: 'CRITICAL',
  inspectorScore: 10,
  packages: [{ name: 'xz-utils', version: '5.6.0' }],
};

/** ACCOUNT in REGION, scanned ENHANCED, holding `repositories`. */
export function ecrFixture(repositories: RepositoryFixture[]): SandboxFixture {
  return { defaultAccount: ACCOUNT, accounts: { [ACCOUNT]: { regions: { [REGION]: { scanType: 'ENHANCED', repositories } } } } };
}
