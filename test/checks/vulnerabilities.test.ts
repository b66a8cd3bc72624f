// vulnerabilities check end to end: the reviewer, the real Inspector2 and ECR SDK clients and
// the AWS sandbox speaking their wire protocols.
import t from 'tap';
import { FactCache } from '../../src/support/fact-cache.ts';
import { AwsClients } from '../../src/facts/aws-clients.ts';
import { TRANSIENT_TTL_MS, VulnerabilityFacts } from '../../src/facts/vulnerabilities.ts';
import { parsePolicy } from '../../src/policy/load.ts';
import {
  imageDigest,
  ociImage,
  ociIndex,
  type CoverageReason,
  type FindingFixture,
  type ImageFixture,
  type SandboxFixture,
} from '../../src/dev/sandbox/index.ts';
import { ACCOUNT, HOST, OTHER_ACCOUNT, REGION, SANDBOX_CREDENTIALS, resultOf, startHarness } from '../helpers/harness.ts';

const WEST = 'us-west-2';
const WEST_HOST = `${ACCOUNT}.dkr.ecr.${WEST}.amazonaws.com`;
const RULES = 'eu-west-1';
const RULES_HOST = `${ACCOUNT}.dkr.ecr.${RULES}.amazonaws.com`;
const VENDOR = 'eu-central-1';
const VENDOR_HOST = `${OTHER_ACCOUNT}.dkr.ecr.${VENDOR}.amazonaws.com`;
const continuous = { scanStatus: { status: 'ACTIVE' as const, description: 'Continuous scan is selected for image.' } };
const DAY = 86_400_000;
const day = (offsetDays: number) => new Date(Date.now() + offsetDays * DAY).toISOString().slice(0, 10);

const xz: FindingFixture = {
  vulnerabilityId: 'CVE-2024-3094',
  severity: 'CRITICAL',
  inspectorScore: 10,
  packages: [{ name: 'xz-utils', version: '5.6.0', fixedInVersion: '5.6.1' }],
};
const webp: FindingFixture = {
  vulnerabilityId: 'CVE-2023-4863',
  severity: 'HIGH',
  inspectorScore: 8.8,
  packages: [{ name: 'libwebp', version: '1.3.1', fixedInVersion: '1.3.2' }],
};
const legacyCve: FindingFixture = {
  vulnerabilityId: 'CVE-2025-0001',
  severity: 'CRITICAL',
  inspectorScore: 9.1,
  packages: [{ name: 'openssl', version: '1.1.1k' }],
};

const image = (seed: string, extra: Partial<ImageFixture> = {}) => ociImage({ seed, tags: ['1'], ...extra });
const covered = (reason: CoverageReason, statusCode: 'ACTIVE' | 'INACTIVE' = 'INACTIVE') => ({ coverage: { statusCode, reason } });

const amd = ociImage({ seed: 'multi-amd64', platform: { os: 'linux', architecture: 'amd64' } });
const arm = ociImage({ seed: 'multi-arm64', platform: { os: 'linux', architecture: 'arm64', variant: 'v8' }, findings: [xz] });
const multi = ociIndex({ children: [amd, arm], tags: ['1'] });
const pendingArm = ociImage({ seed: 'half-arm64', platform: { os: 'linux', architecture: 'arm64' }, ...covered('PENDING_INITIAL_SCAN', 'ACTIVE') });
const half = ociIndex({ children: [ociImage({ seed: 'half-amd64' }), pendingArm], tags: ['1'] });

const many: FindingFixture[] = Array.from({ length: 230 }, (_, i) => ({
  vulnerabilityId: `CVE-2026-${String(10000 + i)}`,
  severity: 'CRITICAL',
  inspectorScore: i === 117 ? 9.9 : 9.0,
  packages: [{ name: `pkg${i}`, version: '1.0', fixedInVersion: '1.1' }],
}));

function fixture(): SandboxFixture {
  const repo = (name: string, images: ImageFixture[]) => ({ name, tagMutability: 'IMMUTABLE' as const, images });
  return {
    defaultAccount: ACCOUNT,
    accounts: {
      [ACCOUNT]: {
        regions: {
          [REGION]: {
            scanType: 'ENHANCED',
            repositories: [
              repo('clean', [image('clean')]),
              repo('crit', [image('crit', { findings: [xz, { ...webp, severity: 'LOW' }] })]),
              repo('suppressed', [
                image('suppressed', {
                  findings: [
                    { ...xz, status: 'SUPPRESSED' },
                    { ...legacyCve, status: 'CLOSED' },
                  ],
                }),
              ]),
              repo('high', [image('high', { findings: [webp] })]),
              repo('many', [image('many', { findings: many })]),
              repo('nofix', [image('nofix', { findings: [{ ...legacyCve, fixAvailable: 'NO' }] })]),
              repo('lowscore', [image('lowscore', { findings: [{ ...xz, inspectorScore: 6.5 }] })]),
              repo('legacy/app', [image('legacy', { findings: [legacyCve] })]),
              repo('other/app', [image('other', { findings: [legacyCve] })]),
              repo('multi', [multi]),
              repo('half', [half]),
              repo('pending', [image('pending', covered('PENDING_INITIAL_SCAN', 'ACTIVE'))]),
              repo('scanning', [image('scanning', covered('SCAN_IN_PROGRESS', 'ACTIVE'))]),
              repo('win', [image('win', covered('UNSUPPORTED_OS'))]),
              repo('mediatype', [image('mediatype', covered('UNSUPPORTED_MEDIA_TYPE'))]),
              repo('expired', [image('expired', covered('SCAN_ELIGIBILITY_EXPIRED'))]),
              repo('uncovered', [image('uncovered', { coverage: null })]),
              // Scan frequency SCAN_ON_PUSH: scanned once, or (no lastScannedAt) never.
              repo('onpush', [image('onpush', covered('SCAN_FREQUENCY_SCAN_ON_PUSH'))]),
              repo('onpush-scanned', [
                image('onpush-scanned', {
                  coverage: { statusCode: 'INACTIVE', reason: 'SCAN_FREQUENCY_SCAN_ON_PUSH', lastScannedAt: '2026-03-01T00:00:00Z' },
                  findings: [xz],
                }),
              ]),
              repo('onpush-clean', [
                image('onpush-clean', { coverage: { statusCode: 'INACTIVE', reason: 'SCAN_FREQUENCY_SCAN_ON_PUSH', lastScannedAt: '2026-03-01T00:00:00Z' } }),
              ]),
            ],
          },
          [RULES]: {
            scanType: 'ENHANCED',
            // 'core' has no wildcard: it matches every repository whose name contains it.
            scanningRules: [{ scanFrequency: 'CONTINUOUS_SCAN', filters: ['prod-*', 'core'] }],
            repositories: [
              repo('prod-app', [image('prod-app')]),
              repo('dev-app', [image('dev-app')]),
              repo('lib-core-svc', [image('lib-core-svc')]),
              repo('lib-core-new', [image('lib-core-new', { coverage: null })]),
            ],
          },
          [WEST]: {
            scanType: 'BASIC',
            repositories: [
              repo('basic', [
                image('basic-bad', {
                  scanStatus: { status: 'COMPLETE' },
                  basicFindings: [
                    {
                      name: 'CVE-2024-3094',
                      severity: 'CRITICAL',
                      attributes: [
                        { key: 'package_name', value: 'xz-utils' },
                        { key: 'package_version', value: '5.6.0' },
                      ],
                    },
                    { name: 'CVE-2022-0001', severity: 'HIGH' },
                  ],
                }),
              ]),
              repo('basic-clean', [
                image('basic-clean', { scanStatus: { status: 'COMPLETE' }, basicFindings: [{ name: 'CVE-2022-0002', severity: 'MEDIUM' }] }),
              ]),
              repo('basic-failed', [image('basic-failed', { scanStatus: { status: 'FAILED', description: 'Unable to retrieve image layers' } })]),
              repo('basic-running', [image('basic-running', { scanStatus: { status: 'IN_PROGRESS' } })]),
              repo('basic-never', [image('basic-never')]),
            ],
          },
        },
      },
      [OTHER_ACCOUNT]: {
        regions: {
          [REGION]: {
            scanType: 'BASIC',
            repositories: [
              repo('shared', [image('shared', { scanStatus: { status: 'COMPLETE' }, basicFindings: [{ name: 'CVE-2024-3094', severity: 'CRITICAL' }] })]),
            ],
          },
          // Another account's ENHANCED registry, no role: Inspector does not show it to the webhook.
          [VENDOR]: {
            scanType: 'ENHANCED',
            repositories: [
              repo('vendor', [image('vendor', { ...continuous, findings: [xz, { ...webp, severity: 'LOW' }] })]),
              repo('vendor-clean', [image('vendor-clean', { ...continuous, findings: [{ ...webp, severity: 'LOW' }] })]),
            ],
          },
        },
      },
    },
  };
}

const policy = (vulnerabilities: string, extra = '') => `
registries:
  ecr:
    - accountId: "${ACCOUNT}"
    - accountId: "${OTHER_ACCOUNT}"
checks:
  vulnerabilities: ${vulnerabilities}
${extra}`;

const DEFAULT = policy(
  '{}',
  `overrides:
  - { name: high, namespaces: ["strict"], checks: { vulnerabilities: { denySeverities: [CRITICAL, HIGH] } } }
  - { name: warn, namespaces: ["warn"], checks: { vulnerabilities: { notScanned: warn } } }
  - { name: allow, namespaces: ["allow"], checks: { vulnerabilities: { notScanned: allow } } }
  - { name: fix, namespaces: ["fix"], checks: { vulnerabilities: { fixAvailableOnly: true } } }
  - { name: score, namespaces: ["score"], checks: { vulnerabilities: { minInspectorScore: 7 } } }`,
);

t.test('findings: none, one CRITICAL, suppressed, HIGH under two policies, filters', async (t) => {
  const h = await startHarness({ fixture: fixture(), policy: DEFAULT });
  t.teardown(() => h.close());

  const clean = await h.reviewPod([`${HOST}/clean:1`]);
  t.equal(clean.response.allowed, true, 'an image without findings is admitted');
  t.equal(resultOf(clean, 'vulnerabilities')?.status, 'pass');
  t.equal(resultOf(clean, 'vulnerabilities')?.reason, 'no active CRITICAL findings');

  const crit = await h.reviewPod([`${HOST}/crit:1`]);
  t.equal(crit.response.allowed, false, 'one CRITICAL finding denies');
  t.match(
    crit.response.status?.message,
    /\[vulnerabilities\] 1 CRITICAL finding: CVE-2024-3094 \(xz-utils 5\.6\.0, fixed in 5\.6\.1\)\. Update the affected packages/,
  );
  t.notMatch(crit.response.status?.message, /CVE-2023-4863/, 'the LOW finding is not a denied severity');

  const suppressed = await h.reviewPod([`${HOST}/suppressed:1`]);
  t.equal(suppressed.response.allowed, true, 'suppressed and closed findings never deny');

  const high = await h.reviewPod([`${HOST}/high:1`]);
  t.equal(high.response.allowed, true, 'HIGH only passes the default policy (CRITICAL)');
  const strict = await h.reviewPod([`${HOST}/high:1`], 'strict');
  t.equal(strict.response.allowed, false, 'HIGH denies under denySeverities [CRITICAL, HIGH]');
  t.match(strict.response.status?.message, /\[vulnerabilities\] 1 HIGH finding: CVE-2023-4863 \(libwebp 1\.3\.1, fixed in 1\.3\.2\)/);
  const severityFilters = h.sandbox
    .callLog()
    .filter((c) => c.op === 'inspector2:ListFindings')
    .map((c) => JSON.stringify((c.input as { filterCriteria: { severity: unknown } }).filterCriteria.severity));
  t.ok(
    severityFilters.includes(
      JSON.stringify([
        { comparison: 'EQUALS', value: 'CRITICAL' },
        { comparison: 'EQUALS', value: 'HIGH' },
      ]),
    ),
    'Inspector filters by the denied severities',
  );

  const nofix = await h.reviewPod([`${HOST}/nofix:1`], 'fix');
  t.equal(nofix.response.allowed, true, 'fixAvailableOnly: a finding without a fix does not deny');
  t.match(resultOf(nofix, 'vulnerabilities')?.reason, /1 below the policy's filters/);
  t.equal((await h.reviewPod([`${HOST}/crit:1`], 'fix')).response.allowed, false, 'fixAvailableOnly: a fixable finding still denies');
  t.equal((await h.reviewPod([`${HOST}/nofix:1`])).response.allowed, false, 'without the filter it denies');

  t.equal((await h.reviewPod([`${HOST}/lowscore:1`], 'score')).response.allowed, true, 'minInspectorScore 7: a 6.5 finding does not deny');
  t.equal((await h.reviewPod([`${HOST}/crit:1`], 'score')).response.allowed, false, 'minInspectorScore 7: a 10 still denies');
});

t.test('ListFindings request shape and pagination across pages, worst first', async (t) => {
  const h = await startHarness({ fixture: fixture(), policy: DEFAULT });
  t.teardown(() => h.close());
  const out = await h.reviewPod([`${HOST}/many:1`]);
  t.equal(out.response.allowed, false);
  t.equal(h.sandbox.calls('inspector2:ListFindings'), 3, '230 findings at 100 a page: three pages');
  const reason = resultOf(out, 'vulnerabilities')?.reason ?? '';
  t.match(reason, /^230 CRITICAL findings: CVE-2026-10117 \(pkg117 1\.0, fixed in 1\.1\), /, 'the highest Inspector score first');
  t.match(reason, /, and 225 more$/, 'five listed, then how many more');
  t.equal(reason.split('CVE-').length - 1, 5);

  const first = h.sandbox.callLog().find((c) => c.op === 'inspector2:ListFindings')?.input as Record<string, unknown>;
  const digest = out.images[0]?.digest;
  t.same(
    first.filterCriteria,
    {
      resourceType: [{ comparison: 'EQUALS', value: 'AWS_ECR_CONTAINER_IMAGE' }],
      ecrImageRegistry: [{ comparison: 'EQUALS', value: ACCOUNT }],
      ecrImageRepositoryName: [{ comparison: 'EQUALS', value: 'many' }],
      ecrImageHash: [{ comparison: 'EQUALS', value: digest }],
      findingStatus: [{ comparison: 'EQUALS', value: 'ACTIVE' }],
      severity: [{ comparison: 'EQUALS', value: 'CRITICAL' }],
    },
    'filtered by resource type, registry, repository, image hash, ACTIVE and severity',
  );
  t.same(first.sortCriteria, { field: 'SEVERITY', sortOrder: 'DESC' });
  t.equal(first.maxResults, 100);
});

t.test('scan states: each one named, under notScanned deny, warn and allow', async (t) => {
  const h = await startHarness({ fixture: fixture(), policy: DEFAULT });
  t.teardown(() => h.close());
  const cases: Array<[string, RegExp, RegExp]> = [
    ['pending', /not scanned: it is pending its first Inspector scan \(PENDING_INITIAL_SCAN\)/, /Deploy again once the scan has finished/],
    ['scanning', /being scanned by Inspector \(SCAN_IN_PROGRESS\)/, /Deploy again once the scan has finished/],
    ['win', /Inspector does not support its operating system \(UNSUPPORTED_OS\)/, /supported\.html/],
    ['mediatype', /does not support its manifest media type \(UNSUPPORTED_MEDIA_TYPE\)/, /OCI or Docker v2 image manifest/],
    ['expired', /scan eligibility expired \(SCAN_ELIGIBILITY_EXPIRED\)/, /push it again \(Inspector scans it anew\)/],
    ['uncovered', /not known to Inspector yet/, /Deploy again/],
    [
      'onpush',
      /repository onpush is scanned on push only, and Inspector has never scanned this image \(SCAN_FREQUENCY_SCAN_ON_PUSH, no lastScannedAt\)/,
      /Push it again so that the on-push scan runs/,
    ],
  ];
  for (const [repo, what, hint] of cases) {
    const denied = await h.reviewPod([`${HOST}/${repo}:1`]);
    t.equal(denied.response.allowed, false, `${repo}: denied by default (notScanned: deny)`);
    t.match(denied.response.status?.message, what, `${repo}: the state is named`);
    t.match(denied.response.status?.message, hint, `${repo}: and what to do`);
    t.match(denied.response.status?.message, /Exceptions do not waive a scan state/);

    const warned = await h.reviewPod([`${HOST}/${repo}:1`], 'warn');
    t.equal(warned.response.allowed, true, `${repo}: notScanned warn admits`);
    const warning = warned.response.warnings?.find((w) => w.includes('[vulnerabilities]')) ?? '';
    t.match(warning, /not scanned \(.+\), admitted by notScanned: warn/, `${repo}: with a warning`);
    t.ok(warning.length < 120, `${repo}: the warning fits kubectl (${warning.length} chars)`);

    const allowed = await h.reviewPod([`${HOST}/${repo}:1`], 'allow');
    t.equal(allowed.response.allowed, true, `${repo}: notScanned allow admits`);
    t.notOk(
      allowed.response.warnings?.some((w) => w.includes('[vulnerabilities]')),
      `${repo}: silently`,
    );
    t.match(resultOf(allowed, 'vulnerabilities')?.reason, /admitted by notScanned: allow/);
  }
  const expired = (await h.reviewPod([`${HOST}/expired:1`])).response.status?.message ?? '';
  t.match(
    expired,
    /A pull would renew it, but this denial blocks the pull that would renew it/,
    'expired: says the denial blocks the pull that would renew it',
  );
  t.match(expired, /pullDateRescanDuration=DAYS_180/, "expired: names Inspector's pull-date re-scan duration");
  t.match(expired, /or set notScanned: allow for it in a policy override/, 'expired: and the way to admit it anyway');
  t.equal((await h.reviewPod([`${RULES_HOST}/prod-app:1`])).response.allowed, true, 'a repository a scanning rule covers is scanned');
  t.equal((await h.reviewPod([`${HOST}/onpush-clean:1`])).response.allowed, true, 'SCAN_FREQUENCY_SCAN_ON_PUSH with a lastScannedAt: scanned once, clean');
  t.match((await h.reviewPod([`${HOST}/onpush-scanned:1`])).response.status?.message, /1 CRITICAL finding: CVE-2024-3094/, 'and its findings deny');
  const dev = await h.reviewPod([`${RULES_HOST}/dev-app:1`]);
  t.match(
    dev.response.status?.message,
    /not scanned: repository dev-app matches no enhanced scanning rule of the registry.*put-registry-scanning-configuration/,
  );
  t.equal(
    (await h.reviewPod([`${RULES_HOST}/lib-core-svc:1`])).response.allowed,
    true,
    'filter "core" (no wildcard) scans lib-core-svc: it contains the filter',
  );
  const coreNew = await h.reviewPod([`${RULES_HOST}/lib-core-new:1`]);
  t.match(
    coreNew.response.status?.message,
    /not known to Inspector yet/,
    'a repository a no-wildcard filter contains is in the rules: its image is not known yet',
  );
  t.notMatch(coreNew.response.status?.message, /matches no enhanced scanning rule/, 'and is not blamed on the rules');
  const basicFailed = await h.reviewPod([`${WEST_HOST}/basic-failed:1`]);
  t.match(
    basicFailed.response.status?.message,
    /its ECR basic scanning scan failed \(FAILED; ECR scan status FAILED: Unable to retrieve image layers\).*start-image-scan/,
  );
  const basicRunning = await h.reviewPod([`${WEST_HOST}/basic-running:1`]);
  t.match(basicRunning.response.status?.message, /being scanned by ECR basic scanning \(SCAN_IN_PROGRESS\)/);
  const never = await h.reviewPod([`${WEST_HOST}/basic-never:1`]);
  t.match(never.response.status?.message, /never scanned \(ECR basic scanning, and no scan on push/);
  t.equal(h.sandbox.calls('ecr:DescribeImages'), 0, 'the scan state comes from Inspector coverage, not DescribeImages');
});

t.test('BASIC scanning registries fall back to DescribeImageScanFindings and say so', async (t) => {
  const h = await startHarness({ fixture: fixture(), policy: DEFAULT });
  t.teardown(() => h.close());
  const bad = await h.reviewPod([`${WEST_HOST}/basic:1`]);
  t.equal(bad.response.allowed, false);
  t.match(bad.response.status?.message, /\[vulnerabilities\] 1 CRITICAL finding \(ECR basic scanning\): CVE-2024-3094 \(xz-utils 5\.6\.0\)\./);
  t.match(bad.response.status?.message, /Enhanced scanning \(Amazon Inspector\) would also say which version fixes/);
  t.equal(h.sandbox.calls('ecr:DescribeImageScanFindings'), 1);
  t.equal(h.sandbox.calls('inspector2:*'), 0, 'Inspector is not asked about a BASIC registry');

  const ok = await h.reviewPod([`${WEST_HOST}/basic-clean:1`]);
  t.equal(ok.response.allowed, true);
  t.equal(resultOf(ok, 'vulnerabilities')?.reason, 'no active CRITICAL findings (ECR basic scanning)');
  t.equal(h.sandbox.calls('ecr:GetRegistryScanningConfiguration'), 1, 'the registry configuration is asked once per account and region');

  // Another account's registry without a role: GetRegistryScanningConfiguration describes the
  // caller's own (ENHANCED) registry, so the basic scan is found by asking.
  const shared = await h.reviewPod([`${OTHER_ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/shared:1`]);
  t.match(shared.response.status?.message, /1 CRITICAL finding \(ECR basic scanning\): CVE-2024-3094/);
});

t.test("another account's ENHANCED registry without a role: enhanced findings are read through ECR", async (t) => {
  const h = await startHarness({ fixture: fixture(), policy: DEFAULT });
  t.teardown(() => h.close());
  const denied = await h.reviewPod([`${VENDOR_HOST}/vendor:1`]);
  t.equal(denied.response.allowed, false, 'a CRITICAL finding Inspector relays through ECR denies');
  t.match(
    denied.response.status?.message,
    /\[vulnerabilities\] 1 CRITICAL finding \(ECR enhanced scanning, read through ECR\): CVE-2024-3094 \(xz-utils 5\.6\.0, fixed in 5\.6\.1\)\./,
    'with the package, the fixed version and the source named',
  );
  t.notMatch(denied.response.status?.message, /CVE-2023-4863/, 'the LOW finding is not a denied severity');
  t.ok(h.sandbox.calls('inspector2:ListCoverage') >= 1, 'Inspector was asked first');
  t.equal(h.sandbox.calls('ecr:DescribeImageScanFindings'), 1, 'then ECR, once');
  const asked = h.sandbox.callLog().find((c) => c.op === 'ecr:DescribeImageScanFindings')?.input as { registryId?: string };
  t.equal(asked.registryId, OTHER_ACCOUNT, "ECR is asked about the image's registry");

  const clean = await h.reviewPod([`${VENDOR_HOST}/vendor-clean:1`]);
  t.equal(clean.response.allowed, true);
  t.equal(resultOf(clean, 'vulnerabilities')?.reason, 'no active CRITICAL findings (ECR enhanced scanning, read through ECR)');
});

t.test("the webhook's account as Inspector's delegated administrator reads another account through Inspector", async (t) => {
  const f = fixture();
  f.inspector = { delegatedAdministrator: ACCOUNT };
  const h = await startHarness({ fixture: f, policy: DEFAULT });
  t.teardown(() => h.close());
  const denied = await h.reviewPod([`${VENDOR_HOST}/vendor:1`]);
  t.match(
    denied.response.status?.message,
    /\[vulnerabilities\] 1 CRITICAL finding: CVE-2024-3094 \(xz-utils 5\.6\.0, fixed in 5\.6\.1\)\./,
    "Inspector's own answer: no source named",
  );
  t.equal(h.sandbox.calls('ecr:DescribeImageScanFindings'), 0, 'ECR is not asked');
});

t.test('without ecr:GetRegistryScanningConfiguration the scanning type is found by asking', async (t) => {
  const h = await startHarness({ fixture: fixture(), policy: DEFAULT });
  t.teardown(() => h.close());
  h.sandbox.inject('ecr:GetRegistryScanningConfiguration', { kind: 'access-denied' });
  const enhanced = await h.reviewPod([`${HOST}/crit:1`]);
  t.match(enhanced.response.status?.message, /\[vulnerabilities\] 1 CRITICAL finding: CVE-2024-3094 \(xz-utils 5\.6\.0, fixed in 5\.6\.1\)/);
  const basic = await h.reviewPod([`${WEST_HOST}/basic:1`]);
  t.match(basic.response.status?.message, /1 CRITICAL finding \(ECR basic scanning\): CVE-2024-3094/);
  t.equal((await h.reviewPod([`${HOST}/clean:1`])).response.allowed, true);
});

t.test('exceptions: valid, expired, expiring soon, for another image; never for a scan state', async (t) => {
  const exceptions = (expires: string, images = '["*/legacy/*"]') =>
    policy(`
    exceptions:
      - { id: CVE-2025-0001, images: ${images}, expires: "${expires}", reason: "vendor fix due" }
      - { id: CVE-2024-0000, images: ["*"], expires: "${day(30)}", reason: "waives no scan state" }`);
  const run = async (expires: string, repo: string, images?: string) => {
    const h = await startHarness({ fixture: fixture(), policy: exceptions(expires, images) });
    try {
      return await h.reviewPod([`${HOST}/${repo}:1`]);
    } finally {
      await h.close();
    }
  };
  const valid = await run(day(30), 'legacy/app');
  t.equal(valid.response.allowed, true, 'a valid exception waives the finding');
  t.match(resultOf(valid, 'vulnerabilities')?.reason, /1 waived by exceptions/);
  t.notOk(valid.response.warnings?.length, 'no warning a month ahead');

  const today = await run(day(0), 'legacy/app');
  t.equal(today.response.allowed, true, 'an exception holds until the end of its day (UTC)');
  t.match(today.response.warnings?.join('\n'), /\[vulnerabilities\] exception for CVE-2025-0001 expires \d{4}-\d\d-\d\d \(today\)/);

  const soon = await run(day(3), 'legacy/app');
  t.equal(soon.response.allowed, true, 'an exception expiring soon still waives');
  t.match(soon.response.warnings?.join('\n'), new RegExp(`exception for CVE-2025-0001 expires ${day(3)} \\(in [23] days\\)`), 'and warns');

  const expired = await run(day(-2), 'legacy/app');
  t.equal(expired.response.allowed, false, 'an expired exception no longer waives');
  t.match(
    expired.response.status?.message,
    new RegExp(`1 CRITICAL finding: CVE-2025-0001 \\(openssl 1\\.1\\.1k\\); exception for CVE-2025-0001 \\(\\*/legacy/\\*\\) expired on ${day(-2)}`),
  );
  t.match(expired.response.status?.message, /renew the expired exception/);

  const other = await run(day(30), 'other/app');
  t.equal(other.response.allowed, false, 'an exception for another image does not waive');
  t.notMatch(other.response.status?.message, /exception for CVE-2025-0001/, 'and is not mentioned');

  const state = await run(day(30), 'pending', '["*"]');
  t.equal(state.response.allowed, false, 'exceptions never waive a scan state');
});

t.test('multi-arch: the platform images are checked, the finding on one is named', async (t) => {
  const h = await startHarness({ fixture: fixture(), policy: DEFAULT });
  t.teardown(() => h.close());
  const out = await h.reviewPod([`${HOST}/multi:1`]);
  t.equal(out.response.allowed, false, 'a CRITICAL on arm64 only denies the index');
  t.match(out.response.status?.message, /1 CRITICAL finding: CVE-2024-3094 \(xz-utils 5\.6\.0, fixed in 5\.6\.1\) on linux\/arm64\/v8/);
  t.equal(h.sandbox.calls('inspector2:ListFindings'), 1, 'both platform images in one ListFindings');
  t.equal(h.sandbox.calls('inspector2:ListCoverage'), 1, 'and in one ListCoverage');
  const hashes = (
    h.sandbox.callLog().find((c) => c.op === 'inspector2:ListFindings')?.input as { filterCriteria: { ecrImageHash: Array<{ value: string }> } }
  ).filterCriteria.ecrImageHash.map((f) => f.value);
  t.same(hashes, [imageDigest(amd), imageDigest(arm)], 'asked for the children, not the index');

  const partial = await h.reviewPod([`${HOST}/half:1`]);
  t.match(partial.response.status?.message, /not scanned: linux\/arm64 is pending its first Inspector scan/, 'a platform image not yet scanned is named');
});

t.test('throttling is retried by the SDK, then succeeds; access denied names the operation', async (t) => {
  const h = await startHarness({ fixture: fixture(), policy: DEFAULT });
  t.teardown(() => h.close());
  h.sandbox.inject('inspector2:ListFindings', { kind: 'throttle', times: 1, retryAfterSeconds: 0 });
  const out = await h.reviewPod([`${HOST}/crit:1`]);
  t.equal(h.sandbox.calls('inspector2:ListFindings'), 2, 'the SDK retried the 429: two calls reached the sandbox');
  t.equal(resultOf(out, 'vulnerabilities')?.status, 'fail', 'and the findings were read');

  h.sandbox.inject('inspector2:ListCoverage', { kind: 'access-denied' });
  const denied = await h.reviewPod([`${HOST}/clean:1`]);
  t.equal(resultOf(denied, 'vulnerabilities')?.status, 'error');
  t.match(
    denied.response.status?.message,
    /\[vulnerabilities\] could not be verified: inspector2 ListCoverage was refused \(AccessDeniedException\).*inspector2:ListCoverage/,
  );
  h.sandbox.clearFaults();
  t.equal((await h.reviewPod([`${HOST}/clean:1`])).response.allowed, true, 'the failure was not cached');
});

t.test('Inspector pages that are empty but carry a nextToken, and a trailing token, are followed', async (t) => {
  const f = fixture();
  f.inspector = { paging: { emptyPages: 2, trailingToken: true } };
  const h = await startHarness({ fixture: f, policy: DEFAULT });
  t.teardown(() => h.close());
  const clean = await h.reviewPod([`${HOST}/clean:1`]);
  t.equal(clean.response.allowed, true, 'coverage found after two empty pages: scanned, admitted');
  t.equal(h.sandbox.calls('inspector2:ListCoverage'), 4, 'two empty pages, the result, the trailing empty page');
  const crit = await h.reviewPod([`${HOST}/crit:1`]);
  t.match(crit.response.status?.message, /1 CRITICAL finding: CVE-2024-3094/, 'findings after empty pages are read');
  const many = await h.reviewPod([`${HOST}/many:1`]);
  t.match(resultOf(many, 'vulnerabilities')?.reason, /^230 CRITICAL findings: /, 'every finding across empty pages');
});

t.test('a page limit reached is an error the policy\'s onError handles, never "not covered"', async (t) => {
  const f = fixture();
  f.inspector = { paging: { emptyPages: 25 } };
  const h = await startHarness({ fixture: f, policy: policy('{}', 'overrides:\n  - { name: lenient, namespaces: ["lenient"], onError: allow }') });
  t.teardown(() => h.close());
  const out = await h.reviewPod([`${HOST}/clean:1`]);
  t.equal(resultOf(out, 'vulnerabilities')?.status, 'error', 'the scan state is unknown, not NOT_COVERED');
  t.match(out.response.status?.message, /\[vulnerabilities\] could not be verified: .*page limit reached/);
  t.notMatch(out.response.status?.message, /not known to Inspector/);
  t.ok(h.sandbox.calls('inspector2:ListCoverage') <= 10, `bounded: ${h.sandbox.calls('inspector2:ListCoverage')} ListCoverage calls`);
  const lenient = await h.reviewPod([`${HOST}/clean:1`], 'lenient');
  t.equal(lenient.response.allowed, true, 'onError: allow admits it');
  t.match(lenient.response.warnings?.join('\n'), /vulnerabilities/, 'with a warning');
});

t.test('50 concurrent admissions of one image make one ListFindings call', async (t) => {
  const h = await startHarness({ fixture: fixture(), policy: DEFAULT, latencyMs: 30 });
  t.teardown(() => h.close());
  const outcomes = await Promise.all(Array.from({ length: 50 }, () => h.reviewPod([`${HOST}/crit:1`])));
  t.ok(
    outcomes.every((o) => resultOf(o, 'vulnerabilities')?.status === 'fail'),
    'all 50 see the finding',
  );
  t.equal(h.sandbox.calls('inspector2:ListFindings'), 1, 'one ListFindings');
  t.equal(h.sandbox.calls('inspector2:ListCoverage'), 1, 'one ListCoverage');
  t.equal(h.sandbox.calls('ecr:GetRegistryScanningConfiguration'), 1);
  await h.reviewPod([`${HOST}/crit:1`]);
  t.equal(h.sandbox.calls('inspector2:ListFindings'), 1, 'a later admission within the TTL is served from the cache');
});

t.test('a pending scan is trusted briefly; a finished one for the findings TTL', async (t) => {
  const h = await startHarness({ fixture: fixture(), policy: DEFAULT });
  t.teardown(() => h.close());
  let now = 1_000_000;
  const cache = new FactCache({ maxEntries: 100, now: () => now });
  const clients = new AwsClients({
    env: h.sandbox.endpoints(),
    aws: { endpoints: {}, maxAttempts: 3 },
    roleFor: () => undefined,
    credentials: SANDBOX_CREDENTIALS,
  });
  t.teardown(() => clients.destroy());
  const ttl = parsePolicy('mode: enforce\n', 'test').policy.cache;
  const facts = new VulnerabilityFacts({ clients, cache, ttl: { ...ttl, staleSeconds: 0 } });
  const loc = { accountId: ACCOUNT, region: REGION, fips: false, dualStack: false, partition: 'aws' as const, host: HOST, repository: 'pending' };
  const pending = fixture().accounts[ACCOUNT]!.regions[REGION]!.repositories.find((r) => r.name === 'pending')!.images[0]!;
  const resolved = { digest: imageDigest(pending), mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 1 };
  const ask = () => facts.report(loc, resolved, ['CRITICAL'], AbortSignal.timeout(5000), 5000);

  t.equal((await ask()).manifests[0]?.state, 'PENDING_INITIAL_SCAN');
  h.sandbox.update((f) => {
    const img = f.accounts[ACCOUNT]!.regions[REGION]!.repositories.find((r) => r.name === 'pending')!.images[0]!;
    img.coverage = { statusCode: 'ACTIVE', reason: 'SUCCESSFUL' };
    img.findings = [xz];
  });
  now += TRANSIENT_TTL_MS - 1;
  t.equal((await ask()).manifests[0]?.state, 'PENDING_INITIAL_SCAN', 'cached within the short TTL');
  now += 2;
  const scanned = await ask();
  t.equal(scanned.manifests[0]?.state, 'SCANNED', 'asked again after it: the scan has finished');
  t.same(
    scanned.findings.map((f) => f.id),
    ['CVE-2024-3094'],
    'and the findings are read with it, not served from before the scan',
  );
  const calls = h.sandbox.calls('inspector2:ListFindings');
  now += ttl.ttlSeconds.findings * 1000 - 1;
  await ask();
  t.equal(h.sandbox.calls('inspector2:ListFindings'), calls, 'a scanned snapshot lives the findings TTL');
  now += 2;
  await ask();
  t.equal(h.sandbox.calls('inspector2:ListFindings'), calls + 1, 'and is read again after it');
});

t.test('policy without the vulnerabilities key does not ask Inspector', async (t) => {
  const h = await startHarness({ fixture: fixture(), policy: `registries:\n  ecr:\n    - accountId: "${ACCOUNT}"\n` });
  t.teardown(() => h.close());
  const out = await h.reviewPod([`${HOST}/crit:1`]);
  t.equal(out.response.allowed, true);
  t.notOk(resultOf(out, 'vulnerabilities'), 'the check did not run');
  t.equal(h.sandbox.calls('inspector2:*'), 0);
});
