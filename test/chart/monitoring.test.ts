// The ServiceMonitor scrapes the Service's metrics port, and every alert is written against
// series the server really exports (src/support/metrics.ts): a renamed metric or label fails
// here instead of leaving an alert that can never fire.
import t from 'tap';
import { createMetrics } from '../../src/support/metrics.ts';
import { registerSharedCacheMetrics } from '../../src/facts/shared-cache/metrics.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CHART_DIR, NAMESPACE, only, renderChart, type KubeObject } from './helm.ts';

type ServiceMonitor = KubeObject & {
  spec: { selector: { matchLabels: Record<string, string> }; namespaceSelector: { matchNames: string[] }; endpoints: Array<{ port: string; path: string }> };
};
type Service = KubeObject & { spec: { ports: Array<{ name: string; port: number }> } };
type PrometheusRule = KubeObject & {
  spec: { groups: Array<{ rules: Array<{ alert: string; expr: string; for?: string; labels?: Record<string, string> }> }> };
};

const objects = renderChart({ ciValues: ['monitoring-values.yaml'] });
// With a shared fact cache, whose alert is rendered only then.
const withSharedCache = renderChart({ ciValues: ['monitoring-values.yaml'], setJson: ['policy.cache.shared={"url":"rediss://cache.internal:6379"}'] });
const alertNames = (rendered: readonly KubeObject[]) =>
  only<PrometheusRule>(rendered, 'PrometheusRule')
    .spec.groups.flatMap((g) => g.rules)
    .map((a) => a.alert);

t.test('the ServiceMonitor scrapes /metrics on the Service', async (t) => {
  const monitor = only<ServiceMonitor>(objects, 'ServiceMonitor');
  const service = only<Service>(objects, 'Service');
  for (const [key, value] of Object.entries(monitor.spec.selector.matchLabels))
    t.equal(service.metadata.labels?.[key], value, `the Service has ${key}=${value}`);
  t.same(monitor.spec.namespaceSelector.matchNames, [NAMESPACE], 'in the release namespace');
  t.equal(monitor.metadata.labels?.['release'], 'kube-prometheus-stack', 'with the labels Prometheus selects by');
  const endpoint = monitor.spec.endpoints[0];
  t.equal(endpoint?.path, '/metrics');
  t.ok(
    service.spec.ports.some((p) => p.name === endpoint?.port),
    `the Service has the ${endpoint?.port} port`,
  );
});

t.test('alerts use the metrics and labels the server exports', async (t) => {
  const rule = only<PrometheusRule>(withSharedCache, 'PrometheusRule');
  const alerts = rule.spec.groups.flatMap((g) => g.rules);
  t.same(
    alerts.map((a) => a.alert).sort(),
    [
      'EcrAdmissionApiServerRejecting',
      'EcrAdmissionAwsErrors',
      'EcrAdmissionCertificateExpiring',
      'EcrAdmissionDenyRateSpike',
      'EcrAdmissionDown',
      'EcrAdmissionFailingOpen',
      'EcrAdmissionInvalidReviews',
      'EcrAdmissionLatencyNearTimeout',
      'EcrAdmissionPolicyReloadRefused',
      'EcrAdmissionReplicasLow',
      'EcrAdmissionSharedCacheOversizedMessages',
    ],
    'down, API server rejecting, failing open, replicas low, certificate expiry, policy reload refused, invalid reviews, deny spike, AWS errors, p99 near timeout, shared cache junk',
  );
  // The shared cache registers its series on the server's registry when one is configured.
  const registry = createMetrics().registry;
  registerSharedCacheMetrics(registry);
  for (const alert of alerts) {
    t.ok(alert.for, `${alert.alert} waits before firing`);
    t.ok(alert.labels?.['severity'], `${alert.alert} has a severity`);
    for (const [, series, selector = ''] of alert.expr.matchAll(/\b(ecr_admission_[a-z_]+)(?:\{([^}]*)\})?/g)) {
      const name = series!.replace(/_bucket$/, '');
      const metric = registry.getSingleMetric(name) as { labelNames?: readonly string[] } | undefined;
      t.ok(metric, `${alert.alert}: ${name} is exported`);
      for (const [, label] of selector.matchAll(/([a-z_]+)\s*(?:=|!=|=~)/g)) {
        if (label !== 'namespace') t.ok(metric?.labelNames?.includes(label!), `${alert.alert}: ${name} has label ${label}`);
      }
    }
  }
  const latency = alerts.find((a) => a.alert === 'EcrAdmissionLatencyNearTimeout');
  // Default timeout 10 s: budget 8 s, alert at 0.75 of it.
  t.match(latency?.expr ?? '', /> 6(\.0+)?\s*$/, 'p99 threshold is a fraction of the admission budget');
});

t.test('the alerts that page: API server rejections within minutes, replicas, certificate expiry, failing open (issue 21)', async (t) => {
  const rule = only<PrometheusRule>(objects, 'PrometheusRule');
  const alerts = new Map(rule.spec.groups.flatMap((g) => g.rules).map((a) => [a.alert, a]));
  const minutes = (d?: string) => Number(/^(\d+)m$/.exec(d ?? '')?.[1] ?? Number.NaN);
  const rejecting = alerts.get('EcrAdmissionApiServerRejecting');
  t.match(
    rejecting?.expr,
    /apiserver_admission_webhook_rejection_count\{name=~"images\.ecr-admission\.io\|namespace-label\.ecr-admission\.io", error_type=~"calling_webhook_error\|apiserver_internal_error"\}/,
    'the API server rejecting calls to either webhook',
  );
  t.notMatch(rejecting?.expr, /no_error/, "not the webhook's own denials");
  t.ok(minutes(rejecting?.for) <= 5, `pages within minutes (for ${rejecting?.for})`);
  t.match(
    alerts.get('EcrAdmissionFailingOpen')?.expr,
    /apiserver_admission_webhook_fail_open_count\{name=~"images\.ecr-admission\.io\|namespace-label\.ecr-admission\.io"\}/,
  );
  t.match(
    alerts.get('EcrAdmissionReplicasLow')?.expr,
    /kube_deployment_status_replicas_available\{deployment="ecr-admission", namespace="security-system"\}\) < 2/,
    'fewer than two ready replicas of this Deployment',
  );
  t.match(
    alerts.get('EcrAdmissionCertificateExpiring')?.expr,
    /ecr_admission_certificate_not_after_seconds\{namespace="security-system"\}\) - time\(\) < 1209600/,
    '14 days before notAfter',
  );
  t.match(alerts.get('EcrAdmissionPolicyReloadRefused')?.expr, /ecr_admission_policy_reloads_total\{outcome="refused"/);
  for (const name of ['EcrAdmissionApiServerRejecting', 'EcrAdmissionFailingOpen', 'EcrAdmissionReplicasLow', 'EcrAdmissionCertificateExpiring']) {
    t.equal(alerts.get(name)?.labels?.['severity'], 'critical', `${name} is critical`);
  }
  const readme = readFileSync(join(CHART_DIR, 'README.md'), 'utf8');
  const runbooks = /\n## Alerts and runbooks\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? '';
  for (const name of alerts.keys()) t.match(runbooks, new RegExp(`\\| \`${name}\` \\|[^\\n]*\\|[^\\n]*\\S[^\\n]*\\|`), `${name}: a runbook line in the README`);
});

t.test('the shared cache alert: only with a shared cache, on oversized pub/sub messages (issue 16)', async (t) => {
  t.notOk(alertNames(objects).includes('EcrAdmissionSharedCacheOversizedMessages'), 'no shared cache: no alert on its series');
  const rule = only<PrometheusRule>(withSharedCache, 'PrometheusRule');
  const alert = rule.spec.groups.flatMap((g) => g.rules).find((a) => a.alert === 'EcrAdmissionSharedCacheOversizedMessages');
  t.match(
    alert?.expr,
    /sum\(increase\(ecr_admission_shared_cache_events_total\{fact="pubsub", event="oversized", namespace="security-system"\}\[10m\]\)\) > 0/,
    "any oversized message in ten minutes, on this release's series",
  );
});
