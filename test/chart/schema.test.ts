// values.schema.json rejects unknown and mistyped values (helm template fails and names the
// value), stays generated from the server's policy schema, and the chart's cross-field checks
// stop configurations that would block drains or crash-loop.
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { VALUES_SCHEMA_PATH, renderValuesSchema } from '../../scripts/tools/chart-values-schema.ts';
import { helmTemplate } from './helm.ts';

function rejects(t: Test, setJson: string[], expected: RegExp, why: string): void {
  const run = helmTemplate({ setJson });
  t.not(run.status, 0, `${why}: helm template fails`);
  t.match(run.stderr, expected, `${why}: the error names it`);
}

t.test('the default values pass the schema', async (t) => {
  t.equal(helmTemplate().status, 0);
});

t.test('unknown values are rejected, at every level', async (t) => {
  rejects(t, ['replicas=3'], /replicas/, 'a misspelt top-level value');
  rejects(t, ['webhook.timeout=5'], /timeout/, 'an unknown webhook value');
  rejects(t, ['tls.certManager.issuer="x"'], /issuer/, 'an unknown tls value');
  rejects(t, ['policy.checks.imutability=true'], /imutability/, 'a misspelt policy check');
  rejects(t, ['policy.registries.ecr=[{"accountId":"111122223333","region":"us-east-1"}]'], /region/, 'an unknown key in a policy registry');
});

t.test('mistyped values are rejected', async (t) => {
  rejects(t, ['replicaCount="two"'], /replicaCount/, 'a string for a number');
  rejects(t, ['webhook.timeoutSeconds=31'], /timeoutSeconds/, 'a timeout above the API server maximum');
  rejects(t, ['webhook.timeoutSeconds=0'], /timeoutSeconds/, 'a zero timeout');
  rejects(t, ['webhook.failurePolicy="Sometimes"'], /failurePolicy/, 'an unknown failurePolicy');
  rejects(t, ['serviceAccount.automountToken="false"'], /automountToken/, 'a string for a boolean');
  rejects(t, ['serviceAccount.roleArn="my-role"'], /roleArn/, 'a role that is not an IAM role ARN');
  rejects(t, ['image.digest="latest"'], /digest/, 'a digest that is not sha256');
  rejects(t, ['policy.mode="block"'], /mode/, 'an unknown policy mode');
  rejects(t, ['policy.registries.ecr=[{"accountId":111122223333}]'], /accountId/, 'an unquoted account id');
});

t.test('cross-field checks', async (t) => {
  rejects(t, ['podDisruptionBudget.minAvailable=3'], /minAvailable.*replicaCount/, 'a PDB that would block every drain');
  rejects(t, ['server.shutdownDelaySeconds=40'], /shutdownDelaySeconds/, 'a preStop delay longer than the grace period');
  const signature =
    'policy.checks.signature={"trustStores":[{"type":"ca","path":"/etc/ecr-admission/trust/root.pem"}],"trustedIdentities":["x509.subject: CN=release"]}';
  rejects(t, [signature], /root\.pem.*trustStores/, 'a trust store the chart does not mount');
  rejects(
    t,
    [signature, 'trustStores.pems={"other.pem":"-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----"}'],
    /has no key "root\.pem"/,
    'a trust store file missing from pems',
  );
  rejects(t, [signature, 'trustStores.existingSecret="a"', 'trustStores.existingConfigMap="b"'], /only one of/, 'two trust store sources');
  const mounted = helmTemplate({ setJson: [signature, 'trustStores.existingSecret="signing-roots"'] });
  t.equal(mounted.status, 0, `a trust store from an existing Secret renders: ${mounted.stderr}`);
  rejects(
    t,
    ['policy.checks.signature={"trustStores":[{"type":"ca","path":"/tmp/root.pem"}],"trustedIdentities":["x"]}', 'trustStores.existingSecret="s"'],
    /mounted under \/etc\/ecr-admission\/trust/,
    'a trust store outside the mount',
  );
});

t.test("values.schema.json's policy property is generated from src/policy/schema.ts", async (t) => {
  const current = readFileSync(VALUES_SCHEMA_PATH, 'utf8');
  t.equal(renderValuesSchema(current), current, 'up to date (node scripts/tools/chart-values-schema.ts --write)');
  const schema = JSON.parse(current) as { additionalProperties?: boolean; properties: Record<string, { additionalProperties?: unknown }> };
  t.equal(schema.additionalProperties, false, 'the top level is closed');
  for (const [key, property] of Object.entries(schema.properties)) {
    if ('properties' in property) t.equal(property.additionalProperties, false, `${key} is closed`);
  }
});
