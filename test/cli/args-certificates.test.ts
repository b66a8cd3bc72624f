// serve's certificate and registration flags (issue 21): what the chart's env sets, and the
// combinations refused with a usage error (exit 2) instead of a server that half works.
import t from 'tap';
import { parseCommandLine, type ServeOptions } from '../../src/cli/args.ts';
import { AdmissionError, ErrorCodes } from '../../src/support/errors.ts';

const serve = (argv: string[], env: Record<string, string> = {}) => parseCommandLine(['serve', ...argv], env) as ServeOptions;
const CHART_ENV = {
  ECR_ADMISSION_NAMESPACE: 'security-system',
  ECR_ADMISSION_CERTIFICATE_SECRET: 'ecr-admission-certificates',
  ECR_ADMISSION_TLS_HOSTS: 'ecr-admission.security-system.svc, ecr-admission.security-system.svc.cluster.local',
  ECR_ADMISSION_WEBHOOK_CONFIGURATION: 'ecr-admission,ecr-admission-namespace-label',
  ECR_ADMISSION_CA_PROMOTE_AFTER_MS: '60000',
  ECR_ADMISSION_CA_RETIRE_AFTER_MS: '3600000',
};

t.test("the chart's environment", async (t) => {
  const o = serve([], CHART_ENV);
  t.equal(o.certificateSecret, 'ecr-admission-certificates');
  t.same(o.tlsHosts, ['ecr-admission.security-system.svc', 'ecr-admission.security-system.svc.cluster.local'], 'host list, trimmed');
  t.same(o.webhookConfigurations, ['ecr-admission', 'ecr-admission-namespace-label'], 'configurations, the image webhook first');
  t.equal(o.caPromoteAfterMs, 60_000);
  t.equal(o.caRetireAfterMs, 3_600_000);
  t.notOk(o.tlsCert, 'no certificate files');
});

t.test('without them: no certificate keeping, no registration', async (t) => {
  const o = serve([]);
  t.equal(o.certificateSecret, undefined);
  t.equal(o.webhookConfigurations, undefined);
  t.equal(o.caPromoteAfterMs, undefined, "the plan's defaults apply");
  t.same(serve(['--webhook-configuration', 'x', '--tls-cert', '/c', '--tls-key', '/k']).webhookConfigurations, ['x'], 'files plus registration (cert-manager)');
});

t.test('refused combinations are usage errors', async (t) => {
  const cases: Array<[string, Record<string, string>, RegExp]> = [
    ['with TLS files', { ...CHART_ENV, ECR_ADMISSION_TLS_CERT: '/c', ECR_ADMISSION_TLS_KEY: '/k' }, /two sources of the serving certificate/],
    ['without host names', { ...CHART_ENV, ECR_ADMISSION_TLS_HOSTS: ' , ' }, /needs --tls-hosts/],
    ['without a webhook configuration', { ...CHART_ENV, ECR_ADMISSION_WEBHOOK_CONFIGURATION: ',' }, /needs --webhook-configuration/],
    ['without a namespace', { ...CHART_ENV, ECR_ADMISSION_NAMESPACE: '' }, /needs ECR_ADMISSION_NAMESPACE/],
    ['a promote delay under 100 ms', { ...CHART_ENV, ECR_ADMISSION_CA_PROMOTE_AFTER_MS: '5' }, /between 100 and/],
  ];
  for (const [label, env, message] of cases) {
    let error: unknown;
    try {
      serve([], env);
    } catch (err) {
      error = err;
    }
    t.ok(error instanceof AdmissionError && error.code === ErrorCodes.USAGE, `${label}: a usage error`);
    t.match((error as Error | undefined)?.message, message, `${label}: says what is wrong`);
  }
});
