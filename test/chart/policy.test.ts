// The policy file the chart mounts is one the server loads: every values set renders a
// policy.yaml that the server's own loader (src/policy/load.ts) and compiler accept, with the
// chart's defaults where the values leave them out.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePolicy } from '../../src/policy/load.ts';
import { compilePolicy } from '../../src/policy/compile.ts';
import { CI_VALUES_FILES, NAMESPACE, only, renderChart } from './helm.ts';
import type { ConfigMap, Deployment } from './kube-types.ts';

const TRUST_DIR = '/etc/ecr-admission/trust/';

interface Rendered {
  text: string;
  deployment: Deployment;
  /** The trust store files the chart mounts under TRUST_DIR, by file name. */
  trustFiles: Record<string, string>;
}

function renderedPolicy(ciValues: string[], setJson: string[] = []): Rendered {
  const objects = renderChart({ ciValues, setJson });
  const text = only<ConfigMap>(objects, 'ConfigMap', '-policy').data?.['policy.yaml'];
  if (text === undefined) throw new Error('no policy.yaml in the policy ConfigMap');
  const trust = objects.find((o): o is ConfigMap => o.kind === 'ConfigMap' && o.metadata.name.endsWith('-trust'));
  return { text, deployment: only<Deployment>(objects, 'Deployment'), trustFiles: trust?.data ?? {} };
}

for (const ciValues of [[], ...CI_VALUES_FILES.map((file) => [file])]) {
  t.test(`policy from ${ciValues[0] ?? 'default values'} loads in the server`, async (t) => {
    const { text, trustFiles } = renderedPolicy(ciValues);
    // The pod's trust mount, rebuilt in a temporary directory: the server reads every trust
    // store at load, so this also proves the chart mounts each file the policy names.
    const trustDir = mkdtempSync(join(tmpdir(), 'ecr-admission-trust-'));
    t.teardown(() => rmSync(trustDir, { recursive: true, force: true }));
    for (const [file, pem] of Object.entries(trustFiles)) writeFileSync(join(trustDir, file), pem);
    t.equal(Object.keys(trustFiles).length > 0, text.includes(TRUST_DIR), 'trust files are mounted exactly when the policy names some');
    const loaded = parsePolicy(text.replaceAll(TRUST_DIR, `${trustDir}/`), 'policy.yaml');
    t.ok(loaded.version, 'parsed and validated');
    const compiled = compilePolicy(loaded, { ownNamespace: NAMESPACE });
    t.ok(compiled, 'compiled');
  });
}

t.test('the default policy enforces, fails closed and checks immutability and CRITICAL findings', async (t) => {
  const { policy } = parsePolicy(renderedPolicy([]).text);
  t.equal(policy.mode, 'enforce');
  t.equal(policy.onError, 'deny');
  t.equal(policy.checks.immutability, true);
  t.same(policy.checks.vulnerabilities?.denySeverities, ['CRITICAL']);
});

t.test('values reach the policy file, and a policy change rolls the pods', async (t) => {
  const before = renderedPolicy([]);
  const after = renderedPolicy([], ['policy.registries.ecr=[{"accountId":"444455556666","regions":["eu-west-1"]}]']);
  t.same(parsePolicy(after.text).policy.registries.ecr, [{ accountId: '444455556666', regions: ['eu-west-1'] }], 'the registry is in the file');
  const checksum = (d: Deployment) => d.spec.template.metadata.annotations?.['checksum/policy'];
  t.match(checksum(before.deployment), /^[0-9a-f]{64}$/, 'the pod template carries the policy checksum');
  t.not(checksum(after.deployment), checksum(before.deployment), 'and it changes with the policy');
});

t.test('the deployment points the server at the mounted policy file', async (t) => {
  const { deployment } = renderedPolicy([]);
  const webhook = deployment.spec.template.spec.containers.find((c) => c.name === 'webhook');
  const config = webhook?.env?.find((e) => e.name === 'ECR_ADMISSION_CONFIG')?.value;
  t.equal(config, '/etc/ecr-admission/policy.yaml');
  t.same(
    webhook?.volumeMounts?.find((m) => m.mountPath === config),
    { name: 'policy', mountPath: config, subPath: 'policy.yaml', readOnly: true },
  );
});
