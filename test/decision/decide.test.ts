import t from 'tap';
import { clip, decide, WARNING_MAX } from '../../src/decision/decide.ts';
import { shortDigest } from '../../src/image/digest.ts';
import type { ContainerKind } from '../../src/admission/extract.ts';
import type { CheckResult } from '../../src/checks/types.ts';
import type { ImageVerdictInput } from '../../src/decision/types.ts';
import type { EffectivePolicy } from '../../src/policy/compile.ts';
import type { Mode, OnError } from '../../src/policy/schema.ts';
import { ECR } from '../fixtures/policy.ts';

const DIGEST = `sha256:3c4c1f42a89e${'5'.repeat(52)}`;
const policy = (mode: Mode = 'enforce', onError: OnError = 'deny', name = 'default'): EffectivePolicy => ({ name, mode, onError, checks: {} });
const passAll: CheckResult[] = [
  { check: 'origin', status: 'pass' },
  { check: 'digest', status: 'pass' },
];

function image(kind: ContainerKind, name: string, ref: string, results: CheckResult[], p = policy(), digest?: string): ImageVerdictInput {
  return { container: { containerKind: kind, containerName: name, image: ref }, policy: p, results, ...(digest && { digest }) };
}

const SIGNATURE_FAIL: CheckResult = {
  check: 'signature',
  status: 'fail',
  reason:
    'no valid signature from a trusted identity (1 signature checked: signed by arn:aws:signer:us-east-1:111122223333:/signing-profiles/dev, not trusted)',
};
const VULN_FAIL: CheckResult = {
  check: 'vulnerabilities',
  status: 'fail',
  reason: '2 CRITICAL findings: CVE-2024-3094 (xz-utils 5.6.0, fixed in 5.6.1), CVE-2024-6387 (openssh 9.6p1, fixed in 9.8p1)',
  hint: 'Rebuild the image on a patched base.',
};

t.test('a denial has the DESIGN.md shape: a header, then one line per problem', async (t) => {
  const d = decide({
    kind: 'Deployment',
    namespace: 'team-a',
    name: 'web',
    images: [
      image('container', 'app', `${ECR}/web:1.4.2`, [{ check: 'origin', status: 'pass' }, SIGNATURE_FAIL], policy(), DIGEST),
      image('initContainer', 'migrate', `${ECR}/web-migrate:1.4.2`, [{ check: 'origin', status: 'pass' }, VULN_FAIL], policy(), DIGEST),
      image('container', 'sidecar', `${ECR}/envoy:1.30.2`, passAll),
    ],
  });
  t.equal(d.allowed, false);
  t.equal(d.result, 'deny');
  t.equal(
    d.message,
    [
      'ecr-admission denied Deployment team-a/web: 2 of 3 images failed',
      `- container "app" ${ECR}/web:1.4.2 (sha256:3c4c1f42a89e): [signature] no valid signature from a trusted identity (1 signature checked: signed by arn:aws:signer:us-east-1:111122223333:/signing-profiles/dev, not trusted)`,
      `- initContainer "migrate" ${ECR}/web-migrate:1.4.2 (sha256:3c4c1f42a89e): [vulnerabilities] 2 CRITICAL findings: CVE-2024-3094 (xz-utils 5.6.0, fixed in 5.6.1), CVE-2024-6387 (openssh 9.6p1, fixed in 9.8p1). Rebuild the image on a patched base.`,
    ].join('\n'),
  );
  t.same(d.warnings, []);
  t.equal(d.auditAnnotations.decision, 'deny');
});

t.test('several problems of one image: one line each, the image counted once', async (t) => {
  const d = decide({
    kind: 'Pod',
    namespace: 'team-a',
    name: 'p',
    images: [
      image('container', 'app', 'docker.io/library/nginx:1', [
        { check: 'origin', status: 'fail', reason: 'registry docker.io is not allowed' },
        { check: 'digest', status: 'fail', reason: 'tag 1 not found' },
      ]),
    ],
  });
  const lines = d.message?.split('\n') ?? [];
  t.equal(lines[0], 'ecr-admission denied Pod team-a/p: 1 of 1 image failed');
  t.equal(lines.length, 3);
  t.match(lines[1], /^- container "app" docker\.io\/library\/nginx:1: \[origin\] registry docker\.io is not allowed$/);
  t.match(lines[2], /\[digest\] tag 1 not found$/);
});

t.test('the subject: cluster-scoped or unnamed objects', async (t) => {
  const failing = [image('container', 'a', 'x.io/a:1', [{ check: 'origin', status: 'fail', reason: 'no' }])];
  t.match(decide({ kind: 'Pod', namespace: 'ns', images: failing }).message, /^ecr-admission denied Pod ns\/\(unnamed\): /);
  t.match(decide({ kind: 'Pod', name: 'p', images: failing }).message, /^ecr-admission denied Pod p: /);
});

t.test('warn mode: allowed, one warning per problem, each under 120 characters', async (t) => {
  const d = decide({
    kind: 'CronJob',
    namespace: 'batch-nightly',
    name: 'report',
    images: [
      image(
        'container',
        'report',
        'ghcr.io/example/report:7',
        [
          {
            check: 'origin',
            status: 'fail',
            reason: 'registry ghcr.io is not allowed',
            hint: 'Use an image from an allowed registry: ECR 111122223333 (us-east-1, us-west-2); non-ECR registry.k8s.io/pause:*.',
          },
        ],
        policy('warn', 'deny', 'batch-warn'),
      ),
      image(
        'container',
        'uploader',
        `${ECR}/uploader:1.0.3`,
        [{ check: 'origin', status: 'pass' }, SIGNATURE_FAIL, VULN_FAIL],
        policy('warn', 'deny', 'batch-warn'),
      ),
    ],
  });
  t.equal(d.allowed, true);
  t.equal(d.result, 'warn');
  t.equal(d.message, undefined);
  t.equal(d.warnings.length, 3);
  for (const w of d.warnings) t.ok(w.length < 120, `${w.length} chars: ${w}`);
  t.equal(d.warnings[0], 'ecr-admission: report: [origin] registry ghcr.io is not allowed');
  t.match(d.warnings[1], /^ecr-admission: uploader: \[signature\] no valid signature from a trusted identity .*\.\.\.$/);
  t.equal(d.auditAnnotations.decision, 'warn');
  t.ok(d.auditAnnotations.images, 'audit annotations in every mode');
});

t.test('audit mode: allowed without warnings, problems recorded in audit annotations', async (t) => {
  const d = decide({
    kind: 'Deployment',
    namespace: 'legacy',
    name: 'old',
    images: [
      image('container', 'app', `${ECR}/legacy/app:1`, [{ check: 'origin', status: 'pass' }, VULN_FAIL], policy('audit', 'deny', 'legacy-audit'), DIGEST),
    ],
  });
  t.equal(d.allowed, true);
  t.equal(d.result, 'audit');
  t.same(d.warnings, []);
  t.equal(d.auditAnnotations.decision, 'audit');
  t.match(d.auditAnnotations['audit-violations'], /^app: \[vulnerabilities\] 2 CRITICAL findings: CVE-2024-3094/);
  const images = JSON.parse(d.auditAnnotations.images ?? '') as unknown;
  t.same(images, [
    {
      container: 'app',
      image: `${ECR}/legacy/app:1`,
      digest: DIGEST,
      policy: 'legacy-audit',
      mode: 'audit',
      results: { origin: 'pass', vulnerabilities: 'fail' },
    },
  ]);
});

t.test('error results: onError deny denies, onError allow allows with a warning', async (t) => {
  const err: CheckResult = { check: 'digest', status: 'error', reason: 'ECR DescribeImages timed out after 3 attempts' };
  const denied = decide({
    kind: 'Pod',
    namespace: 'a',
    name: 'p',
    images: [image('container', 'app', `${ECR}/web:1`, [{ check: 'origin', status: 'pass' }, err], policy('enforce', 'deny'))],
  });
  t.equal(denied.allowed, false);
  t.match(denied.message, /\n- container "app" .*: \[digest\] could not be verified: ECR DescribeImages timed out after 3 attempts$/);

  const allowed = decide({
    kind: 'Pod',
    namespace: 'a',
    name: 'p',
    images: [image('container', 'app', `${ECR}/web:1`, [{ check: 'origin', status: 'pass' }, err], policy('enforce', 'allow'))],
  });
  t.equal(allowed.allowed, true);
  t.equal(allowed.result, 'warn');
  t.same(allowed.warnings, ['ecr-admission: app: [digest] not verified (ECR DescribeImages timed out after 3 attempts)']);

  const warnMode = decide({ kind: 'Pod', namespace: 'a', name: 'p', images: [image('container', 'app', `${ECR}/web:1`, [err], policy('warn', 'deny'))] });
  t.equal(warnMode.allowed, true, 'warn mode never denies, even on errors');
  t.equal(warnMode.warnings.length, 1);
});

t.test('skipped checks are neither problems nor warnings', async (t) => {
  const d = decide({
    kind: 'Pod',
    namespace: 'a',
    name: 'p',
    images: [
      image('container', 'app', `${ECR}/web:1`, [
        { check: 'origin', status: 'pass' },
        { check: 'signature', status: 'skip', reason: 'skipped: digest did not pass' },
      ]),
    ],
  });
  t.same([d.allowed, d.result, d.warnings], [true, 'allow', []]);
});

t.test('mixed modes across images (overrides): only enforce images deny', async (t) => {
  const originFail = (what: string): CheckResult => ({ check: 'origin', status: 'fail', reason: `registry ${what} is not allowed` });
  const d = decide({
    kind: 'Pod',
    namespace: 'mixed',
    name: 'p',
    images: [
      image('container', 'strict', 'a.io/x:1', [originFail('a.io')], policy('enforce')),
      image('container', 'soft', 'b.io/x:1', [originFail('b.io')], policy('warn', 'deny', 'soft')),
      image('container', 'watched', 'c.io/x:1', [originFail('c.io')], policy('audit', 'deny', 'watched')),
      image('container', 'fine', `${ECR}/web:1`, passAll),
    ],
  });
  t.equal(d.allowed, false);
  const lines = d.message?.split('\n') ?? [];
  t.equal(lines[0], 'ecr-admission denied Pod mixed/p: 1 of 4 images failed');
  t.equal(lines.length, 2, 'the warn and audit images are not in the denial');
  t.same(d.warnings, ['ecr-admission: soft: [origin] registry b.io is not allowed'], 'warnings still go with a denial');
  t.match(d.auditAnnotations['audit-violations'], /^watched: \[origin\] registry c\.io is not allowed/);

  const noEnforce = decide({
    kind: 'Pod',
    namespace: 'mixed',
    name: 'p',
    images: [
      image('container', 'soft', 'b.io/x:1', [originFail('b.io')], policy('warn')),
      image('container', 'watched', 'c.io/x:1', [originFail('c.io')], policy('audit')),
    ],
  });
  t.same([noEnforce.allowed, noEnforce.result], [true, 'audit']);
  t.equal(noEnforce.warnings.length, 1);
});

t.test('advisory warnings from passing checks are passed on, clipped and de-duplicated', async (t) => {
  const advisory: CheckResult = { check: 'vulnerabilities', status: 'pass', warnings: [`exception CVE-2025-0001 expires 2027-03-01 ${'x'.repeat(200)}`] };
  const d = decide({
    kind: 'Pod',
    namespace: 'a',
    name: 'p',
    images: [image('container', 'a', `${ECR}/web:1`, [advisory]), image('container', 'a', `${ECR}/web:1`, [advisory])],
  });
  t.equal(d.allowed, true);
  t.equal(d.warnings.length, 1);
  t.equal(d.warnings[0]?.length, WARNING_MAX);
  t.match(d.warnings[0], /^ecr-admission: a: exception CVE-2025-0001 expires 2027-03-01 x+\.\.\.$/);
});

t.test('the images audit annotation stays bounded', async (t) => {
  const many = Array.from({ length: 200 }, (_, i) => image('container', `c${i}`, `${ECR}/repository-with-a-long-name-${i}:1.0.0`, passAll));
  const d = decide({ kind: 'Pod', namespace: 'a', name: 'p', images: many });
  t.ok((d.auditAnnotations.images?.length ?? 0) <= 4096 + 20);
  t.match(d.auditAnnotations.images, /\.\.\.\(truncated\)$/);
});

t.test('helpers', async (t) => {
  t.equal(shortDigest(DIGEST), 'sha256:3c4c1f42a89e');
  t.equal(clip('abc', 10), 'abc');
  t.equal(clip('x'.repeat(200)).length, WARNING_MAX);
  t.ok(WARNING_MAX < 120);
});

t.test('audit mode says nothing to the client, even for errors tolerated by onError allow', async (t) => {
  const { decide: decideAgain } = await import('../../src/decision/decide.ts');
  const policy = { name: 'audit', mode: 'audit' as const, onError: 'allow' as const, checks: {} };
  const d = decideAgain({
    kind: 'Pod',
    namespace: 'ns',
    name: 'p',
    images: [
      {
        container: { containerKind: 'container', containerName: 'app', image: 'x/y:1' },
        policy,
        results: [
          { check: 'digest', status: 'error', reason: 'ecr BatchGetImage was throttled' },
          { check: 'signature', status: 'pass', warnings: ['exception expires soon'] },
        ],
      },
    ],
  });
  t.equal(d.allowed, true);
  t.same(d.warnings, [], 'no warnings in audit mode');
  t.equal(d.result, 'audit');
  t.match(d.auditAnnotations['audit-violations'], /\[digest\] could not be verified: ecr BatchGetImage was throttled/);
});
