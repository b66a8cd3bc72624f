// `ecr-admission audit` against a sandbox registry of a few hundred repositories: every
// repository's row, the registry-level findings, text and JSON, exit codes, and throttling
// that slows the walk without changing its answer.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSandbox, type RepositoryFixture, type SandboxFixture } from '../../src/dev/sandbox/index.ts';
import { run } from '../../src/cli/run.ts';
import { auditFailed, runAudit } from '../../src/cli/audit.ts';
import { formatAuditJson, formatAuditText } from '../../src/cli/audit-report.ts';
import { AwsClients } from '../../src/facts/aws-clients.ts';
import { compilePolicy } from '../../src/policy/compile.ts';
import { parsePolicy } from '../../src/policy/load.ts';
import { ACCOUNT, OTHER_ACCOUNT, REGION, SANDBOX_CREDENTIALS } from '../helpers/harness.ts';

const KEY = `arn:aws:kms:${REGION}:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
const LIFECYCLE = {
  rules: [
    { rulePriority: 1, selection: { tagStatus: 'untagged', countType: 'sinceImagePushed', countUnit: 'days', countNumber: 14 }, action: { type: 'expire' } },
  ],
};
const PUBLIC = { Statement: [{ Sid: 'PublicPull', Effect: 'Allow', Principal: '*', Action: 'ecr:BatchGetImage' }] };
const REPOSITORIES = 300;

/** Every fourth repository breaks the baseline in one more way. */
function repository(i: number): RepositoryFixture {
  const name = `team-${String(i).padStart(3, '0')}/app`;
  const good: RepositoryFixture = { name, tagMutability: 'IMMUTABLE', encryption: { type: 'KMS', kmsKey: KEY }, lifecyclePolicy: LIFECYCLE, images: [] };
  switch (i % 4) {
    case 0:
      return good;
    case 1:
      return { name, tagMutability: 'IMMUTABLE', encryption: { type: 'KMS', kmsKey: KEY }, images: [] };
    case 2:
      return { ...good, tagMutability: 'MUTABLE', encryption: { type: 'AES256' } };
    default:
      return { ...good, repositoryPolicy: PUBLIC };
  }
}

const fixture = (repositories = REPOSITORIES): SandboxFixture => ({
  defaultAccount: ACCOUNT,
  accounts: {
    [ACCOUNT]: {
      regions: {
        [REGION]: {
          scanType: 'ENHANCED',
          scanningRules: [{ scanFrequency: 'CONTINUOUS_SCAN', filters: ['team-*'] }],
          repositories: [
            ...Array.from({ length: repositories }, (_, i) => JSON.parse(JSON.stringify(repository(i))) as RepositoryFixture),
            { name: 'docker-hub/library/nginx', tagMutability: 'MUTABLE', images: [] },
          ],
          pullThroughCacheRules: [
            { ecrRepositoryPrefix: 'docker-hub', upstreamRegistryUrl: 'registry-1.docker.io' },
            { ecrRepositoryPrefix: 'quay', upstreamRegistryUrl: 'quay.io' },
          ],
          repositoryCreationTemplates: [
            { prefix: 'quay', appliedFor: ['PULL_THROUGH_CACHE'], imageTagMutability: 'IMMUTABLE', encryption: { type: 'KMS' }, lifecyclePolicy: LIFECYCLE },
            { prefix: 'ROOT', appliedFor: ['REPLICATION'], imageTagMutability: 'MUTABLE' },
          ],
        },
      },
    },
  },
});

const policyText = `
registries:
  ecr:
    - { accountId: "${ACCOUNT}", regions: ["${REGION}"] }
`;

async function sandboxClients(t: { teardown(fn: () => unknown): void }, options: { random?: () => number; repositories?: number } = {}) {
  const sandbox = await startSandbox({ fixture: fixture(options.repositories), ...(options.random && { random: options.random }) });
  t.teardown(() => sandbox.close());
  const policy = compilePolicy(parsePolicy(policyText, 'policy.yaml'));
  const clients = new AwsClients({ env: sandbox.endpoints(), aws: policy.aws, roleFor: () => undefined, credentials: SANDBOX_CREDENTIALS });
  t.teardown(() => clients.destroy());
  return { sandbox, policy, clients };
}

t.test('a registry of 300 repositories: one row each, the right verdicts, registry findings', async (t) => {
  const { sandbox, policy, clients } = await sandboxClients(t);
  const progress: string[] = [];
  const started = performance.now();
  const report = await runAudit(policy, {}, clients, (l) => progress.push(l));
  const ms = performance.now() - started;
  t.comment(`audit of ${REPOSITORIES + 1} repositories: ${Math.round(ms)} ms, ${sandbox.calls('ecr:*')} ECR calls`);
  const registry = report.registries[0]!;
  t.equal(registry.repositories.length, REPOSITORIES + 1, 'every repository, across pages of DescribeRepositories');
  t.equal(sandbox.calls('ecr:DescribeRepositories'), 1, 'one page of 1,000');
  t.equal(sandbox.calls('ecr:GetLifecyclePolicy'), REPOSITORIES + 1);
  t.equal(sandbox.calls('ecr:GetRepositoryPolicy'), REPOSITORIES + 1);
  t.equal(sandbox.calls('ecr:GetRegistryScanningConfiguration'), 1);
  t.ok(
    progress.some((l) => /audit: 111122223333 us-east-1: 300 repositories$/.test(l)),
    'a progress line every 100 repositories',
  );

  const row = (i: number) => registry.repositories.find((r) => r.repository === `team-${String(i).padStart(3, '0')}/app`)!;
  t.same(
    ['ECR.1', 'ECR.2', 'ECR.3', 'ECR.5', 'policy'].map((c) => row(0)[c as 'ECR.1'].status),
    ['pass', 'pass', 'pass', 'pass', 'none'],
  );
  t.equal(row(1)['ECR.3'].status, 'fail');
  t.match(row(1)['ECR.3'].fix, /^aws ecr put-lifecycle-policy --repository-name team-001\/app /);
  t.equal(row(2)['ECR.2'].status, 'fail');
  t.equal(row(2)['ECR.5'].status, 'fail');
  t.equal(row(3).policy.status, 'fail');
  t.match(row(3).policy.detail, /PublicPull/);
  const nginx = registry.repositories.find((r) => r.repository === 'docker-hub/library/nginx')!;
  t.equal(nginx['ECR.1'].status, 'fail', 'not matched by team-*');

  const findings = registry.findings.map((f) => `${f.ok ? 'ok' : 'FAIL'} ${f.kind} ${f.subject}`);
  t.same(findings, [
    'FAIL scanning registry',
    'FAIL pull-through-cache docker-hub',
    'ok pull-through-cache quay',
    'ok creation-template quay',
    'FAIL creation-template ROOT',
  ]);
  t.match(registry.findings[0]?.detail, /leaves 1 repositories unscanned: docker-hub\/library\/nginx/);
  t.match(
    registry.findings[1]?.fix,
    /aws ecr create-repository-creation-template --prefix docker-hub --applied-for PULL_THROUGH_CACHE --image-tag-mutability IMMUTABLE/,
  );
  t.match(registry.findings[4]?.detail, /for REPLICATION: MUTABLE tags; AES256 encryption; no lifecycle policy/);
  t.equal(auditFailed(report), true);

  const text = formatAuditText(report);
  t.match(text, /REPOSITORY +ECR\.1 scan +ECR\.2 immutable +ECR\.3 lifecycle +ECR\.5 KMS +policy/);
  t.match(text, /team-000\/app +ok +ok +ok +ok +none/);
  t.match(text, /team-002\/app +ok +FAIL +ok +FAIL +none/);
  t.match(text, /301 repositories: 226 failing, 0 not verified, 226 without a repository policy \(review their IAM access\); 3 registry findings/);
  const json = JSON.parse(formatAuditJson(report)) as {
    version: number;
    summary: Record<string, number>;
    registries: Array<{ repositories: Array<{ repository: string }> }>;
  };
  t.equal(json.version, 1);
  t.same(json.summary, { repositories: 301, failing: 226, errors: 0, noPolicy: 226, registryFindings: 3 });
  const names = json.registries[0]!.repositories.map((r) => r.repository);
  t.same(names, [...names].sort(), 'repositories sorted by name');
  t.equal(formatAuditJson(report), formatAuditJson(await runAudit(policy, {}, clients, () => {})), 'the same registry gives the same JSON');
});

t.test('throttling slows the walk down and never changes or fails it', async (t) => {
  let seed = 7;
  const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  const { sandbox, policy, clients } = await sandboxClients(t, { random, repositories: 60 });
  const calm = formatAuditJson(await runAudit(policy, {}, clients, () => {}));
  sandbox.resetCalls();
  sandbox.inject('ecr:*', { kind: 'throttle', probability: 0.4 });
  let waits = 0;
  const started = performance.now();
  const report = await runAudit(policy, {}, clients, () => {}, { baseDelayMs: 5, maxDelayMs: 50, onThrottle: () => waits++ });
  t.comment(`throttled audit: ${Math.round(performance.now() - started)} ms, ${sandbox.calls('ecr:*')} ECR calls, ${waits} waits after the SDK's retries`);
  t.equal(formatAuditJson(report), calm, 'the same report as without throttling');
  t.ok(
    sandbox.callLog().some((c) => c.status === 400),
    'calls were throttled',
  );
});

t.test('the command: exit codes, --output json, --account and --region', async (t) => {
  const sandbox = await startSandbox({ fixture: fixture(20) });
  t.teardown(() => sandbox.close());
  const dir = mkdtempSync(join(tmpdir(), 'ecr-admission-audit-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const config = join(dir, 'policy.yaml');
  writeFileSync(config, policyText);
  const env = { ...sandbox.endpoints(), AWS_ACCESS_KEY_ID: SANDBOX_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: SANDBOX_CREDENTIALS.secretAccessKey };
  const lines: string[] = [];
  t.equal(await run(['audit', '--config', config, '--output', 'json'], env, (l) => lines.push(l)), 1, 'something fails: exit 1');
  t.equal((JSON.parse(lines.join('\n')) as { summary: { repositories: number } }).summary.repositories, 21);

  sandbox.update((f) => {
    const region = f.accounts[ACCOUNT]!.regions[REGION]!;
    region.repositories = [
      { name: 'team-good/app', tagMutability: 'IMMUTABLE', encryption: { type: 'KMS', kmsKey: KEY }, lifecyclePolicy: LIFECYCLE, images: [] },
    ];
    region.pullThroughCacheRules = [];
    region.repositoryCreationTemplates = [];
  });
  const ok: string[] = [];
  t.equal(await run(['audit', '--config', config, '--region', REGION, '--account', ACCOUNT], env, (l) => ok.push(l)), 0, 'everything passes: exit 0');
  t.match(ok.join('\n'), /team-good\/app +ok +ok +ok +ok +none/);

  await t.rejects(
    run(['audit', '--config', config, '--account', OTHER_ACCOUNT], env, () => {}),
    /not one of the policy's registries/,
    '--account outside the policy',
  );
  await t.rejects(
    run(['audit', '--config', config, '--region', 'eu-west-1'], env, () => {}),
    /not one of account 111122223333's regions/,
  );
  await t.rejects(
    run(['audit', '--output', 'yaml'], env, () => {}),
    /--output must be text or json/,
  );
  await t.rejects(
    run(['audit', '--account', '12'], env, () => {}),
    /12-digit/,
  );
});

t.test('access denied on one call is reported per repository, never a pass', async (t) => {
  const { sandbox, policy, clients } = await sandboxClients(t, { repositories: 10 });
  sandbox.inject('ecr:GetRepositoryPolicy', { kind: 'access-denied' });
  const report = await runAudit(policy, {}, clients, () => {});
  const rows = report.registries[0]!.repositories;
  t.ok(rows.every((r) => r.policy.status === 'error'));
  t.match(rows[0]?.policy.detail, /ecr GetRepositoryPolicy was refused \(AccessDeniedException\)/);
  t.equal(auditFailed(report), true);
  t.match(formatAuditText(report), /not verified: ecr GetRepositoryPolicy was refused/);
});
