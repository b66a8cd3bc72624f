// The posture check end to end: the reviewer, the real ECR SDK client and the AWS sandbox
// (GetLifecyclePolicy, GetRepositoryPolicy, DescribeRepositories' encryptionConfiguration,
// GetRegistryScanningConfiguration), each item in warn and deny, with overrides.
import t from 'tap';
import { ociImage, type SandboxFixture } from '../../src/dev/sandbox/index.ts';
import { ACCOUNT, OTHER_ACCOUNT, REGION, resultOf, startHarness } from '../helpers/harness.ts';

const KEY = `arn:aws:kms:${REGION}:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
const LIFECYCLE = {
  rules: [
    { rulePriority: 1, selection: { tagStatus: 'untagged', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 14 }, action: { type: 'expire' } },
  ],
};
const ORG_PULL = {
  Version: '2012-10-17',
  Statement: [
    {
      Sid: 'OrgPull',
      Effect: 'Allow',
      Principal: '*',
      Action: ['ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'],
      Condition: { StringEquals: { 'aws:PrincipalOrgID': 'o-a1b2c3d4e5' } },
    },
  ],
};
const PUBLIC = { Version: '2012-10-17', Statement: [{ Sid: 'PublicPull', Effect: 'Allow', Principal: '*', Action: 'ecr:BatchGetImage' }] };
const CROSS_PUSH = {
  Version: '2012-10-17',
  Statement: [{ Sid: 'CiPush', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${OTHER_ACCOUNT}:role/ci` }, Action: 'ecr:*' }],
};

const image = (seed: string) => ociImage({ seed, tags: ['1'] });
const good = { tagMutability: 'IMMUTABLE' as const, encryption: { type: 'KMS' as const, kmsKey: KEY }, lifecyclePolicy: LIFECYCLE };

const fixture = (): SandboxFixture => ({
  defaultAccount: ACCOUNT,
  accounts: {
    [ACCOUNT]: {
      regions: {
        [REGION]: {
          scanType: 'ENHANCED',
          scanningRules: [{ scanFrequency: 'CONTINUOUS_SCAN', filters: ['prod-*'] }],
          repositories: [
            { name: 'prod-good', ...good, repositoryPolicy: ORG_PULL, images: [image('good')] },
            { name: 'prod-nopolicy', ...good, images: [image('nopolicy')] },
            { name: 'prod-push', ...good, repositoryPolicy: CROSS_PUSH, images: [image('push')] },
            { name: 'dev-bad', repositoryPolicy: PUBLIC, images: [image('bad')] },
          ],
        },
        'us-west-2': {
          scanType: 'BASIC',
          scanningRules: [{ scanFrequency: 'SCAN_ON_PUSH', filters: ['web'] }],
          repositories: [
            { name: 'web', ...good, images: [image('west-web')] },
            { name: 'api', ...good, images: [image('west-api')] },
          ],
        },
      },
    },
  },
});

const policy = (posture: string, extra = '') => `
registries:
  ecr:
    - accountId: "${ACCOUNT}"
checks:
  posture: ${posture}
${extra}`;

const ref = (repo: string, region = REGION) => `${ACCOUNT}.dkr.ecr.${region}.amazonaws.com/${repo}:1`;

t.test('a repository meeting the baseline passes every item, with the key ARN named', async (t) => {
  const h = await startHarness({ fixture: fixture(), policy: policy('{ action: deny }') });
  t.teardown(() => h.close());
  const out = await h.reviewPod([ref('prod-good')]);
  t.equal(out.response.allowed, true);
  const r = resultOf(out, 'posture');
  t.equal(r?.status, 'pass');
  t.match(r?.reason, /ECR\.1 ENHANCED CONTINUOUS_SCAN \(filter prod-\*\)/);
  t.match(r?.reason, /ECR\.3 lifecycle policy set/);
  t.match(r?.reason, new RegExp(`ECR\\.5 KMS with ${KEY}`));
  t.match(r?.reason, /repository policy repository policy restricted/);
  t.same(out.response.warnings ?? [], []);
  const none = await h.reviewPod([ref('prod-nopolicy')]);
  t.match(resultOf(none, 'posture')?.reason, /no repository policy/, 'no policy passes restrictedPolicy');
});

t.test('warn (the default): every failing item is a warning, and the Pod is admitted', async (t) => {
  const h = await startHarness({ fixture: fixture(), policy: policy('{}') });
  t.teardown(() => h.close());
  const out = await h.reviewPod([ref('dev-bad')]);
  t.equal(out.response.allowed, true, 'admitted');
  const warnings = out.response.warnings ?? [];
  t.equal(warnings.length, 4, warnings.join('\n'));
  t.match(warnings[0], /\[posture\] ECR\.1: not scanned \(ENHANCED\); fix: aws ecr put-registry-scanning-configuration$/);
  t.match(warnings[1], /\[posture\] ECR\.3: no lifecycle policy; fix: aws ecr put-lifecycle-policy$/);
  t.match(warnings[2], /\[posture\] ECR\.5: encrypted with AES256, not KMS; fix: aws ecr create-repository$/);
  t.match(warnings[3], /\[posture\] repository policy: wildcard principal \(PublicPull\); fix: aws ecr set-repository-policy$/);
  for (const w of warnings) t.ok(w.length < 120, `under 120 characters: ${w.length}`);
  // The full lines, with the commands, are in the result for `check --output json`.
  t.match(
    resultOf(out, 'posture')?.reason,
    /Fix: aws ecr put-lifecycle-policy --repository-name dev-bad --lifecycle-policy-text file:\/\/lifecycle-policy.json --registry-id 111122223333 --region us-east-1/,
  );
});

t.test('deny: one line per failing item with the control, what is wrong and the command', async (t) => {
  const h = await startHarness({ fixture: fixture(), policy: policy('{ action: deny }') });
  t.teardown(() => h.close());
  const out = await h.reviewPod([ref('dev-bad')]);
  t.equal(out.response.allowed, false);
  const message = out.response.status?.message ?? '';
  const lines = message.split('\n').filter((l) => l.includes('[posture]'));
  t.equal(lines.length, 4, message);
  t.match(
    lines[0],
    /\[posture\] ECR\.1: repository dev-bad is not scanned: no ENHANCED scanning rule of registry 111122223333 \(us-east-1\) matches it\. Fix: aws ecr put-registry-scanning-configuration --scan-type ENHANCED --rules 'scanFrequency=CONTINUOUS_SCAN,repositoryFilters=\[\{filter=dev-bad,filterType=WILDCARD\}\]' --region us-east-1/,
  );
  t.match(lines[1], /\[posture\] ECR\.3: repository dev-bad has no lifecycle policy\. Fix: aws ecr put-lifecycle-policy --repository-name dev-bad/);
  t.match(
    lines[2],
    /\[posture\] ECR\.5: repository dev-bad is encrypted with AES256 \(ECR-managed keys\), not a KMS key\. Fix: aws ecr create-repository --repository-name dev-bad-kms --encryption-configuration encryptionType=KMS/,
  );
  t.match(
    lines[3],
    /\[posture\] repository policy: the policy of repository dev-bad grants a wildcard principal: PublicPull: "Principal": "\*".*Fix: aws ecr set-repository-policy --repository-name dev-bad --policy-text file:\/\/policy.json --registry-id 111122223333 --region us-east-1/,
  );

  const push = await h.reviewPod([ref('prod-push')]);
  t.equal(push.response.allowed, false, 'a cross-account push grant is denied');
  t.match(
    push.response.status?.message,
    /\[posture\] repository policy: the policy of repository prod-push grants push across accounts: CiPush: ecr:PutImage, ecr:InitiateLayerUpload, ecr:UploadLayerPart, \+6 more allowed to arn:aws:iam::444455556666:role\/ci of account 444455556666/,
  );
});

t.test('require: only the listed items are checked, and only their calls are made', async (t) => {
  const h = await startHarness({ fixture: fixture(), policy: policy('{ require: [lifecyclePolicy], action: deny }') });
  t.teardown(() => h.close());
  const out = await h.reviewPod([ref('dev-bad')]);
  t.equal(out.response.allowed, false);
  const lines = (out.response.status?.message ?? '').split('\n').filter((l) => l.includes('[posture]'));
  t.equal(lines.length, 1);
  t.match(lines[0], /ECR\.3/);
  t.equal(h.sandbox.calls('ecr:GetRepositoryPolicy'), 0, 'restrictedPolicy not required: no GetRepositoryPolicy');
  t.equal(h.sandbox.calls('ecr:GetRegistryScanningConfiguration'), 0, 'scanning not required: no GetRegistryScanningConfiguration');

  for (const [item, repo, control] of [
    ['scanning', 'dev-bad', 'ECR.1'],
    ['kmsEncryption', 'dev-bad', 'ECR.5'],
    ['restrictedPolicy', 'prod-push', 'repository policy'],
  ] as const) {
    const one = await startHarness({ fixture: fixture(), policy: policy(`{ require: [${item}], action: deny }`) });
    const denied = await one.reviewPod([ref(repo)]);
    const fine = await one.reviewPod([ref('prod-good')]);
    await one.close();
    t.equal(denied.response.allowed, false, `${item} alone denies ${repo}`);
    t.match(denied.response.status?.message, `[posture] ${control}:`);
    t.equal(fine.response.allowed, true, `${item} alone admits prod-good`);
  }
});

t.test('BASIC scanning: a SCAN_ON_PUSH rule must match the repository', async (t) => {
  const h = await startHarness({ fixture: fixture(), policy: policy('{ require: [scanning], action: deny }') });
  t.teardown(() => h.close());
  const web = await h.reviewPod([ref('web', 'us-west-2')]);
  t.equal(web.response.allowed, true);
  t.match(resultOf(web, 'posture')?.reason, /ECR\.1 BASIC SCAN_ON_PUSH \(filter web\)/);
  const api = await h.reviewPod([ref('api', 'us-west-2')]);
  t.equal(api.response.allowed, false);
  t.match(api.response.status?.message, /--scan-type BASIC --rules 'scanFrequency=SCAN_ON_PUSH/);
});

t.test('overrides change the action per namespace and per image', async (t) => {
  const h = await startHarness({
    fixture: fixture(),
    policy: policy(
      '{ action: deny }',
      `overrides:
  - { name: sandbox-warn, namespaces: ["sandbox-*"], checks: { posture: { action: warn } } }
  - { name: legacy-lifecycle, images: ["${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/dev-bad:*"], checks: { posture: { require: [lifecyclePolicy], action: warn } } }
  - { name: no-posture, namespaces: ["batch"], checks: { immutability: true } }`,
    ),
  });
  t.teardown(() => h.close());
  const team = await h.reviewPod([ref('prod-push')], 'team-a');
  t.equal(team.response.allowed, false, 'the base denies');
  const sandbox = await h.reviewPod([ref('prod-push')], 'sandbox-1');
  t.equal(sandbox.response.allowed, true, 'the namespace override warns');
  t.match(sandbox.response.warnings?.join('\n'), /\[posture\] repository policy: push across accounts \(CiPush\)/);
  const legacy = await h.reviewPod([ref('dev-bad')], 'team-a');
  t.equal(legacy.response.allowed, true, 'the image override warns');
  t.equal(legacy.response.warnings?.length, 1, 'and requires only the lifecycle policy');
  t.match(legacy.response.warnings?.[0], /ECR\.3/);
  const batch = await h.reviewPod([ref('prod-push')], 'batch');
  t.equal(resultOf(batch, 'posture')?.status, 'fail', 'an override with checks but no posture key keeps the base posture settings');
  t.equal(batch.response.allowed, false);
});

t.test('access denied is an error naming the call; warn turns it into a warning', async (t) => {
  const deny = await startHarness({ fixture: fixture(), policy: policy('{ action: deny }') });
  t.teardown(() => deny.close());
  deny.sandbox.inject('ecr:GetLifecyclePolicy', { kind: 'access-denied' });
  const out = await deny.reviewPod([ref('prod-good')]);
  const r = resultOf(out, 'posture');
  t.equal(r?.status, 'error');
  t.match(r?.reason, /ecr GetLifecyclePolicy was refused \(AccessDeniedException\)/);
  t.match(r?.hint, /ecr:GetLifecyclePolicy/);
  t.equal(out.response.allowed, false, 'onError: deny');

  const warn = await startHarness({ fixture: fixture(), policy: policy('{ action: warn }') });
  t.teardown(() => warn.close());
  warn.sandbox.inject('ecr:GetRepositoryPolicy', { kind: 'access-denied' });
  const w = await warn.reviewPod([ref('prod-good')]);
  t.equal(w.response.allowed, true);
  t.match(w.response.warnings?.join('\n'), /\[posture\] restrictedPolicy not verified: ecr GetRepositoryPolicy was refused/);
});

t.test('facts are cached per repository and counted in the AWS call accounting', async (t) => {
  const h = await startHarness({ fixture: fixture(), policy: policy('{ action: deny }') });
  t.teardown(() => h.close());
  await h.reviewPod([ref('prod-good')]);
  const first = h.sandbox.calls('ecr:*');
  t.equal(h.sandbox.calls('ecr:GetLifecyclePolicy'), 1);
  t.equal(h.sandbox.calls('ecr:GetRepositoryPolicy'), 1);
  t.equal(h.sandbox.calls('ecr:GetRegistryScanningConfiguration'), 1);
  t.equal(h.sandbox.calls('ecr:DescribeRepositories'), 1, 'DescribeRepositories is shared with nothing else here, and made once');
  await h.reviewPod([ref('prod-good')]);
  t.equal(h.sandbox.calls('ecr:*'), first, 'the second admission makes no ECR call: every fact is cached');
  // Another repository of the registry: its own lifecycle and policy calls, the registry's scanning configuration from cache.
  await h.reviewPod([ref('prod-nopolicy')]);
  t.equal(h.sandbox.calls('ecr:GetRegistryScanningConfiguration'), 1, 'scanning configuration cached per account and region');
  t.equal(h.sandbox.calls('ecr:GetRepositoryPolicy'), 2, 'RepositoryPolicyNotFoundException is a fact, answered once');
  await h.reviewPod([ref('prod-nopolicy')]);
  t.equal(h.sandbox.calls('ecr:GetRepositoryPolicy'), 2, 'and cached');
  const counted = (await h.metrics.registry.getSingleMetric('ecr_admission_aws_calls_total')!.get()).values;
  const of = (op: string) => counted.filter((v) => v.labels.operation === op).reduce((n, v) => n + v.value, 0);
  t.equal(of('GetLifecyclePolicy'), 2, 'metrics count GetLifecyclePolicy');
  t.equal(of('GetRepositoryPolicy'), 2, 'metrics count GetRepositoryPolicy, the not-found answer included');
});

t.test("another account without a role: the scanning configuration read is not that registry's", async (t) => {
  const f = fixture();
  f.accounts[OTHER_ACCOUNT] = { regions: { [REGION]: { repositories: [{ name: 'shared', ...good, images: [image('shared')] }] } } };
  const h = await startHarness({
    fixture: f,
    policy: `
registries:
  ecr:
    - accountId: "${OTHER_ACCOUNT}"
checks:
  posture: { require: [scanning], action: deny }
`,
  });
  t.teardown(() => h.close());
  const out = await h.reviewPod([`${OTHER_ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/shared:1`]);
  const r = resultOf(out, 'posture');
  t.equal(r?.status, 'error');
  t.match(r?.reason, /described another registry than 444455556666's .*roleArn/);
});

t.test('the policy file refuses unknown items and actions with the key', async (t) => {
  const { parsePolicy } = await import('../../src/policy/load.ts');
  t.throws(() => parsePolicy(policy('{ require: [encryption] }'), 'p.yaml'), /checks\.posture\.require/);
  t.throws(() => parsePolicy(policy('{ action: enforce }'), 'p.yaml'), /checks\.posture\.action/);
  t.throws(() => parsePolicy(policy('{ require: [] }'), 'p.yaml'), /checks\.posture\.require/);
  t.ok(parsePolicy(policy('{ require: [scanning, lifecyclePolicy, kmsEncryption, restrictedPolicy], action: deny }'), 'p.yaml'));
});
