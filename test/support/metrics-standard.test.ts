// /metrics for standard dashboards and for the alerts (issue 21): Node's process metrics under
// their standard names (no project prefix), a build-info gauge, an AWS call latency histogram by
// service and operation (measured on real SDK calls to the sandbox), and dry runs labelled.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { DescribeRepositoriesCommand } from '@aws-sdk/client-ecr';
import { AwsClients } from '../../src/facts/aws-clients.ts';
import { startSandbox, type SandboxFixture } from '../../src/dev/sandbox/index.ts';
import { buildWebhookApp } from '../../src/server/app.ts';
import { createMetrics } from '../../src/support/metrics.ts';
import { loadAdmissionReview } from '../fixtures/admission.ts';
import { FIXTURE_POLICY, reviewerFor, silentLogger } from '../fixtures/policy.ts';
import { ACCOUNT, REGION, SANDBOX_CREDENTIALS } from '../helpers/harness.ts';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

t.test("Node's default metrics keep their standard names", async (t) => {
  const text = await createMetrics({ defaultMetrics: true }).registry.metrics();
  for (const name of [
    'process_cpu_user_seconds_total',
    'process_resident_memory_bytes',
    'nodejs_heap_size_used_bytes',
    'nodejs_eventloop_lag_seconds',
    'nodejs_version_info',
  ]) {
    t.match(text, new RegExp(`^${name}[ {]`, 'm'), `${name} is exported as is`);
  }
  t.notMatch(text, /^ecr_admission_(process|nodejs)_/m, 'no project prefix on them');
});

t.test('build info: the package version and the Node version', async (t) => {
  const text = await createMetrics().registry.metrics();
  t.match(
    text,
    new RegExp(`^ecr_admission_build_info\\{version="${VERSION.replace(/\./g, '\\.')}",node_version="${process.version.replace(/\./g, '\\.')}"\\} 1$`, 'm'),
  );
});

t.test('AWS call latency by service and operation, from real SDK calls', async (t) => {
  const fixture: SandboxFixture = { defaultAccount: ACCOUNT, accounts: { [ACCOUNT]: { regions: { [REGION]: { repositories: [] } } } } };
  const sandbox = await startSandbox({ fixture });
  t.teardown(() => sandbox.close());
  const metrics = createMetrics();
  const clients = new AwsClients({
    env: { AWS_ENDPOINT_URL_ECR: sandbox.url },
    aws: { endpoints: {}, maxAttempts: 1 },
    roleFor: () => undefined,
    credentials: SANDBOX_CREDENTIALS,
    metrics,
  });
  t.teardown(() => clients.destroy());
  await clients.ecr(ACCOUNT, REGION).send(new DescribeRepositoriesCommand({ registryId: ACCOUNT }));
  await t.rejects(clients.ecr(ACCOUNT, REGION).send(new DescribeRepositoriesCommand({ registryId: ACCOUNT, repositoryNames: ['does-not-exist'] })));

  const histogram = (await metrics.awsCallSeconds.get()).values;
  const count = histogram.find((v) => v.metricName === 'ecr_admission_aws_call_duration_seconds_count');
  t.same(count?.labels, { service: 'ecr', operation: 'DescribeRepositories' }, 'labelled by service and operation only');
  t.equal(count?.value, 2, 'failed calls are timed too');
  const sum = histogram.find((v) => v.metricName === 'ecr_admission_aws_call_duration_seconds_sum');
  t.ok((sum?.value ?? 0) > 0 && (sum?.value ?? 0) < 10, `${sum?.value} s in all`);
  t.notMatch(JSON.stringify(histogram.map((v) => v.labels)), /does-not-exist/, 'no request text in labels');
});

t.test('server-side dry runs are labelled dry_run="true"', async (t) => {
  const metrics = createMetrics();
  const webhook = buildWebhookApp({ reviewer: reviewerFor(FIXTURE_POLICY, { metrics }), logger: silentLogger, metrics });
  t.teardown(() => webhook.close());
  const send = async (dryRun: boolean) => {
    const review = loadAdmissionReview('deployment-create');
    (review.request as { dryRun?: boolean }).dryRun = dryRun;
    const res = await webhook.inject({ method: 'POST', url: '/validate', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(review) });
    t.equal(res.statusCode, 200);
  };
  await send(true);
  await send(false);
  await send(false);
  const counted = (await metrics.admissions.get()).values.map((v) => ({ dryRun: v.labels.dry_run, value: v.value }));
  t.same(
    counted.sort((a, b) => String(a.dryRun).localeCompare(String(b.dryRun))),
    [
      { dryRun: 'false', value: 2 },
      { dryRun: 'true', value: 1 },
    ],
  );
});

t.test('dropped log lines are a counter read at each scrape (attacker review, issue 18)', async (t) => {
  let dropped = 0;
  const metrics = createMetrics({ logLinesDropped: () => dropped });
  const value = async () => {
    const m = /^ecr_admission_log_lines_dropped_total (\d+)$/m.exec(await metrics.registry.metrics());
    return m ? Number(m[1]) : undefined;
  };
  t.equal(await value(), 0, 'exported from the start, at 0');
  dropped = 7;
  t.equal(await value(), 7, 'the destination count at the scrape');
  t.equal(await value(), 7, 'a second scrape counts nothing twice');
  dropped = 12;
  t.equal(await value(), 12, 'and follows it');
  t.notMatch(await createMetrics().registry.metrics(), /log_lines_dropped/, 'absent where no log destination counts (check, audit)');
});
