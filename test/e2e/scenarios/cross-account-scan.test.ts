// Another account's ENHANCED registry, allowed by the policy without a roleArn, through a real
// kube-apiserver. The webhook's credentials are its own account's, so Amazon Inspector's List
// APIs do not show the other account (it is not Inspector's delegated administrator) and
// GetRegistryScanningConfiguration describes the webhook's own registry. The image's CRITICAL
// finding reaches the webhook only as an enhancedFinding of ECR's DescribeImageScanFindings:
// it must be read there and deny, naming where it was read.
import t from 'tap';
import { imageDigest, ociImage, type SandboxFixture } from '../../../src/dev/sandbox/index.ts';
import { attempt } from '../support/admission.ts';
import { WEBHOOK_NAME } from '../support/chart.ts';
import { buildEcrWorld, CRITICAL_CVE, REGION } from '../support/ecr-world.ts';
import { NS, ecrPolicyValues } from '../support/policy.ts';
import { startStack } from '../support/stack.ts';
import { manifest, pod } from '../support/workloads.ts';

t.setTimeout(10 * 60_000);

const VENDOR_ACCOUNT = '444455556666';
const VENDOR_HOST = `${VENDOR_ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com`;
const continuous = { scanStatus: { status: 'ACTIVE' as const, description: 'Continuous scan is selected for image.' } };
const critical = ociImage({
  seed: 'e2e-vendor-critical',
  tags: ['3.1.0'],
  ...continuous,
  findings: [
    {
      vulnerabilityId: CRITICAL_CVE,
      severity: 'CRITICAL',
      inspectorScore: 10,
      fixAvailable: 'YES',
      packages: [{ name: 'xz-utils', version: '5.6.0', fixedInVersion: '5.6.1' }],
    },
  ],
});
const clean = ociImage({
  seed: 'e2e-vendor-clean',
  tags: ['3.2.0'],
  ...continuous,
  findings: [{ vulnerabilityId: 'CVE-2023-4863', severity: 'LOW', packages: [{ name: 'libwebp', version: '1.3.1', fixedInVersion: '1.3.2' }] }],
});

const world = await buildEcrWorld();
const fixture: SandboxFixture = structuredClone(world.fixture);
fixture.accounts[VENDOR_ACCOUNT] = {
  regions: { [REGION]: { scanType: 'ENHANCED', repositories: [{ name: 'vendor/app', tagMutability: 'IMMUTABLE', images: [critical, clean] }] } },
};

/** The shared policy, with the vendor account allowed (no roleArn) and without the signature
 *  check, so that a denial can only come from the vulnerabilities check. */
function values(): Record<string, unknown> {
  const base = ecrPolicyValues(world) as { policy: { registries: { ecr: unknown[] }; checks: Record<string, unknown> } };
  const { signature: _signature, ...checks } = base.policy.checks;
  return {
    ...base,
    policy: {
      ...base.policy,
      registries: { ...base.policy.registries, ecr: [...base.policy.registries.ecr, { accountId: VENDOR_ACCOUNT, regions: [REGION] }] },
      checks,
    },
  };
}

t.test("another account's ENHANCED registry without a role, through the API server", async (t) => {
  const stack = await startStack(t, { name: 'scenario-cross-account-scan', fixture, values, namespaces: [NS.enforce] });
  const { cluster, sandbox } = stack;
  const ns = NS.enforce;

  const denied = await attempt(() => cluster.core.createNamespacedPod({ namespace: ns, body: pod('vendor-critical', `${VENDOR_HOST}/vendor/app:3.1.0`) }));
  t.equal(denied.code, 403, 'rejected by the webhook');
  t.match(denied.message, `admission webhook "${WEBHOOK_NAME}" denied the request: ecr-admission denied Pod ${ns}/vendor-critical`);
  t.match(
    denied.message,
    `[vulnerabilities] 1 CRITICAL finding (ECR enhanced scanning, read through ECR): ${CRITICAL_CVE} (xz-utils 5.6.0, fixed in 5.6.1)`,
    'the finding, its package and fixed version, and where it was read',
  );

  const run = await cluster.kubectl(['apply', '-f', '-'], manifest(pod('vendor-critical-kubectl', `${VENDOR_HOST}/vendor/app:3.1.0`), ns));
  t.equal(run.code, 1, 'kubectl apply is refused');
  t.match(run.stderr, /Error from server \(Forbidden\): [\s\S]*\[vulnerabilities\] 1 CRITICAL finding \(ECR enhanced scanning, read through ECR\)/);

  const admitted = await attempt(() => cluster.core.createNamespacedPod({ namespace: ns, body: pod('vendor-clean', `${VENDOR_HOST}/vendor/app:3.2.0`) }));
  t.ok(admitted.allowed, `an image of the same registry with only a LOW finding is admitted ${admitted.message ?? ''}`);

  const calls = sandbox.callLog();
  const inspectorAccounts = calls
    .filter((c) => c.op === 'inspector2:ListFindings')
    .map((c) => (c.input as { filterCriteria?: { ecrImageRegistry?: Array<{ value: string }> } }).filterCriteria?.ecrImageRegistry?.[0]?.value);
  t.ok(inspectorAccounts.includes(VENDOR_ACCOUNT), 'Inspector was asked about the vendor account first (and shows the webhook nothing of it)');
  const ecrAsked = calls
    .filter((c) => c.op === 'ecr:DescribeImageScanFindings')
    .map((c) => c.input as { registryId?: string; imageId?: { imageDigest?: string } });
  t.ok(
    ecrAsked.some((i) => i.registryId === VENDOR_ACCOUNT && i.imageId?.imageDigest === imageDigest(critical)),
    "then ECR, for the image's own registry and digest",
  );
  t.comment(`denial: ${denied.message}`);
});
