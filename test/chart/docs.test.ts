// The chart's documentation keeps up with the chart and the server: every value is commented in
// values.yaml and listed in the README, the README lists no value that does not exist, and its
// IAM policy grants every AWS call the server's code makes.
import t from 'tap';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { isMap, parseDocument, type YAMLMap } from 'yaml';
import { CHART_DIR, REPO_ROOT } from './helm.ts';

const valuesText = readFileSync(join(CHART_DIR, 'values.yaml'), 'utf8');
const readme = readFileSync(join(CHART_DIR, 'README.md'), 'utf8');
const valuesSection = /\n## Values\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? '';

// Maps documented as a whole rather than key by key.
const DOCUMENTED_WHOLE = new Set(['resources', 'nodeSelector', 'sandbox.resources', 'policy.checks.vulnerabilities', 'controller.resources']);

/** Each documented value: its dotted path and the offset of its key in values.yaml. */
function documentedValues(): Array<{ path: string; offset: number }> {
  const out: Array<{ path: string; offset: number }> = [];
  const walk = (map: YAMLMap, prefix: string) => {
    for (const pair of map.items) {
      const key = pair.key as { value: unknown; range?: [number, number, number] };
      const path = prefix ? `${prefix}.${String(key.value)}` : String(key.value);
      if (isMap(pair.value) && pair.value.items.length > 0 && !DOCUMENTED_WHOLE.has(path)) walk(pair.value, path);
      else out.push({ path, offset: key.range?.[0] ?? -1 });
    }
  };
  const doc = parseDocument(valuesText);
  if (!isMap(doc.contents)) throw new Error('values.yaml is not a mapping');
  walk(doc.contents, '');
  return out;
}

t.test('every value is commented in values.yaml and listed in the README', async (t) => {
  const values = documentedValues();
  t.ok(values.length > 80, `${values.length} values found`);
  for (const { path, offset } of values) {
    const before = valuesText.slice(0, offset).trimEnd().split('\n').at(-1)?.trim() ?? '';
    t.ok(before.startsWith('#'), `${path}: a comment right above it in values.yaml`);
    t.ok(valuesSection.includes(`| \`${path}\` |`), `${path}: a row in the README's values table`);
  }
});

t.test("the README's values table lists only real values", async (t) => {
  const known = new Set(documentedValues().map((v) => v.path));
  const rows = [...valuesSection.matchAll(/^\| `([A-Za-z0-9.]+)` \|/gm)].map((m) => m[1]!);
  t.ok(rows.length > 80, `${rows.length} rows`);
  for (const row of rows) t.ok(known.has(row), `${row} is a value in values.yaml`);
});

/** `Command` classes the server imports from each AWS SDK client, as IAM actions. */
function awsActionsUsed(): Set<string> {
  const services: Record<string, string> = { ecr: 'ecr', inspector2: 'inspector2', signer: 'signer', sts: 'sts', sqs: 'sqs' };
  // ECR authorizes ListImageReferrers with ecr:BatchGetImage; it has no action of its own.
  const renamed: Record<string, string> = { 'ecr:ListImageReferrers': 'ecr:BatchGetImage' };
  const actions = new Set<string>();
  const files = readdirSync(join(REPO_ROOT, 'src'), { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  for (const file of files) {
    const source = readFileSync(join(REPO_ROOT, 'src', file), 'utf8');
    for (const [, names, client] of source.matchAll(/import\s*\{([^}]*)\}\s*from\s*'@aws-sdk\/client-([a-z0-9-]+)'/g)) {
      const service = services[client!];
      if (!service) continue;
      for (const [, operation] of names!.matchAll(/\b([A-Z][A-Za-z0-9]+)Command\b/g)) {
        const action = `${service}:${operation}`;
        actions.add(renamed[action] ?? action);
      }
    }
    // Cross-account registries: credentials from an assumed role.
    if (/\bfromTemporaryCredentials\b/.test(source)) actions.add('sts:AssumeRole');
  }
  return actions;
}

t.test("the README's IAM policy grants what the server calls", async (t) => {
  const block = /### IAM policy[\s\S]*?```json\n([\s\S]*?)```/.exec(readme)?.[1];
  t.ok(block, 'an IAM policy JSON block');
  const policy = JSON.parse(block ?? '{}') as { Statement?: Array<{ Effect: string; Action: string | string[] }> };
  const granted = new Set((policy.Statement ?? []).filter((s) => s.Effect === 'Allow').flatMap((s) => s.Action));
  const used = awsActionsUsed();
  t.ok(used.size >= 5, `the server's AWS calls found: ${[...used].join(', ')}`);
  for (const action of used) t.ok(granted.has(action), `${action} is granted`);
  for (const action of [
    'ecr:DescribeImages',
    'ecr:BatchGetImage',
    'ecr:DescribeRepositories',
    'ecr:GetDownloadUrlForLayer',
    'ecr:GetAuthorizationToken',
    'ecr:DescribeImageSigningStatus',
    'ecr:DescribeImageScanFindings',
    'ecr:GetRegistryScanningConfiguration',
    'inspector2:ListFindings',
    'inspector2:ListCoverage',
    'signer:GetRevocationStatus',
    'sts:AssumeRole',
  ]) {
    t.ok(granted.has(action), `${action} is in the policy`);
  }
  t.notOk(granted.has('ecr:ListImageReferrers'), 'no made-up ecr:ListImageReferrers action');
  t.notOk(
    [...granted].some((a) => a.endsWith('*')),
    'no wildcard actions',
  );
});
